/**
 * How a source signals that a listing is gone, as pure decisions:
 * - `flag`: a boolean field turns false (MLS Grid `MlgCanView`);
 * - `status`: a status value (`StandardStatus` `Delete`);
 * - `purge`: nothing in the feed; a periodic pass over every key (`$select=ListingKey`) finds the keys
 *   that disappeared (Spark, CREA DDF).
 */

export type DeleteRule =
  | { readonly kind: 'flag'; readonly field: string }
  | { readonly kind: 'status'; readonly field: string; readonly values: readonly string[] }
  | { readonly kind: 'purge'; readonly everyMinutes: number };

/** Whether `record` announces its own deletion under `rule` (a purge rule never does). */
export function isDeletedRecord(record: Readonly<Record<string, unknown>>, rule: DeleteRule): boolean {
  switch (rule.kind) {
    case 'flag':
      return record[rule.field] === false;
    case 'status':
      return typeof record[rule.field] === 'string' && rule.values.includes(record[rule.field] as string);
    case 'purge':
      return false;
  }
}

/** The keys held that the server no longer lists, sorted: what a purge pass deletes. */
export function purgedKeys(held: Iterable<string>, listed: Iterable<string>): string[] {
  const present = new Set(listed);
  return [...new Set(held)].filter((k) => !present.has(k)).sort();
}

/** Whether a purge pass is due: never run, or `everyMinutes` past the last one. */
export function purgeDue(rule: DeleteRule, lastPurgeAtMs: number | undefined, nowMs: number): boolean {
  if (rule.kind !== 'purge') return false;
  return lastPurgeAtMs === undefined || nowMs - lastPurgeAtMs >= rule.everyMinutes * 60_000;
}
