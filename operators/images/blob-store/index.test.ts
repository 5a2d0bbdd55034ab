import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromEnv, parseConfig } from '../../../runtime/config';
import type { Logger } from '../../../runtime/operator';
import { imagesConfig } from '../config';
import { FsBlobStore, openBlobStore, parseBlobStore } from './index';
import { S3BlobStore } from './s3';

const PREFIX = 'LISTFLOW_IMAGES_';
const warnings: string[] = [];
const silentLogger: Logger = {
  debug() {},
  info() {},
  warn(_o, msg) {
    warnings.push(msg ?? '');
  },
  error() {},
  child: () => silentLogger,
};
const configFrom = (env: Record<string, string>) =>
  parseConfig(imagesConfig, fromEnv(imagesConfig, env, PREFIX), { where: 'images config', envPrefix: PREFIX });

describe('parseBlobStore', () => {
  test.each([
    ['file', { kind: 'file' }],
    ['s3://listflow', { kind: 's3', bucket: 'listflow', prefix: '' }],
    ['s3://listflow/', { kind: 's3', bucket: 'listflow', prefix: '' }],
    ['s3://listflow/variants', { kind: 's3', bucket: 'listflow', prefix: 'variants/' }],
    ['s3://my.bucket-1/a/b/', { kind: 's3', bucket: 'my.bucket-1', prefix: 'a/b/' }],
  ])('%s', (value, location) => {
    expect(parseBlobStore(value)).toEqual(location);
  });
});

describe('blob store settings', () => {
  test('defaults: the filesystem store; S3 in us-east-1, virtual hosts, no ACL', () => {
    const c = configFrom({});
    expect([c.blobStore, c.s3Region, c.s3ForcePathStyle, c.s3ObjectAcl, c.s3Endpoint]).toEqual([
      'file',
      'us-east-1',
      false,
      'none',
      undefined,
    ]);
  });

  test('reads the S3 settings under their one name each', () => {
    const c = configFrom({
      LISTFLOW_IMAGES_BLOB_STORE: 's3://listflow/variants',
      LISTFLOW_IMAGES_S3_ENDPOINT: 'http://127.0.0.1:18333',
      LISTFLOW_IMAGES_S3_REGION: 'eu-west-1',
      LISTFLOW_IMAGES_S3_FORCE_PATH_STYLE: 'true',
      LISTFLOW_IMAGES_S3_OBJECT_ACL: 'public-read',
    });
    expect([c.blobStore, c.s3Endpoint, c.s3Region, c.s3ForcePathStyle, c.s3ObjectAcl]).toEqual([
      's3://listflow/variants',
      'http://127.0.0.1:18333',
      'eu-west-1',
      true,
      'public-read',
    ]);
  });

  test.each([
    ['a bare bucket name', 'listflow'],
    ['another scheme', 'gs://listflow'],
    ['an upper-case bucket', 's3://Listflow'],
    ['a one-letter bucket', 's3://a'],
  ])('refuses %s, naming the variable and the fix', (_n, value) => {
    expect(() => configFrom({ LISTFLOW_IMAGES_BLOB_STORE: value })).toThrow(
      `Expected file or s3://<bucket>[/<prefix>] (bucket: 3-63 lower-case letters, digits, dots, hyphens) for LISTFLOW_IMAGES_BLOB_STORE but received ${JSON.stringify(value)}`,
    );
  });
});

describe('openBlobStore', () => {
  test('file: the filesystem store under blobRoot', async () => {
    const root = mkdtempSync(join(tmpdir(), 'listflow-open-'));
    const opened = await openBlobStore(configFrom({ LISTFLOW_IMAGES_BLOB_ROOT: root }), silentLogger);
    expect(opened.store).toBeInstanceOf(FsBlobStore);
    expect(opened.description).toEqual({ blobStore: 'file', blobRoot: root });
  });

  test('s3 with an endpoint that does not answer: opens with a warning (listings retry), and names the endpoint', async () => {
    // The SDK's default credential chain reads the process environment.
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'id';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    const opened = await openBlobStore(
      configFrom({
        LISTFLOW_IMAGES_BLOB_STORE: 's3://listflow',
        LISTFLOW_IMAGES_S3_ENDPOINT: 'http://127.0.0.1:1',
        LISTFLOW_IMAGES_S3_FORCE_PATH_STYLE: 'true',
        LISTFLOW_IMAGES_S3_TIMEOUT_MS: '500',
      }),
      silentLogger,
    ).finally(() => {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    });
    try {
      expect(opened.store).toBeInstanceOf(S3BlobStore);
      expect(opened.description.endpoint).toBe('http://127.0.0.1:1');
      expect(warnings.at(-1)).toContain('did not answer at startup');
    } finally {
      opened.close();
    }
  });
});
