/**
 * images operator configuration (environment: LISTFLOW_IMAGES_*).
 */
import { availableParallelism } from 'node:os';
import { type ConfigOf, defineConfig, field } from '../../runtime/config';
import { allowHostsField } from '../../runtime/http/allow-list';

export const VARIANT_FORMATS = ['webp', 'avif', 'jpeg'] as const;
export type VariantFormat = (typeof VARIANT_FORMATS)[number];

export interface VariantSpec {
  readonly name: string;
  readonly width: number;
}

const VARIANT_PATTERN = /^[a-z][a-z0-9-]{0,31}:[1-9]\d{1,4}$/;

/** `file`, or `s3://bucket` with an optional key prefix (see parseBlobStore in blob-store/index.ts). */
const BLOB_STORE_PATTERN = /^(file|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9!_.*'()/-]*)?)$/;

export const S3_OBJECT_ACLS = ['none', 'public-read'] as const;

/** `thumb:320,card:800,full:1600` -> specs, widest last. Parsing is validated by the config rule below. */
export function parseVariants(items: readonly string[]): VariantSpec[] {
  return items
    .map((s) => {
      const [name, width] = s.split(':');
      return { name: name!, width: Number(width) };
    })
    .sort((a, b) => a.width - b.width);
}

export const imagesConfig = defineConfig(
  {
    variants: field.list({
      description: 'Variants to derive, as name:width (pixels wide, never enlarged).',
      default: ['thumb:320', 'card:800', 'full:1600'],
      example: 'thumb:320,card:800,full:1600',
    }),
    format: field.enum(VARIANT_FORMATS, { description: 'Output format of every variant.', default: 'webp' }),
    quality: field.int({ description: 'Encoder quality (1-100).', min: 1, max: 100, default: 80 }),
    effort: field.int({
      description: 'Encoder effort (WebP 0-6, AVIF 0-9); lower is faster, higher is smaller.',
      min: 0,
      max: 9,
      default: 2,
    }),
    maxBytes: field.int({
      description: 'Largest photo accepted, in bytes.',
      min: 1024,
      default: 40 * 1024 * 1024,
    }),
    maxPixels: field.int({
      description: 'Largest photo accepted, in pixels (width x height); guards against decompression bombs.',
      min: 1,
      default: 100_000_000,
    }),
    connectTimeoutMs: field.int({ description: 'TCP/TLS connect timeout per fetch.', min: 1, default: 5_000 }),
    readTimeoutMs: field.int({ description: 'Idle read timeout per fetch.', min: 1, default: 15_000 }),
    maxRedirects: field.int({ description: 'Redirects followed per fetch.', min: 0, max: 20, default: 3 }),
    fetchAttempts: field.int({
      description: 'Attempts per photo on network errors and HTTP 5xx/429 before the photo is FAILED.',
      min: 1,
      max: 10,
      default: 2,
    }),
    allowHosts: allowHostsField({
      description:
        'host[:port] entries photos may be fetched from although they resolve to non-public addresses (loopback, private, link-local); everything else that is not public unicast is refused.',
      example: 'photos.internal,127.0.0.1:18090',
    }),
    fileRoot: field.optional(
      field.string({ description: 'Directory that file:// photo URLs must stay inside; unset refuses file://.' }),
    ),
    blobStore: field.string({
      description:
        'Where variants are stored: file (the filesystem store at blobRoot) or s3://bucket/prefix (an S3-compatible object store; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the SDK chain).',
      default: 'file',
      example: 's3://listflow-photos/variants',
      pattern: BLOB_STORE_PATTERN,
      patternText: 'file or s3://<bucket>[/<prefix>] (bucket: 3-63 lower-case letters, digits, dots, hyphens)',
    }),
    blobRoot: field.string({
      description: 'Root directory of the filesystem blob store (content-addressed variants), when blobStore is file.',
      default: '.listflow/blobs',
    }),
    publicBaseUrl: field.optional(
      field.url({
        description:
          'Base URL under which the store is served (the bucket, or a CDN in front of it); a variant uri is <publicBaseUrl>/<key>. Unset: file:// uris (filesystem) or s3://bucket/key (S3).',
        protocols: ['http:', 'https:'],
      }),
    ),
    s3Endpoint: field.optional(
      field.url({
        description:
          "S3 endpoint URL (S3Proxy, MinIO, another provider). Unset: the SDK's AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS S3 of s3Region.",
        protocols: ['http:', 'https:'],
      }),
    ),
    s3Region: field.string({
      description: 'S3 region the bucket is in (the one name for it: AWS_REGION is not read).',
      default: 'us-east-1',
      pattern: /^[a-z0-9-]{2,32}$/,
      patternText: 'region name such as us-east-1',
    }),
    s3ForcePathStyle: field.boolean({
      description:
        'Path-style requests (<endpoint>/<bucket>/<key>) instead of virtual hosts; S3Proxy and MinIO need it.',
      default: false,
    }),
    s3ObjectAcl: field.enum(S3_OBJECT_ACLS, {
      description:
        'Canned ACL put on each variant: none (AWS default, ACLs disabled; serve through a bucket policy or CDN) or public-read (S3Proxy, stores that grant reads by ACL).',
      default: 'none',
    }),
    s3TimeoutMs: field.int({
      description: 'Connect and request timeout of each S3 call; a call past it is retried (BLOBSTORE_UNAVAILABLE).',
      min: 100,
      default: 10_000,
    }),
    concurrency: field.int({
      description: 'Photos decoded at once per worker (shared by all jobs of the worker).',
      min: 1,
      max: 256,
      default: availableParallelism(),
    }),
    vipsThreads: field.int({
      description:
        'libvips threads per image (sharp.concurrency). 1 with concurrency = cores keeps every core busy without oversubscription.',
      min: 1,
      max: 64,
      default: 1,
    }),
  },
  [
    (c) => {
      const bad = c.variants.filter((v) => !VARIANT_PATTERN.test(v));
      if (bad.length > 0)
        return `Expected name:width items (e.g. card:800) for LISTFLOW_IMAGES_VARIANTS but received ${JSON.stringify(bad.join(','))}. Fix: set LISTFLOW_IMAGES_VARIANTS=thumb:320,card:800,full:1600.`;
      const names = c.variants.map((v) => v.split(':')[0]);
      if (new Set(names).size !== names.length)
        return `Variant names must be unique in LISTFLOW_IMAGES_VARIANTS but received ${JSON.stringify(c.variants.join(','))}.`;
      return undefined;
    },
  ],
);

export type ImagesConfig = ConfigOf<typeof imagesConfig.fields>;
