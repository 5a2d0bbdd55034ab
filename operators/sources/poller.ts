/**
 * A source's poller, the sources step's `own`: while this replica owns the source, sync it (every page and the
 * state after it in one transaction, sync.ts), wait `pollInterval`, and again. Nothing is kept between polls
 * that is not in Kafka: the state it resumes from is the last committed one, read back after opening the
 * source's transactional writer (which fences any earlier owner first), and read back again after a failure.
 *
 * - A failure a poll's own bounded request retries did not absorb (SOURCE_UNAVAILABLE, a timeout) fails that
 *   poll: it is logged and counted (`poll_failures`), and the next poll comes one interval later; the source's
 *   `caught_up` gauge stops moving, which the "source not polled within 3 intervals" alert watches.
 * - A permanent failure (SOURCE_AUTH_FAILED, SOURCE_REFUSED, SOURCE_BLOCKED_URL, SOURCES_INVALID) is thrown: the
 *   runtime dead-letters the source's declaration with the reason and stops the source until it is applied
 *   again.
 * - A snapshot source (kind file|http) syncs through snapshot.ts with the same sink: one transaction per chunk.
 *   A snapshot its mass-delete guard refuses (SOURCE_SNAPSHOT_REFUSED, snapshot-guard.ts) fails the poll like a
 *   transient failure, logged as an error; the refusal is in the committed state, and polling goes on.
 * - Gauges per source (`listflow_owned_<name>{step, key}`): last_poll_timestamp_seconds, caught_up_timestamp_seconds,
 *   poll_interval_seconds, poll_failures, records, deletes.
 */
import { classifyError, type ListflowError } from '../../runtime/errors';
import { sleep } from '../../runtime/execute/retry';
import { createGuardedClient, type GuardedClient } from '../../runtime/http/guarded-client';
import { emit, type OwnerContext } from '../../runtime/operator';
import type { SourceDeclaration, SourceKey } from '../../schemas/generated/types';
import { readSnapshot } from '../ingest/tools';
import type { SourceClient } from './client';
import { purgeDue } from './deletes';
import { purgePass } from './purge';
import type { ReplicationSpec } from './replicate';
import { clientSettingsOf, type SourcesConfig } from './config';
import { sourceOfDeclaration } from './declaration';
import type { RawListingRecord } from './raw-listings';
import { sourceClientFor } from './source-client';
import { syncSnapshot } from './snapshot';
import {
  type ResoSource,
  replicationSpecs,
  type SnapshotSource,
  type SourceSpec,
  type ValidateOptions,
} from './source-spec';
import { type SourceState, sourceStateOf, stateRecordOf } from './state';
import { type PageSink, type SyncResult, syncSource } from './sync';

export interface SourcesServices {
  /** Where a source's secrets are read, by the variable names its declaration gives. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The profiles a declaration is checked against (its delete rule must agree with normalize's reading). */
  readonly validate: ValidateOptions;
}

export type SourcePorts = { raw: 'RawListing'; state: 'SourceState'; keys: 'SourceKey' };
export type PollerContext = OwnerContext<SourcesConfig, SourcesServices, SourcePorts>;

/** The guarded client a source's requests go through (its allow list is LISTFLOW_SOURCES_ALLOW_HOSTS). */
export function sourceHttpClient(config: SourcesConfig): GuardedClient {
  return createGuardedClient({
    allowHosts: config.allowHosts,
    allowSetting: 'LISTFLOW_SOURCES_ALLOW_HOSTS',
    blockedCode: 'SOURCE_BLOCKED_URL',
    what: 'source page',
    connectTimeoutMs: config.connectTimeoutMs,
    idleTimeoutMs: config.pageTimeoutMs,
    maxRedirects: 0,
  });
}

