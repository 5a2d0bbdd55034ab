import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { PermanentError, RetriableError } from '../../../runtime/errors';
import { classifyS3Error, S3BlobStore, VARIANT_CACHE_CONTROL } from './s3';
import { storedImage as image, sha } from '../../../test/fixtures/images/stored-image';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}

/** What S3 answers, at the HTTP level, so the real SDK parses it (XML errors, bare HEAD statuses). */
interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

const xmlError = (status: number, code: string, message = code): Answer => ({
  status,
  headers: { 'content-type': 'application/xml' },
  body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
});

/** An in-memory bucket behind the SDK's request handler: conditional puts, ETags, and injectable failures. */
function fakeS3(fail?: (req: Seen) => Answer | Error | undefined) {
  const objects = new Map<string, { body: Buffer; headers: Record<string, string> }>();
  const seen: Seen[] = [];
  const answer = async (req: Seen, body: Buffer): Promise<Answer> => {
    const injected = fail?.(req);
    if (injected instanceof Error) throw injected;
    if (injected) return injected;
    const key = decodeURIComponent(req.path.replace(/^\/bucket\/?/, ''));
    const found = objects.get(key);
    if (key === '') return { status: 200 };
    const copyFrom = req.headers['x-amz-copy-source'];
    if (req.method === 'PUT' && copyFrom !== undefined) {
      // CopyObject: the source must exist (a copy never creates from nothing), metadata as the request says.
      const source = objects.get(decodeURIComponent(copyFrom.replace(/^\/?bucket\//, '')));
      if (!source) return xmlError(404, 'NoSuchKey');
      objects.set(key, { body: source.body, headers: { ...req.headers, etag: source.headers.etag! } });
      const result = `<CopyObjectResult><ETag>${source.headers.etag}</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyObjectResult>`;
      return { status: 200, headers: { 'content-type': 'application/xml' }, body: result };
    }
    if (req.method === 'PUT') {
      if (req.headers['if-none-match'] === '*' && found) return xmlError(412, 'PreconditionFailed');
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      objects.set(key, { body, headers: { ...req.headers, etag } });
      return { status: 200, headers: { etag } };
    }
    if (!found) return req.method === 'HEAD' ? { status: 404 } : xmlError(404, 'NoSuchKey');
    const headers = { etag: found.headers.etag!, 'content-type': found.headers['content-type'] ?? '' };
    return req.method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body: found.body.toString() };
  };
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://s3.test',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    requestHandler: {
      async handle(request: { method: string; path: string; headers: Record<string, string>; body?: unknown }) {
        const body = Buffer.isBuffer(request.body)
          ? request.body
          : typeof request.body === 'string'
            ? Buffer.from(request.body)
            : request.body instanceof Uint8Array
              ? Buffer.from(request.body)
              : Buffer.alloc(0);
        const req = { method: request.method, path: request.path, headers: lower(request.headers) };
        seen.push(req);
        const a = await answer(req, body);
        return {
          response: {
            statusCode: a.status,
            headers: a.headers ?? {},
            body: Readable.from([Buffer.from(a.body ?? '')]),
          },
        };
      },
    },
  });
  return { client, objects, seen };
}

const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

function storeOn(fake: ReturnType<typeof fakeS3>, opts: { publicBaseUrl?: string; acl?: 'public-read' } = {}) {
  return new S3BlobStore({
    client: fake.client,
    target: { bucket: 'bucket', prefix: 'variants/', region: 'us-east-1', endpoint: 'http://s3.test' },
    publicBaseUrl: opts.publicBaseUrl,
    variantAcl: opts.acl,
  });
}

