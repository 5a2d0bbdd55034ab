/**
 * Hostile and broken feeds, read from files by the real ingest: each bad record is a reject with a clear
 * code and reason while the feed goes on; a feed that cannot be trusted fails the job with a clear code.
 * (Hostile servers: ingest-http.test.ts.)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseConfig } from '../../runtime/config';
import { collect, plainContext } from '../../runtime/operator';
import type { IngestJobStatus, RawListing } from '../../schemas/generated/types';
import { ingestConfig } from './config';
import { filesOnlyServices } from './feed-sources';
import { type IngestEmit, ingestFeed } from './process';
import { MAX_NESTING } from './record-checks';

const dir = mkdtempSync(join(tmpdir(), 'listflow-hostile-'));

async function ingestFile(name: string, content: string | Buffer, config: Record<string, unknown> = {}) {
  const path = join(dir, name);
  writeFileSync(path, content);
  const cfg = parseConfig(ingestConfig, { fileRoot: dir, ...config }, { where: 'test' });
  const job = {
    jobId: 'job-h',
    source: 'h',
    uri: pathToFileURL(path).href,
    format: 'auto' as const,
    submittedAt: new Date(0),
    defaultCountry: null,
    defaultCurrency: null,
  };
  const emits: IngestEmit[] = await collect(ingestFeed(job, plainContext(cfg, filesOnlyServices)));
  const raws = emits.flatMap((e) => (e.kind === 'output' && e.port === 'raw' ? [e.value as RawListing] : []));
  return {
    keys: raws.map((r) => r.listingKey),
    raws,
    rejects: emits.flatMap((e) => (e.kind === 'reject' ? [{ code: e.code, message: e.message }] : [])),
    final: emits
      .flatMap((e) => (e.kind === 'output' && e.port === 'status' ? [e.value as IngestJobStatus] : []))
      .at(-1),
  };
}

const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('hostile JSON records: one reject each, the feed goes on', () => {
  test.each([
    [
      'nesting 100,000 levels deep',
      `{"ListingKey":"D1","x":${deep(100_000)}}`,
      `nests deeper than ${MAX_NESTING} levels`,
    ],
    ['nesting just past the limit', `{"ListingKey":"D1","x":${deep(MAX_NESTING)}}`, 'nests deeper than'],
    ['a duplicate key', '{"ListingKey":"A","ListingKey":"B"}', 'the key "ListingKey" appears twice'],
    ['a duplicate key spelled with escapes', '{"ListingKey":"A","List\\u0069ngKey":"B"}', 'appears twice'],
    ['a lone surrogate', '{"ListingKey":"S1","PublicRemarks":"\\ud800 alone"}', 'lone UTF-16 surrogate'],
    ['a lone low surrogate in a key', '{"ListingKey":"S2","\\udc00":1}', 'lone UTF-16 surrogate'],
    ['an escaped NUL', '{"ListingKey":"N1","PublicRemarks":"a\\u0000b"}', 'NUL character'],
  ])('%s', async (_name, record, reason) => {
    const r = await ingestFile('f.json', `[${record},{"ListingKey":"OK"}]`);
    expect(r.keys).toEqual(['OK']);
    expect(r.rejects).toEqual([{ code: 'INGEST_RECORD_UNPARSEABLE', message: expect.stringContaining(reason) }]);
    expect(r.final?.state).toBe('COMPLETED');
  });

  test('nesting up to the limit is fine, and so is a surrogate pair', async () => {
    const r = await ingestFile('ok.json', `[{"ListingKey":"D","x":${deep(MAX_NESTING - 1)},"y":"\\ud83c\\udfe0"}]`);
    expect(r.keys).toEqual(['D']);
    expect(r.rejects).toEqual([]);
  });

  test('invalid UTF-8 bytes in one record', async () => {
    const feed = Buffer.concat([
      Buffer.from('[{"ListingKey":"U1","City":"'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"},{"ListingKey":"OK","City":"Montr\u00e9al"}]'),
    ]);
    const r = await ingestFile('utf8.json', feed);
    expect(r.keys).toEqual(['OK']);
    expect(r.rejects).toEqual([
      { code: 'INGEST_RECORD_UNPARSEABLE', message: expect.stringContaining('not valid UTF-8') },
    ]);
  });

  test('a ListingKey beyond 2^53 keeps its digits', async () => {
    const r = await ingestFile(
      'big.json',
      '[{"ListingKey":12345678901234567890,"nested":{"ListingKey":1}},{"ListingKey":42}]',
    );
    expect(r.keys).toEqual(['12345678901234567890', '42']);
    expect(r.raws[0]?.payload).toContain('12345678901234567890');
  });

  test('__proto__ and constructor keys are data, not prototypes', async () => {
    const r = await ingestFile(
      'proto.json',
      '[{"ListingKey":"P1","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}]',
    );
    expect(r.keys).toEqual(['P1']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(r.raws[0]!.payload)).toHaveProperty(['__proto__', 'polluted'], true);
  });

  test('NDJSON: the same checks per line', async () => {
    const r = await ingestFile(
      'f.ndjson',
      ['{"ListingKey":"A","ListingKey":"B"}', `{"ListingKey":"D","x":${deep(1000)}}`, '{"ListingKey":"OK"}'].join('\n'),
    );
    expect(r.keys).toEqual(['OK']);
    expect(r.rejects.map((x) => x.code)).toEqual(['INGEST_RECORD_UNPARSEABLE', 'INGEST_RECORD_UNPARSEABLE']);
  });
});

describe('hostile JSON feeds: the job fails with a clear code', () => {
  test.each([
    [
      'an OData page whose value is not an array',
      'p.json',
      '{"value":{"ListingKey":"X"}}',
      'INGEST_FEED_FORMAT_INVALID',
      'no "value" array',
    ],
    [
      'a document nested 600,000 levels deep, past maxRecordBytes',
      'd.json',
      deep(600_000),
      'INGEST_FEED_FORMAT_INVALID',
      'longer than',
    ],
  ])('%s', async (_name, file, content, code, message) => {
    const r = await ingestFile(file, content);
    expect(r.final).toMatchObject({ state: 'FAILED', errorCode: code });
    expect(r.final?.message).toContain(message);
  });
});

describe('hostile CSV', () => {
  test('embedded quotes, commas and newlines, a BOM, CRLF and a lone CR', async () => {
    const csv = '\uFEFFListingKey,PublicRemarks\r\nC1,"say ""hi"", then\r\nleave"\rC2,plain\nC3,"multi\nline"\r\n';
    const r = await ingestFile('q.csv', csv);
    expect(r.keys).toEqual(['C1', 'C2', 'C3']);
    expect(JSON.parse(r.raws[0]!.payload)).toEqual({ ListingKey: 'C1', PublicRemarks: 'say "hi", then\r\nleave' });
    expect(JSON.parse(r.raws[2]!.payload).PublicRemarks).toBe('multi\nline');
  });

  test.each([
    ['a NUL byte', 'ListingKey,A\nN1,a\u0000b\nOK,x\n', 'NUL character'],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from('ListingKey,A\nU1,'), Buffer.from([0xc3, 0x28]), Buffer.from('\nOK,x\n')]),
      'not valid UTF-8',
    ],
    ['an unterminated quote at the end of the file', 'ListingKey,A\nOK,x\nQ1,"never closed', 'unterminated quote'],
  ])('%s: one reject', async (_name, csv, reason) => {
    const r = await ingestFile('bad.csv', csv);
    expect(r.keys).toEqual(['OK']);
    expect(r.rejects).toEqual([{ code: 'INGEST_RECORD_UNPARSEABLE', message: expect.stringContaining(reason) }]);
  });

  test('a __proto__ column is a column', async () => {
    const r = await ingestFile('proto.csv', 'ListingKey,__proto__,constructor\nP1,x,y\n');
    expect(r.keys).toEqual(['P1']);
    expect(JSON.parse(r.raws[0]!.payload)).toEqual(
      Object.fromEntries([
        ['ListingKey', 'P1'],
        ['__proto__', 'x'],
        ['constructor', 'y'],
      ]),
    );
  });

  test.each([
    ['duplicate column names', 'ListingKey,City,City\nA,b,c\n', 'empty or duplicate column names'],
    ['an empty column name', 'ListingKey,,City\nA,b,c\n', 'empty or duplicate column names'],
    [
      'a 50 MB line (bounded memory: stops at maxRecordBytes)',
      `ListingKey,A\nL1,${'x'.repeat(50 * 1024 * 1024)}\n`,
      'longer than 1048576 characters',
    ],
  ])('%s: the job fails', async (_name, csv, message) => {
    const r = await ingestFile('h.csv', csv);
    expect(r.final).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_FORMAT_INVALID' });
    expect(r.final?.message).toContain(message);
  });
});

describe('hostile files', () => {
  test('a gzip bomb stops at maxFeedBytes after gunzip', async () => {
    const r = await ingestFile('bomb.json.gz', gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), {
      maxFeedBytes: 1024 * 1024,
    });
    expect(r.final).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_TOO_LARGE' });
    expect(r.final?.message).toContain('after gunzip');
  });

  test.each([
    ['feed.zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(64)]), 'a zip archive'],
    ['feed.json.bz2', Buffer.from('BZh91AY&SY'), 'bzip2 data'],
  ])('%s is refused', async (file, bytes, what) => {
    const r = await ingestFile(file, bytes);
    expect(r.final).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_FORMAT_INVALID' });
    expect(r.final?.message).toContain(what);
  });
});