/**
 * One source's replication through its owner's writer: `sync(start)` runs one sync until caught up, every page
 * with the state after it in ONE transaction of the source's transactional writer (opened here, so an earlier
 * owner is fenced before anything is read or written); `readState()` is the last committed state. The poller's
 * loop and `listflow sources sync --once` (tool.ts) both stand on this, so there is one commit path.
 */
export interface SourceSync {
  readonly source: SourceSpec;
  readState(): Promise<SourceState | undefined>;
  sync(start: SourceState | undefined): Promise<SyncResult>;
  close(): Promise<void>;
}

export interface SourceSyncOptions {
  /** A snapshot the mass-delete guard would refuse is applied (`sources sync --once --allow-mass-delete`). */
  readonly allowMassDelete?: boolean;
}

export async function openSourceSync(
  decl: SourceDeclaration,
  ctx: PollerContext,
  options: SourceSyncOptions = {},
): Promise<SourceSync> {
  const spec = sourceOfDeclaration(decl, ctx.services.validate);
  const writer = await ctx.transactions();
  const sink: PageSink = {
    commit: (records, state) =>
      writer.commit([
        ...records.map((r) => emit.output('raw', r.key, r.value)),
        // The source's keys move with its pages: what a purge pass (or the next snapshot) compares with.
        ...records.map((r) => emit.output('keys', r.key, r.deleted ? null : sourceKeyOf(r))),
        emit.output('state', spec.name, stateRecordOf(spec.name, state)),
      ]),
  };
  const readState = async () => {
    const r = await ctx.lastCommitted('state');
    return r === undefined ? undefined : sourceStateOf(r);
  };
  if (spec.kind !== 'reso-web-api') return snapshotSync(spec, sink, readState, ctx, options);
  const source: ResoSource = spec;
  const guarded = sourceHttpClient(ctx.config);
  try {
    const client = sourceClientFor(source, guarded, ctx.services.env, clientSettingsOf(ctx.config));
    const specs = replicationSpecs(source);
    return {
      source,
      readState,
      sync: async (start) => {
        const r = await syncSource({
          source,
          specs,
          client,
          start,
          sink,
          signal: ctx.signal,
          now: () => ctx.clock.now(),
        });
        const lastPurge = r.state.lastPurgeAt ? Date.parse(r.state.lastPurgeAt) : undefined;
        if (!purgeDue(source.deletes, lastPurge, ctx.clock.now().getTime())) return r;
        const p = await purge(source, specs.main, client, r.state, sink, ctx);
        return {
          ...r,
          state: p.state,
          deletes: r.deletes + p.deleted,
          requests: client.requests() - (r.state.counts.requests - r.requests),
        };
      },
      close: () => guarded.close(),
    };
  } catch (e) {
    await guarded.close();
    throw e;
  }
}

/**
 * A snapshot source's sync (snapshot.ts): its feed read with ingest's reader and settings (LISTFLOW_INGEST_*
 * from the worker's environment), through the same sink, so its chunks commit exactly as pages do.
 */
function snapshotSync(
  source: SnapshotSource,
  sink: PageSink,
  readState: () => Promise<SourceState | undefined>,
  ctx: PollerContext,
  options: SourceSyncOptions,
): SourceSync {
  const feed = { uri: source.uri, format: source.format, profile: source.profile ?? null };
  const prefix = `${source.name}:`;
  return {
    source,
    readState,
    sync: (start) =>
      syncSnapshot({
        source,
        read: () => readSnapshot(feed, ctx.services.env, ctx.signal),
        held: async () => {
          const out = new Map<string, string | null>();
          for (const [k, v] of await ctx.committed('keys', prefix)) out.set(k.slice(prefix.length), v.digest);
          return out;
        },
        start,
        sink,
        retry: clientSettingsOf(ctx.config).retry,
        signal: ctx.signal,
        now: () => ctx.clock.now(),
        ...(options.allowMassDelete ? { allowMassDelete: true } : {}),
        onReject: (item) =>
          ctx.logger.warn(
            { source: source.name, position: item.position, line: item.line, code: item.code, reason: item.reason },
            'snapshot record unreadable: skipped',
          ),
      }),
    close: async () => undefined,
  };
}

