/**
 * Fetches listing photos: http(s):// and file:// (confined to a root), with the defences untrusted URLs need.
 *
 * - SSRF: every address a host resolves to is checked at connect time (inside the socket's DNS lookup, so a
 *   rebinding DNS answer cannot slip between check and connect); loopback, private, link-local, CGNAT,
 *   multicast and reserved ranges are refused unless the host is on the allow list. IP literals are checked
 *   before connecting. Every redirect hop goes through the same checks.
 * - Bounded: connect timeout, idle read timeout, a byte limit (Content-Length first, then while streaming)
 *   and a redirect limit.
 * - The content type is sniffed from the bytes (`sniffImageFormat`); the Content-Type header is ignored.
 *
 * Every failure is a PermanentError with an IMAGE_* code: it fails one photo, never its listing. Transient
 * failures (network errors, 5xx, 429) are retried here a few times first, because the listing-level retry of
 * the runtime would re-fetch every photo of the listing. The job's abort signal is never swallowed.
 */
import { lookup as dnsLookup } from 'node:dns';
import { open, realpath } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, ListflowError, PermanentError } from '../../runtime/errors';
import { sleep } from '../../runtime/retry';

export interface Fetcher {
  /** The photo's bytes. Throws PermanentError(IMAGE_*) for a photo that cannot be had. */
  fetch(url: string, signal: AbortSignal): Promise<Buffer>;
}

