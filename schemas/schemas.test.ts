import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { generatedPath, render } from '../scripts/gen-schemas';
import { avroSchemas, schemaNames } from './generated/types';

const root = join(__dirname, '..');

describe('schemas', () => {
  test('schemas/generated/types.ts is up to date with schemas/*.avsc', () => {
    expect(readFileSync(generatedPath(root), 'utf8')).toBe(render(join(root, 'schemas')));
  });

  test.each(schemaNames.map((n) => [n]))('%s parses as a self-contained Avro schema', (name) => {
    expect(() => avro.Type.forSchema(avroSchemas[name] as avro.Schema)).not.toThrow();
  });
});

/**
 * Schema evolution, checked with avsc's resolver (what the registry's compatibility check does, offline).
 * `canRead(reader, writer)`: can a consumer on `reader` decode data written with `writer`?
 * BACKWARD (the rule for every schema here): a new version must read data written with the previous one.
 */
describe('schema evolution', () => {
  type Field = { name: string; type: unknown; default?: unknown };
  type RecordSchema = { fields: Field[] } & Record<string, unknown>;
  const canRead = (reader: object, writer: object): boolean => {
    try {
      avro.Type.forSchema(reader as avro.Schema).createResolver(avro.Type.forSchema(writer as avro.Schema));
      return true;
    } catch {
      return false;
    }
  };
  const withFields = (name: string, edit: (fields: Field[]) => Field[]): RecordSchema => {
    const s = structuredClone(avroSchemas[name as keyof typeof avroSchemas]) as RecordSchema;
    return { ...s, fields: edit(s.fields) };
  };
  const contract = ['IngestJob', 'IngestJobStatus', 'RawListing', 'Listing'] as const;

  test.each(contract.map((n) => [n]))('%s: a new optional field (with a default) is accepted', (name) => {
    const next = withFields(name, (f) => [...f, { name: 'addedLater', type: ['null', 'string'], default: null }]);
    const current = avroSchemas[name];
    expect(canRead(next, current)).toBe(true); // BACKWARD: the new reader reads old data
    expect(canRead(current, next)).toBe(true); // and consumers still on the old version read new data
    // Old data decodes with the new reader, the new field taking its default.
    const oldType = avro.Type.forSchema(current as avro.Schema);
    const newType = avro.Type.forSchema(next as avro.Schema);
    const sample = oldType.random();
    const decoded = newType.fromBuffer(oldType.toBuffer(sample), newType.createResolver(oldType)) as Record<
      string,
      unknown
    >;
    expect(decoded.addedLater).toBeNull();
  });

  test.each(contract.map((n) => [n]))('%s: a new field without a default is refused (BACKWARD)', (name) => {
    const next = withFields(name, (f) => [...f, { name: 'addedLater', type: 'string' }]);
    expect(canRead(next, avroSchemas[name])).toBe(false);
  });

  test.each(contract.map((n) => [n]))('%s: removing a field without a default is refused', (name) => {
    const current = avroSchemas[name] as RecordSchema;
    const required = current.fields.find((f) => !('default' in f))!;
    const next = withFields(name, (f) => f.filter((x) => x.name !== required.name));
    // Consumers still reading with the current version cannot decode records that lack the field.
    expect(canRead(current, next)).toBe(false);
  });
});
