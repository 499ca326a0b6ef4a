/**
 * Docker's multiplexed log format: each frame is an 8-byte header (stream type, three zero bytes,
 * payload length as uint32 big-endian) and the payload. Frames and lines arrive split across
 * chunks at arbitrary points, so both are reassembled here. A container with a TTY sends raw bytes.
 */

export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  stream: LogStream;
  text: string;
}

const HEADER_BYTES = 8;

export interface Demuxer {
  push(chunk: Buffer): void;
  /** Flushes any unterminated last line. */
  end(): void;
}

export function createDemuxer(onLine: (line: LogLine) => void, tty = false): Demuxer {
  let pending: Buffer = Buffer.alloc(0);
  const partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };

  const emitText = (stream: LogStream, bytes: Buffer) => {
    const text = partial[stream] + decoders[stream].decode(bytes, { stream: true });
    const lines = text.split('\n');
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) onLine({ stream, text: line.replace(/\r$/, '') });
  };

  return {
    push(chunk) {
      if (tty) {
        emitText('stdout', chunk);
        return;
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= HEADER_BYTES) {
        const size = pending.readUInt32BE(4);
        if (pending.length < HEADER_BYTES + size) break;
        const stream: LogStream = pending[0] === 2 ? 'stderr' : 'stdout';
        emitText(stream, pending.subarray(HEADER_BYTES, HEADER_BYTES + size));
        pending = pending.subarray(HEADER_BYTES + size);
      }
    },
    end() {
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = partial[stream] + decoders[stream].decode();
        if (rest.length > 0) onLine({ stream, text: rest.replace(/\r$/, '') });
        partial[stream] = '';
      }
    },
  };
}

/** Demultiplexes a complete log buffer into lines. */
export function collectDemuxed(buffer: Buffer, tty = false): LogLine[] {
  const lines: LogLine[] = [];
  const demuxer = createDemuxer((line) => lines.push(line), tty);
  demuxer.push(buffer);
  demuxer.end();
  return lines;
}

/** Builds one multiplexed frame (used by tests and by anything that replays Docker logs). */
export function muxFrame(stream: LogStream, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = stream === 'stderr' ? 2 : 1;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