export interface FetcherOptions {
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** Attempts on transient failures (network error, 5xx, 429, timeout). */
  readonly attempts: number;
  /** Host names or IP literals allowed to resolve to non-public addresses. */
  readonly allowHosts: readonly string[];
  /** Directory file:// URLs must stay inside; undefined refuses file://. */
  readonly fileRoot?: string | undefined;
  /** Base delay between attempts (doubles each time). */
  readonly retryDelayMs?: number;
  /** DNS resolution, replaceable in tests. Defaults to the system resolver (all addresses). */
  readonly resolve?: (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;
}

// --- address policy -------------------------------------------------------------------------------------

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata lives at 169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64 (can reach IPv4 private space)
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True for addresses a photo URL must not reach: loopback, private, link-local, reserved. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d or ::ffff:xxxx:yyyy) is checked as the IPv4 address it maps to. (Not a
    // BlockList subnet: BlockList matches plain IPv4 addresses against a ::ffff:0:0/96 rule too.)
    const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (dotted) return isBlockedAddress(dotted[1]!);
    const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
    if (hex) {
      const hi = Number.parseInt(hex[1]!, 16);
      const lo = Number.parseInt(hex[2]!, 16);
      return isBlockedAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    return blocked.check(address, 'ipv6');
  }
  return true; // not an address at all: refuse rather than guess
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
  const allow = new Set(opts.allowHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  const resolveHost =
    opts.resolve ??
    ((host: string) =>
      new Promise<ReadonlyArray<{ address: string; family: number }>>((ok, ko) =>
        dnsLookup(host, { all: true }, (err, addresses) => (err ? ko(err) : ok(addresses))),
      ));
  const retryDelayMs = opts.retryDelayMs ?? 250;

  /** A socket lookup that refuses non-public answers for hosts not on the allow list. */
  const guardedLookup =
    (host: string): LookupFunction =>
    (hostname, options, callback) => {
      resolveHost(hostname).then(
        (addresses) => {
          const bad = allow.has(host) ? undefined : addresses.find((a) => isBlockedAddress(a.address));
          if (bad || addresses.length === 0) {
            const e = Object.assign(new Error(`${host} resolves to the non-public address ${bad?.address}`), {
              code: 'LISTFLOW_BLOCKED',
            });
            callback(e, '', 4);
            return;
          }
          if (options.all) callback(null, addresses as never);
          else callback(null, addresses[0]!.address, addresses[0]!.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 4),
      );
    };

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

  /** One HTTP exchange; returns bytes, or a redirect target. */
  function request(url: URL, raw: string, signal: AbortSignal): Promise<Buffer | { redirect: string }> {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (isIP(host) && !allow.has(host) && isBlockedAddress(host)) {
      return Promise.reject(fail('IMAGE_BLOCKED_URL', `${raw} points at the non-public address ${host}`, raw));
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((ok, ko) => {
      let settled = false;
      const done = (f: () => void) => {
        if (!settled) {
          settled = true;
          f();
        }
      };
      const req = lib.request(url, {
        method: 'GET',
        agent: false,
        signal,
        lookup: guardedLookup(host),
        headers: { accept: 'image/*', 'user-agent': 'listflow-images' },
      });
      let connectTimer: NodeJS.Timeout | undefined = setTimeout(
        () => req.destroy(new TransientFetch('IMAGE_FETCH_TIMEOUT', `connect to ${url.host} timed out`)),
        opts.connectTimeoutMs,
      );
      const connected = () => {
        clearTimeout(connectTimer);
        connectTimer = undefined;
      };
      req.on('socket', (s) => {
        s.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      });
      req.setTimeout(opts.readTimeoutMs, () =>
        req.destroy(new TransientFetch('IMAGE_FETCH_TIMEOUT', `no data from ${url.host} for ${opts.readTimeoutMs} ms`)),
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        done(() => {
          if (signal.aborted) ko(signal.reason ?? e);
          else if (e instanceof TransientFetch || e instanceof ListflowError) ko(e);
          else if (e.code === 'LISTFLOW_BLOCKED') ko(fail('IMAGE_BLOCKED_URL', `${raw}: ${e.message}`, raw));
          else if (e.code === 'ENOTFOUND') ko(fail('IMAGE_FETCH_FAILED', `${raw}: host ${host} not found`, raw));
          else ko(new TransientFetch('IMAGE_FETCH_FAILED', `${raw}: ${e.code ?? e.message}`));
        });
      });
      req.on('response', (res) => {
        connected();
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          done(() => ok({ redirect: new URL(res.headers.location!, url).toString() }));
          return;
        }
        if (status === 429 || status >= 500) {
          res.resume();
          done(() => ko(new TransientFetch('IMAGE_FETCH_FAILED', `${raw} answered HTTP ${status}`)));
          return;
        }
        if (status < 200 || status >= 300) {
          res.resume();
          done(() => ko(fail('IMAGE_FETCH_FAILED', `${raw} answered HTTP ${status}`, raw)));
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBytes) {
          req.destroy();
          done(() =>
            ko(fail('IMAGE_TOO_LARGE', `${raw} is ${declared} bytes, over the limit of ${opts.maxBytes}`, raw)),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > opts.maxBytes) {
            req.destroy();
            done(() => ko(fail('IMAGE_TOO_LARGE', `${raw} is over the limit of ${opts.maxBytes} bytes`, raw)));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(() => ok(Buffer.concat(chunks, size))));
        res.on('error', (e) => req.emit('error', e));
      });
      req.end();
    });
  }

  async function fetchHttp(start: URL, raw: string, signal: AbortSignal): Promise<Buffer> {
    let url = start;
    for (let hop = 0; ; hop++) {
      const r = await request(url, raw, signal);
      if (Buffer.isBuffer(r)) return r;
      if (hop >= opts.maxRedirects)
        throw fail('IMAGE_FETCH_FAILED', `${raw}: more than ${opts.maxRedirects} redirects`, raw);
      const next = new URL(r.redirect);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw fail('IMAGE_BLOCKED_URL', `${raw} redirects to the refused URL ${r.redirect}`, raw);
      url = next;
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
      if (url.username || url.password) throw fail('IMAGE_BLOCKED_URL', `${raw}: credentials in URLs are refused`, raw);
      for (let attempt = 1; ; attempt++) {
        try {
          return await fetchHttp(url, raw, signal);
        } catch (e) {
          if (!(e instanceof TransientFetch)) throw e;
          if (attempt >= opts.attempts) throw fail(e.code, `${e.message} (after ${attempt} attempts)`, raw);
          await sleep(retryDelayMs * 2 ** (attempt - 1), signal);
        }
      }
    },
  };
}
