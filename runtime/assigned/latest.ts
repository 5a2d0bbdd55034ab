/**
 * The last committed value per key of a compacted topic, read from its start to its end (read_committed, as
 * every consumer of the client seam reads, so an aborted or still-open transaction's records are never seen). An owning
 * operator reads its state back here after opening its transactional writer, which has already fenced and
 * aborted an earlier owner's open transaction, so the read cannot stop short at a pending one.
 */
import type { KafkaClient } from '../kafka-client';
import { readToEnd } from '../topic-reader';

/**
 * The last value bytes of each key (a tombstone removes the key); with `key`, only that key is kept, with
 * `keyPrefix` only the keys that start with it.
 */
export async function latestByKey(
  kafka: KafkaClient,
  topic: string,
  opts: { readonly key?: string; readonly keyPrefix?: string; readonly purpose?: string } = {},
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  await readToEnd(
    kafka,
    [topic],
    ({ message }) => {
      const k = message.key?.toString();
      if (k === undefined || (opts.key !== undefined && k !== opts.key)) return;
      if (opts.keyPrefix !== undefined && !k.startsWith(opts.keyPrefix)) return;
      if (message.value === null) out.delete(k);
      else out.set(k, message.value);
    },
    { purpose: opts.purpose ?? 'latest' },
  );
  return out;
}
