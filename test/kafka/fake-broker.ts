/**
 * A small in-process Kafka broker for the producer's unit tests: one node that answers ApiVersions,
 * Metadata, InitProducerId and Produce in the versions gapipe's producer sends, keeps each partition's
 * records, and dedupes by producer id and sequence number like a real broker (the last five batches).
 * Record batches are decoded with kafkajs' decoder, an implementation independent of gapipe's encoder,
 * and their CRC-32C is checked. Tests inject faults through `onProduce` and `stop()`/`start()`.
 */
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { crc32cPortable } from '../../src/kafka/crc32c.js';

const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder');
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder');

export interface StoredRecord {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  timestamp: number;
}

/** What the broker does with one partition's batch of a Produce request. */
export type ProduceFault =
  | undefined
  /** Answer with this error code for the partition, writing nothing. */
  | number
  /** Close the connection before writing anything of the request. */
  | 'close-before'
  /** Write the request's batches, then close the connection without answering. */
  | 'close-after';

export interface ProduceContext {
  /** Produce requests seen so far, this one included. */
  request: number;
  partition: number;
  baseSequence: number;
  producerId: number;
}

interface SequenceState {
  producerId: number;
  nextSequence: number;
  recent: Array<{ base: number; count: number }>;
}

export class FakeBroker {
  readonly logs: StoredRecord[][];
  onProduce: ((context: ProduceContext) => ProduceFault) | undefined;
  produceRequests = 0;
  duplicatesDropped = 0;
  crcFailures = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly sequences = new Map<string, SequenceState>();
  private nextProducerId = 1000;
  port = 0;

