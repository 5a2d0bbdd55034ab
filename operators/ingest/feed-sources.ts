/**
 * Opening a feed as a stream of bytes: `file://` confined to a root directory, `http(s)://` through the
 * runtime's guarded client (runtime/http: address policy, redirects, timeouts, byte limit), gzip detected
 * from its magic bytes and undone, and archives (zip, tar, 7z, bzip2, xz, zstd) refused by their magic bytes.
 *
 * Failures are typed so that the runtime retries what can heal (network, timeouts, 5xx, 429) and
 * dead-letters what cannot (missing file, 404, permission denied, a path outside the root, a blocked URL).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import {
  type ErrorCode,
  invalidParameterMessage,
  ListflowError,
  PermanentError,
  RetriableError,
} from '../../runtime/errors';
import { type GuardedClient, type GuardedResponse, OutboundFailure } from '../../runtime/http/guarded-client';

/** The part of the guarded client ingest uses; tests may pass a stub (without `close`). */
export type FeedHttp = Pick<GuardedClient, 'get'> & Partial<Pick<GuardedClient, 'close'>>;

/** The file system as ingest sees it; tests may use the real one (`nodeFiles`) on a temporary directory. */
export interface FileSystem {
  realpath(path: string): Promise<string>;
  stat(path: string): Promise<{ size: number; isFile(): boolean }>;
  open(path: string): AsyncIterable<Buffer>;
}

export const nodeFiles: FileSystem = {
  realpath: (p) => realpath(p),
  stat: (p) => stat(p),
  open: (p) => createReadStream(p, { highWaterMark: 256 * 1024 }),
};

export interface IngestServices {
  readonly http: FeedHttp;
  readonly files: FileSystem;
}

/** Services for reading local feeds only (sample sets, benches): any http(s) URL fails as a bug would. */
export const filesOnlyServices: IngestServices = {
  http: { get: () => Promise.reject(new TypeError('these ingest services read file:// feeds only')) },
  files: nodeFiles,
};

export interface OpenLimits {
  /** Absolute directory that file:// URIs must stay inside (after resolving `..` and symlinks). */
  readonly fileRoot: string;
  readonly httpTimeoutMs: number;
  /** Largest feed, in bytes, counted both as transferred and after gunzip (a gzip bomb stops here too). */
  readonly maxFeedBytes: number;
  readonly signal: AbortSignal;
}

export interface OpenedFeed {
  /** Decompressed bytes. */
  readonly bytes: AsyncIterable<Buffer>;
  /** The URL's path without a `.gz` suffix, for sniffing the format from the name. */
  readonly name: string;
  readonly contentType: string | undefined;
  readonly gzipped: boolean;
}

export function parseFeedUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new PermanentError(
      'INGEST_URI_INVALID',
      invalidParameterMessage('uri', 'a file://, http:// or https:// URI', uri),
    );
  }
  if (!['file:', 'http:', 'https:'].includes(url.protocol)) {
    throw new PermanentError(
      'INGEST_URI_INVALID',
      invalidParameterMessage('uri', 'a file://, http:// or https:// URI', uri),
    );
  }
  return url;
}

/**
 * Opens `url` (already parsed by parseFeedUri) and returns its decompressed bytes. `sameOriginAs`: an
 * http(s) URL on another origin is refused unless allow-listed (OData pages after the first).
 */
export async function openFeed(
  url: URL,
  services: IngestServices,
  limits: OpenLimits,
  sameOriginAs?: URL,
): Promise<OpenedFeed> {
  const raw =
    url.protocol === 'file:'
      ? await openFile(url, services.files, limits)
      : await openHttp(url, services.http, limits, sameOriginAs);
  const limited = limitBytes(raw.bytes, limits.maxFeedBytes, url.href);
  const { gzipped, bytes } = await gunzipIfNeeded(limited, limits.maxFeedBytes, url.href);
  return { bytes, gzipped, name: url.pathname.replace(/\.gz$/i, ''), contentType: raw.contentType };
}

