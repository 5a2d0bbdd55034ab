/**
 * The quiet-poll probe: one request that tells a poll with nothing to take from one that has work, so that a
 * quiet poll costs exactly one request per source whatever its tie mode, streams and tie size. A probe only
 * ever decides to SKIP a pass; it never takes, drops or commits a record, and the cursor it reads is the one
 * the pass would start from. Anything it cannot prove quiet runs the normal pass (whose correctness is
 * replicate.ts's), so a wrong "changed" costs one request and never a record.
 *
 * Per source, given the streams' committed states (main, and the photo stream of a PropTx-like source):
 *
 * 1. A single `key` stream has no probe: its pass's first request (`T gt t or (T eq t and K gt k)`) already is
 *    one request that comes back empty when nothing changed.
 *
 * 2. Several `key` streams (PropTx: ModificationTimestamp and PhotosChangeTimestamp) share ONE probe:
 *    `$filter=<source terms> and ((<main cursor term>) or (<photo cursor term>))&$top=1&$select=<key>`.
 *    Each cursor term is exactly the filter of that stream's first page, and a key-tie pass takes every record
 *    its filter returns, so: probe empty <=> every stream's first page would be empty <=> every pass would
 *    take nothing. No residual beyond what key ties already accept (a record committed late at an instant
 *    already passed, with a key below the cursor's, is missed by the pass itself).
 *
 * 3. A `ge` stream (the server cannot filter or order by key: MLS Grid) asks `T ge t` and drops the boundary
 *    keys K = cursor.keysAtTimestamp already taken at t. Its pass re-reads the whole tie at t, ceil(|tie| / page)
 *    requests when nothing changed. The probe is one request with the pass's own filter, newest first:
 *    `$filter=<source terms> and (T ge t)&$orderby=T desc&$top=1&$count=true&$select=<key>,T`.
 *    Let M be the records that filter matches now (exactly what the pass would read, the first-load filter
 *    aside: a probe runs only once the first load is done). The pass takes nothing <=> M is a subset of
 *    {records at t with a key in K}. The probe calls it quiet when
 *      (a) @odata.count = 0 (M is empty), or
 *      (b) the newest record is at exactly t (so every record of M is at t), its key is in K, and
 *          @odata.count = |K|.
 *    Why (b) is enough, up to one residual: a modification stamps a later timestamp, so a record of K that
 *    changed (a price, a status, a delete flag: MlgCanView=false is a modification) is newest and > t, and
 *    any new record later than t is too: (b) fails. What (b) cannot see is which keys make up M at t. M at t
 *    is K minus the records of K that left the result without a later stamp (D: a hard delete, MLS Grid
 *    dropping a flagged record after 7 days, or a clock that stamped an edit earlier than t) plus records that
 *    appeared at exactly t after the pass read it (L: late arrivals). |M| = |K| - |D| + |L|, so a count of |K|
 *    with L non-empty needs |D| = |L| > 0 within one quiet interval, at exactly that instant.
 *    **Residual:** then L is not taken by this poll. It is not lost either: the cursor does not move, so the
 *    first poll whose probe sees any other change (any record of the source stamped later than t) runs the
 *    pass from `T ge t`, which reads the tie at t and takes L (its keys are not in K), once. A delay until
 *    the source's next change, never a loss or a repeat. (A record committed late at an instant *before* t is
 *    missed by every mode, probe or not.) A tie with some of K hard-deleted and nothing else (|M| < |K|) is
 *    not provably quiet: those polls cost the probe and the pass until the cursor moves on.
 *    The probe needs `$count` and a descending `$orderby`; a source that declares either missing
 *    (`capabilities`) is not probed, and its quiet polls cost the tie's pages as before.
 *
 * 4. Other mixes (a `ge` main stream with a photo stream, which no vendor preset has) probe each stream by the
 *    rules above: one request per `ge` stream and one for the key streams together.
 *
 * A server that refuses a probe (a 400: SOURCE_REFUSED) gets the normal passes for that poll, and the refusal
 * is reported (`refused`) so the poller can warn that the declaration should say what the server lacks.
 */
import { ListflowError } from '../../runtime/errors';
import type { ODataPage, SourceClient } from './client';
import { compareInstants } from './cursor';
import { buildQuery, cursorFilter, DEFAULT_CAPABILITIES } from './query';
import type { ReplicationSpec, ReplicationState } from './replicate';

