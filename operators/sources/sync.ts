/**
 * One sync of a source: its main pass (and, for PropTx-like sources, its photo pass), each page's RawListings
 * handed to the sink together with the source state after that page. The sink commits both in ONE Kafka
 * transaction (kafka-sink.ts), so the state a restarted worker reads back is exactly the state after the last
 * page whose records are visible (read_committed): a crash neither loses nor repeats a page.
 *
 * A `media: separate` source's page gets its Media (one query per batch of its keys) before it becomes
 * RawListings, so photos travel in the page's own transaction.
 *
 * First the quiet-poll probe (quiet-probe.ts): streams it proves have nothing to take are not passed, so a
 * quiet poll is exactly one request per source (a `ge` tie larger than a page, a PropTx photo stream
 * included). Pages that carry nothing and do not change the state are not committed: a quiet poll makes no
 * Kafka write.
 */
import type { SourceClient } from './client';
import { withSeparateMedia } from './media-query';
import { runProbes } from './quiet-probe';
import { type RawListingRecord, rawListingsOf } from './raw-listings';
import { type ReplicationSpec, type ReplicationState, replicatePass } from './replicate';
import type { SourceCommon } from './source-spec';
import { initialSourceState, mainReplication, photoReplication, type SourceState } from './state';

export interface PageSink {
  /** Commit the page's records and the state after it atomically; resolves once committed. */
  commit(records: readonly RawListingRecord[], state: SourceState): Promise<void>;
}

export interface SyncOptions {
  readonly source: SourceCommon;
  readonly specs: { readonly main: ReplicationSpec; readonly photos?: ReplicationSpec };
  readonly client: SourceClient;
  /** The last committed state (undefined: none, start from the beginning). */
  readonly start: SourceState | undefined;
  readonly sink: PageSink;
  readonly signal: AbortSignal;
  readonly now?: () => Date;
}

export interface SyncResult {
  readonly state: SourceState;
  readonly pages: number;
  readonly records: number;
  readonly deletes: number;
  readonly requests: number;
  /** The server refused the quiet-poll probe (its message): the passes ran; declare what it lacks. */
  readonly probeRefused?: string;
}

export async function syncSource(o: SyncOptions): Promise<SyncResult> {
  const now = o.now ?? (() => new Date());
  let state = o.start ?? initialSourceState();
  let pages = 0;
  let records = 0;
  let deletes = 0;
  const requestsBefore = o.client.requests();
  const streams: Array<{
    spec: ReplicationSpec;
    from: (s: SourceState) => ReplicationState;
    into: (s: SourceState, r: ReplicationState) => SourceState;
  }> = [
    {
      spec: o.specs.main,
      from: mainReplication,
      into: (s, r) => withCursor({ ...s, initialDone: r.initialDone }, 'cursor', r),
    },
  ];
  if (o.specs.photos) {
    streams.push({
      spec: o.specs.photos,
      from: photoReplication,
      into: (s, r) => withCursor({ ...s, photoInitialDone: r.initialDone }, 'photoCursor', r),
    });
  }
  const probe = await runProbes(
    streams.map((s) => ({ spec: s.spec, state: s.from(state) })),
    o.client,
    o.signal,
  );
  for (const [i, stream] of streams.entries()) {
    if (probe.quiet.has(i)) continue;
    const begin = stream.from(state);
    const passId = `${o.source.name}@${begin.cursor?.timestamp ?? 'start'}`;
    let position = 0;
    const media = stream.spec.separateMedia;
    // Prefetch only when a page needs no further request: with separate Media, the page's Media query and the
    // next page's request would be two at once against one source's rate budget.
    const pass = replicatePass(stream.spec, o.client, begin, o.signal, { prefetch: media === undefined });
    for await (const replicated of pass) {
      const page = media ? await withSeparateMedia(media, o.client, replicated, o.signal) : replicated;
      const receivedAt = now();
      const raws = rawListingsOf(o.source, page, { passId, position, receivedAt });
      position += raws.length;
      const before = stream.from(state);
      const changed =
        raws.length > 0 ||
        JSON.stringify(before) !== JSON.stringify(page.state) ||
        page.state.initialDone !== before.initialDone;
      if (!changed) continue;
      const next = stream.into(state, page.state);
      const candidate: SourceState = {
        ...next,
        lastPoll: receivedAt.toISOString(),
        counts: {
          records: state.counts.records + page.records.length,
          deletes: state.counts.deletes + page.deletedRecords.length,
          pages: state.counts.pages + 1,
          // requests over the source's life: the start's count plus this sync's so far
          requests: (o.start?.counts.requests ?? 0) + (o.client.requests() - requestsBefore),
        },
      };
      await o.sink.commit(raws, candidate);
      state = candidate;
      pages++;
      records += page.records.length;
      deletes += page.deletedRecords.length;
    }
  }
  const requests = o.client.requests() - requestsBefore;
  return probe.refused === undefined
    ? { state, pages, records, deletes, requests }
    : { state, pages, records, deletes, requests, probeRefused: probe.refused };
}

function withCursor(s: SourceState, field: 'cursor' | 'photoCursor', r: ReplicationState): SourceState {
  const { [field]: _drop, ...rest } = s;
  return r.cursor === undefined ? rest : { ...rest, [field]: r.cursor };
}
