/**
 * One sync of a snapshot source (kind `file` or `http`): the whole feed, read as ingest reads it, is the
 * source's truth at the time of the read. What changed since the last snapshot goes to `listings.raw` through
 * the same sink the RESO path commits its pages with (sync.ts PageSink: records, the source's keys and the
 * state in ONE transaction), in chunks of the source's pageSize:
 *
 * 1. Identify: one read hashes the records (listing key and payload, in feed order). A snapshot whose hash is
 *    the state's, done, produces nothing and commits nothing (as a quiet RESO poll). A failed read is retried
 *    with the source's bounded policy; what is left fails the poll (retriable) or the source (permanent).
 * 2. Produce: a second read sends every listing whose payload digest differs from the one the source's keys
 *    hold (listings.source-keys; every listing when the state has no snapshot yet, as after a reset), each chunk committed with `snapshot: { id, position, done: false }`. A
 *    restarted poller that finds the same snapshot resumes after `position`: no chunk lost or sent twice.
 * 3. Delete: the held keys the snapshot no longer lists become key-only DELETEs (purge.ts, as a purge pass
 *    makes them), the last chunk committed with `done: true`.
 *
 * Before step 2 the guard (snapshot-guard.ts) counts what the snapshot would delete, from the identifying read:
 * an empty snapshot while listings are held, or one deleting more than the source's maxDeleteFraction of them,
 * is refused whole (nothing written, the refusal kept in the state, SOURCE_SNAPSHOT_REFUSED thrown) unless the
 * caller allows it (`sources sync --once --allow-mass-delete`).
 *
 * When the second read's hash is not the first's (the feed changed between them), nothing is deleted and the
 * snapshot is left undone: the next poll sees a new snapshot and reads it afresh (the digests skip what was sent).
 */
import { createHash } from 'node:crypto';
import { classifyError } from '../../runtime/errors';
import { withRetry } from '../../runtime/execute/retry';
import type { RetryPolicy } from '../../runtime/pipeline';
import type { RawListing } from '../../schemas/generated/types';
import type { FeedItem } from '../ingest/feed-readers';
import { listingId } from '../ingest/process';
import { purgedKeys } from './deletes';
import { purgeDelete } from './purge';
import { guardSnapshot, SnapshotRefusedError } from './snapshot-guard';
import type { RawListingRecord } from './raw-listings';
import type { SnapshotSource } from './source-spec';
import { initialSourceState, type SourceState } from './state';
import type { PageSink, SyncResult } from './sync';

export interface SnapshotSyncOptions {
  readonly source: SnapshotSource;
  /** One fresh read of the snapshot's feed (ingest/tools.ts readSnapshot). */
  readonly read: () => AsyncIterable<FeedItem>;
  /** The listings the source holds now: ListingKey -> digest of the payload last sent (null: none recorded). */
  readonly held: () => Promise<ReadonlyMap<string, string | null>>;
  readonly start: SourceState | undefined;
  readonly sink: PageSink;
  /** Attempts of the identifying read (the source's request policy). */
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal;
  readonly now?: () => Date;
  /** A record of the feed that could not be read (skipped: the rest of the snapshot goes on). */
  readonly onReject?: (item: Extract<FeedItem, { ok: false }>) => void;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Apply a snapshot the mass-delete guard would refuse (`sources sync --once --allow-mass-delete`). */
  readonly allowMassDelete?: boolean;
}

export interface SnapshotSyncResult extends SyncResult {
  /** Whether the snapshot was the one already done (nothing read past the identifying read). */
  readonly unchanged: boolean;
}

export const payloadDigest = (payload: string): string => createHash('sha256').update(payload).digest('hex');

