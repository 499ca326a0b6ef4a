/**
 * CRC-32C (Castagnoli), the checksum of Kafka's record batches (v2). The native SIMD implementation
 * from @node-rs/crc32 runs at several GB/s; where its prebuilt binary is missing, a table-driven
 * JavaScript version (slicing by 8, about five times slower) keeps the producer working.
 */
import { createRequire } from 'node:module';

const POLYNOMIAL = 0x82f63b78;
const TABLE = new Int32Array(256 * 8);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
  TABLE[i] = c;
}
for (let i = 0; i < 256; i++) {
  for (let t = 1; t < 8; t++) {
    const previous = TABLE[(t - 1) * 256 + i] as number;
    TABLE[t * 256 + i] = (previous >>> 8) ^ (TABLE[previous & 255] as number);
  }
}

/** CRC-32C of `data` in JavaScript (the fallback; exported so tests can compare both). */
export function crc32cPortable(data: Uint8Array): number {
  const t = TABLE;
  let c = ~0;
  let i = 0;
  const end = data.length;
  for (; i + 8 <= end; i += 8) {
    c ^=
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    c =
      (t[1792 + (c & 255)] as number) ^
      (t[1536 + ((c >>> 8) & 255)] as number) ^
      (t[1280 + ((c >>> 16) & 255)] as number) ^
      (t[1024 + (c >>> 24)] as number) ^
      (t[768 + (data[i + 4] as number)] as number) ^
      (t[512 + (data[i + 5] as number)] as number) ^
      (t[256 + (data[i + 6] as number)] as number) ^
      (t[data[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (data[i] as number)) & 255] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** The check value of CRC-32C: the checksum of the ASCII digits 1 to 9. */
const CHECK = 0xe3069283;

function loadNative(): ((data: Uint8Array) => number) | undefined {
  try {
    const require = createRequire(import.meta.url);
    const native = require('@node-rs/crc32') as { crc32c(input: Uint8Array): number };
    const crc = (data: Uint8Array) => native.crc32c(data) >>> 0;
    return crc(Buffer.from('123456789')) === CHECK ? crc : undefined;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** CRC-32C of `data`, native when available. */
export const crc32c: (data: Uint8Array) => number = native ?? crc32cPortable;

/** Which implementation `crc32c` is (for diagnostics and the benchmark notes). */
export const crc32cImplementation: 'native' | 'portable' = native ? 'native' : 'portable';
