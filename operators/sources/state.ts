/**
 * The record a source's replication state is kept in: compacted topic `listings.source-state`, key = source
 * name, value = JSON. The sources worker writes it in the same Kafka transaction as the page it follows, so a
 * reader (read_committed) sees exactly the state after the last committed page. Shared with the operations
 * side (`sources list`, `status` lag, `sources reset`): the record <-> state conversions live here so both agree.
 *
 * Format (docs/sources-design.md):
 * `{ cursor: { timestamp, key, keysAtTimestamp? }, initialDone, photoCursor?, lastPurgeAt?, snapshot?, refused?, lastPoll, counts }`
 * (snapshot: `{ id, position, done, total, takenAt }`, the file/http kinds' progress through their current snapshot;
 * refused: the last snapshot refused for deleting too much, until one commits).
 * A tombstone (null value) means "no state": the source starts from the beginning (what `sources reset` writes
 * for a full reload).
 */
import type {
  SourceCursor as SourceCursorRecord,
  SourceSnapshot,
  SourceSnapshotRefusal,
  SourceState as SourceStateRecord,
} from '../../schemas/generated/types';
import { parseInstant, type SourceCursor } from './cursor';
import type { ReplicationState } from './replicate';

export const SOURCE_STATE_TOPIC_SUFFIX = 'source-state';

export interface SourceStateCounts {
  /** Live records sent, over the source's life. */
  readonly records: number;
  /** Deleted records sent (flag, status or purge). */
  readonly deletes: number;
  /** Pages committed. */
  readonly pages: number;
  /** Requests made (pages, tokens aside). */
  readonly requests: number;
}

export interface SourceState {
  readonly cursor?: SourceCursor;
  readonly initialDone: boolean;
  /** The photo stream's own cursor (PropTx: photos do not bump ModificationTimestamp). */
  readonly photoCursor?: SourceCursor;
  readonly photoInitialDone?: boolean;
  /** ISO instant of the last purge pass. */
  readonly lastPurgeAt?: string;
  /** A snapshot source's progress through its current snapshot (snapshot.ts). */
  readonly snapshot?: Readonly<SourceSnapshot>;
  /**
   * The last snapshot refused for deleting too much (snapshot-guard.ts), until a snapshot commits again: what
   * `sources list` shows, since the poller goes on polling.
   */
  readonly refused?: Readonly<SourceSnapshotRefusal>;
  /** ISO instant of the last committed page (a quiet poll commits nothing and so does not move it). */
  readonly lastPoll: string;
  readonly counts: SourceStateCounts;
}

export const EMPTY_COUNTS: SourceStateCounts = { records: 0, deletes: 0, pages: 0, requests: 0 };

export function initialSourceState(): SourceState {
  return { initialDone: false, lastPoll: '', counts: EMPTY_COUNTS };
}

/** The main stream's replication state out of a source state. */
export function mainReplication(s: SourceState): ReplicationState {
  return s.cursor === undefined ? { initialDone: s.initialDone } : { cursor: s.cursor, initialDone: s.initialDone };
}

/** The photo stream's replication state out of a source state. */
export function photoReplication(s: SourceState): ReplicationState {
  return s.photoCursor === undefined
    ? { initialDone: s.photoInitialDone ?? false }
    : { cursor: s.photoCursor, initialDone: s.photoInitialDone ?? false };
}

/** The Avro record of a state (schemas/SourceState.avsc): what goes on `listings.source-state`. */
export function stateRecordOf(source: string, s: SourceState): SourceStateRecord {
  const cursor = (c: SourceCursor | undefined): SourceCursorRecord | null =>
    c === undefined
      ? null
      : { timestamp: c.timestamp, key: c.key, keysAtTimestamp: c.keysAtTimestamp ? [...c.keysAtTimestamp] : null };
  return {
    source,
    cursor: cursor(s.cursor),
    initialDone: s.initialDone,
    photoCursor: cursor(s.photoCursor),
    photoInitialDone: s.photoInitialDone ?? false,
    lastPurgeAt: s.lastPurgeAt ?? null,
    snapshot: s.snapshot ? { ...s.snapshot } : null,
    refused: s.refused ? { ...s.refused } : null,
    lastPoll: s.lastPoll,
    counts: { ...s.counts },
  };
}

/** A state out of its Avro record (stateRecordOf's inverse). */
export function sourceStateOf(r: SourceStateRecord): SourceState {
  const cursor = (c: SourceCursorRecord | null): SourceCursor | undefined =>
    c === null
      ? undefined
      : c.keysAtTimestamp === null
        ? { timestamp: c.timestamp, key: c.key }
        : { timestamp: c.timestamp, key: c.key, keysAtTimestamp: c.keysAtTimestamp };
  const main = cursor(r.cursor);
  const photo = cursor(r.photoCursor);
  return {
    ...(main === undefined ? {} : { cursor: main }),
    initialDone: r.initialDone,
    ...(photo === undefined ? {} : { photoCursor: photo }),
    ...(r.photoInitialDone ? { photoInitialDone: true } : {}),
    ...(r.lastPurgeAt === null ? {} : { lastPurgeAt: r.lastPurgeAt }),
    ...(r.snapshot === null ? {} : { snapshot: { ...r.snapshot } }),
    ...(r.refused === null ? {} : { refused: { ...r.refused } }),
    lastPoll: r.lastPoll,
    counts: { ...r.counts },
  };
}

/**
 * The start of a backfill from `from`: the main cursor just before every record at that instant (key '' sorts
 * before every key), the first load counted done (deletions included from there), the rest of `previous`
 * kept. Undefined when `from` is not an instant.
 */
export function backfillState(from: string, previous: SourceState | undefined): SourceState | undefined {
  if (parseInstant(from) === undefined) return undefined;
  const base = previous ?? initialSourceState();
  return { ...base, cursor: { timestamp: from, key: '' }, initialDone: true };
}
