import { describe, expect, it } from 'vitest';
import { collectDemuxed, createDemuxer, type LogLine, muxFrame } from '../../src/lab/demux.js';

/** Feeds the chunks one by one and returns every line, including the flushed last one. */
function demuxChunks(chunks: Buffer[], tty = false): LogLine[] {
  const lines: LogLine[] = [];
  const demuxer = createDemuxer((line) => lines.push(line), tty);
  for (const chunk of chunks) demuxer.push(chunk);
  demuxer.end();
  return lines;
}

/** Cuts a buffer into two chunks at `at`. */
function splitAt(buffer: Buffer, at: number): Buffer[] {
  return [buffer.subarray(0, at), buffer.subarray(at)];
}

const out = (text: string): LogLine => ({ stream: 'stdout', text });
const err = (text: string): LogLine => ({ stream: 'stderr', text });

describe('muxFrame', () => {
  it('writes the 8-byte header Docker uses: stream type, three zeros, big-endian length', () => {
    const frame = muxFrame('stderr', 'hé\n');
    expect([...frame.subarray(0, 8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 4]);
    expect(frame.subarray(8).toString('utf8')).toBe('hé\n');
    expect(muxFrame('stdout', Buffer.from('x'))[0]).toBe(1);
  });
});

describe('collectDemuxed', () => {
  it('separates stdout and stderr lines, keeping their order', () => {
    const buffer = Buffer.concat([
      muxFrame('stdout', 'starting\n'),
      muxFrame('stderr', 'WARN low disk\n'),
      muxFrame('stdout', 'started\nlistening on 9092\n'),
    ]);
    expect(collectDemuxed(buffer)).toEqual([
      out('starting'),
      err('WARN low disk'),
      out('started'),
      out('listening on 9092'),
    ]);
  });

  it('keeps a partial line per stream, so interleaved streams do not mix', () => {
    const buffer = Buffer.concat([
      muxFrame('stdout', 'hello '),
      muxFrame('stderr', 'oops\n'),
      muxFrame('stdout', 'world\n'),
    ]);
    expect(collectDemuxed(buffer)).toEqual([err('oops'), out('hello world')]);
  });

  it('joins a line spread over several frames', () => {
    const buffer = Buffer.concat(['a long ', 'line in ', 'three frames\n'].map((p) => muxFrame('stdout', p)));
    expect(collectDemuxed(buffer)).toEqual([out('a long line in three frames')]);
  });

  it('strips the CR of CRLF line ends, also when CR and LF arrive in different frames', () => {
    const buffer = Buffer.concat([muxFrame('stdout', 'windows\r\nline\r'), muxFrame('stdout', '\nlast\r\n')]);
    expect(collectDemuxed(buffer)).toEqual([out('windows'), out('line'), out('last')]);
  });

  it('keeps empty lines and ignores empty frames', () => {
    const buffer = Buffer.concat([muxFrame('stdout', 'a\n\nb\n'), muxFrame('stdout', '')]);
    expect(collectDemuxed(buffer)).toEqual([out('a'), out(''), out('b')]);
  });

  it('flushes an unterminated last line of each stream', () => {
    const buffer = Buffer.concat([muxFrame('stdout', 'done\nno newline'), muxFrame('stderr', 'err tail')]);
    expect(collectDemuxed(buffer)).toEqual([out('done'), out('no newline'), err('err tail')]);
  });

  it('gives nothing for an empty log', () => {
    expect(collectDemuxed(Buffer.alloc(0))).toEqual([]);
  });

  it('treats TTY output as raw stdout bytes without frame headers', () => {
    const raw = Buffer.from('plain\r\ntty output\nno end');
    expect(collectDemuxed(raw, true)).toEqual([out('plain'), out('tty output'), out('no end')]);
  });
});

describe('createDemuxer with arbitrary chunking', () => {
  const stream = Buffer.concat([
    muxFrame('stdout', 'first line\nsecond '),
    muxFrame('stderr', 'error: ünïcödé 🎮\n'),
    muxFrame('stdout', 'line\r\n'),
    muxFrame('stderr', 'tail without newline'),
  ]);
  const expected = [
    out('first line'),
    err('error: ünïcödé 🎮'),
    out('second line'),
    err('tail without newline'),
  ];

  it('gives the same lines for the whole stream in one chunk', () => {
    expect(demuxChunks([stream])).toEqual(expected);
  });

  it('gives the same lines when the stream is split at every byte boundary', () => {
    for (let at = 1; at < stream.length; at++) {
      expect(demuxChunks(splitAt(stream, at)), `split at byte ${at}`).toEqual(expected);
    }
  });

  it('gives the same lines when every byte arrives on its own', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(demuxChunks(bytes)).toEqual(expected);
  });

  it('reassembles a multi-byte character split across two frames', () => {
    const text = Buffer.from('ß🎮€\n');
    for (let at = 1; at < text.length; at++) {
      const frames = [muxFrame('stdout', text.subarray(0, at)), muxFrame('stdout', text.subarray(at))];
      expect(demuxChunks(frames), `character split at byte ${at}`).toEqual([out('ß🎮€')]);
    }
  });

  it('reassembles a multi-byte character split across TTY chunks', () => {
    const text = Buffer.from('größe 🎮\n');
    for (let at = 1; at < text.length; at++) {
      expect(demuxChunks(splitAt(text, at), true), `split at byte ${at}`).toEqual([out('größe 🎮')]);
    }
  });

  it('emits complete lines as soon as they arrive, before end()', () => {
    const lines: LogLine[] = [];
    const demuxer = createDemuxer((line) => lines.push(line));
    const frame = muxFrame('stdout', 'ready\npartial');
    demuxer.push(frame.subarray(0, 5));
    expect(lines).toEqual([]);
    demuxer.push(frame.subarray(5));
    expect(lines).toEqual([out('ready')]);
    demuxer.end();
    expect(lines).toEqual([out('ready'), out('partial')]);
  });
});
