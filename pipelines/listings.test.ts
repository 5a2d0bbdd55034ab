/**
 * The built-in pipeline: valid against the operator registry (runtime/pipeline-validation.ts checks any
 * pipeline), and the topics and stages derived from it (runtime/pipeline.ts topicsOf, stages).
 */
import { operators } from '../operators';
import { dlqTopicsOf, stages, topicsOf } from '../runtime/pipeline';
import { validatePipeline } from '../runtime/pipeline-validation';
import listings from './listings';

const DAY_MS = 24 * 60 * 60 * 1000;

test('the built-in listings pipeline is valid against the real operators', () => {
  expect(validatePipeline(listings, operators)).toEqual([]);
});

describe('topicsOf', () => {
  const byTopic = new Map(topicsOf(listings).map((t) => [t.topic, t]));

  test.each([
    { topic: 'listings.raw', role: 'pipeline', partitions: 6, compact: false, retentionMs: 7 * DAY_MS },
    { topic: 'listings.published', role: 'pipeline', partitions: 6, compact: true, retentionMs: undefined },
    { topic: 'listings.price-changes', role: 'pipeline', partitions: 3, compact: false, retentionMs: 30 * DAY_MS },
    { topic: 'listings.raw.dlq', role: 'dlq', partitions: 6, compact: false, retentionMs: undefined },
    { topic: 'listings.ingest-jobs.dlq', role: 'dlq', partitions: 3, compact: false, retentionMs: undefined },
    { topic: 'listflow.listings.replay-ledger', role: 'ledger', partitions: 1, compact: true, retentionMs: undefined },
  ])('$topic: $role, $partitions partitions, compact $compact, retention $retentionMs', (want) => {
    expect(byTopic.get(want.topic)).toEqual(want);
  });

  test('each topic once: declared topics, one dead-letter topic per step input, the ledger', () => {
    const names = topicsOf(listings).map((t) => t.topic);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(Object.keys(listings.topics).length + listings.steps.length + 1);
    expect(dlqTopicsOf(listings)).toEqual(listings.steps.map((s) => `${s.input}.dlq`));
  });
});

describe('stages', () => {
  test('the listings steps in data-flow order, with their topics and groups', () => {
    expect(stages(listings).map((s) => [s.step.id, s.input, s.outputs, s.dlq, s.group])).toEqual([
      [
        'sources',
        'listings.sources',
        ['listings.raw', 'listings.source-state', 'listings.source-keys'],
        'listings.sources.dlq',
        'listflow.listings.sources',
      ],
      [
        'ingest',
        'listings.ingest-jobs',
        ['listings.raw', 'listings.ingest-status'],
        'listings.ingest-jobs.dlq',
        'listflow.listings.ingest',
      ],
      ['normalize', 'listings.raw', ['listings.normalized'], 'listings.raw.dlq', 'listflow.listings.normalize'],
      ['images', 'listings.normalized', ['listings.enriched'], 'listings.normalized.dlq', 'listflow.listings.images'],
      ['publish', 'listings.enriched', ['listings.published'], 'listings.enriched.dlq', 'listflow.listings.publish'],
      [
        'price-changes',
        'listings.published',
        ['listings.price-changes'],
        'listings.published.dlq',
        'listflow.listings.price-changes',
      ],
    ]);
  });
});
