import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseConfig } from '../../runtime/config';
import { RetriableError } from '../../runtime/errors';
import { collect, plainContext } from '../../runtime/operator';
import type { IngestJob, IngestJobStatus, RawListing } from '../../schemas/generated/types';
import { ingestConfig } from './config';
import type { GetOptions, GuardedResponse } from '../../runtime/http/guarded-client';
import { type FeedHttp, type IngestServices, nodeFiles } from './feed-sources';
import ingest from './index';
import { type IngestEmit, ingestFeed } from './process';
import { testIngestJob } from '../../test/support/listings';

const fixtures = join(__dirname, '..', '..', 'test', 'fixtures', 'feeds');
const fileUri = (p: string) => pathToFileURL(p).href;

const job = testIngestJob;

interface Answer {
  readonly status?: number;
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
}

/** A stand-in for the guarded client (its own behaviour is tested in runtime/http): answers from `answer`. */
function stubHttp(answer: (url: URL) => Answer, calls: { url: string; opts: GetOptions }[] = []): FeedHttp {
  return {
    async get(target, opts): Promise<GuardedResponse> {
      const url = new URL(target);
      calls.push({ url: url.href, opts });
      const a = answer(url);
      const body = Buffer.from(a.body ?? '');
      return {
        url,
        status: a.status ?? 200,
        header: (name) => a.headers?.[name.toLowerCase()],
        body: (async function* () {
          if (body.length > 0) yield body;
        })(),
        discard: async () => undefined,
      };
    },
  };
}

const noHttp = stubHttp(() => {
  throw new Error('http must not be used');
});

function run(j: IngestJob, opts: { root?: string; http?: FeedHttp; attempt?: number; config?: object } = {}) {
  const config = parseConfig(ingestConfig, { fileRoot: opts.root ?? fixtures, ...opts.config }, { where: 'test' });
  const services: IngestServices = { http: opts.http ?? noHttp, files: nodeFiles };
  return collect(ingestFeed(j, plainContext(config, services, { attempt: opts.attempt ?? 1 })));
}

const outputs = (emits: IngestEmit[], port: string) =>
  emits.flatMap((e) => (e.kind === 'output' && e.port === port ? [e] : []));
const raws = (emits: IngestEmit[]) => outputs(emits, 'raw').map((e) => ({ key: e.key, value: e.value as RawListing }));
const statuses = (emits: IngestEmit[]) => outputs(emits, 'status').map((e) => e.value as IngestJobStatus);
const rejects = (emits: IngestEmit[]) => emits.flatMap((e) => (e.kind === 'reject' ? [e] : []));

