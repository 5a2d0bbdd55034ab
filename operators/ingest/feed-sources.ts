/**
 * Opening a feed as a stream of bytes: `file://` confined to a root directory, `http(s)://` through the
 * fetch service with a timeout and a size limit, and gzip detected from its magic bytes and undone.
 *
 * Failures are typed so that the runtime retries what can heal (network, 5xx, 429) and dead-letters
 * what cannot (missing file, 404, permission denied, a path outside the root).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { type ErrorCode, invalidParameterMessage, PermanentError, RetriableError } from '../../runtime/errors';

/** The subset of WHATWG fetch that ingest uses; tests pass a stub that returns `new Response(...)`. */
export type FetchLike = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string> },
) => Promise<Response>;

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
  readonly fetch: FetchLike;
  readonly files: FileSystem;
}

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

/** Opens `url` (already parsed by parseFeedUri) and returns its decompressed bytes. */
export async function openFeed(url: URL, services: IngestServices, limits: OpenLimits): Promise<OpenedFeed> {
  const raw =
    url.protocol === 'file:'
      ? await openFile(url, services.files, limits)
      : await openHttp(url, services.fetch, limits);
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

async function openHttp(url: URL, fetchFn: FetchLike, limits: OpenLimits) {
  // The timeout covers the whole transfer, not just the headers: a feed that trickles is as stuck as one that hangs.
  const signal = AbortSignal.any([limits.signal, AbortSignal.timeout(limits.httpTimeoutMs)]);
  let res: Response;
  try {
    res = await fetchFn(url.href, { signal, headers: { accept: 'application/json, text/csv, */*' } });
  } catch (e) {
    if (limits.signal.aborted) throw e; // the job's own deadline: let the runtime classify it
    throw new RetriableError('INGEST_FEED_UNREACHABLE', `The feed ${url.href} could not be fetched: ${describe(e)}`, {
      cause: e,
    });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    const code = statusCode(res.status);
    const message = `The feed ${url.href} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
    throw code === 'INGEST_FEED_UNREACHABLE' ? new RetriableError(code, message) : new PermanentError(code, message);
  }
  const length = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(length) && length > limits.maxFeedBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new PermanentError(
      'INGEST_FEED_TOO_LARGE',
      `The feed ${url.href} announces ${length} bytes, more than the limit of ${limits.maxFeedBytes}.`,
    );
  }
  const body = res.body;
  async function* bytes(): AsyncGenerator<Buffer> {
    if (!body) return;
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(chunk);
    } catch (e) {
      if (limits.signal.aborted) throw e;
      throw new RetriableError('INGEST_FEED_UNREACHABLE', `Reading the feed ${url.href} failed: ${describe(e)}`, {
        cause: e,
      });
    }
  }
  return { bytes: bytes(), contentType: res.headers.get('content-type') ?? undefined };
}

const describe = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string } };
  return err?.name === 'TimeoutError'
    ? 'timed out'
    : `${err?.message ?? String(e)}${err?.cause?.code ? ` (${err.cause.code})` : ''}`;
};

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

/** Peeks at the first bytes: 1f 8b is gzip, whatever the name or content type says. */
async function gunzipIfNeeded(source: AsyncIterable<Buffer>, max: number, what: string) {
  const it = source[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  if (first.done) return { gzipped: false, bytes: (async function* () {})() };
  const head = first.value;
  async function* rest(): AsyncGenerator<Buffer> {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  // A gzip header whose first chunk is a single byte is not worth handling: the first read is always larger.
  const gzipped = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzipped) return { gzipped, bytes: rest() };
  const gunzip = createGunzip();
  const fail: { error?: unknown } = {};
  pipeline(Readable.from(rest()), gunzip, (e) => {
    if (e) fail.error = e;
  });
  async function* out(): AsyncGenerator<Buffer> {
    try {
      yield* limitBytes(gunzip as AsyncIterable<Buffer>, max, `${what} (after gunzip)`);
    } catch (e) {
      const cause = fail.error ?? e;
      if (cause instanceof PermanentError || cause instanceof RetriableError) throw cause;
      if (e instanceof PermanentError) throw e;
      throw new PermanentError(
        'INGEST_FEED_FORMAT_INVALID',
        `The feed ${what} is not valid gzip: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
  }
  return { gzipped, bytes: out() };
}
