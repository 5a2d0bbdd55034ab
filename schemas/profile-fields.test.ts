/**
 * Issue 16's schema changes are BACKWARD compatible: the current schema reads data written by the version
 * before the field existed (the same schema without it), and the field decodes as null. This is what the
 * registry's check (`listflow schemas check`) decides for the topic; here it runs offline with avsc's resolver.
 */
import avro from 'avsc';
import { avroSchemas } from './generated/types';

type Field = { name: string; type: unknown; default?: unknown };
type RecordSchema = { fields: Field[] } & Record<string, unknown>;

describe.each([
  ['Listing', 'localFields'],
  ['RawListing', 'profile'],
  ['IngestJob', 'profile'],
] as const)('%s.%s', (name, field) => {
  const current = avroSchemas[name] as unknown as RecordSchema;
  const before: RecordSchema = { ...structuredClone(current), fields: current.fields.filter((f) => f.name !== field) };

  test('is optional with a null default', () => {
    const f = current.fields.find((x) => x.name === field);
    expect(f).toMatchObject({ default: null });
    expect((f!.type as unknown[])[0]).toBe('null');
  });

  test('data written before it existed decodes with it as null; the old reader reads new data', () => {
    const oldType = avro.Type.forSchema(before as avro.Schema);
    const newType = avro.Type.forSchema(current as avro.Schema);
    const sample: unknown = oldType.random();
    const decoded = newType.fromBuffer(oldType.toBuffer(sample), newType.createResolver(oldType)) as Record<
      string,
      unknown
    >;
    expect(decoded[field]).toBeNull();
    expect(() => oldType.createResolver(newType)).not.toThrow();
  });
});
