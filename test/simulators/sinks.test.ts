import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import { GeneratedRecord, PlayerIds } from '../../src/simulators/generator.js';
import { createSink, NullSink, StreamSink } from '../../src/simulators/sinks/index.js';
import { openFileSink } from '../../src/simulators/sinks/stream.js';

const dir = mkdtempSync(join(tmpdir(), 'gapipe-sinks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (value: string | Buffer) => new GeneratedRecord(1, new PlayerIds(10), value, 1000, 'run-1');

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
  return () => Buffer.concat(chunks).toString('latin1');
}

describe('StreamSink (stdout, file)', () => {
  it('writes only the values, one per line, and acknowledges after the write', async () => {
    const stream = new PassThrough();
    const output = collect(stream);
    const sink = new StreamSink(stream, 'stdout', false);
    sink.send([record('{"a":1}'), record(Buffer.from('{"b":2}'))]);
    sink.send([record('')]);
    expect(sink.inFlight() + sink.stats().acknowledged).toBe(3);
    await sink.flush();
    expect(sink.inFlight()).toBe(0);
    expect(sink.stats()).toMatchObject({ acknowledged: 3, failed: 0, bytes: 16 + 1 });
    expect(output()).toBe('{"a":1}\n{"b":2}\n\n');
  });

  it('keeps arbitrary bytes intact (malformed records)', async () => {
    const stream = new PassThrough();
    const output = collect(stream);
    const sink = new StreamSink(stream, 'stdout', false);
    sink.send([record(Buffer.from([0xff, 0xfe, 0x41])), record('ok')]);
    await sink.flush();
    expect(Buffer.from(output(), 'latin1')).toEqual(Buffer.from([0xff, 0xfe, 0x41, 0x0a, 0x6f, 0x6b, 0x0a]));
  });

  it('stops quietly when the reader of stdout goes away (EPIPE), and fails on other errors', async () => {
    const pipe = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const sink = new StreamSink(pipe, 'stdout', false);
    sink.send([record('x')]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.closedByReader()).toBe(true);
    expect(sink.fatalError()).toBeUndefined();
    expect(sink.stats().failed).toBe(1);

    const disk = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      },
    });
    const failing = new StreamSink(disk, 'file out.ndjson', true);
    failing.send([record('x')]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failing.fatalError()).toBeInstanceOf(GapipeError);
    expect((failing.fatalError() as GapipeError).code).toBe('SINK_FAILED');
    expect(failing.fatalError()?.message).toContain('file out.ndjson');
  });

  it('writes a file and closes it', async () => {
    const path = join(dir, 'events.ndjson');
    const sink = await openFileSink(path);
    expect(sink.description).toBe(`file ${path}`);
    sink.send([record('{"n":1}'), record('{"n":2}')]);
    await sink.close();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
  });

  it('says which file cannot be written and what to do', async () => {
    const path = join(dir, 'missing', 'events.ndjson');
    const error = await openFileSink(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('SINK_FAILED');
    expect((error as GapipeError).message).toContain(path);
    expect((error as GapipeError).nextSteps).toContain('--out');
  });
});

describe('createSink', () => {
  const base = { brokers: ['127.0.0.1:9092'], topic: 'game-events', runId: 'r' };

  it('creates the null, stdout and file sinks', async () => {
    expect(await createSink({ ...base, kind: 'null' })).toBeInstanceOf(NullSink);
    const stdout = new PassThrough();
    const sink = await createSink({ ...base, kind: 'stdout' }, { stdout });
    expect(sink.description).toBe('stdout');
    const file = await createSink({ ...base, kind: 'file', out: join(dir, 'f.ndjson') });
    expect(file.description).toContain('f.ndjson');
    await file.close();
  });

  it('opens the Kafka sink by connecting, and names an unreachable broker', async () => {
    const error = await createSink({ ...base, kind: 'kafka', brokers: ['127.0.0.1:1'] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('KAFKA_UNREACHABLE');
    expect((error as GapipeError).message).toBe('Kafka is not reachable at 127.0.0.1:1');
    expect((error as GapipeError).nextSteps).toContain('gapipe lab up');
  }, 60_000);
});

describe('NullSink', () => {
  it('acknowledges everything and counts the bytes', () => {
    const sink = new NullSink();
    sink.send([record('abc'), record(Buffer.from('de'))]);
    expect(sink.stats()).toEqual({ acknowledged: 2, failed: 0, bytes: 5 });
    expect(sink.inFlight()).toBe(0);
  });
});
