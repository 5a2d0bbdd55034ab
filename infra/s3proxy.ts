/**
 * S3Proxy 4.1 (org.gaul:s3proxy): a real S3 API on 127.0.0.1, backed by jclouds' filesystem store under
 * `<home>/s3proxy/data`, for the images operator's S3 blob store. Jars come from Maven Central through
 * infra/s3proxy/pom.xml (cached under <home>/cache and ~/.m2); 4.x runs on the Java 17 these machines have.
 * Ready means a signed S3 request (ListBuckets) answers; the bucket is created once it does.
 *
 * Its one identity (LOCAL_S3_IDENTITY in layout.ts) guards nothing but a folder on this machine; `infra status
 * --json` exports it as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for local runs and tests.
 * S3Proxy grants anonymous reads by object ACL only, so the local platform has the variants put public-read,
 * and their uris (LISTFLOW_IMAGES_PUBLIC_BASE_URL, the path-style bucket URL) open in a browser.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { infraSourceDir, LOCAL_S3_BUCKET, LOCAL_S3_IDENTITY, type PlatformLayout, s3proxyEndpoint } from './layout';
import { ensureMavenJars, type ProcessRecord, spawnDetached, waitForService } from './processes';

/** Loaded on first use: the SDK takes ~0.2 s to load, and every CLI call reaches this module through `infra`. */
const sdk = (): typeof S3Sdk => require('@aws-sdk/client-s3') as typeof S3Sdk;

export const S3PROXY_VERSION = '4.1.0';
function paths(l: PlatformLayout) {
  const dir = join(l.home, 's3proxy');
  return {
    libs: join(l.cache, `s3proxy-${S3PROXY_VERSION}`, 'libs'),
    dir,
    data: join(dir, 'data'),
    properties: join(dir, 's3proxy.properties'),
    logback: join(dir, 'logback.xml'),
    log: join(l.logs, 's3proxy.log'),
  };
}

/** Fetches S3Proxy's jars once; later runs reuse the cache. */
export function ensureS3ProxyJars(l: PlatformLayout, say: (msg: string) => void): Promise<string> {
  return ensureMavenJars({
    what: `S3Proxy ${S3PROXY_VERSION}`,
    pom: join(infraSourceDir, 's3proxy', 'pom.xml'),
    libs: paths(l).libs,
    say,
  });
}

function properties(l: PlatformLayout, data: string): string {
  return [
    `s3proxy.endpoint=${s3proxyEndpoint(l)}`,
    // Signed requests only (as S3 itself), so a wrong key is refused here as it would be in production.
    's3proxy.authorization=aws-v2-or-v4',
    `s3proxy.identity=${LOCAL_S3_IDENTITY.accessKeyId}`,
    `s3proxy.credential=${LOCAL_S3_IDENTITY.secretAccessKey}`,
    'jclouds.provider=filesystem',
    `jclouds.filesystem.basedir=${data}`,
    '',
  ].join('\n');
}

// Without a configuration, logback logs every Jetty event at DEBUG.
const LOGBACK = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>[%d] %-5level %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
  <logger name="org.gaul.s3proxy" level="INFO"/>
</configuration>
`;

export async function startS3Proxy(l: PlatformLayout, say: (msg: string) => void): Promise<ProcessRecord> {
  const p = paths(l);
  const libs = await ensureS3ProxyJars(l, say);
  mkdirSync(p.data, { recursive: true });
  mkdirSync(l.logs, { recursive: true });
  writeFileSync(p.properties, properties(l, p.data));
  writeFileSync(p.logback, LOGBACK);
  return spawnDetached(l.run, {
    name: 's3proxy',
    command: 'java',
    args: [
      '-Xms64m',
      '-Xmx256m',
      '-Djava.awt.headless=true',
      `-Dlogback.configurationFile=${p.logback}`,
      '-cp',
      `${libs}/*`,
      'org.gaul.s3proxy.Main',
      '--properties',
      p.properties,
    ],
    cwd: p.dir,
    log: p.log,
    marker: p.properties,
  });
}

function localClient(l: PlatformLayout): S3Sdk.S3Client {
  return new (sdk().S3Client)({
    endpoint: s3proxyEndpoint(l),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_IDENTITY,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true },
  });
}

/** A real, signed S3 request: ListBuckets answers. */
export async function s3proxyAnswers(l: PlatformLayout): Promise<boolean> {
  const client = localClient(l);
  try {
    await client.send(new (sdk().ListBucketsCommand)({}));
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

/** Creates the bucket the local platform's env names; one that already exists is kept as it is. */
export async function ensureLocalBucket(l: PlatformLayout): Promise<void> {
  const client = localClient(l);
  try {
    await client.send(new (sdk().CreateBucketCommand)({ Bucket: LOCAL_S3_BUCKET }));
  } catch (e) {
    if ((e as { name?: string }).name !== 'BucketAlreadyOwnedByYou') {
      throw new Error(`Creating the S3Proxy bucket ${LOCAL_S3_BUCKET} failed: ${(e as Error).message}`, { cause: e });
    }
  } finally {
    client.destroy();
  }
}

/**
 * Deletes every object of the local bucket under `prefix` (what a benchmark or test run wrote), so runs do not pile
 * up under .listflow/s3proxy. Returns how many were deleted.
 */
export async function removeLocalObjects(l: PlatformLayout, prefix: string): Promise<number> {
  if (!prefix.endsWith('/')) throw new TypeError(`prefix must end with / (got ${JSON.stringify(prefix)})`);
  const client = localClient(l);
  let removed = 0;
  try {
    for (;;) {
      const page = await client.send(
        new (sdk().ListObjectsV2Command)({ Bucket: LOCAL_S3_BUCKET, Prefix: prefix, MaxKeys: 1000 }),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length === 0) return removed;
      await client.send(
        new (sdk().DeleteObjectsCommand)({ Bucket: LOCAL_S3_BUCKET, Delete: { Objects: keys, Quiet: true } }),
      );
      removed += keys.length;
    }
  } finally {
    client.destroy();
  }
}

export function waitForS3Proxy(l: PlatformLayout, record: ProcessRecord | undefined): Promise<number> {
  return waitForService(`S3Proxy on 127.0.0.1:${l.s3proxyPort}`, () => s3proxyAnswers(l), {
    timeoutMs: 120_000,
    record,
    log: paths(l).log,
  });
}
