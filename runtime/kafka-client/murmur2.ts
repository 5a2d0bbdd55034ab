/**
 * Kafka's murmur2 (the Java client's Utils.murmur2, which its default partitioner and kafkajs's use), so a key
 * lands on the same partition whichever client or language produced it. The adapters place keyed records with
 * this (kafkajs's default partitioner computes the same; @platformatic/kafka's default does not, so its adapter
 * sets this one), and the output batcher computes each record's partition itself (runtime/producer.ts).
 *
 * 32-bit arithmetic throughout: Math.imul is Java's int multiplication, `>>>` its unsigned shift.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(key: Buffer | string): number {
  const data = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last 1-3 bytes, mixed cumulatively (Java's switch that falls through).
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java client's partition of a keyed record: murmur2 made positive, modulo the partition count. */
export function partitionForKey(key: Buffer | string, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}
