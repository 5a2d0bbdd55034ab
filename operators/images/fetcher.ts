/**
 * Fetches listing photos: http(s):// through the runtime's guarded client, and file:// confined to a root.
 *
 * - SSRF: the guarded client (runtime/http) reaches public unicast addresses only, checked inside the
 *   connection's DNS lookup (so DNS rebinding cannot slip past) and for IP literals, on every redirect hop;
 *   a host[:port] on `allowHosts` (LISTFLOW_IMAGES_ALLOW_HOSTS) is exempt. An https to http redirect is refused.
 * - Bounded: connect timeout, idle read timeout, a byte limit (Content-Length first, then while streaming)
 *   and a redirect limit. Connections are kept alive and pooled per origin.
 * - The content type is sniffed from the bytes (`sniffImageFormat`); the Content-Type header is ignored.
 *
 * Every failure is a PermanentError with an IMAGE_* code: it fails one photo, never its listing. Transient
 * failures (network errors, 5xx, 429, timeouts) are retried here a few times first, because the listing-level
 * retry of the runtime would re-fetch every photo of the listing. The job's abort signal is never swallowed.
 */
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, ListflowError, PermanentError } from '../../runtime/errors';
import { createGuardedClient, OutboundFailure } from '../../runtime/http/guarded-client';
import type { Resolver } from '../../runtime/http/guarded-connect';
import { withRetry } from '../../runtime/execute/retry';

export interface Fetcher {
  /** The photo's bytes. Throws PermanentError(IMAGE_*) for a photo that cannot be had. */
  fetch(url: string, signal: AbortSignal): Promise<Buffer>;
  /** Closes pooled connections (the worker's shutdown). Stand-ins in tests need none. */
  close?(): Promise<void>;
}

export interface FetcherOptions {
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** Attempts on transient failures (network error, 5xx, 429, timeout). */
  readonly attempts: number;
  /** host[:port] entries exempt from the address check (validated by the config's allowHostsField). */
  readonly allowHosts: readonly string[];
  /** Directory file:// URLs must stay inside; undefined refuses file://. */
  readonly fileRoot?: string | undefined;
  /** Base delay between attempts (doubles each time). */
  readonly retryDelayMs?: number;
  /** Connections kept alive per origin (the worker's photo concurrency); default unlimited. */
  readonly connectionsPerOrigin?: number;
  /** DNS resolution, replaceable in tests. Defaults to the system resolver (all addresses). */
  readonly resolve?: Resolver;
}

// --- content sniffing -----------------------------------------------------------------------------------

export type SniffedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'heif';

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

/**
 * The raster format the bytes are in, from their magic numbers; null for anything else (SVG, text, HTML,
 * PDF, unknown). The Content-Type header and the file name are never trusted.
 */
export function sniffImageFormat(b: Uint8Array): SniffedFormat | null {
  const ascii = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('latin1');
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    // ISO BMFF: the major brand, then compatible brands up to the box size.
    const boxSize = Math.min(b.length, Buffer.from(b).readUInt32BE(0) || b.length);
    const brands = [ascii(8, 12)];
    for (let i = 16; i + 4 <= boxSize; i += 4) brands.push(ascii(i, i + 4));
    if (brands.some((x) => AVIF_BRANDS.has(x))) return 'avif';
    if (brands.some((x) => HEIF_BRANDS.has(x))) return 'heif';
  }
  return null;
}

// --- fetching -------------------------------------------------------------------------------------------

/** A transient failure worth another attempt; becomes IMAGE_FETCH_FAILED/IMAGE_FETCH_TIMEOUT when attempts run out. */
class TransientFetch extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const fail = (code: ErrorCode, message: string, url: string) => new PermanentError(code, message, { detail: { url } });