/** Resolves a file:// URL inside the root, refusing `..` escapes and symlinks that lead outside. */
export async function confinedPath(url: URL, files: FileSystem, fileRoot: string): Promise<string> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new PermanentError(
      'INGEST_URI_INVALID',
      `The file URI ${url.href} is not a local path: ${(e as Error).message}`,
    );
  }
  const root = resolve(fileRoot);
  const lexical = resolve(path);
  if (!inside(root, lexical)) {
    throw new PermanentError(
      'INGEST_FEED_FORBIDDEN',
      `The feed path ${lexical} is outside the ingest root ${root}. Fix: put the feed under ${root} or change the ingest fileRoot.`,
    );
  }
  let real: string;
  let realRoot: string;
  try {
    realRoot = await files.realpath(root);
    real = await files.realpath(lexical);
  } catch (e) {
    throw fsError(e, lexical);
  }
  if (!inside(realRoot, real)) {
    throw new PermanentError(
      'INGEST_FEED_FORBIDDEN',
      `The feed path ${lexical} resolves through a symlink to ${real}, outside the ingest root ${realRoot}.`,
    );
  }
  return real;
}

const inside = (root: string, p: string): boolean => {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

async function openFile(url: URL, files: FileSystem, limits: OpenLimits) {
  const path = await confinedPath(url, files, limits.fileRoot);
  let size: number;
  try {
    const st = await files.stat(path);
    if (!st.isFile()) throw new PermanentError('INGEST_FEED_NOT_FOUND', `The feed path ${path} is not a regular file.`);
    size = st.size;
  } catch (e) {
    throw fsError(e, path);
  }
  if (size > limits.maxFeedBytes) {
    throw new PermanentError(
      'INGEST_FEED_TOO_LARGE',
      `The feed ${path} has ${size} bytes, more than the limit of ${limits.maxFeedBytes}. Fix: split the feed or raise maxFeedBytes.`,
    );
  }
  const stream = files.open(path);
  return { bytes: mapFsErrors(stream, path), contentType: undefined };
}

async function* mapFsErrors(stream: AsyncIterable<Buffer>, path: string): AsyncGenerator<Buffer> {
  try {
    yield* stream;
  } catch (e) {
    throw fsError(e, path);
  }
}

function fsError(e: unknown, path: string): Error {
  if (e instanceof PermanentError || e instanceof RetriableError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new PermanentError('INGEST_FEED_NOT_FOUND', `The feed file ${path} does not exist.`, { cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new PermanentError('INGEST_FEED_FORBIDDEN', `The feed file ${path} may not be read (permission denied).`, {
      cause: e,
    });
  }
  if (code === 'EISDIR') {
    return new PermanentError('INGEST_FEED_NOT_FOUND', `The feed path ${path} is a directory, not a file.`, {
      cause: e,
    });
  }
  return new RetriableError(
    'INGEST_FEED_UNREACHABLE',
    `The feed file ${path} could not be read: ${(e as Error).message}`,
    {
      cause: e,
    },
  );
}

const statusCode = (status: number): ErrorCode => {
  if (status === 404 || status === 410) return 'INGEST_FEED_NOT_FOUND';
  if (status === 401 || status === 403) return 'INGEST_FEED_FORBIDDEN';
  if (status === 408 || status === 429 || status >= 500) return 'INGEST_FEED_UNREACHABLE';
  return 'INGEST_FEED_REFUSED';
};

async function openHttp(url: URL, client: FeedHttp, limits: OpenLimits, sameOriginAs: URL | undefined) {
  let res: GuardedResponse;
  try {
    res = await client.get(url, {
      signal: limits.signal,
      headers: { accept: 'application/json, text/csv, */*' },
      maxBytes: limits.maxFeedBytes,
      // The timeout covers the whole transfer, not just the headers: a feed that trickles is as stuck as one that hangs.
      totalTimeoutMs: limits.httpTimeoutMs,
      ...(sameOriginAs ? { sameOriginAs } : {}),
    });
  } catch (e) {
    throw httpError(e, url, limits);
  }
  if (res.status < 200 || res.status >= 300) {
    await res.discard();
    const code = statusCode(res.status);
    const message = `The feed ${res.url.href} answered HTTP ${res.status}.`;
    throw code === 'INGEST_FEED_UNREACHABLE' ? new RetriableError(code, message) : new PermanentError(code, message);
  }
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      yield* res.body;
    } catch (e) {
      throw httpError(e, res.url, limits);
    }
  }
  return { bytes: bytes(), contentType: res.header('content-type') };
}

/** The guarded client's failures as ingest codes; a refusal (INGEST_BLOCKED_URL) and the job's abort pass as they are. */
function httpError(e: unknown, url: URL, limits: OpenLimits): unknown {
  if (limits.signal.aborted || e instanceof ListflowError) return e;
  if (e instanceof OutboundFailure) {
    const message = `The feed ${e.url} ${e.message}.`;
    if (e.reason === 'too-large') {
      return new PermanentError('INGEST_FEED_TOO_LARGE', `${message} Fix: split the feed or raise maxFeedBytes.`, {
        cause: e,
      });
    }
    if (e.reason === 'too-many-redirects') {
      return new PermanentError('INGEST_FEED_REFUSED', `${message} Fix: point the job at the final URL.`, { cause: e });
    }
    return new RetriableError('INGEST_FEED_UNREACHABLE', message, { cause: e });
  }
  return new RetriableError('INGEST_FEED_UNREACHABLE', `The feed ${url.href} could not be fetched: ${describe(e)}`, {
    cause: e,
  });
}

const describe = (e: unknown): string => (e as Error)?.message ?? String(e);

async function* limitBytes(source: AsyncIterable<Buffer>, max: number, what: string): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > max) {
      throw new PermanentError('INGEST_FEED_TOO_LARGE', `The feed ${what} is larger than the limit of ${max} bytes.`);
    }
    yield chunk;
  }
}