describe('ingest reads each feed format', () => {
  test.each([
    { file: 'listings.json', format: 'auto', keys: ['J1', 'J2'], rejected: [['INGEST_RECORD_NO_LISTING_KEY', '2']] },
    { file: 'listings.json', format: 'json', keys: ['J1', 'J2'], rejected: [['INGEST_RECORD_NO_LISTING_KEY', '2']] },
    {
      file: 'listings.ndjson',
      format: 'auto',
      keys: ['N1', 'N3'],
      rejected: [
        ['INGEST_RECORD_UNPARSEABLE', '1'],
        ['INGEST_RECORD_UNPARSEABLE', '2'],
      ],
    },
    {
      file: 'listings.csv',
      format: 'auto',
      keys: ['C1', 'C3'],
      rejected: [
        ['INGEST_RECORD_UNPARSEABLE', '1'],
        ['INGEST_RECORD_NO_LISTING_KEY', '2'],
      ],
    },
    {
      file: 'odata/page-1.json',
      format: 'auto',
      keys: ['O1', 'O2', 'O3'],
      rejected: [['INGEST_RECORD_NO_LISTING_KEY', '3']],
    },
    {
      file: 'odata/page-1.json',
      format: 'reso_odata',
      keys: ['O1', 'O2', 'O3'],
      rejected: [['INGEST_RECORD_NO_LISTING_KEY', '3']],
    },
  ] as const)('$file as $format', async ({ file, format, keys, rejected }) => {
    const emits = await run(job(fileUri(join(fixtures, file)), { format }));
    expect(raws(emits).map((r) => r.key)).toEqual(keys.map((k) => `test-mls:${k}`));
    expect(rejects(emits).map((r) => [r.code, r.detail.position])).toEqual(rejected);
    const s = statuses(emits);
    expect(s.map((x) => x.state)).toEqual(['RUNNING', 'COMPLETED']);
    expect(s[1]).toMatchObject({ records: keys.length, rejects: rejected.length, jobId: 'job-1', errorCode: null });
  });

  test('RawListing carries the job, position, defaults and the original record text', async () => {
    const emits = await run(job(fileUri(join(fixtures, 'listings.ndjson')), { defaultCountry: 'US' }));
    expect(raws(emits)[0]).toEqual({
      key: 'test-mls:N1',
      value: {
        jobId: 'job-1',
        source: 'test-mls',
        listingKey: 'N1',
        position: 0,
        receivedAt: new Date('2026-01-01T00:00:00Z'),
        defaultCountry: 'US',
        defaultCurrency: null,
        payload: '{"ListingKey":"N1","City":"Boston","PostalCode":2134}',
        profile: null,
      },
    });
    expect(raws(emits)[1]?.value).toMatchObject({ listingKey: 'N3', position: 3 });
  });

  test('CSV rows become JSON objects keyed by header, with quoted newlines and quotes kept', async () => {
    const emits = await run(job(fileUri(join(fixtures, 'listings.csv'))));
    expect(JSON.parse(raws(emits)[0]!.value.payload)).toEqual({
      ListingKey: 'C1',
      StandardStatus: 'Active',
      ListPrice: '$450,000',
      PublicRemarks: 'Bright, open\r\nand "sunny"',
      City: 'Austin',
    });
  });

  test('a reject names the job, the position, the line and the reason, and keeps the original text', async () => {
    const emits = await run(job(fileUri(join(fixtures, 'listings.ndjson'))));
    const r = rejects(emits)[0]!;
    expect(r.message).toMatch(/^Job job-1: record 1 \(line 2\) of file:.*listings\.ndjson: invalid JSON: /);
    expect(r.payload).toBe('{"ListingKey": "N2", "City": "Montréal"');
    expect(r.detail).toMatchObject({ jobId: 'job-1', source: 'test-mls', position: '1', line: '2', page: '1' });
    expect(rejects(emits)[1]!.message).toContain('the record is a JSON array, not an object');
  });

  test.each([
    ['a short feed (the long line arrives whole in one read)', 0],
    ['a feed larger than one read (the long line is split across reads)', 200_000],
  ])('an NDJSON line over maxRecordBytes is rejected and the feed goes on: %s', async (_name, padding) => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-long-'));
    const ok = (key: string) => JSON.stringify({ ListingKey: key, City: 'Ottawa' });
    // Padding lines (valid records) push the long line across the stream's read boundary.
    const pad = Array.from({ length: Math.ceil(padding / 40) }, (_, i) => ok(`P${i}`));
    const long = JSON.stringify({ ListingKey: 'LONG', PublicRemarks: 'x'.repeat(3000) });
    writeFileSync(join(dir, 'feed.ndjson'), [...pad, ok('A'), long, ok('B')].join('\n'));
    const emits = await run(job(fileUri(join(dir, 'feed.ndjson'))), { root: dir, config: { maxRecordBytes: 2048 } });
    expect(
      raws(emits)
        .map((r) => r.key)
        .slice(-2),
    ).toEqual(['test-mls:A', 'test-mls:B']);
    expect(rejects(emits)).toHaveLength(1);
    expect(rejects(emits)[0]!.message).toContain('the line is longer than 2048 characters (maxRecordBytes)');
    expect(rejects(emits)[0]!.payload).toHaveLength(1024);
  });

  test('gzip is detected from the bytes, whatever the name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-gz-'));
    writeFileSync(join(dir, 'feed.csv.gz'), gzipSync(readFileSync(join(fixtures, 'listings.csv'))));
    writeFileSync(join(dir, 'feed.data'), gzipSync(readFileSync(join(fixtures, 'listings.json'))));
    const csv = await run(job(fileUri(join(dir, 'feed.csv.gz'))), { root: dir });
    const json = await run(job(fileUri(join(dir, 'feed.data'))), { root: dir });
    expect(raws(csv).map((r) => r.value.listingKey)).toEqual(['C1', 'C3']);
    expect(raws(json).map((r) => r.value.listingKey)).toEqual(['J1', 'J2']);
  });

  test('publishes RUNNING with counts every progressEvery records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-progress-'));
    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ ListingKey: `K${i}` }));
    writeFileSync(join(dir, 'f.ndjson'), lines.join('\n'));
    const emits = await run(job(fileUri(join(dir, 'f.ndjson'))), { root: dir, config: { progressEvery: 10 } });
    expect(statuses(emits).map((s) => [s.state, s.records])).toEqual([
      ['RUNNING', 0],
      ['RUNNING', 10],
      ['RUNNING', 20],
      ['COMPLETED', 25],
    ]);
  });
});

