/**
 * A source's sync with the real Kafka transactions: the project's RESO test server (plain quirks, 503s on),
 * pages and state committed through the transactional sink. After the initial load and a round of changes,
 * listings.raw (read committed) covers the server's truth with no record version twice, the committed state
 * in listings.source-state equals the last page's state, a fresh sink (a restarted worker) resumes from it,
 * and a quiet poll makes exactly one request and commits nothing.
 * On the helper platform: LISTFLOW_KAFKA_BROKERS=127.0.0.1:29092 LISTFLOW_REGISTRY_URL=http://127.0.0.1:28081/apis/ccompat/v7.
 */
import { readAllToEnd } from '../../runtime/topic-reader';
import { ensureCompactedTopic } from '../../runtime/kafka';
import type { GuardedClient } from '../../runtime/http/guarded-client';
import type { RawListing } from '../../schemas/generated/types';
import { createSourceClient, type SourceClient } from '../../operators/sources/client';
import { openTransactionalSink, readSourceStates, sourcesTransactionalId } from '../../operators/sources/kafka-sink';
import { RateBudget } from '../../operators/sources/rate-budget';
import type { ReplicationSpec } from '../../operators/sources/replicate';
import { syncSource } from '../../operators/sources/sync';
import { backfillState, syncSourceOnce } from '../../operators/sources/sync-once';
import { staticBearer } from '../../operators/sources/token';
import { connectedKafka } from '../support/kafka-suite';
import { type Fault, PRESETS, ResoDataset, type ResoServer, startResoServer } from '../support/reso-server';
import { localGuardedClient, plainStatusSource } from '../support/reso-clients';
import { createTopics, testSerde, uniqueName } from '../support/streams';

const k = connectedKafka('itest-sources');
const faults = (n: number): Fault | undefined => (n % 7 === 0 ? { kind: '503' } : undefined);
const source = { name: 'plain', pollIntervalMs: 60_000, country: 'US' as const, currency: 'USD' as const };

let server: ResoServer;
let http: GuardedClient;
let client: SourceClient;
let dataset: ResoDataset;
let spec: ReplicationSpec;

beforeAll(async () => {
  dataset = new ResoDataset({ seed: 11, count: 60, tieSize: 7, deletes: 'status' });
  server = await startResoServer({ sources: [{ name: 'plain', quirks: { ...PRESETS.plain, faults }, dataset }] });
  http = localGuardedClient(server.url, { connectTimeoutMs: 2000, idleTimeoutMs: 5000, maxRedirects: 2 });
  spec = {
    source: 'plain',
    resource: server.source('plain').resourceUrl,
    keyField: 'ListingKey',
    timestampField: 'ModificationTimestamp',
    expandMedia: true,
    tieMode: 'key',
    pageSize: 5,
    deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    nextLinkEncoding: 'standard',
    paging: 'cursor',
  };
  client = createSourceClient({
    source: 'plain',
    guarded: http,
    tokens: staticBearer('local-token'),
    budget: new RateBudget({}),
    retry: { maxAttempts: 6, initialBackoffMs: 20, maxBackoffMs: 200 },
    maxRetryAfterMs: 5_000,
    maxPageBytes: 4 * 1024 * 1024,
    pageTimeoutMs: 10_000,
  });
});
afterAll(async () => {
  await http?.close();
  await server?.close();
});

/** A scratch listings.raw (`partitions`) and compacted listings.source-state, and the RawListing schema id. */
async function scratchSourceTopics(partitions: number) {
  const raw = uniqueName('itest-sources-raw');
  const state = uniqueName('itest-sources-state');
  await createTopics(k.admin, { [raw]: partitions });
  await ensureCompactedTopic(k.admin, state);
  const serde = testSerde();
  const schemaId = await serde.schemaIdFor(raw, 'RawListing', true);
  return { raw, state, serde, schemaId };
}

