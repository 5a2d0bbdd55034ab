/**
 * One replication pass of a source, as an async sequence of pages: each page comes with the replication
 * state after it, so the sources worker can commit the page's records and that state in one Kafka
 * transaction (and a crash resumes from the last committed state, neither losing nor repeating a page).
 *
 * A pass starts from the cursor query, follows nextLinks (or, with `paging: cursor`, asks again from the cursor)
 * until a page comes back without one (or empty: Trestle), and restarts from the cursor when a nextLink expires. Records at or before the cursor are
 * dropped (the `ge` boundary); the cursor advances over every record taken, deleted ones included (MLS
 * Grid: save the highest timestamp seen, even for records you don't keep). A pass from a caught-up key-tie
 * cursor is one request; a quiet `ge` pass re-reads the tie at the cursor, which the quiet-poll probe
 * (quiet-probe.ts) spares a sync.
 */
import { PermanentError } from '../../runtime/errors';
import type { ODataPage, SourceClient } from './client';
import { NextLinkExpired } from './client';
import { advance, isPast, parseInstant, type Position, type SourceCursor } from './cursor';
import { type DeleteRule, isDeletedRecord } from './deletes';
import type { SeparateMedia } from './media-query';
import { buildQuery, pagesFrom, type QuerySpec, resolveNextLink } from './query';

export interface ReplicationSpec extends QuerySpec {
  readonly source: string;
  readonly deletes: DeleteRule;
  readonly nextLinkEncoding: 'standard' | 'double';
  /**
   * `next-link` follows the server's links. `cursor` asks each page again from the cursor, which `$skip` links
   * over live data cannot match: a record changed behind the offset moves to the end and shifts the rest, so
   * one record is skipped. Under ge ties a timestamp larger than a page is crossed by the server's links.
   */
  readonly paging: 'next-link' | 'cursor';
  /** `media.mode: separate`: each page's Media from the Media resource (media-query.ts). */
  readonly separateMedia?: SeparateMedia;
}

export interface ReplicationState {
  readonly cursor?: SourceCursor;
  /** The first load has caught up once (MLS Grid: then drop `MlgCanView eq true`). */
  readonly initialDone: boolean;
}

export interface ReplicatedPage {
  readonly url: string;
  /** Live records past the cursor, in page order. */
  readonly records: readonly Record<string, unknown>[];
  /** Keys the page announced deleted (flag or status rule). */
  readonly deletedKeys: readonly string[];
  /** Those records as sent: they travel on as RawListings, and the source's profile reads them as DELETE. */
  readonly deletedRecords: readonly Record<string, unknown>[];
  /** The state to commit with this page. */
  readonly state: ReplicationState;
  /** No more pages in this pass. */
  readonly caughtUp: boolean;
}

const MAX_RESTARTS = 5;

export interface PassOptions {
  /**
   * Send the next page's request before handing on the current page, so the server's time overlaps the
   * caller's work on the page (turning it into records, a Kafka transaction). Same requests in the same order;
   * a pass stopped early (the caller breaks) has sent one request more, which is aborted. The worker's syncs
   * use it; a check that wants exactly the pages it reads does not.
   */
  readonly prefetch?: boolean;
}

interface PageAsk {
  readonly url: URL;
  readonly viaNextLink: boolean;
}

