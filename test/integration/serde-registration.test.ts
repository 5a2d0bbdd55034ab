/**
 * Schema registration against the real Apicurio registry, as workers do it at startup
 * (LISTFLOW_REGISTER_SCHEMAS): several workers of one step start at once and register the same new subject
 * concurrently; a schema that breaks the subject's compatibility, or a subject at another compatibility
 * level, is still refused with SERDE_SCHEMA_MISMATCH.
 */
import { COMPATIBILITY as COMPATIBILITY_TYPES, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { avroSchemas } from '../../schemas/generated/types';
import { ListflowError } from '../../runtime/errors';
import { subjectFor } from '../../runtime/serde';
import { endpoints, testSerde, uniqueName } from '../support/streams';

async function subjectConfig(subject: string): Promise<string | undefined> {
  const res = await fetch(`${endpoints.registryUrl}/config/${encodeURIComponent(subject)}`);
  return ((await res.json()) as { compatibilityLevel?: string }).compatibilityLevel;
}

/**
 * Apicurio loses about one new subject in four to this race when 6 registrations overlap (measured: 5 of 20
 * before the fix), so 20 subjects make a test that fails without the fix all but surely.
 */
test("workers registering new subjects at once all get each subject's one id, and every subject is BACKWARD", async () => {
  const SUBJECTS = 20;
  const WORKERS = 6;
  for (let i = 0; i < SUBJECTS; i++) {
    const topic = uniqueName('itest-register');
    // One serde per worker: each has its own client and cache, as separate processes would.
    const outcomes = await Promise.allSettled(
      Array.from({ length: WORKERS }, () => testSerde().schemaIdFor(topic, 'Listing', true)),
    );
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
    expect(refused).toEqual([]);
    const ids = outcomes.map((o) => (o.status === 'fulfilled' ? o.value : -1));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBeGreaterThan(0);
    const subject = subjectFor(topic);
    const versions = (await (await fetch(`${endpoints.registryUrl}/subjects/${subject}/versions`)).json()) as number[];
    expect(versions).toHaveLength(1);
    expect(await subjectConfig(subject)).toBe('BACKWARD');
  }
});

test('a schema the subject cannot accept is refused with SERDE_SCHEMA_MISMATCH, naming the subject', async () => {
  const topic = uniqueName('itest-register');
  const subject = subjectFor(topic);
  // Data written with this schema cannot be read as a Listing (its required fields have no defaults).
  const other = { type: 'record', name: 'Listing', namespace: 'listflow', fields: [{ name: 'x', type: 'string' }] };
  await new SchemaRegistry({ host: endpoints.registryUrl }).register(
    { type: SchemaType.AVRO, schema: JSON.stringify(other) },
    { subject },
  );
  const refused = await testSerde()
    .schemaIdFor(topic, 'Listing', true)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(refused).toBeInstanceOf(ListflowError);
  expect((refused as ListflowError).code).toBe('SERDE_SCHEMA_MISMATCH');
  expect((refused as Error).message).toContain(subject);
});

test('a subject set to another compatibility level is refused with SERDE_SCHEMA_MISMATCH and the fix', async () => {
  const topic = uniqueName('itest-register');
  const subject = subjectFor(topic);
  const raw = new SchemaRegistry({ host: endpoints.registryUrl });
  await raw.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(avroSchemas.Listing) },
    { subject, compatibility: COMPATIBILITY_TYPES.NONE },
  );
  expect(await subjectConfig(subject)).toBe('NONE');
  const refused = await testSerde()
    .schemaIdFor(topic, 'Listing', true)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect((refused as ListflowError).code).toBe('SERDE_SCHEMA_MISMATCH');
  expect((refused as Error).message).toContain(`Subject ${subject} is not at BACKWARD compatibility`);
  expect((refused as Error).message).toContain('Fix: set it with PUT /config/');
});
