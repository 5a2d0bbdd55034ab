/**
 * `sources sync NAME --once [--from TIME]` without the CLI: one sync of one source until caught up, resumed
 * from its last committed state (or, with `from`, a backfill from that instant), pages and state committed
 * through the source's transactional producer. The CLI command and the worker's loop both stand on this.
 */
import type { Kafka } from 'kafkajs';
import { createGuardedClient } from '../../runtime/http/guarded-client';
import type { RawListing } from '../../schemas/generated/types';
import { parseInstant } from './cursor';
import { openTransactionalSink, readSourceStates, sourcesTransactionalId } from './kafka-sink';
import { DEFAULT_SOURCE_CLIENT_SETTINGS, type SourceClientSettings, sourceClientFor } from './source-client';
import { type ResoSource, replicationSpecs } from './source-spec';
import { initialSourceState, type SourceState } from './state';
import { type SyncResult, syncSource } from './sync';

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

export interface SyncOnceOptions {
  readonly kafka: Kafka;
  readonly pipeline: string;
  readonly rawTopic: string;
  readonly stateTopic: string;
  readonly encodeRaw: (v: RawListing) => Buffer;
  readonly source: ResoSource;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Hosts allowed besides the resource's own (LISTFLOW_SOURCES_ALLOW_HOSTS: a token endpoint elsewhere). */
  readonly allowHosts?: readonly string[];
  /** A validated instant (backfillState), or undefined to resume. */
  readonly from?: string;
  readonly signal: AbortSignal;
  readonly clientSettings?: SourceClientSettings;
}

export async function syncSourceOnce(
  o: SyncOnceOptions,
): Promise<SyncResult & { readonly started: SourceState | undefined }> {
  const { states } = await readSourceStates(o.kafka, o.stateTopic);
  const previous = states.get(o.source.name);
  const started = o.from === undefined ? previous : backfillState(o.from, previous);
  const settings = o.clientSettings ?? DEFAULT_SOURCE_CLIENT_SETTINGS;
  const guarded = createGuardedClient({
    allowHosts: [new URL(o.source.resource).host, ...(o.allowHosts ?? [])],
    allowSetting: 'LISTFLOW_SOURCES_ALLOW_HOSTS',
    blockedCode: 'SOURCE_BLOCKED_URL',
    what: 'source page',
    connectTimeoutMs: 10_000,
    idleTimeoutMs: settings.pageTimeoutMs,
    maxRedirects: 0,
  });
  const sink = await openTransactionalSink({
    kafka: o.kafka,
    transactionalId: sourcesTransactionalId(o.pipeline, o.source.name),
    source: o.source.name,
    rawTopic: o.rawTopic,
    stateTopic: o.stateTopic,
    encodeRaw: o.encodeRaw,
  });
  try {
    const client = sourceClientFor(o.source, guarded, o.env, settings);
    const r = await syncSource({
      source: o.source,
      specs: replicationSpecs(o.source),
      client,
      start: started,
      sink,
      signal: o.signal,
    });
    return { ...r, started };
  } finally {
    await sink.close();
    await guarded.close();
  }
}
