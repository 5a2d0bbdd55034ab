/**
 * LEGACY, kept only for test/integration/sources.test.ts (written before the Avro state and the owning runtime;
 * another session rewrites it): the JSON-state path through kafka-sink.ts. Nothing else imports this; the
 * worker and `listflow sources sync --once` share poller.ts's openSourceSync (see tool.ts). Delete this file and
 * kafka-sink.ts once that test no longer imports them.
 */
import type { Kafka } from 'kafkajs';
import { createGuardedClient } from '../../runtime/http/guarded-client';
import type { RawListing } from '../../schemas/generated/types';
import { openTransactionalSink, readSourceStates, sourcesTransactionalId } from './kafka-sink';
import { DEFAULT_SOURCE_CLIENT_SETTINGS, type SourceClientSettings, sourceClientFor } from './source-client';
import { type ResoSource, replicationSpecs } from './source-spec';
import { backfillState, type SourceState } from './state';
import { type SyncResult, syncSource } from './sync';

export { backfillState } from './state';

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