/** The running identity of a snapshot: sha256 over its readable records, each as key NUL payload LF. */
class SnapshotHash {
  private readonly h = createHash('sha256');
  add(item: FeedItem): void {
    if (item.ok) this.h.update(item.listingKey).update('\0').update(item.payload).update('\n');
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

/** What the identifying read learns of a snapshot: its identity, the keys it lists and its records. */
interface Identified {
  readonly id: string;
  readonly listed: ReadonlySet<string>;
  readonly total: number;
}

async function identify(o: SnapshotSyncOptions): Promise<Identified> {
  return withRetry(
    o.retry,
    async () => {
      const hash = new SnapshotHash();
      const listed = new Set<string>();
      let total = 0;
      for await (const item of o.read()) {
        hash.add(item);
        total = item.position + 1;
        if (item.ok) listed.add(item.listingKey);
      }
      return { id: hash.digest(), listed, total };
    },
    {
      retriable: (e) => !o.signal.aborted && classifyError(e).kind === 'retriable',
      signal: o.signal,
      ...(o.sleep ? { sleep: o.sleep } : {}),
    },
  );
}

export async function syncSnapshot(o: SnapshotSyncOptions): Promise<SnapshotSyncResult> {
  const now = o.now ?? (() => new Date());
  const begin = o.start ?? initialSourceState();
  let reads = 1;
  const { id, listed: identified, total } = await identify(o);
  if (begin.snapshot?.id === id && begin.snapshot.done) {
    // The feed is back to the snapshot already applied (a refused one was fixed): the refusal no longer holds.
    if (begin.refused) {
      const { refused: _cleared, ...rest } = begin;
      await o.sink.commit([], rest);
      return { state: rest, pages: 0, records: 0, deletes: 0, requests: reads, unchanged: true };
    }
    return { state: begin, pages: 0, records: 0, deletes: 0, requests: reads, unchanged: true };
  }
  const same = begin.snapshot?.id === id ? begin.snapshot : undefined;
  const resumeAt = same?.position ?? 0;
  const takenAt = same?.takenAt ?? now().toISOString();
  const held = new Map(await o.held());
  await guard(o, begin, id, held, identified, now());
  // No snapshot in the state (a first load, or `sources reset` to the beginning): every listing is sent again,
  // whatever the keys hold; after that, only what changed.
  const resend = begin.snapshot === undefined;
  const jobId = `${o.source.name}@snapshot-${id.slice(0, 16)}`;
  let state = begin;
  let pages = 0;
  let records = 0;
  let deletes = 0;

  const commit = async (chunk: RawListingRecord[], position: number, done: boolean) => {
    const deleted = chunk.filter((r) => r.deleted).length;
    const live = chunk.length - deleted;
    // A snapshot that commits is within the guard's bounds (or allowed): an earlier refusal is over.
    const { refused: _over, ...kept } = state;
    const next: SourceState = {
      ...kept,
      // The first load is done once a whole snapshot is (`sources list` and the lag read it so).
      initialDone: state.initialDone || done,
      snapshot: { id, position, done, total, takenAt },
      lastPoll: now().toISOString(),
      counts: {
        records: state.counts.records + live,
        deletes: state.counts.deletes + deleted,
        pages: state.counts.pages + 1,
        requests: (o.start?.counts.requests ?? 0) + reads,
      },
    };
    await o.sink.commit(chunk, next);
    state = next;
    pages++;
    records += live;
    deletes += deleted;
  };

  reads++;
  const hash = new SnapshotHash();
  const listed = new Set<string>();
  let chunk: RawListingRecord[] = [];
  let position = 0;
  for await (const item of o.read()) {
    hash.add(item);
    position = item.position + 1;
    if (!item.ok) {
      if (item.position >= resumeAt) o.onReject?.(item);
      continue;
    }
    listed.add(item.listingKey);
    if (item.position < resumeAt) continue;
    const digest = payloadDigest(item.payload);
    if (!resend && held.get(item.listingKey) === digest) continue;
    held.set(item.listingKey, digest);
    chunk.push(snapshotRecord(o.source, item, jobId, now(), digest));
    if (chunk.length >= o.source.pageSize) {
      await commit(chunk, position, false);
      chunk = [];
    }
  }
  const end = Math.max(position, resumeAt);
  if (hash.digest() !== id) {
    // Changed under us: what was read is sent, the snapshot stays undone so that the next poll reads it afresh.
    if (chunk.length > 0) await commit(chunk, end, false);
    return { state, pages, records, deletes, requests: reads, unchanged: false };
  }
  const at = now();
  const gone = purgedKeys(held.keys(), listed).map((k, i) => purgeDelete(o.source, k, at, end + i));
  // Deletions fill the last chunk and follow in chunks of their own; only the last one says done.
  let pending = [...chunk, ...gone];
  do {
    const part = pending.slice(0, o.source.pageSize);
    pending = pending.slice(part.length);
    await commit(part, end, pending.length === 0);
  } while (pending.length > 0);
  return { state, pages, records, deletes, requests: reads, unchanged: false };
}

/**
 * Refuses the snapshot (throws SnapshotRefusedError) when the guard does and the caller does not allow it; the
 * refusal is committed in the state first, once per snapshot, so `sources list` shows it while the poller polls.
 */
async function guard(
  o: SnapshotSyncOptions,
  begin: SourceState,
  id: string,
  held: ReadonlyMap<string, string | null>,
  listed: ReadonlySet<string>,
  at: Date,
): Promise<void> {
  let deletes = 0;
  for (const k of held.keys()) if (!listed.has(k)) deletes++;
  const counts = { known: held.size, listed: listed.size, deletes };
  const verdict = guardSnapshot(counts, o.source.maxDeleteFraction);
  if (verdict.ok || o.allowMassDelete) return;
  const error = new SnapshotRefusedError(o.source.name, id, counts, verdict, o.source.maxDeleteFraction, at);
  if (begin.refused?.snapshot !== id) await o.sink.commit([], { ...begin, refused: error.refusal });
  throw error;
}

/** A snapshot listing as the RawListing ingest would make of it, keyed `<source>:<ListingKey>`. */
function snapshotRecord(
  source: SnapshotSource,
  item: Extract<FeedItem, { ok: true }>,
  jobId: string,
  receivedAt: Date,
  digest: string,
): RawListingRecord {
  const value: RawListing = {
    jobId,
    source: source.name,
    listingKey: item.listingKey,
    position: item.position,
    receivedAt,
    defaultCountry: source.country ?? null,
    defaultCurrency: source.currency ?? null,
    profile: source.profile ?? null,
    payload: item.payload,
  };
  return { key: listingId(source.name, item.listingKey), value, digest };
}