/** Bytes enough to tell gzip and the archive formats apart (a tar header's magic ends at offset 262). */
const SNIFF_BYTES = 512;

/** Reads at least `min` bytes (or all there are), and replays them in front of the rest. */
async function peekBytes(source: AsyncIterable<Buffer>, min: number) {
  const it = source[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let length = 0;
  while (length < min) {
    const r = await it.next();
    if (r.done) break;
    parts.push(r.value);
    length += r.value.length;
  }
  const head = Buffer.concat(parts, length);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { head, bytes: rest() };
}

const ARCHIVES: ReadonlyArray<[string, (b: Buffer) => boolean]> = [
  ['a zip archive', (b) => b.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))],
  ['a tar archive', (b) => b.subarray(257, 262).toString('latin1') === 'ustar'],
  ['a 7z archive', (b) => b.subarray(0, 6).equals(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))],
  ['a RAR archive', (b) => b.subarray(0, 4).toString('latin1') === 'Rar!'],
  ['bzip2 data', (b) => b.subarray(0, 3).toString('latin1') === 'BZh'],
  ['xz data', (b) => b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))],
  ['zstd data', (b) => b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))],
];

/** Refuses a feed whose first bytes are an archive or a compression other than gzip: it is not a feed. */
function refuseArchive(head: Buffer, what: string): void {
  const found = ARCHIVES.find(([, is]) => is(head))?.[0];
  if (found) {
    throw new PermanentError(
      'INGEST_FEED_FORMAT_INVALID',
      `The feed ${what} is ${found}, not a JSON, NDJSON or CSV feed (gzip is the only compression read). Fix: unpack it and point the job at the feed file.`,
    );
  }
}

/** Peeks at the first bytes: 1f 8b is gzip, whatever the name or content type says. */
async function gunzipIfNeeded(source: AsyncIterable<Buffer>, max: number, what: string) {
  const { head, bytes: raw } = await peekBytes(source, SNIFF_BYTES);
  if (head.length === 0) return { gzipped: false, bytes: raw };
  const gzipped = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzipped) {
    refuseArchive(head, what);
    return { gzipped, bytes: raw };
  }
  const gunzip = createGunzip();
  const fail: { error?: unknown } = {};
  pipeline(Readable.from(raw), gunzip, (e) => {
    if (e) fail.error = e;
  });
  const asGzipError = (e: unknown): unknown => {
    const cause = fail.error ?? e;
    if (cause instanceof ListflowError) return cause;
    if (e instanceof ListflowError) return e;
    return new PermanentError(
      'INGEST_FEED_FORMAT_INVALID',
      `The feed ${what} is not valid gzip: ${(cause as Error).message}`,
      { cause },
    );
  };
  // The limit counts gunzipped bytes: a gzip bomb stops at maxFeedBytes, one chunk at a time.
  const inflated = limitBytes(gunzip as AsyncIterable<Buffer>, max, `${what} (after gunzip)`);
  let peeked: Awaited<ReturnType<typeof peekBytes>>;
  try {
    peeked = await peekBytes(inflated, SNIFF_BYTES);
  } catch (e) {
    throw asGzipError(e);
  }
  refuseArchive(peeked.head, `${what} (after gunzip)`);
  async function* out(): AsyncGenerator<Buffer> {
    try {
      yield* peeked.bytes;
    } catch (e) {
      throw asGzipError(e);
    }
  }
  return { gzipped, bytes: out() };
}