export async function* replicatePass(
  spec: ReplicationSpec,
  client: SourceClient,
  start: ReplicationState,
  signal: AbortSignal,
  opts: PassOptions = {},
): AsyncGenerator<ReplicatedPage> {
  const origin = new URL(spec.resource);
  let state = start;
  const fromCursor = (): PageAsk => ({
    url: buildQuery(spec, state.cursor, { initial: !state.initialDone }),
    viaNextLink: false,
  });
  const get = (ask: PageAsk, s: AbortSignal) =>
    client.getPage(ask.url, { nextLink: ask.viaNextLink, sameOriginAs: origin, signal: s });
  let ask = fromCursor();
  let ahead: { readonly stop: AbortController; readonly page: Promise<ODataPage> } | undefined;
  let restarts = 0;
  try {
    for (;;) {
      let page: ODataPage;
      try {
        page = ahead ? await ahead.page : await get(ask, signal);
      } catch (e) {
        if (e instanceof NextLinkExpired && restarts < MAX_RESTARTS) {
          restarts++;
          ahead = undefined;
          ask = fromCursor();
          continue;
        }
        throw e;
      } finally {
        ahead = undefined;
      }
      const taken: Array<{ record: Record<string, unknown>; at: Position }> = [];
      for (const record of page.records) {
        const at = positionOf(spec, record, page.url);
        if (isPast(at, state.cursor)) taken.push({ record, at });
      }
      const more = page.nextLink !== undefined && page.records.length > 0;
      const live: Record<string, unknown>[] = [];
      const deleted: typeof taken = [];
      for (const t of taken) {
        if (isDeletedRecord(t.record, spec.deletes)) deleted.push(t);
        else live.push(t.record);
      }
      const next: ReplicationState = {
        cursor: advance(
          state.cursor,
          taken.map((t) => t.at),
          spec.tieMode === 'ge',
        ),
        initialDone: state.initialDone || !more,
      };
      const replicated: ReplicatedPage = {
        url: page.url.href,
        records: live,
        deletedKeys: deleted.map((t) => t.at.key),
        deletedRecords: deleted.map((t) => t.record),
        state: next,
        caughtUp: !more,
      };
      // Under ge ties a page that ends inside one timestamp would be asked again from the same cursor: go
      // through that tie by the server's links, and back to the cursor once the timestamp moves on.
      const insideTie =
        spec.tieMode === 'ge' && state.cursor !== undefined && next.cursor?.timestamp === state.cursor.timestamp;
      state = next;
      if (more) {
        ask =
          spec.paging === 'cursor' && !insideTie
            ? fromCursor()
            : { url: resolveNextLink(page.nextLink!, page.url, spec.nextLinkEncoding), viaNextLink: true };
        if (opts.prefetch) {
          const stop = new AbortController();
          const pending = get(ask, AbortSignal.any([signal, stop.signal]));
          pending.catch(() => undefined); // awaited below, or aborted when the caller stops early
          ahead = { stop, page: pending };
        }
      }
      yield replicated;
      if (!more) return;
    }
  } finally {
    ahead?.stop.abort();
  }
}

/** Every key the server lists now (a purge pass: `$select=<key>`, ordered by key, following nextLinks). */
export function listAllKeys(spec: ReplicationSpec, client: SourceClient, signal: AbortSignal): Promise<Set<string>> {
  const url = buildQuery(spec, undefined, { initial: false, allKeys: true, select: [spec.keyField] });
  return keysListed(spec, client, url, signal);
}

/** The keys a `$select=<key>` query lists from `url` on, following its nextLinks, added to `into`. */
export async function keysListed(
  spec: ReplicationSpec,
  client: SourceClient,
  url: URL,
  signal: AbortSignal,
  into = new Set<string>(),
): Promise<Set<string>> {
  const walk = { origin: new URL(spec.resource), nextLinkEncoding: spec.nextLinkEncoding, signal };
  for await (const page of pagesFrom(client, url, walk)) {
    for (const r of page.records) {
      const k = r[spec.keyField];
      if (typeof k === 'string') into.add(k);
    }
  }
  return into;
}

/**
 * Records left past the state's cursor, from `@odata.count` (one request, `$top=0`), for `sources list` and the
 * sources' lag. Exact with key ties; with `ge` ties the boundary keys already taken are subtracted, which is
 * exact unless one of them changed since (then it is counted once more, as it will be taken again).
 * Undefined when the server sends no count, or is declared without `$count` (then no request is made).
 */
export async function remainingRecords(
  spec: ReplicationSpec,
  client: SourceClient,
  state: ReplicationState,
  signal: AbortSignal,
): Promise<number | undefined> {
  if (spec.capabilities?.count === false) return undefined;
  const url = buildQuery(spec, state.cursor, {
    initial: !state.initialDone,
    count: true,
    top: 0,
    select: [spec.keyField],
  });
  const page = await client.getPage(url, { nextLink: false, sameOriginAs: new URL(spec.resource), signal });
  if (page.count === undefined) return undefined;
  return Math.max(0, page.count - (state.cursor?.keysAtTimestamp?.length ?? 0));
}

function positionOf(spec: ReplicationSpec, record: Record<string, unknown>, url: URL): Position {
  const key = record[spec.keyField];
  const timestamp = record[spec.timestampField];
  if (typeof key !== 'string' || key === '' || typeof timestamp !== 'string' || !parseInstant(timestamp)) {
    throw new PermanentError(
      'SOURCE_RESPONSE_INVALID',
      `Source ${spec.source}: a record of ${url.href} has ${spec.keyField} ${JSON.stringify(key)} and ${spec.timestampField} ${JSON.stringify(timestamp)}; both are needed (a string key and an instant with offset).`,
      { detail: { source: spec.source, url: url.href } },
    );
  }
  return { key, timestamp };
}