describe('ingest fails a job it cannot read, with FAILED and a dead letter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-fail-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(dir, 'secret.json'), '[{"ListingKey":"S"}]');
  symlinkSync(join(dir, 'secret.json'), join(root, 'link.json'));
  writeFileSync(join(root, 'broken.json'), '[{"ListingKey":"A"}, {"ListingKey":"B"');
  writeFileSync(join(root, 'notarray.json'), '{"ListingKey":"A"}');
  writeFileSync(join(root, 'badheader.csv'), 'ListingKey,,City\nA,B,C\n');

  test.each([
    {
      name: 'a missing file',
      uri: fileUri(join(root, 'missing.json')),
      code: 'INGEST_FEED_NOT_FOUND',
      message: /does not exist/,
    },
    {
      name: 'a .. escape',
      uri: `file://${root}/../secret.json`,
      code: 'INGEST_FEED_FORBIDDEN',
      message: /outside the ingest root/,
    },
    {
      name: 'a symlink out of the root',
      uri: fileUri(join(root, 'link.json')),
      code: 'INGEST_FEED_FORBIDDEN',
      message: /through a symlink/,
    },
    {
      name: 'an unsupported scheme',
      uri: 'ftp://example.com/feed.json',
      code: 'INGEST_URI_INVALID',
      message: /Expected a file:\/\/, http:\/\/ or https:\/\/ URI for uri but received "ftp/,
    },
    {
      name: 'a truncated JSON array',
      uri: fileUri(join(root, 'broken.json')),
      code: 'INGEST_FEED_FORMAT_INVALID',
      message: /ends inside a string|before its closing bracket/,
    },
    {
      name: 'a JSON object as a json feed',
      uri: fileUri(join(root, 'notarray.json')),
      code: 'INGEST_FEED_FORMAT_INVALID',
      message: /expected the document to start with '\['/,
      format: 'json',
    },
    {
      name: 'a CSV header with an empty column',
      uri: fileUri(join(root, 'badheader.csv')),
      code: 'INGEST_FEED_FORMAT_INVALID',
      message: /header row is invalid/,
    },
  ] as const)('$name', async ({ uri, code, message, ...rest }) => {
    const emits = await run(job(uri, { format: 'format' in rest ? rest.format : 'auto' }), { root });
    const s = statuses(emits);
    expect(s.at(-1)).toMatchObject({ state: 'FAILED', errorCode: code });
    expect(s.at(-1)?.message).toMatch(message);
    const r = rejects(emits).at(-1)!;
    expect(r.code).toBe(code);
    // null: the dead letter holds the job message's own bytes, so `dlq redrive` can resubmit it.
    expect(r.payload).toBeNull();
    expect(r.detail).toMatchObject({ jobId: 'job-1', uri });
  });

  test('an invalid source fails the job', async () => {
    const emits = await run(job(fileUri(join(fixtures, 'listings.json')), { source: 'bad source' }));
    expect(statuses(emits).at(-1)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_JOB_INVALID' });
  });
});

