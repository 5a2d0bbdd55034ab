/**
 * Smoke tests that prove the local platform is real (issue: local platform): Kafka commits and resumes,
 * the registry enforces BACKWARD compatibility on the Confluent wire format, PostgreSQL stores rows.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Client } from 'pg';
import { createTopics, endpoints, testKafka, uniqueName, waitFor } from '../support/streams';
import { fetchCommittedOffsets } from '../../runtime/kafka';
import type { KafkaAdmin, KafkaClient } from '../../runtime/kafka-client';

let kafka: KafkaClient;
let admin: KafkaAdmin;

beforeAll(async () => {
  kafka = testKafka('platform-smoke');
  admin = kafka.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin.disconnect();
});

describe('Kafka (KRaft, one node)', () => {
  test('1,000 keyed messages: manual commit, and a second consumer resumes exactly after the committed offsets', async () => {
    const topic = uniqueName('smoke');
    const groupId = uniqueName('smoke-group');
    await createTopics(admin, { [topic]: 3 });
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const first = Array.from({ length: 1000 }, (_, i) => ({ key: `listing-${i % 37}`, value: `v${i}` }));
    await producer.send({ topic, messages: first });

    // Consumer 1 reads everything and commits each batch by hand (the seam never auto-commits).
    const seen1: string[] = [];
    const c1 = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await c1.connect();
    await c1.subscribe({ topics: [topic], fromBeginning: true });
    await c1.run({
      eachBatch: async ({ batch, commit }) => {
        for (const message of batch.messages) seen1.push(message.value!.toString());
        const last = batch.messages.at(-1);
        if (!last) return;
        const offset = (BigInt(last.offset) + 1n).toString();
        await commit({ topics: [{ topic, partitions: [{ partition: batch.partition, offset }] }] });
      },
    });
    expect(await waitFor(() => seen1.length >= 1000, 60_000)).toBe(true);
    await c1.disconnect();
    expect(new Set(seen1)).toEqual(new Set(first.map((m) => m.value)));

    const committed = await fetchCommittedOffsets(admin, groupId, topic);
    const ends = await admin.fetchTopicOffsets(topic);
    for (const p of ends) expect(committed.get(p.partition)).toBe(BigInt(p.high));
    expect([...committed.values()].reduce((a, b) => a + b, 0n)).toBe(1000n);

    // 200 more; consumer 2 in the same group must get exactly those, none of the first 1,000.
    const second = Array.from({ length: 200 }, (_, i) => ({ key: `listing-${i % 37}`, value: `w${i}` }));
    await producer.send({ topic, messages: second });
    await producer.disconnect();
    const seen2: string[] = [];
    const c2 = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await c2.connect();
    await c2.subscribe({ topics: [topic], fromBeginning: true });
    await c2.run({
      eachMessage: async ({ message }) => {
        seen2.push(message.value!.toString());
      },
    });
    await waitFor(() => seen2.length >= 200, 60_000);
    // Give a duplicate (a re-read of the first batch) time to show up before judging.
    await new Promise((r) => setTimeout(r, 1000));
    await c2.disconnect();
    expect(seen2.sort()).toEqual(second.map((m) => m.value).sort());
  });
});

describe('Apicurio Registry (Confluent-compatible API)', () => {
  const registry = () => new SchemaRegistry({ host: endpoints.registryUrl });
  const v1 = {
    type: 'record',
    name: 'SmokeListing',
    namespace: 'listflow.smoke',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'priceMinor', type: 'long' },
    ],
  };

  test('a schema registers, a record round-trips in the Confluent wire format, and the global rule is BACKWARD', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    const { id } = await registry().register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    const bytes = await registry().encode(id, { id: 'crea-ddf:X1', priceMinor: 125_000_00 });
    expect(bytes[0]).toBe(0); // magic byte
    expect(bytes.readInt32BE(1)).toBe(id); // schema id, big-endian
    expect(await registry().decode(bytes)).toEqual({ id: 'crea-ddf:X1', priceMinor: 125_000_00 });
    const res = await fetch(`${endpoints.registryUrl}/config`);
    const config = (await res.json()) as { compatibilityLevel?: string };
    expect(config.compatibilityLevel).toBe('BACKWARD');
  });

  test('a compatible evolution (new optional field) is accepted; an incompatible one (new required field) is refused', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    const r = registry();
    const first = await r.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    const withOptional = { ...v1, fields: [...v1.fields, { name: 'unit', type: ['null', 'string'], default: null }] };
    const second = await r.register({ type: SchemaType.AVRO, schema: JSON.stringify(withOptional) }, { subject });
    expect(second.id).not.toBe(first.id);
    const withRequired = { ...withOptional, fields: [...withOptional.fields, { name: 'currency', type: 'string' }] };
    await expect(
      r.register({ type: SchemaType.AVRO, schema: JSON.stringify(withRequired) }, { subject }),
    ).rejects.toThrow(/incompatible|409|compatib/i);
    const versions = (await (await fetch(`${endpoints.registryUrl}/subjects/${subject}/versions`)).json()) as number[];
    expect(versions).toHaveLength(2);
  });
});

describe('PostgreSQL', () => {
  test('a row is written and read back', async () => {
    const client = new Client({
      connectionString: process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow',
    });
    await client.connect();
    try {
      const table = uniqueName('smoke').replace('-', '_');
      await client.query(`CREATE TABLE ${table} (id text PRIMARY KEY, price_minor bigint NOT NULL)`);
      await client.query(`INSERT INTO ${table} VALUES ($1, $2)`, ['bright-mls:42', '99900000']);
      const { rows } = await client.query(`SELECT id, price_minor FROM ${table}`);
      expect(rows).toEqual([{ id: 'bright-mls:42', price_minor: '99900000' }]);
      await client.query(`DROP TABLE ${table}`);
    } finally {
      await client.end();
    }
  });
});