  constructor(
    readonly topic: string,
    partitions: number,
  ) {
    this.logs = Array.from({ length: partitions }, () => []);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts listening (on the same port as before after a `stop`). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.serve(socket));
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        const address = server.address();
        this.port = typeof address === 'object' && address ? address.port : 0;
        this.server = server;
        resolve();
      });
    });
  }

  /** Like a killed broker: drops every connection and stops listening. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Forgets the producers' sequence numbers (a broker that lost its producer state). */
  forgetProducers(): void {
    this.sequences.clear();
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    // Kafka answers a connection's requests in order: handle them one at a time.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        queue = queue
          .then(() => this.handle(socket, frame))
          .catch(() => {
            socket.destroy();
          });
      }
    });
  }

  private async handle(socket: Socket, frame: Buffer): Promise<void> {
    if (socket.destroyed) return;
    const apiKey = frame.readInt16BE(0);
    const correlationId = frame.readInt32BE(4);
    const clientIdLength = frame.readInt16BE(8);
    const body = frame.subarray(10 + Math.max(0, clientIdLength));
    let response: Buffer | undefined;
    switch (apiKey) {
      case 18:
        response = this.apiVersions();
        break;
      case 3:
        response = this.metadata(body);
        break;
      case 22:
        response = Buffer.concat([int32(0), int16(0), int64(this.nextProducerId++), int16(0)]);
        break;
      case 0:
        response = await this.produce(socket, body);
        break;
      default:
        socket.destroy();
        return;
    }
    if (response === undefined || socket.destroyed) return;
    socket.write(Buffer.concat([int32(response.length + 4), int32(correlationId), response]));
  }

  private apiVersions(): Buffer {
    const apis = [
      [0, 3, 9],
      [3, 4, 12],
      [18, 0, 3],
      [22, 0, 4],
    ];
    return Buffer.concat([
      int16(0),
      int32(apis.length),
      ...apis.flatMap(([k, min, max]) => [int16(k as number), int16(min as number), int16(max as number)]),
    ]);
  }

  private metadata(body: Buffer): Buffer {
    const topicCount = body.readInt32BE(0);
    const names: string[] = [];
    let pos = 4;
    for (let i = 0; i < topicCount; i++) {
      const length = body.readInt16BE(pos);
      names.push(body.toString('utf8', pos + 2, pos + 2 + length));
      pos += 2 + length;
    }
    const topics = names.map((name) => {
      if (name !== this.topic) {
        return Buffer.concat([int16(3), string(name), int8(0), int32(0), int32(0)]);
      }
      const partitions = this.logs.map((_, index) =>
        Buffer.concat([
          int16(0),
          int32(index),
          int32(1),
          int32(0),
          int32(1),
          int32(1),
          int32(1),
          int32(1),
          int32(0),
        ]),
      );
      return Buffer.concat([
        int16(0),
        string(name),
        int8(0),
        int32(partitions.length),
        ...partitions,
        int32(0),
      ]);
    });
    return Buffer.concat([
      int32(0), // throttle
      int32(1),
      int32(1),
      string('127.0.0.1'),
      int32(this.port),
      int16(-1), // rack
      int16(-1), // cluster id
      int32(1), // controller
      int32(topics.length),
      ...topics,
      int32(0),
    ]);
  }

  private async produce(socket: Socket, body: Buffer): Promise<Buffer | undefined> {
    this.produceRequests++;
    const request = this.produceRequests;
    let pos = 2; // transactional_id: null
    const acks = body.readInt16BE(pos);
    pos += 2 + 4; // acks, timeout
    const topicCount = body.readInt32BE(pos);
    pos += 4;
    const results: Buffer[] = [];
    let closeAfter = false;
    for (let t = 0; t < topicCount; t++) {
      const nameLength = body.readInt16BE(pos);
      const name = body.toString('utf8', pos + 2, pos + 2 + nameLength);
      pos += 2 + nameLength;
      const partitionCount = body.readInt32BE(pos);
      pos += 4;
      const partitionResults: Buffer[] = [];
      for (let p = 0; p < partitionCount; p++) {
        const partition = body.readInt32BE(pos);
        const length = body.readInt32BE(pos + 4);
        const batch = body.subarray(pos + 8, pos + 8 + length);
        pos += 8 + length;
        const producerId = Number(batch.readBigInt64BE(43));
        const baseSequence = batch.readInt32BE(53);
        const fault = this.onProduce?.({ request, partition, baseSequence, producerId });
        if (fault === 'close-before') {
          socket.destroy();
          return undefined;
        }
        if (fault === 'close-after') closeAfter = true;
        const code = typeof fault === 'number' ? fault : await this.append(name, partition, batch);
        partitionResults.push(
          Buffer.concat([int32(partition), int16(code), int64(0), int64(-1), int64(0), int32(0), int16(-1)]),
        );
      }
      results.push(Buffer.concat([string(name), int32(partitionResults.length), ...partitionResults]));
    }
    if (closeAfter) {
      socket.destroy();
      return undefined;
    }
    if (acks === 0) return undefined;
    return Buffer.concat([int32(results.length), ...results, int32(0)]);
  }

  /** Appends a batch, deduping by producer id and sequence; returns the error code. */
  private async append(topic: string, partition: number, batch: Buffer): Promise<number> {
    if (topic !== this.topic || !this.logs[partition]) return 3;
    if (batch.readUInt32BE(17) !== crc32cPortable(batch.subarray(21))) {
      this.crcFailures++;
      return 2; // CORRUPT_MESSAGE
    }
    const producerId = Number(batch.readBigInt64BE(43));
    const baseSequence = batch.readInt32BE(53);
    const count = batch.readInt32BE(57);
    if (producerId >= 0) {
      const key = `${producerId}/${partition}`;
      const state = this.sequences.get(key);
      if (state === undefined) {
        if (baseSequence !== 0) return 45;
      } else if (baseSequence !== state.nextSequence) {
        if (state.recent.some((b) => b.base === baseSequence && b.count === count)) {
          this.duplicatesDropped++;
          return 0; // a retry of a batch already written: answered as written, not written again
        }
        return 45;
      }
      const next = state ?? { producerId, nextSequence: 0, recent: [] };
      next.nextSequence = baseSequence + count;
      next.recent.push({ base: baseSequence, count });
      if (next.recent.length > 5) next.recent.shift();
      this.sequences.set(key, next);
    }
    const decoded = await decodeRecordBatch(new Decoder(batch));
    for (const record of decoded.records as Array<{
      key: Buffer | null;
      value: Buffer;
      headers: Record<string, Buffer>;
      timestamp: string;
    }>) {
      (this.logs[partition] as StoredRecord[]).push({
        key: record.key === null ? null : record.key.toString('utf8'),
        value: record.value.toString('utf8'),
        headers: Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, v.toString('utf8')])),
        timestamp: Number(record.timestamp),
      });
    }
    return 0;
  }
}

function int8(value: number): Buffer {
  const b = Buffer.alloc(1);
  b.writeInt8(value);
  return b;
}
function int16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(value);
  return b;
}
function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}
function int64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(value));
  return b;
}
function string(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([int16(bytes.length), bytes]);
}