export function createFetcher(opts: FetcherOptions): Fetcher {
  const client = createGuardedClient({
    allowHosts: opts.allowHosts,
    allowSetting: 'LISTFLOW_IMAGES_ALLOW_HOSTS',
    blockedCode: 'IMAGE_BLOCKED_URL',
    what: 'photo',
    connectTimeoutMs: opts.connectTimeoutMs,
    idleTimeoutMs: opts.readTimeoutMs,
    maxRedirects: opts.maxRedirects,
    ...(opts.connectionsPerOrigin ? { connectionsPerOrigin: opts.connectionsPerOrigin } : {}),
    ...(opts.resolve ? { resolver: opts.resolve } : {}),
  });
  const retryDelayMs = opts.retryDelayMs ?? 250;

  async function fetchFile(url: URL, raw: string): Promise<Buffer> {
    if (!opts.fileRoot) throw fail('IMAGE_BLOCKED_URL', `file:// photo URLs are disabled (no file root): ${raw}`, raw);
    const root = resolve(opts.fileRoot);
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (e) {
      throw fail('IMAGE_BLOCKED_URL', `not a local file URL: ${raw} (${(e as Error).message})`, raw);
    }
    const inside = (base: string, p: string) => {
      const rel = relative(base, p);
      return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
    };
    if (!inside(root, resolve(path))) throw fail('IMAGE_BLOCKED_URL', `${raw} is outside the file root ${root}`, raw);
    let real: string;
    let realRoot: string;
    try {
      realRoot = await realpath(root);
      real = await realpath(path);
    } catch (e) {
      throw fail('IMAGE_FETCH_FAILED', `cannot read ${raw}: ${(e as NodeJS.ErrnoException).code ?? e}`, raw);
    }
    // A symlink inside the root may point outside it.
    if (!inside(realRoot, real)) throw fail('IMAGE_BLOCKED_URL', `${raw} resolves outside the file root ${root}`, raw);
    const fh = await open(real, 'r').catch((e: NodeJS.ErrnoException) => {
      throw fail('IMAGE_FETCH_FAILED', `cannot read ${raw}: ${e.code ?? e.message}`, raw);
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw fail('IMAGE_FETCH_FAILED', `${raw} is not a regular file`, raw);
      if (st.size > opts.maxBytes)
        throw fail('IMAGE_TOO_LARGE', `${raw} is ${st.size} bytes, over the limit of ${opts.maxBytes}`, raw);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /** One attempt: the bytes, or a TransientFetch worth another attempt, or a PermanentError. */
  async function fetchHttp(url: URL, raw: string, signal: AbortSignal): Promise<Buffer> {
    try {
      const res = await client.get(url, {
        signal,
        headers: { accept: 'image/*', 'user-agent': 'listflow-images' },
        maxBytes: opts.maxBytes,
      });
      if (res.status === 429 || res.status >= 500) {
        await res.discard();
        throw new TransientFetch('IMAGE_FETCH_FAILED', `${raw} answered HTTP ${res.status}`);
      }
      if (res.status < 200 || res.status >= 300) {
        await res.discard();
        throw fail('IMAGE_FETCH_FAILED', `${raw} answered HTTP ${res.status}`, raw);
      }
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c);
      return Buffer.concat(chunks);
    } catch (e) {
      throw photoError(e, raw, signal);
    }
  }

  return {
    async fetch(raw, signal) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw fail('IMAGE_BLOCKED_URL', `not a valid URL: ${JSON.stringify(raw)}`, raw);
      }
      if (url.protocol === 'file:') return fetchFile(url, raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw fail('IMAGE_BLOCKED_URL', `${raw}: only http, https and file URLs are fetched`, raw);
      let attempts = 0;
      try {
        return await withRetry(
          { maxAttempts: opts.attempts, initialBackoffMs: retryDelayMs, maxBackoffMs: Number.POSITIVE_INFINITY },
          (n) => {
            attempts = n;
            return fetchHttp(url, raw, signal);
          },
          { retriable: (e) => e instanceof TransientFetch, signal, random: () => 1 },
        );
      } catch (e) {
        if (e instanceof TransientFetch) throw fail(e.code, `${e.message} (after ${attempts} attempts)`, raw);
        throw e;
      }
    },
    close: () => client.close(),
  };
}

/** The guarded client's failures as photo outcomes: transient ones for another attempt, the rest final. */
function photoError(e: unknown, raw: string, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? e;
  if (e instanceof TransientFetch || e instanceof ListflowError) return e;
  if (!(e instanceof OutboundFailure))
    return new TransientFetch('IMAGE_FETCH_FAILED', `${raw}: ${(e as Error).message}`);
  const message = `${raw} ${e.message}`;
  switch (e.reason) {
    case 'too-large':
      return fail('IMAGE_TOO_LARGE', message, raw);
    case 'too-many-redirects':
    case 'host-not-found':
      return fail('IMAGE_FETCH_FAILED', message, raw);
    case 'connect-timeout':
    case 'idle-timeout':
    case 'total-timeout':
      return new TransientFetch('IMAGE_FETCH_TIMEOUT', message);
    case 'network':
      return new TransientFetch('IMAGE_FETCH_FAILED', message);
  }
}
