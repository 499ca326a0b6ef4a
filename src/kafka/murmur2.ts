/**
 * The Java client's default partitioner for keyed records: murmur2 of the key bytes, made positive,
 * modulo the partition count. Matching it exactly means a player's events land in the partition any
 * Kafka client (Java, librdkafka with its murmur2 partitioner, kafkajs' DefaultPartitioner) would pick.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) over the first `length` bytes. */
export function murmur2(data: Uint8Array, length: number): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= (data[whole + 2] as number) << 16;
  if (tail >= 2) h ^= (data[whole + 1] as number) << 8;
  if (tail >= 1) h = Math.imul(h ^ (data[whole] as number), M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

/** The partition for a key, as the Java client's default partitioner picks it. */
export function partitionForKey(key: Uint8Array, length: number, partitions: number): number {
  return (murmur2(key, length) & 0x7fffffff) % partitions;
}