/** A listing's entry in the source's keys (listings.source-keys). */
const sourceKeyOf = (r: RawListingRecord): SourceKey => ({
  source: r.value.source,
  listingKey: r.value.listingKey,
  modifiedAt: modificationOf(r.value.payload),
  digest: r.digest ?? null,
});

function modificationOf(payload: string): string {
  try {
    const v = (JSON.parse(payload) as { ModificationTimestamp?: unknown }).ModificationTimestamp;
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

/** A purge pass (deletes: purge) and its deletions, committed with the state that records it (lastPurgeAt). */
async function purge(
  source: ResoSource,
  spec: ReplicationSpec,
  client: SourceClient,
  state: SourceState,
  sink: PageSink,
  ctx: PollerContext,
): Promise<{ state: SourceState; deleted: number }> {
  const at = ctx.clock.now();
  const prefix = `${source.name}:`;
  const held = [...(await ctx.committed('keys', prefix)).keys()].map((k) => k.slice(prefix.length));
  const deletes = await purgePass({ source, spec, client, held, at, signal: ctx.signal });
  const next: SourceState = {
    ...state,
    lastPurgeAt: at.toISOString(),
    counts: { ...state.counts, deletes: state.counts.deletes + deletes.length },
  };
  await sink.commit(deletes, next);
  ctx.logger.info({ source: source.name, held: held.length, deleted: deletes.length }, 'purge pass');
  return { state: next, deleted: deletes.length };
}

export async function pollSource(decl: SourceDeclaration, ctx: PollerContext): Promise<void> {
  const s = await openSourceSync(decl, ctx);
  const { source } = s;
  const log = ctx.logger.child({ source: source.name });
  try {
    ctx.gauges.set('poll_interval_seconds', source.pollIntervalMs / 1000);
    let state = await s.readState();
    let failures = 0;
    log.info({ cursor: state?.cursor, initialDone: state?.initialDone ?? false }, 'source owned: replicating');
    while (!ctx.signal.aborted) {
      try {
        const r = await s.sync(state);
        state = r.state;
        const now = ctx.clock.now().getTime() / 1000;
        ctx.gauges.set('last_poll_timestamp_seconds', now);
        ctx.gauges.set('caught_up_timestamp_seconds', now);
        ctx.gauges.set('records', r.state.counts.records);
        ctx.gauges.set('deletes', r.state.counts.deletes);
        if (r.pages > 0)
          log.info({ pages: r.pages, records: r.records, deletes: r.deletes, requests: r.requests }, 'source synced');
        // Replication is unharmed (the passes ran), but every quiet poll now costs the refused probe too.
        if (r.probeRefused !== undefined)
          log.warn(
            { reason: r.probeRefused },
            'the server refused the quiet-poll probe; declare capabilities: { count: false } or { orderDescending: false } for this source',
          );
      } catch (e) {
        if (ctx.signal.aborted) break;
        const c = classifyError(e);
        if (c.kind !== 'retriable') throw e;
        failures++;
        ctx.gauges.set('last_poll_timestamp_seconds', ctx.clock.now().getTime() / 1000);
        ctx.gauges.set('poll_failures', failures);
        // A refused snapshot needs a person (fix the feed or allow the deletes): an error, not a transient warning.
        if (c.code === 'SOURCE_SNAPSHOT_REFUSED')
          log.error({ code: c.code, detail: (e as ListflowError).detail, failures }, c.message);
        else
          log.warn({ err: e, code: c.code, failures }, 'poll failed; the next poll resumes from the committed state');
        // The commit that failed may still have happened (its acknowledgement lost): resume from what Kafka says.
        state = await s.readState();
      }
      await sleep(source.pollIntervalMs, ctx.signal).catch(() => undefined);
    }
  } finally {
    await s.close();
  }
}
