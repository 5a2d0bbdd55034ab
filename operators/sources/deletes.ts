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

/** How normalize reads a deletion, per the source's profile (a Profile fits). */
export interface DeletionReader {
  isDeletion(record: Record<string, unknown>): boolean;
  status(raw: string): string | undefined;
}

export interface Disagreement {
  /** Under `deletes`: `field` or `values`. */
  readonly field: 'field' | 'values';
  readonly expected: string;
  readonly received: unknown;
  readonly fix: string;
}

/**
 * Where a delete rule and the profile normalize will use disagree: a flag it does not read as a deletion,
 * status values it does not map to DELETE. Either would reach PostgreSQL as a live listing.
 */
export function deleteRuleDisagreements(
  rule: DeleteRule,
  profileName: string,
  profile: DeletionReader,
): Disagreement[] {
  if (rule.kind === 'flag' && !profile.isDeletion({ [rule.field]: false })) {
    return [
      {
        field: 'field',
        expected: `a flag that profile ${profileName} reads as a deletion`,
        received: rule.field,
        fix: `add \`deletedWhen: { ${rule.field}: false }\` to profile ${profileName}, or name a profile that has it.`,
      },
    ];
  }
  if (rule.kind === 'status') {
    const unread = rule.values.filter(
      (v) => profile.status(v) !== 'DELETE' && !profile.isDeletion({ [rule.field]: v }),
    );
    if (unread.length > 0) {
      return [
        {
          field: 'values',
          expected: `status values that profile ${profileName} maps to DELETE`,
          received: unread,
          fix: `map them to DELETE in profile ${profileName} (lookups.StandardStatus), or name a profile that does.`,
        },
      ];
    }
  }
  return [];
}
