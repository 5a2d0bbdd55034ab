/**
 * `listflow dlq` against the real broker and registry: dead letters built with deadLetter() on the topics of
 * a pipeline with unique topic names (LISTFLOW_PIPELINE_FILE), then list, show and redrive (twice: the second
 * redrives nothing), with the original bytes arriving on the original topic exactly once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dlqCommands } from '../../cli/commands/dlq';
import { readMessages as readToEnd } from '../../runtime/dead-letters/read';
import { redrive } from '../../runtime/dead-letters/redrive';
import builtIn from '../../pipelines/listings';
import { deadLetter } from '../../runtime/dead-letters/build';
import type { KafkaClient } from '../../runtime/kafka-client';
import type { PipelineSpec } from '../../runtime/pipeline';
import { invoke } from '../support/cli-invoke';
import { createTopics, rawListing, testKafka, testSerde, uniqueName } from '../support/streams';

const P = uniqueName('dlqit');
const RAW = `${P}.raw`;
const NORM = `${P}.normalized`;
const pipeline: PipelineSpec = {
  name: P,
  topics: {
    [RAW]: { partitions: 2, schema: 'RawListing', external: true },
    [NORM]: { partitions: 1, schema: 'Listing' },
    [`${P}.enriched`]: { partitions: 1, schema: 'EnrichedListing' },
  },
  steps: [
    { ...builtIn.steps.find((s) => s.id === 'normalize')!, input: RAW, outputs: { listings: NORM }, replicas: 1 },
    {
      ...builtIn.steps.find((s) => s.id === 'images')!,
      input: NORM,
      outputs: { enriched: `${P}.enriched` },
      replicas: 1,
    },
  ],
};

let kafka: KafkaClient;
let dir: string;
const originals: { key: string; value: Buffer }[] = [];
const savedEnv = process.env.LISTFLOW_PIPELINE_FILE;

beforeAll(async () => {
  kafka = testKafka('dlq-itest');
  dir = await mkdtemp(join(tmpdir(), 'listflow-dlq-it-'));
  await writeFile(join(dir, 'pipeline.json'), JSON.stringify(pipeline));
  process.env.LISTFLOW_PIPELINE_FILE = join(dir, 'pipeline.json');
  const admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, { [RAW]: 2, [`${RAW}.dlq`]: 2, [NORM]: 1, [`${NORM}.dlq`]: 1 });
  await admin.disconnect();

  const serde = testSerde();
  const id = await serde.schemaIdFor(RAW, 'RawListing', true);
  const at = (d: number) => new Date(Date.UTC(2026, 0, d));
  const letters = [
    ['NORMALIZE_PRICE_INVALID', 2],
    ['NORMALIZE_PRICE_INVALID', 4],
    ['NORMALIZE_STATUS_UNKNOWN', 3],
    ['NORMALIZE_PRICE_INVALID', 1],
  ].map(([code, day], i) => {
    const key = `${P}:K${i}`;
    const value = serde.encode(id, 'RawListing', rawListing(`K${i}`, i));
    originals.push({ key, value });
    return deadLetter(
      `${RAW}.dlq`,
      {
        topic: RAW,
        partition: i % 2,
        offset: String(10 + i),
        key,
        value,
        headers: { 'listflow.trace-id': `trace-${i}` },
      },
      {
        step: 'normalize',
        operator: 'normalize',
        error: { code: code as 'NORMALIZE_PRICE_INVALID', kind: 'permanent', message: `bad record ${i}` },
        attempts: 1,
        firstFailure: at(day as number),
        lastFailure: at(day as number),
      },
    );
  });
  // A reject whose value is the rejected text, not the original message: listed, never redriven.
  letters.push(
    deadLetter(
      `${RAW}.dlq`,
      { topic: RAW, partition: 0, offset: '99', key: `${P}:T`, value: Buffer.from('{"ListingKey":"T"}'), headers: {} },
      {
        step: 'normalize',
        operator: 'normalize',
        error: { code: 'NORMALIZE_PAYLOAD_INVALID', kind: 'permanent', message: 'not an object' },
        attempts: 1,
        firstFailure: at(6),
        lastFailure: at(6),
      },
    ),
  );
  letters.push(
    deadLetter(
      `${NORM}.dlq`,
      { topic: NORM, partition: 0, offset: '5', key: `${P}:I`, value: Buffer.from([0, 0, 0, 0, 1, 2]), headers: {} },
      {
        step: 'images',
        operator: 'images',
        error: { code: 'BLOBSTORE_UNAVAILABLE', kind: 'retriable', message: 'disk full' },
        attempts: 5,
        firstFailure: at(7),
        lastFailure: at(8),
      },
    ),
  );
  const producer = kafka.producer();
  await producer.connect();
  // One letter per send, so they land in this order (partition 0 for the single-key topic by key hash: any).
  for (const l of letters) await producer.send({ topic: l.topic, messages: [l.message] });
  await producer.disconnect();
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env.LISTFLOW_PIPELINE_FILE;
  else process.env.LISTFLOW_PIPELINE_FILE = savedEnv;
  await rm(dir, { recursive: true, force: true });
});

test('dlq list counts the dead letters by step and code, oldest and newest', async () => {
  const r = await invoke(dlqCommands, ['dlq', 'list', '--json']);
  expect(r.error).toBeUndefined();
  const doc = JSON.parse(r.stdout);
  expect(doc.total).toBe(6);
  expect(doc.topics).toEqual([
    { topic: `${RAW}.dlq`, count: 5 },
    { topic: `${NORM}.dlq`, count: 1 },
  ]);
  expect(doc.groups.map((g: Record<string, unknown>) => [g.step, g.code, g.count, g.oldest, g.newest])).toEqual([
    ['images', 'BLOBSTORE_UNAVAILABLE', 1, '2026-01-08T00:00:00.000Z', '2026-01-08T00:00:00.000Z'],
    ['normalize', 'NORMALIZE_PRICE_INVALID', 3, '2026-01-01T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
    ['normalize', 'NORMALIZE_PAYLOAD_INVALID', 1, '2026-01-06T00:00:00.000Z', '2026-01-06T00:00:00.000Z'],
    ['normalize', 'NORMALIZE_STATUS_UNKNOWN', 1, '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z'],
  ]);
  const human = await invoke(dlqCommands, ['dlq', 'list', '--code', 'NORMALIZE_PRICE_INVALID']);
  expect(human.stdout).toMatch(
    /^normalize +normalize +NORMALIZE_PRICE_INVALID +3 +2026-01-01T00:00:00Z +2026-01-04T00:00:00Z$/m,
  );
  expect(human.stdout).toContain('3 dead letters in 1 topic(s).');
});

test('dlq show decodes the value with the source topic schema and prints every header', async () => {
  const all = await readToEnd(kafka, [`${RAW}.dlq`]);
  const first = all.find((m) => m.key?.toString() === `${P}:K1`)!;
  const r = await invoke(dlqCommands, ['dlq', 'show', `${RAW}.dlq:${first.partition}:${first.offset}`, '--json']);
  expect(r.error).toBeUndefined();
  const doc = JSON.parse(r.stdout);
  expect(doc).toMatchObject({
    code: 'NORMALIZE_PRICE_INVALID',
    key: `${P}:K1`,
    source: { topic: RAW, partition: '1', offset: '11' },
    value: { encoding: 'avro', schema: 'RawListing', value: { listingKey: 'K1', position: 1 } },
  });
  expect(doc.headers['listflow.trace-id']).toBe('trace-1');
  expect(doc.headers['listflow.error.message']).toBe('bad record 1');

  const text = all.find((m) => m.key?.toString() === `${P}:T`)!;
  const t = await invoke(dlqCommands, [
    'dlq',
    'show',
    '--topic',
    `${RAW}.dlq`,
    '--partition',
    String(text.partition),
    '--offset',
    text.offset,
  ]);
  expect(t.stdout).toContain('value   (json)');
  expect(t.stdout).toContain('"ListingKey": "T"');

  const missing = await invoke(dlqCommands, ['dlq', 'show', `${RAW}.dlq:0:999999`]);
  expect(missing.error?.message).toMatch(/^No message at .*:0:999999: partition 0 holds offsets/);
});

test('redrive sends the originals back exactly once; a second run redrives nothing', async () => {
  const dry = await redrive(kafka, pipeline, { step: 'normalize', rate: 1000, dry: true, again: false });
  expect([dry.selected, dry.redriven, dry.skippedNotRedrivable, dry.skippedInLedger]).toEqual([5, 4, 1, 0]);
  expect((await readToEnd(kafka, [RAW])).length).toBe(0); // --dry writes nothing

  const first = await invoke(dlqCommands, ['dlq', 'redrive', '--step', 'normalize', '--rate', '50/s', '--json']);
  expect(first.error).toBeUndefined();
  expect(JSON.parse(first.stdout)).toMatchObject({
    letters: 6,
    selected: 5,
    redriven: 4,
    skippedInLedger: 0,
    skippedNotRedrivable: 1,
    byTopic: { [RAW]: 4 },
  });
  const second = await invoke(dlqCommands, ['dlq', 'redrive', '--step', 'normalize', '--json']);
  expect(JSON.parse(second.stdout)).toMatchObject({ selected: 5, redriven: 0, skippedInLedger: 4 });

  const back = await readToEnd(kafka, [RAW]);
  expect(back).toHaveLength(4);
  const got = back.map((m) => ({ key: m.key!.toString(), value: m.value })).sort((a, b) => a.key.localeCompare(b.key));
  expect(got).toEqual(originals.map((o) => ({ key: o.key, value: o.value })));
  const redriveId = JSON.parse(first.stdout).redriveId;
  for (const m of back) {
    const h = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
    expect(h['listflow.redrive.id']).toBe(redriveId);
    expect(h['listflow.trace-id']).toMatch(/^trace-\d$/);
    expect(Object.keys(h).filter((k) => k.startsWith('listflow.error.') || k.startsWith('listflow.source.'))).toEqual(
      [],
    );
  }
  // --again ignores the ledger (shown with --dry, so nothing more is sent).
  const again = await redrive(kafka, pipeline, { code: 'NORMALIZE_PRICE_INVALID', rate: 1000, dry: true, again: true });
  expect([again.selected, again.redriven]).toEqual([3, 3]);
  expect((await readToEnd(kafka, [RAW])).length).toBe(4);
});
