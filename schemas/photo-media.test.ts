/**
 * Issue 15's Photo fields (mediaKey, mediaModificationTimestamp) are BACKWARD compatible in every schema that
 * embeds Photo: the current schema reads data written before they existed (they decode as null), and a reader
 * still on the schema before them reads new data. This is what `listflow schemas check` and the registry's
 * BACKWARD rule decide per topic; here it runs offline with avsc's resolver.
 */
import avro from 'avsc';
import { avroSchemas } from './generated/types';

const FIELDS = ['mediaKey', 'mediaModificationTimestamp'];

type Json = unknown;

/** The schema with the new fields removed from its Photo record, wherever it is inlined. */
function withoutPhotoFields(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(withoutPhotoFields);
  if (typeof schema !== 'object' || schema === null) return schema;
  const o = { ...(schema as Record<string, unknown>) };
  for (const [k, v] of Object.entries(o)) o[k] = withoutPhotoFields(v);
  if (o.type === 'record' && o.name === 'Photo') {
    o.fields = (o.fields as { name: string }[]).filter((f) => !FIELDS.includes(f.name));
  }
  return o;
}

/** Every Photo of a decoded record (a listing's, or the listing of an enriched or published one). */
const photosOf = (v: Record<string, unknown>): Record<string, unknown>[] =>
  ((v.photos ?? (v.listing as Record<string, unknown>).photos) as Record<string, unknown>[]) ?? [];

describe.each([['Listing'], ['EnrichedListing'], ['PublishedListing']] as const)('%s embeds Photo', (name) => {
  const current = avroSchemas[name] as unknown as Json;
  const before = withoutPhotoFields(current);

  test('the new Photo fields are optional with a null default', () => {
    expect(JSON.stringify(before)).not.toContain('mediaKey');
    const photo = JSON.stringify(current);
    for (const f of FIELDS) expect(photo).toContain(`{"name":"${f}","type":["null","string"],"default":null`);
  });

  test('old data decodes with them as null; a reader on the old schema reads new data', () => {
    const oldType = avro.Type.forSchema(before as avro.Schema);
    const newType = avro.Type.forSchema(current as avro.Schema);
    let sample = oldType.random() as unknown as Record<string, unknown>;
    // random() may make an empty photo list: retry until there is a photo to look at.
    for (let i = 0; i < 50 && photosOf(sample).length === 0; i++)
      sample = oldType.random() as unknown as Record<string, unknown>;
    expect(photosOf(sample).length).toBeGreaterThan(0);
    const decoded = newType.fromBuffer(oldType.toBuffer(sample), newType.createResolver(oldType)) as Record<
      string,
      unknown
    >;
    for (const p of photosOf(decoded)) expect([p.mediaKey, p.mediaModificationTimestamp]).toEqual([null, null]);
    expect(() => oldType.createResolver(newType)).not.toThrow();
  });
});
