/**
 * One TCP connection to one broker: request framing, correlation ids, and responses matched to their
 * requests. Requests are written as a list of buffers (socket corked around them, so a Produce request
 * with large record batches goes out without being copied into one buffer first).
 *
 * A connection that fails — closed by the broker, a socket error, a request that timed out (Kafka
 * answers in order, so a late answer blocks every answer behind it) — rejects every outstanding
 * request with a `KafkaConnectionError` and is not used again; the owner opens a new one.
 */
import { connect, type Socket } from 'node:net';

/** The connection failed; the request may or may not have reached the broker. */
export class KafkaConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaConnectionError';
  }
}

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (error: Error) => void;
  deadline: number;
}

export class BrokerConnection {
  readonly address: string;
  private socket: Socket | undefined;
  private readonly clientId: Buffer;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  /**
   * Bytes of a response not complete yet, as they came. A Fetch response of several MiB arrives in
   * 64 KiB chunks: joining them once, when the last one is there, keeps that linear (joining each
   * chunk to what came before copies the response over and over).
   */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Size of the frame being collected in `partial` (4-byte length included), 0 while unknown. */
  private partialNeeded = 0;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  /** True once the broker has answered a request: it was not just a port that accepts and hangs up. */
  answered = false;
  /** Called once, when the connection fails or is closed. */
  onClose: ((error: Error) => void) | undefined;

  constructor(private readonly options: ConnectionOptions) {
    this.address = `${options.host}:${options.port}`;
    this.clientId = Buffer.from(options.clientId, 'utf8');
  }

  get usable(): boolean {
    return this.socket !== undefined && this.failure === undefined;
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.options.host, port: this.options.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new KafkaConnectionError(
            `no connection to ${this.address} within ${this.options.connectTimeoutMs} ms`,
          ),
        );
      }, this.options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        socket.setKeepAlive(true, 10_000);
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        socket.on('close', () => this.fail(new KafkaConnectionError(`connection to ${this.address} closed`)));
        resolve();
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        if (this.socket === undefined) {
          socket.destroy();
          reject(
            new KafkaConnectionError(`cannot connect to ${this.address}: ${error.message}`, { cause: error }),
          );
        } else {
          this.fail(
            new KafkaConnectionError(`connection to ${this.address} failed: ${error.message}`, {
              cause: error,
            }),
          );
        }
      });
    });
  }

  /**
   * Sends a request (`body` is the request body as one or more buffers). Resolves with the response
   * body after the response header; with `expectResponse` false (Produce with acks=0), once written.
   */
  request(
    apiKey: number,
    apiVersion: number,
    body: readonly Buffer[],
    expectResponse = true,
  ): Promise<Buffer> {
    const socket = this.socket;
    if (!socket || this.failure) {
      return Promise.reject(this.failure ?? new KafkaConnectionError(`not connected to ${this.address}`));
    }
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId === 0x7fffffff ? 1 : correlationId + 1;
    let size = 10 + this.clientId.length;
    for (const part of body) size += part.length;
    const head = Buffer.allocUnsafe(14 + this.clientId.length);
    head.writeInt32BE(size, 0);
    head.writeInt16BE(apiKey, 4);
    head.writeInt16BE(apiVersion, 6);
    head.writeInt32BE(correlationId, 8);
    head.writeInt16BE(this.clientId.length, 12);
    this.clientId.copy(head, 14);
    return new Promise<Buffer>((resolve, reject) => {
      if (expectResponse) {
        this.pending.set(correlationId, {
          resolve,
          reject,
          deadline: Date.now() + this.options.requestTimeoutMs,
        });
        this.armTimeout();
      }
      socket.cork();
      socket.write(head);
      const last = body.length - 1;
      for (let i = 0; i < last; i++) socket.write(body[i] as Buffer);
      const done = expectResponse
        ? undefined
        : (error?: Error | null) =>
            error
              ? reject(new KafkaConnectionError(error.message, { cause: error }))
              : resolve(Buffer.alloc(0));
      if (last >= 0) socket.write(body[last] as Buffer, done);
      else if (done) socket.write(Buffer.alloc(0), done);
      socket.uncork();
    });
  }

  /** Closes the connection; outstanding requests fail. */
  close(): void {
    this.fail(new KafkaConnectionError(`connection to ${this.address} closed by the client`));
  }

  private onData(incoming: Buffer): void {
    let chunk = incoming;
    if (this.partialBytes > 0) {
      this.partial.push(incoming);
      this.partialBytes += incoming.length;
      if (this.partialNeeded === 0 && this.partialBytes >= 4) {
        const head = this.partial.length === 1 ? (this.partial[0] as Buffer) : Buffer.concat(this.partial);
        this.partial = [head];
        this.partialNeeded = 4 + head.readInt32BE(0);
      }
      if (this.partialNeeded === 0 || this.partialBytes < this.partialNeeded) return;
      chunk = Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
      this.partialNeeded = 0;
    }
    let offset = 0;
    while (chunk.length - offset >= 4) {
      const size = chunk.readInt32BE(offset);
      if (chunk.length - offset - 4 < size) break;
      const correlationId = chunk.readInt32BE(offset + 4);
      const frame = chunk.subarray(offset + 8, offset + 4 + size);
      offset += 4 + size;
      const waiter = this.pending.get(correlationId);
      if (!waiter) {
        this.fail(new KafkaConnectionError(`unexpected response ${correlationId} from ${this.address}`));
        return;
      }
      this.pending.delete(correlationId);
      this.answered = true;
      waiter.resolve(frame);
    }
    if (offset < chunk.length) {
      const rest = chunk.subarray(offset);
      this.partial = [rest];
      this.partialBytes = rest.length;
      this.partialNeeded = rest.length >= 4 ? 4 + rest.readInt32BE(0) : 0;
    }
  }

  /** One timer for all outstanding requests, set for the earliest deadline. */
  private armTimeout(): void {
    if (this.timeoutTimer !== undefined) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const waiter of this.pending.values()) {
      earliest = waiter.deadline;
      break; // insertion order is deadline order: every request has the same timeout
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.timeoutTimer = setTimeout(
      () => {
        this.timeoutTimer = undefined;
        const now = Date.now();
        for (const waiter of this.pending.values()) {
          if (waiter.deadline <= now) {
            this.fail(
              new KafkaConnectionError(
                `no response from ${this.address} within ${this.options.requestTimeoutMs} ms`,
              ),
            );
            return;
          }
          break;
        }
        this.armTimeout();
      },
      Math.max(0, earliest - Date.now()),
    );
    this.timeoutTimer.unref();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    if (this.timeoutTimer !== undefined) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.socket?.destroy();
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of waiters) waiter.reject(error);
    this.onClose?.(error);
  }
}