test('pages and their state commit in one transaction; restart resumes; quiet poll is one request', async () => {
  const { raw, state, serde, schemaId } = await scratchSourceTopics(3);
  const open = () =>
    openTransactionalSink({
      kafka: k.kafka,
      transactionalId: sourcesTransactionalId(uniqueName('itest'), 'plain'),
      source: 'plain',
      rawTopic: raw,
      stateTopic: state,
      encodeRaw: (v) => serde.encode(schemaId, 'RawListing', v),
    });
  const signal = new AbortController().signal;

  // Initial load, then a "restarted worker": a new sink resuming from the committed state.
  let sink = await open();
  const first = await syncSource({ source, specs: { main: spec }, client, start: undefined, sink, signal });
  await sink.close();
  expect(first.pages).toBeGreaterThan(5);
  const resumed = (await readSourceStates(k.kafka, state)).states.get('plain');
  expect(resumed).toEqual(first.state);

  dataset.changePrice(dataset.liveKeys()[0]!, 123_456);
  dataset.changeStatus(dataset.liveKeys()[1]!, 'Pending');
  dataset.remove(dataset.liveKeys()[2]!);
  dataset.addListing();
  sink = await open();
  const second = await syncSource({ source, specs: { main: spec }, client, start: resumed, sink, signal });
  expect(second.records + second.deletes).toBeGreaterThanOrEqual(4);

  const before = client.requests();
  const quiet = await syncSource({ source, specs: { main: spec }, client, start: second.state, sink, signal });
  await sink.close();
  expect(client.requests() - before).toBe(1);
  expect(quiet.pages).toBe(0);

  const { states, problems } = await readSourceStates(k.kafka, state);
  expect(problems.size).toBe(0);
  expect(states.get('plain')).toEqual(second.state);

  const messages = await readAllToEnd(k.kafka, [raw]);
  const payloads: Array<Record<string, unknown>> = [];
  for (const m of messages) {
    const d = await serde.decode<RawListing>(m.message.value!, 'RawListing');
    if (!d.ok) throw new Error('undecodable RawListing');
    payloads.push(JSON.parse(d.value.payload) as Record<string, unknown>);
  }
  const versions = payloads.map((p) => `${String(p.ListingKey)}@${String(p.ModificationTimestamp)}`);
  expect(new Set(versions).size).toBe(versions.length);
  const last = new Map<string, Record<string, unknown>>();
  for (const p of [...payloads].sort((a, b) =>
    String(a.ModificationTimestamp).localeCompare(String(b.ModificationTimestamp)),
  ))
    last.set(String(p.ListingKey), p);
  const live = [...last].filter(([, p]) => p.StandardStatus !== 'Delete').map(([key]) => key);
  expect(live.sort()).toEqual([...dataset.truth().keys()].sort());
  for (const [key, t] of dataset.truth()) expect(last.get(key)?.ListPrice).toEqual(t.ListPrice);
  expect(states.get('plain')?.counts.records).toBe(payloads.length - (states.get('plain')?.counts.deletes ?? 0));
});

test('syncSourceOnce: the first run loads all, the next resumes (quiet: no page), --from backfills from an instant', async () => {
  const { raw, state, serde, schemaId } = await scratchSourceTopics(3);
  const resource = plainStatusSource(server.source('plain').resourceUrl);
  const once = (from?: string) =>
    syncSourceOnce({
      kafka: k.kafka,
      pipeline: uniqueName('itest'),
      rawTopic: raw,
      stateTopic: state,
      encodeRaw: (v) => serde.encode(schemaId, 'RawListing', v),
      source: resource,
      env: { PLAIN_TOKEN: 'local-token' },
      signal: new AbortController().signal,
      clientSettings: {
        retry: { maxAttempts: 6, initialBackoffMs: 20, maxBackoffMs: 200 },
        maxRetryAfterMs: 5000,
        maxPageBytes: 2 ** 22,
        pageTimeoutMs: 10_000,
      },
      ...(from === undefined ? {} : { from }),
    });
  const live = dataset.truth().size;
  const first = await once();
  expect(first.started).toBeUndefined();
  expect(first.records).toBeGreaterThanOrEqual(live);
  const second = await once();
  expect(second.started).toEqual(first.state);
  expect(second.pages).toBe(0);
  expect(second.requests).toBe(1);
  const backfill = await once('2000-01-01T00:00:00Z');
  expect(backfill.records).toBe(live);
  expect(backfillState('not a time', undefined)).toBeUndefined();
});

/**
 * Found 2026-12-02 on the helper platform: kafkajs registers the transactional id only at a producer's first
 * transaction(), not at connect, so a new owner that has only connected does not fence the old one (its next
 * page committed and was visible). openTransactionalSink therefore opens and aborts an empty transaction.
 */
test("a new owner's sink fences the stale poller with the source's transactional id: the stale page is never visible", async () => {
  const { raw, state, serde, schemaId } = await scratchSourceTopics(1);
  const transactionalId = sourcesTransactionalId(uniqueName('itest'), 'plain');
  const open = () =>
    openTransactionalSink({
      kafka: k.kafka,
      transactionalId,
      source: 'plain',
      rawTopic: raw,
      stateTopic: state,
      encodeRaw: (v) => serde.encode(schemaId, 'RawListing', v),
    });
  const rec = (key: string) => ({
    key: `plain:${key}`,
    value: {
      jobId: 'fence',
      source: 'plain',
      listingKey: key,
      position: 0,
      receivedAt: new Date(),
      defaultCountry: null,
      defaultCurrency: null,
      profile: null,
      payload: JSON.stringify({ ListingKey: key }),
    },
  });
  const st = (key: string) => ({
    cursor: { timestamp: '2026-01-01T00:00:00Z', key },
    initialDone: true,
    lastPoll: new Date().toISOString(),
    counts: { records: 1, deletes: 0, pages: 1, requests: 1 },
  });
  const stale = await open();
  await stale.commit([rec('A')], st('A'));
  const fresh = await open(); // the rebalanced owner: initProducerId should bump the epoch and fence `stale`
  const staleOutcome = await stale.commit([rec('STALE')], st('STALE')).then(
    () => 'committed',
    (e: unknown) => String(e),
  );
  expect(staleOutcome).not.toBe('committed');
  await fresh.commit([rec('B')], st('B'));
  await Promise.allSettled([stale.close(), fresh.close()]);
  const keys = (await readAllToEnd(k.kafka, [raw])).map((m) => m.message.key?.toString());
  expect(keys).toEqual(['plain:A', 'plain:B']);
  expect((await readSourceStates(k.kafka, state)).states.get('plain')?.cursor?.key).toBe('B');
});
