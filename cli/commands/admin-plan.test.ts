/** Unit tests (no broker, no registry) of what `topics apply` wants and what `schemas check` compares. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { operators } from '../../operators';
import listings from '../../pipelines/listings';
import { avroSchemas } from '../../schemas/generated/types';
import { UsageError } from '../command';
import { builtInSchemas, loadSchemasDir } from './schema-set';
import { checkLinks, pipelineLinks } from './schemas';
import { desiredTopics } from './topics';

const ROOT = join(__dirname, '..', '..');

describe('desiredTopics', () => {
  const byTopic = new Map(desiredTopics(listings).map((d) => [d.topic, d]));
  test.each([
    ['listings.ingest-jobs', 3, 'pipeline', { 'cleanup.policy': 'delete', 'retention.ms': '604800000' }],
    ['listings.published', 6, 'pipeline', { 'cleanup.policy': 'compact' }],
    ['listings.price-changes', 3, 'pipeline', { 'cleanup.policy': 'delete', 'retention.ms': '2592000000' }],
    ['listings.raw.dlq', 6, 'dlq', { 'cleanup.policy': 'delete' }],
    ['listings.published.dlq', 6, 'dlq', { 'cleanup.policy': 'delete' }],
    ['listflow.listings.replay-ledger', 1, 'ledger', { 'cleanup.policy': 'compact' }],
  ])('%s: %i partitions, %s, %j', (topic, partitions, role, configs) => {
    expect(byTopic.get(topic)).toEqual({ topic, partitions, role, configs });
  });

  test('a topic without retentionMs asks for the broker default (removes an override)', () => {
    const p = { ...listings, topics: { ...listings.topics, 'listings.raw': { partitions: 6, schema: 'RawListing' } } };
    const raw = desiredTopics(p as typeof listings).find((d) => d.topic === 'listings.raw');
    expect(raw?.configs).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': null });
  });

  test('every pipeline topic, one dead-letter topic per step and the replay ledger', () => {
    expect(byTopic.size).toBe(Object.keys(listings.topics).length + listings.steps.length + 1);
  });
});

describe('schema sets and links', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'listflow-schemas-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const listing = () => JSON.parse(readFileSync(join(ROOT, 'schemas', 'Listing.avsc'), 'utf8'));

  test('schemas/ itself resolves to exactly the generated, self-contained schemas', () => {
    const set = loadSchemasDir(join(ROOT, 'schemas'));
    expect([...set.changed]).toEqual([]);
    expect(set.json('EnrichedListing')).toBe(avroSchemas.EnrichedListing);
  });

  test('a replaced Listing also changes the schemas that embed it', () => {
    const l = listing();
    l.fields.push({ name: 'energyRating', type: ['null', 'string'], default: null });
    writeFileSync(join(dir, 'Listing.avsc'), JSON.stringify(l));
    const set = loadSchemasDir(dir);
    expect([...set.changed].sort()).toEqual(['EnrichedListing', 'Listing', 'PublishedListing']);
    // A field with a default is readable both ways: no broken link.
    expect(checkLinks(pipelineLinks(listings, operators), set).filter((c) => !c.ok)).toEqual([]);
  });

  test('built-in links of the listings pipeline all resolve', () => {
    const checks = checkLinks(pipelineLinks(listings, operators), builtInSchemas());
    expect(checks.map((c) => `${c.producerStep}.${c.port}->${c.consumerStep}:${c.ok}`)).toEqual([
      'sources.raw->normalize:true',
      'ingest.raw->normalize:true',
      'normalize.listings->images:true',
      'images.enriched->publish:true',
      'publish.published->price-changes:true',
    ]);
  });

  test.each([
    [
      'Unknown.avsc',
      '{"type":"record","name":"Unknown","fields":[]}',
      "expected a file named after one of the pipeline's schemas",
    ],
    ['Listing.avsc', '{not json', 'is not valid JSON'],
    [
      'Listing.avsc',
      '{"type":"record","name":"Other","fields":[]}',
      'must define a type named Listing but defines Other',
    ],
    [
      'Listing.avsc',
      '{"type":"record","name":"listflow.Listing","fields":[{"name":"a","type":"nope"}]}',
      'unknown Avro type listflow.nope',
    ],
  ])('%s with %s is a usage error: %s', (file, content, message) => {
    writeFileSync(join(dir, file), content);
    expect(() => loadSchemasDir(dir)).toThrow(UsageError);
    expect(() => loadSchemasDir(dir)).toThrow(message);
  });
});
