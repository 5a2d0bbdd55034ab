/** What the images operator reports about its work besides its output: photo-fetch spans and photo counts. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { parseConfig } from '../../runtime/config';
import { PermanentError } from '../../runtime/errors';
import { collect, plainContext } from '../../runtime/operator';
import type { SpanAttributes, SpanPhase } from '../../runtime/trace/spans';
import type { EnrichedListing } from '../../schemas/generated/types';
import * as fx from '../../test/fixtures/images/fixtures';
import { testListing } from '../../test/support/listings';
import { FsBlobStore } from './blob-store/index';
import { imagesConfig } from './config';
import type { Fetcher } from './fetcher';
import images from './index';
import { ImagesInFlight } from './process';

interface Child {
  name: SpanPhase;
  startMs: number;
  endMs: number;
  attributes?: SpanAttributes;
  errorCode?: string;
}

/** A job span that keeps its children, recording or not. */
function spanOf(recording: boolean) {
  const children: Child[] = [];
  return {
    children,
    span: {
      recording,
      phase: (name: SpanPhase, startMs: number, endMs: number, attributes?: SpanAttributes, errorCode?: string) =>
        void children.push({
          name,
          startMs,
          endMs,
          ...(attributes && { attributes }),
          ...(errorCode && { errorCode }),
        }),
    },
  };
}

const GOOD = 'https://mls.example/a.jpg?token=secret';
const GONE = 'https://cdn.example/gone.jpg';

async function enrich(recording: boolean) {
  const photo = await fx.photoJpeg(400, 300);
  const fetcher: Fetcher = {
    async fetch(url) {
      if (url === GOOD) return photo;
      throw new PermanentError('IMAGE_FETCH_FAILED', `${url} answered HTTP 404`);
    },
  };
  const counted: [string, string, string | undefined][] = [];
  const services = {
    metrics: { count: (item: string, outcome: string, code?: string) => void counted.push([item, outcome, code]) },
    fetcher,
    blobStore: new FsBlobStore({ root: mkdtempSync(join(tmpdir(), 'listflow-fetch-spans-')) }),
    imageLimit: pLimit(2),
    imagesInFlight: new ImagesInFlight(),
  };
  const record = testListing('crea:S1', {
    photos: [GOOD, GONE].map((url, i) => ({ url, order: i, caption: null })),
  });
  const { span, children } = spanOf(recording);
  const ctx = plainContext(parseConfig(imagesConfig, {}, { where: 'test' }), services, { span });
  const [out] = await collect(images.process!(record, ctx));
  if (out?.kind !== 'output') throw new Error('expected an output');
  return { enriched: out.value as EnrichedListing, children, bytes: photo.length, counted };
}

describe('photo-fetch child spans', () => {
  test.each([
    { recording: true, want: 2 },
    { recording: false, want: 0 },
  ])('recording $recording: $want photo-fetch children', async ({ recording, want }) => {
    const { enriched, children } = await enrich(recording);
    // The listing is the same either way: spans only observe.
    expect(enriched.images.map((a) => a.status)).toEqual(['OK', 'FAILED']);
    expect(children.filter((c) => c.name === 'photo-fetch')).toHaveLength(want);
  });

  test('each fetch is one child with its host (never the URL, which may hold a token) and its outcome', async () => {
    const { children, bytes } = await enrich(true);
    const byHost = Object.fromEntries(children.map((c) => [c.attributes?.['server.address'], c]));
    expect(byHost['mls.example']).toMatchObject({
      name: 'photo-fetch',
      attributes: { 'listflow.photo.bytes': bytes },
    });
    expect(byHost['mls.example']?.errorCode).toBeUndefined();
    expect(byHost['cdn.example']).toMatchObject({ name: 'photo-fetch', errorCode: 'IMAGE_FETCH_FAILED' });
    for (const c of children) {
      expect(c.endMs).toBeGreaterThanOrEqual(c.startMs);
      expect(JSON.stringify(c.attributes)).not.toContain('secret');
    }
  });
});

test('each photo is counted once: ok, or failed with its code (listflow_items_total)', async () => {
  const { counted } = await enrich(false);
  expect(counted.sort()).toEqual([
    ['photo', 'failed', 'IMAGE_FETCH_FAILED'],
    ['photo', 'ok', undefined],
  ]);
});