describe('ingest over http(s)', () => {
  const body = JSON.stringify([{ ListingKey: 'H1' }, { ListingKey: 'H2' }]);
  const respond = (status: number, text = body, headers: Record<string, string> = {}) =>
    stubHttp(() => ({ status, body: text, headers }));

  test('reads a feed with an accept header, the job signal, the byte limit and the total timeout', async () => {
    const calls: { url: string; opts: GetOptions }[] = [];
    const http = stubHttp(() => ({ body, headers: { 'content-type': 'application/json' } }), calls);
    const emits = await run(job('https://feeds.example.com/x'), { http, config: { httpTimeoutMs: 5000 } });
    expect(raws(emits).map((r) => r.key)).toEqual(['test-mls:H1', 'test-mls:H2']);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('https://feeds.example.com/x');
    expect(calls[0]?.opts).toMatchObject({ maxBytes: 2 * 1024 ** 3, totalTimeoutMs: 5000 });
    expect(calls[0]?.opts.headers?.accept).toContain('application/json');
    expect(calls[0]?.opts.signal).toBeInstanceOf(AbortSignal);
    expect(calls[0]?.opts.sameOriginAs).toBeUndefined();
  });

  test.each([
    { status: 404, code: 'INGEST_FEED_NOT_FOUND' },
    { status: 410, code: 'INGEST_FEED_NOT_FOUND' },
    { status: 401, code: 'INGEST_FEED_FORBIDDEN' },
    { status: 403, code: 'INGEST_FEED_FORBIDDEN' },
    { status: 400, code: 'INGEST_FEED_REFUSED' },
    { status: 304, code: 'INGEST_FEED_REFUSED' },
  ])('HTTP $status is permanent: $code at once', async ({ status, code }) => {
    const emits = await run(job('https://feeds.example.com/x'), { http: respond(status) });
    expect(statuses(emits).at(-1)).toMatchObject({ state: 'FAILED', errorCode: code });
    expect(rejects(emits).map((r) => r.code)).toEqual([code]);
  });

  test.each([503, 500, 429, 408])(
    'HTTP %i is transient: thrown for a retry, then FAILED on the last attempt',
    async (status) => {
      await expect(run(job('https://feeds.example.com/x'), { http: respond(status) })).rejects.toThrow(RetriableError);
      const last = await run(job('https://feeds.example.com/x'), { http: respond(status), attempt: 5 });
      expect(statuses(last).at(-1)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_UNREACHABLE' });
    },
  );

  test('a feed larger than maxFeedBytes is refused when counting, also after gunzip', async () => {
    const big = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ ListingKey: `K${i}` })));
    const counted = await run(job('https://f.example.com/a.json'), {
      http: respond(200, big),
      config: { maxFeedBytes: 1000 },
    });
    expect(statuses(counted).at(-1)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_TOO_LARGE' });
    const gz = gzipSync(Buffer.from(big));
    const bomb = await run(job('https://f.example.com/a.json'), {
      http: stubHttp(() => ({ body: gz })),
      config: { maxFeedBytes: 1000 },
    });
    expect(statuses(bomb).at(-1)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_TOO_LARGE' });
    expect(statuses(bomb).at(-1)?.message).toContain('after gunzip');
  });

  test("OData pages are followed through @odata.nextLink on the first page's origin", async () => {
    const pages: Record<string, string> = {
      'https://api.example.com/Property?$top=2': JSON.stringify({
        value: [{ ListingKey: 'P1' }, { ListingKey: 'P2' }],
        '@odata.nextLink': 'https://api.example.com/Property?$skip=2',
      }),
      'https://api.example.com/Property?$skip=2': JSON.stringify({ '@odata.count': 3, value: [{ ListingKey: 'P3' }] }),
    };
    const calls: { url: string; opts: GetOptions }[] = [];
    const http = stubHttp((url) => (pages[url.href] ? { body: pages[url.href] } : { status: 404 }), calls);
    const emits = await run(job('https://api.example.com/Property?$top=2'), { http });
    expect(raws(emits).map((r) => [r.value.listingKey, r.value.position])).toEqual([
      ['P1', 0],
      ['P2', 1],
      ['P3', 2],
    ]);
    expect(calls.map((c) => c.opts.sameOriginAs?.origin)).toEqual([undefined, 'https://api.example.com']);
  });

  test.each([
    { link: 'file:///etc/passwd', code: 'INGEST_FEED_FORBIDDEN' },
    { link: 'https://api.example.com/p1', code: 'INGEST_FEED_FORMAT_INVALID' },
  ])('a remote nextLink to $link is refused with $code', async ({ link, code }) => {
    const http = stubHttp(() => ({ body: JSON.stringify({ value: [{ ListingKey: 'P1' }], '@odata.nextLink': link }) }));
    const emits = await run(job('https://api.example.com/p1', { format: 'reso_odata' }), { http });
    expect(raws(emits)).toHaveLength(1);
    expect(statuses(emits).at(-1)).toMatchObject({ state: 'FAILED', errorCode: code, records: 1 });
  });
});

test('the operator definition wires IngestJob to the raw and status ports', () => {
  expect(ingest.name).toBe('ingest');
  expect(ingest.input).toBe('IngestJob');
  expect(ingest.outputs).toEqual({ raw: 'RawListing', status: 'IngestJobStatus' });
});
