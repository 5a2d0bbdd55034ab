/**
 * The S3 blob store: variants as objects of one bucket, under an optional key prefix, with the keys of store.ts.
 *
 * - Writes are idempotent: a variant is put with `If-None-Match: *`, so a second writer of the same key (a replay,
 *   another replica) gets 412 and nothing is rewritten; its bytes are then compared by ETag, and only a key whose
 *   bytes differ (the variant settings changed since it was stored) is replaced; a store that ignores the header
 *   overwrites the key with the same bytes, still idempotent, only costlier. The manifest is put last and
 *   unconditionally (it is what changes when the settings do), so a crash before it leaves an image that reads as
 *   not stored, and it is redone.
 * - Variants carry their Content-Type and `Cache-Control: public, max-age=31536000, immutable`: a key names
 *   one rendering of one source image, so caches may keep it.
 * - Errors: an outage, a 5xx, a throttle or a timeout is RetriableError(BLOBSTORE_UNAVAILABLE); a refusal that
 *   retrying cannot fix (403, InvalidAccessKeyId, NoSuchBucket, wrong region) is PermanentError(BLOBSTORE_ACCESS_DENIED),
 *   whose message names the bucket, the endpoint and the fix.
 *
 * The SDK's requests go to the operator-configured endpoint only (keys are built from a sha256 and fixed names,
 * never from a listing), so they do not go through the guarded client that fetches photos: that client exists to
 * refuse untrusted URLs resolving to private addresses, and an in-cluster object store or S3Proxy on loopback is
 * exactly such an address.
 */
import { createHash } from 'node:crypto';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { PermanentError, RetriableError } from '../../../runtime/errors';
import type { ImagesConfig } from '../config';
import { type MediaEntry, mediaEntryKey, mediaEntryText, readMediaEntry } from './media-index';
import { type BlobStore, blobKey, contentTypeOf, MANIFEST, readManifest, type StoredImage } from './store';

export const VARIANT_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** Where the store writes, as the operator configured it; `endpoint` is for messages (the SDK has its own copy). */
export interface S3Target {
  readonly bucket: string;
  /** '' or a prefix ending in '/'. */
  readonly prefix: string;
  readonly region: string;
  /** The endpoint URL, or a phrase such as "the AWS endpoint of us-east-1" when the SDK picks it. */
  readonly endpoint: string;
}

export interface S3BlobStoreOptions {
  readonly client: S3Client;
  readonly target: S3Target;
  /** When set, variant uris are `<publicBaseUrl>/<object key>`; otherwise `s3://<bucket>/<object key>`. */
  readonly publicBaseUrl?: string | undefined;
  /** A canned ACL for each variant (S3Proxy grants anonymous reads only by ACL); the manifest stays private. */
  readonly variantAcl?: 'public-read' | undefined;
}

/** Error codes that retrying cannot fix: the credentials, the bucket, its region or its ACL settings are wrong. */
const REFUSED_CODES = new Set([
  'AccessDenied',
  'AccountProblem',
  'AllAccessDisabled',
  'AccessControlListNotSupported',
  'AuthorizationHeaderMalformed',
  'CredentialsProviderError',
  'InvalidAccessKeyId',
  'InvalidBucketName',
  'InvalidToken',
  'NoSuchBucket',
  'PermanentRedirect',
  'SignatureDoesNotMatch',
]);

interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const statusOf = (e: unknown): number | undefined => (e as SdkErrorShape | null)?.$metadata?.httpStatusCode;
const nameOf = (e: unknown): string => {
  const x = e as SdkErrorShape | null;
  return x?.code ?? x?.name ?? 'Error';
};

/** 'refused' when retrying cannot help, else 'unavailable'. A HEAD's 404 has no body: `missingIs` says what it means. */
export function classifyS3Error(
  e: unknown,
  missingIs: 'refused' | 'unavailable' = 'unavailable',
): 'refused' | 'unavailable' {
  const status = statusOf(e);
  if (REFUSED_CODES.has(nameOf(e))) return 'refused';
  if (status === 403 || status === 301) return 'refused';
  if (status === 404 && nameOf(e) === 'NotFound') return missingIs;
  return 'unavailable';
}