export interface ProbeStream {
  readonly spec: ReplicationSpec;
  readonly state: ReplicationState;
}

/** One probe request and how to read its answer: `quiet(page)` true means the streams it covers take nothing. */
export interface Probe {
  /** Indices into the streams given to probesFor. */
  readonly streams: readonly number[];
  readonly url: URL;
  readonly resource: string;
  quiet(page: ODataPage): boolean;
}

/** The probes of a poll (none: just run the passes). Pure: the tables of quiet-probe.test.ts pin it. */
export function probesFor(streams: readonly ProbeStream[]): Probe[] {
  // A stream still on its first load, or without a cursor, has work or cannot be judged: no probe at all.
  if (streams.length === 0 || !streams.every((s) => s.state.initialDone && s.state.cursor !== undefined)) return [];
  const probes: Probe[] = [];
  const keyed = streams.map((s, i) => ({ ...s, i })).filter((s) => s.spec.tieMode === 'key');
  // Rule 2: one probe for several key streams over the same resource and source terms (a single one needs none).
  if (keyed.length > 1 && keyed.every((s) => s.spec.resource === keyed[0]!.spec.resource)) {
    const first = keyed[0]!.spec;
    if (keyed.every((s) => s.spec.filter === first.filter)) {
      const term = keyed.map((s) => `(${cursorFilter(s.spec, s.state.cursor)})`).join(' or ');
      probes.push({
        streams: keyed.map((s) => s.i),
        resource: first.resource,
        url: buildQuery(first, undefined, { initial: false, cursorTerm: term, top: 1, select: [first.keyField] }),
        quiet: (page) => page.records.length === 0,
      });
    }
  }
  streams.forEach((s, i) => {
    if (s.spec.tieMode !== 'ge') return;
    const caps = s.spec.capabilities ?? DEFAULT_CAPABILITIES;
    const cursor = s.state.cursor!;
    const known = cursor.keysAtTimestamp;
    // A cursor set by hand (`--from`, reset) has no keys at its instant: its pass takes the whole tie.
    if (!caps.count || !caps.orderDescending || !known || known.length === 0) return;
    probes.push({
      streams: [i],
      resource: s.spec.resource,
      url: buildQuery(s.spec, cursor, {
        initial: false,
        newestFirst: true,
        count: true,
        top: 1,
        select: [s.spec.keyField, s.spec.timestampField],
      }),
      quiet: (page) => geQuiet(s.spec, cursor.timestamp, known, page),
    });
  });
  return probes;
}

/** Rule 3 (a) or (b) of the header. */
export function geQuiet(
  spec: Pick<ReplicationSpec, 'keyField' | 'timestampField'>,
  at: string,
  known: readonly string[],
  page: ODataPage,
): boolean {
  if (page.count === undefined) return false; // a server that ignores $count proves nothing
  if (page.count === 0) return page.records.length === 0;
  if (page.count !== known.length || page.records.length !== 1) return false;
  const newest = page.records[0]!;
  const ts = newest[spec.timestampField];
  const key = newest[spec.keyField];
  if (typeof ts !== 'string' || typeof key !== 'string') return false;
  let same: boolean;
  try {
    same = compareInstants(ts, at) === 0;
  } catch {
    return false; // not an instant: the pass will say so
  }
  return same && known.includes(key);
}

export interface ProbeResult {
  /** Indices of the streams proven to have nothing to take: their passes are skipped. */
  readonly quiet: ReadonlySet<number>;
  /** A probe the server refused (its message): the passes ran; the declaration should name what it lacks. */
  readonly refused?: string;
}

/** Runs the poll's probes; a refused one leaves its streams to their passes. */
export async function runProbes(
  streams: readonly ProbeStream[],
  client: SourceClient,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const quiet = new Set<number>();
  let refused: string | undefined;
  for (const p of probesFor(streams)) {
    let page: ODataPage;
    try {
      page = await client.getPage(p.url, { nextLink: false, sameOriginAs: new URL(p.resource), signal });
    } catch (e) {
      if (e instanceof ListflowError && e.code === 'SOURCE_REFUSED') {
        refused = e.message;
        continue;
      }
      throw e;
    }
    if (p.quiet(page)) for (const i of p.streams) quiet.add(i);
  }
  return refused === undefined ? { quiet } : { quiet, refused };
}
