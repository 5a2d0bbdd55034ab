/**
 * Which partition a keyed record goes to: murmur2 of the key, made positive, modulo the partition count. This
 * is kafkajs's default partitioner (its producer/partitioners/default, the Java client's algorithm), so a
 * record placed here lands where kafkajs and every Java producer would put the same key.
 *
 * The output batcher places records itself so that it knows each partition's share of a request (see
 * producer.ts). The partition counts are read once at startup: topics are provisioned from the pipeline, and
 * changing a topic's partition count is a redeploy, which restarts the workers.
 */
// kafkajs exports no typings for its partitioner internals; the module is plain CommonJS (kafkajs 2.2.4).
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;

export function partitionForKey(key: Buffer | string, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}