describe('S3BlobStore', () => {
  test('puts a variant under the prefix, conditionally, with its Content-Type and an immutable Cache-Control', async () => {
    const fake = fakeS3();
    const uri = await storeOn(fake, { acl: 'public-read' }).putVariant(sha, 'card.webp', Buffer.from('abc'));
    expect(uri).toBe(`s3://bucket/variants/ab/${sha}/card.webp`);
    const put = fake.seen.find((r) => r.method === 'PUT')!;
    expect(put.path).toBe(`/bucket/variants/ab/${sha}/card.webp`);
    expect(put.headers).toMatchObject({
      'if-none-match': '*',
      'content-type': 'image/webp',
      'cache-control': VARIANT_CACHE_CONTROL,
      'x-amz-acl': 'public-read',
    });
    expect(fake.objects.get(`variants/ab/${sha}/card.webp`)!.body.toString()).toBe('abc');
  });

  test('uris use the public base URL, with the object key (prefix included)', async () => {
    const store = storeOn(fakeS3(), { publicBaseUrl: 'http://127.0.0.1:18333/listflow/' });
    expect(store.uriOf(sha, 'thumb.webp')).toBe(`http://127.0.0.1:18333/listflow/variants/ab/${sha}/thumb.webp`);
  });

  test('storing the same bytes twice rewrites nothing: 412, then a HEAD whose ETag matches', async () => {
    const fake = fakeS3();
    const store = storeOn(fake);
    await store.putVariant(sha, 'card.webp', Buffer.from('abc'));
    await store.putVariant(sha, 'card.webp', Buffer.from('abc'));
    expect(fake.seen.map((r) => r.method)).toEqual(['PUT', 'PUT', 'HEAD']);
  });

  test('a key stored with other bytes (the variant settings changed) is replaced', async () => {
    const fake = fakeS3();
    const store = storeOn(fake);
    await store.putVariant(sha, 'card.webp', Buffer.from('old'));
    await store.putVariant(sha, 'card.webp', Buffer.from('new'));
    expect(fake.seen.map((r) => r.method)).toEqual(['PUT', 'PUT', 'HEAD', 'PUT']);
    expect(fake.seen[3]!.headers['if-none-match']).toBeUndefined();
    expect(fake.objects.get(`variants/ab/${sha}/card.webp`)!.body.toString()).toBe('new');
  });

  test('an image reads as stored only once its manifest is written; uris follow the current settings', async () => {
    const fake = fakeS3();
    const store = storeOn(fake);
    await store.putVariant(sha, 'card.webp', Buffer.from('abc')); // a crash here leaves no manifest
    expect(await store.get(sha)).toBeNull();
    await store.putManifest(image);
    const manifestPut = fake.seen.filter((r) => r.method === 'PUT').at(-1)!;
    expect(manifestPut.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-cache' });
    expect(manifestPut.headers['if-none-match']).toBeUndefined();
    expect(await store.get(sha)).toEqual({
      ...image,
      variants: [{ ...image.variants[0]!, uri: `s3://bucket/variants/ab/${sha}/card.webp` }],
    });
    fake.objects.set(`variants/ab/${sha}/manifest.json`, { body: Buffer.from('{"sha'), headers: { etag: '"x"' } });
    expect(await store.get(sha)).toBeNull(); // damaged: processed again
  });

  test('touch copies the manifest onto itself, metadata replaced; a missing manifest is not recreated', async () => {
    const fake = fakeS3();
    const store = storeOn(fake);
    expect(await store.touch(sha)).toBe(false);
    expect(fake.objects.has(`variants/ab/${sha}/manifest.json`)).toBe(false);
    await store.putManifest(image);
    fake.seen.length = 0;
    expect(await store.touch(sha)).toBe(true);
    expect(fake.seen).toHaveLength(1);
    expect(fake.seen[0]!).toMatchObject({
      method: 'PUT',
      path: `/bucket/variants/ab/${sha}/manifest.json`,
      headers: {
        'x-amz-copy-source': `bucket/variants/ab/${sha}/manifest.json`,
        'x-amz-metadata-directive': 'REPLACE',
        'content-type': 'application/json',
        'cache-control': 'no-cache',
      },
    });
    expect((await store.get(sha))?.sha256).toBe(sha);
  });

  test('media index entries: under media/ of the prefix, private, read back only for their own identity', async () => {
    const fake = fakeS3();
    const store = storeOn(fake, { acl: 'public-read' });
    const entry = { id: 'key\nmls\nM1', version: 'ts\n2026-01-01T00:00:00.000001Z', sha256: sha, storedAt: 'now' };
    expect(await store.getMediaEntry(entry.id)).toBeNull();
    await store.putMediaEntry(entry);
    const put = fake.seen.filter((r) => r.method === 'PUT').at(-1)!;
    expect(put.path).toMatch(/^\/bucket\/variants\/media\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/);
    expect(put.headers['x-amz-acl']).toBeUndefined();
    expect(await store.getMediaEntry(entry.id)).toEqual(entry);
    expect(await store.getMediaEntry('key\nmls\nM2')).toBeNull();
  });

  const refusals: [string, Answer][] = [
    ['403 AccessDenied', xmlError(403, 'AccessDenied', 'Access Denied')],
    ['InvalidAccessKeyId', xmlError(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist')],
    ['SignatureDoesNotMatch', xmlError(403, 'SignatureDoesNotMatch')],
    ['NoSuchBucket', xmlError(404, 'NoSuchBucket', 'The specified bucket does not exist')],
    ['a 301 to another region', xmlError(301, 'PermanentRedirect')],
    ['ACLs disabled on the bucket', xmlError(400, 'AccessControlListNotSupported')],
  ];
  const outages: [string, Answer | Error][] = [
    ['500 InternalError', xmlError(500, 'InternalError')],
    ['503 SlowDown', xmlError(503, 'SlowDown')],
    ['502 without a body', { status: 502 }],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })],
    ['a timeout', Object.assign(new Error('request timed out'), { name: 'TimeoutError' })],
  ];

  test.each(refusals)('%s is BLOBSTORE_ACCESS_DENIED (permanent), naming bucket, endpoint and fix', async (_n, a) => {
    const e = await storeOn(fakeS3(() => a))
      .putVariant(sha, 'card.webp', Buffer.from('x'))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as PermanentError).code).toBe('BLOBSTORE_ACCESS_DENIED');
    expect((e as PermanentError).message).toMatch(/s3:\/\/bucket\/variants\/ab\/.* at http:\/\/s3\.test was refused/);
    expect((e as PermanentError).message).toContain('Fix: check that bucket bucket exists in region us-east-1');
  });

  test.each(outages)('%s is BLOBSTORE_UNAVAILABLE (retriable) on every operation', async (_n, a) => {
    const store = storeOn(fakeS3(() => a));
    const entry = { id: 'key\nmls\nM1', version: 'ts\nT', sha256: sha, storedAt: '' };
    for (const op of [
      () => store.putVariant(sha, 'card.webp', Buffer.from('x')),
      () => store.putManifest(image),
      () => store.get(sha),
      () => store.touch(sha),
      () => store.getMediaEntry(entry.id),
      () => store.putMediaEntry(entry),
    ]) {
      const e = await op().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RetriableError);
      expect((e as RetriableError).code).toBe('BLOBSTORE_UNAVAILABLE');
    }
  });

  test.each([
    ['a missing bucket (bare 404)', { status: 404 }, 'NoSuchBucket'],
    ['a refusal (bare 403)', { status: 403 }, 'HTTP 403'],
  ])('the startup probe turns %s into BLOBSTORE_ACCESS_DENIED', async (_n, a, words) => {
    const e = await storeOn(fakeS3((r) => (r.method === 'HEAD' ? a : undefined)))
      .probe()
      .catch((x: unknown) => x);
    expect((e as PermanentError).code).toBe('BLOBSTORE_ACCESS_DENIED');
    expect((e as PermanentError).message).toContain(words);
  });

  test('the startup probe passes on a bucket that answers', async () => {
    await expect(storeOn(fakeS3()).probe()).resolves.toBeUndefined();
  });
});

describe('classifyS3Error', () => {
  test.each([
    [{ name: 'ExpiredToken', $metadata: { httpStatusCode: 400 } }, 'unavailable'], // the SDK chain refreshes it
    [{ name: 'CredentialsProviderError' }, 'refused'], // no credentials anywhere in the chain
    [{ name: 'NotFound', $metadata: { httpStatusCode: 404 } }, 'unavailable'],
    [{ name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } }, 'unavailable'],
    [new TypeError('bad'), 'unavailable'],
  ])('%j -> %s', (e, kind) => {
    expect(classifyS3Error(e)).toBe(kind);
  });
});