const isMissingKey = (e: unknown) => nameOf(e) === 'NoSuchKey' || (statusOf(e) === 404 && nameOf(e) === 'NotFound');
const isPreconditionFailed = (e: unknown) => statusOf(e) === 412 || nameOf(e) === 'PreconditionFailed';

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly target: S3Target;
  private readonly base: string;
  private readonly variantAcl: 'public-read' | undefined;

  constructor(opts: S3BlobStoreOptions) {
    this.client = opts.client;
    this.target = opts.target;
    this.base = opts.publicBaseUrl?.replace(/\/+$/, '') ?? `s3://${opts.target.bucket}`;
    this.variantAcl = opts.variantAcl;
  }

  keyOf(sha256: string, fileName: string): string {
    return this.target.prefix + blobKey(sha256, fileName);
  }

  uriOf(sha256: string, fileName: string): string {
    return `${this.base}/${this.keyOf(sha256, fileName)}`;
  }

  /** One real request (HEAD bucket) at startup, so a wrong bucket or credentials stop the worker before it consumes. */
  async probe(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.target.bucket }));
    } catch (e) {
      // HEAD answers a missing bucket with a bare 404: name it, so the message says what to fix.
      const named =
        statusOf(e) === 404
          ? Object.assign(new Error('the bucket does not exist'), {
              name: 'NoSuchBucket',
              $metadata: { httpStatusCode: 404 },
            })
          : e;
      throw this.failure('checking', '', named, 'refused');
    }
  }

  async get(sha256: string): Promise<StoredImage | null> {
    const text = await this.readText(this.keyOf(sha256, MANIFEST));
    return text === null ? null : readManifest(text, sha256, (s, f) => this.uriOf(s, f));
  }

  /**
   * Copies the manifest onto itself (metadata replaced, as S3 requires of a copy in place), which sets its
   * LastModified, the age the inventory reads. A put would recreate a manifest gc just deleted, over variants
   * already gone; a copy of a missing key fails instead (NoSuchKey), and the image is stored anew.
   */
  async touch(sha256: string): Promise<boolean> {
    const key = this.keyOf(sha256, MANIFEST);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.target.bucket,
          Key: key,
          CopySource: `${this.target.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE',
          ContentType: contentTypeOf(MANIFEST),
          CacheControl: 'no-cache',
        }),
      );
      return true;
    } catch (e) {
      if (isMissingKey(e)) return false;
      throw this.failure('touching', key, e);
    }
  }

  mediaEntryKeyOf(id: string): string {
    return this.target.prefix + mediaEntryKey(id);
  }

  async getMediaEntry(id: string): Promise<MediaEntry | null> {
    const text = await this.readText(this.mediaEntryKeyOf(id));
    return text === null ? null : readMediaEntry(text, id);
  }

  /** Private like the manifest (no ACL): the entry names a source's media keys, nothing a browser needs. */
  async putMediaEntry(entry: MediaEntry): Promise<void> {
    const key = this.mediaEntryKeyOf(entry.id);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.target.bucket,
          Key: key,
          Body: mediaEntryText(entry),
          ContentType: contentTypeOf(key),
          CacheControl: 'no-cache',
        }),
      );
    } catch (e) {
      throw this.failure('storing', key, e);
    }
  }

  /** The object's text, or null when there is no such key. */
  private async readText(key: string): Promise<string | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (e) {
      if (isMissingKey(e)) return null;
      throw this.failure('reading', key, e);
    }
  }

  async putVariant(sha256: string, fileName: string, bytes: Buffer): Promise<string> {
    const input: PutObjectCommandInput = {
      Bucket: this.target.bucket,
      Key: this.keyOf(sha256, fileName),
      Body: bytes,
      ContentType: contentTypeOf(fileName),
      CacheControl: VARIANT_CACHE_CONTROL,
      ...(this.variantAcl ? { ACL: this.variantAcl } : {}),
    };
    try {
      await this.client.send(new PutObjectCommand({ ...input, IfNoneMatch: '*' }));
    } catch (e) {
      if (!isPreconditionFailed(e)) throw this.failure('storing', input.Key!, e);
      await this.replaceIfDifferent(input, bytes);
    }
    return this.uriOf(sha256, fileName);
  }

  async putManifest(image: StoredImage): Promise<void> {
    const key = this.keyOf(image.sha256, MANIFEST);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.target.bucket,
          Key: key,
          Body: JSON.stringify(image),
          ContentType: contentTypeOf(MANIFEST),
          // Replaced when the variant settings change; never cached as immutable.
          CacheControl: 'no-cache',
        }),
      );
    } catch (e) {
      throw this.failure('storing', key, e);
    }
  }

  /**
   * The key exists. Same bytes (ETag = MD5 of a single-part upload): already stored, nothing to do. Otherwise (other
   * variant settings, or an ETag that is not an MD5, as with SSE-KMS) it is put again, unconditionally.
   */
  private async replaceIfDifferent(input: PutObjectCommandInput, bytes: Buffer): Promise<void> {
    const md5 = `"${createHash('md5').update(bytes).digest('hex')}"`;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: input.Bucket, Key: input.Key }));
      if (head.ETag === md5) return;
      await this.client.send(new PutObjectCommand(input));
    } catch (e) {
      throw this.failure('storing', input.Key!, e);
    }
  }

  private failure(
    action: 'reading' | 'storing' | 'checking' | 'touching',
    key: string,
    e: unknown,
    missingIs?: 'refused',
  ): Error {
    const status = statusOf(e);
    const what = `${nameOf(e)}${status ? ` (HTTP ${status})` : ''}: ${(e as SdkErrorShape | null)?.message ?? String(e)}`;
    const where = `s3://${this.target.bucket}/${key}`;
    if (classifyS3Error(e, missingIs) === 'refused') {
      return new PermanentError(
        'BLOBSTORE_ACCESS_DENIED',
        `blob store: ${action} ${where} at ${this.target.endpoint} was refused: ${what}. Fix: check that bucket ${this.target.bucket} exists in region ${this.target.region} (LISTFLOW_IMAGES_S3_REGION), that LISTFLOW_IMAGES_S3_ENDPOINT is its endpoint, and that the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) may get and put objects in it; then redrive the dead letters.`,
        { cause: e, detail: { bucket: this.target.bucket, endpoint: this.target.endpoint } },
      );
    }
    return new RetriableError(
      'BLOBSTORE_UNAVAILABLE',
      `blob store: ${action} ${where} at ${this.target.endpoint} failed: ${what}`,
      {
        cause: e,
      },
    );
  }
}

/** The S3 client of a worker: created once, with timeouts so a hung endpoint is a retriable error, not a stuck job. */
export function createS3Client(config: ImagesConfig): S3Client {
  return new S3Client({
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
    // The SDK's own retries (3 attempts, backoff) ride out a blip; the runtime retries the listing after that.
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: config.s3TimeoutMs,
      requestTimeout: config.s3TimeoutMs,
      throwOnRequestTimeout: true,
      // One socket per photo in flight is plenty; keep-alive saves a handshake per object.
      httpAgent: { keepAlive: true, maxSockets: Math.max(16, config.concurrency * 4) },
      httpsAgent: { keepAlive: true, maxSockets: Math.max(16, config.concurrency * 4) },
    },
  });
}
