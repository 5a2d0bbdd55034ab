import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ListflowError, PermanentError } from '../../runtime/errors';
import { createFetcher, type FetcherOptions, sniffImageFormat } from './fetcher';

const base: FetcherOptions = {
  connectTimeoutMs: 2_000,
  readTimeoutMs: 2_000,
  maxBytes: 1024,
  maxRedirects: 2,
  attempts: 2,
  allowHosts: [],
  retryDelayMs: 1,
  // No real DNS in unit tests: names resolve from this table.
  resolve: async (host) => {
    const table: Record<string, string> = {
      localhost: '127.0.0.1',
      'internal.example': '10.1.2.3',
      'metadata.example': '169.254.169.254',
      'photos.test': '127.0.0.1',
      'public.example': '93.184.215.14',
    };
    const a = table[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return [{ address: a, family: 4 }];
  },
};
const signal = new AbortController().signal;

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => 'resolved',
    (e: unknown) => e,
  );
  if (e === 'resolved') return 'resolved';
  expect(e).toBeInstanceOf(PermanentError);
  return (e as ListflowError).code;
}

describe('sniffImageFormat', () => {
  const ftyp = (brand: string, compat = 'mif1') =>
    Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from(`ftyp${brand}\0\0\0\0${compat}`, 'latin1')]);
  test.each([
    ['JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), 'jpeg'],
    ['PNG', Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), 'png'],
    ['WebP', Buffer.from('RIFF\x10\0\0\0WEBPVP8 ', 'latin1'), 'webp'],
    ['GIF89a', Buffer.from('GIF89a\x01\0', 'latin1'), 'gif'],
    ['GIF87a', Buffer.from('GIF87a\x01\0', 'latin1'), 'gif'],
    ['AVIF', ftyp('avif'), 'avif'],
    ['HEIC', ftyp('heic'), 'heif'],
    ['MP4 (ftyp isom)', ftyp('isom', 'mp41'), null],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), null],
    ['XML-prefixed SVG', Buffer.from('<?xml version="1.0"?><svg/>'), null],
    ['HTML error page', Buffer.from('<!doctype html><title>404</title>'), null],
    ['PDF', Buffer.from('%PDF-1.7'), null],
    ['text', Buffer.from('just text'), null],
    ['empty', Buffer.alloc(0), null],
    ['two bytes of JPEG', Buffer.from([0xff, 0xd8]), null],
  ])('%s -> %s', (_name, bytes, format) => {
    expect(sniffImageFormat(bytes)).toBe(format);
  });
});

describe('fetch: refused URLs', () => {
  const fetcher = createFetcher(base);
  test.each([
    ['loopback literal', 'http://127.0.0.1/a.jpg'],
    ['private literal', 'http://10.0.0.1/a.jpg'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 loopback', 'http://[::1]/a.jpg'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/a.jpg'],
    ['IPv4-mapped IPv6 public address', 'http://[::ffff:8.8.8.8]/a.jpg'],
    ['6to4', 'http://[2002:7f00:1::1]/a.jpg'],
    ['Teredo', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/a.jpg'],
    ['NAT64', 'http://[64:ff9b::7f00:1]/a.jpg'],
    ['local-use NAT64', 'http://[64:ff9b:1::a00:1]/a.jpg'],
    ['IPv4-compatible', 'http://[::127.0.0.1]/a.jpg'],
    ['carrier-grade NAT', 'http://100.64.0.1/a.jpg'],
    ['this network', 'http://0.1.2.3/a.jpg'],
    ['IPv6 cloud metadata', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['decimal-encoded loopback', 'http://2130706433/a.jpg'],
    ['name resolving to loopback', 'http://localhost/a.jpg'],
    ['name resolving to a private address', 'https://internal.example/a.jpg'],
    ['name resolving to link-local', 'http://metadata.example/a.jpg'],
    ['ftp scheme', 'ftp://public.example/a.jpg'],
    ['data URL', 'data:image/png;base64,iVBORw0KGgo='],
    ['javascript URL', 'javascript:alert(1)'],
    ['not a URL', 'photo.jpg'],
    ['credentials in the URL', 'http://user:pw@public.example/a.jpg'],
    ['file:// with no file root', 'file:///etc/passwd'],
  ])('%s: %s -> IMAGE_BLOCKED_URL', async (_name, url) => {
    expect(await codeOf(fetcher.fetch(url, signal))).toBe('IMAGE_BLOCKED_URL');
  });

  test('an unknown host is IMAGE_FETCH_FAILED', async () => {
    expect(await codeOf(fetcher.fetch('http://nowhere.example/a.jpg', signal))).toBe('IMAGE_FETCH_FAILED');
  });
});

describe('fetch: http', () => {
  let server: Server;
  let port: number;
  const hits = new Map<string, number>();
  const big = Buffer.alloc(4096, 1);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '/';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === '/ok.jpg') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3]));
      } else if (path === '/missing.jpg') res.writeHead(404).end('no');
      else if (path === '/flaky.jpg') res.writeHead(503).end('busy');
      else if (path === '/declared-big.jpg') res.writeHead(200, { 'content-length': String(big.length) }).end(big);
      else if (path === '/streamed-big.jpg') {
        res.writeHead(200); // chunked: no Content-Length to check up front
        res.write(big.subarray(0, 800));
        res.end(big.subarray(800));
      } else if (path === '/hang.jpg')
        res.writeHead(200).write(Buffer.from([0xff])); // then nothing
      else if (path.startsWith('/loop')) {
        res.writeHead(302, { location: `/loop${Number(path.slice(5) || 0) + 1}` }).end();
      } else if (path === '/to-ok') res.writeHead(301, { location: '/ok.jpg' }).end();
      else if (path === '/to-private') res.writeHead(302, { location: 'http://10.0.0.1/x.jpg' }).end();
      else if (path === '/to-metadata-name') res.writeHead(302, { location: 'http://metadata.example/x' }).end();
      else if (path === '/to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      else res.writeHead(500).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  const allowed = () => createFetcher({ ...base, allowHosts: ['127.0.0.1', 'photos.test'], readTimeoutMs: 200 });
  const url = (p: string, host = '127.0.0.1') => `http://${host}:${port}${p}`;

  test('fetches the bytes whatever the Content-Type says', async () => {
    const bytes = await allowed().fetch(url('/ok.jpg'), signal);
    expect([...bytes]).toEqual([0xff, 0xd8, 0xff, 1, 2, 3]);
  });

  test('an allow-listed name may resolve to loopback; the same server under another name is refused', async () => {
    expect((await allowed().fetch(url('/ok.jpg', 'photos.test'), signal)).length).toBe(6);
    expect(await codeOf(allowed().fetch(url('/ok.jpg', 'localhost'), signal))).toBe('IMAGE_BLOCKED_URL');
  });

  test('follows a redirect', async () => {
    expect((await allowed().fetch(url('/to-ok'), signal)).length).toBe(6);
  });

  test.each([
    ['/missing.jpg', 'IMAGE_FETCH_FAILED', 1],
    ['/flaky.jpg', 'IMAGE_FETCH_FAILED', 2], // 5xx is retried, then fails the photo
    ['/declared-big.jpg', 'IMAGE_TOO_LARGE', 1],
    ['/streamed-big.jpg', 'IMAGE_TOO_LARGE', 1],
    ['/hang.jpg', 'IMAGE_FETCH_TIMEOUT', 2],
    ['/loop', 'IMAGE_FETCH_FAILED', 1],
    ['/to-private', 'IMAGE_BLOCKED_URL', 1],
    ['/to-metadata-name', 'IMAGE_BLOCKED_URL', 1],
    ['/to-file', 'IMAGE_BLOCKED_URL', 1],
  ])('%s -> %s after %i request(s)', async (path, code, requests) => {
    hits.clear();
    expect(await codeOf(allowed().fetch(url(path), signal))).toBe(code);
    expect(hits.get(path)).toBe(requests);
  });

  test('stops following redirects at the limit', async () => {
    hits.clear();
    await expect(allowed().fetch(url('/loop'), signal)).rejects.toThrow('redirected more than 2 times');
    expect([...hits.keys()]).toEqual(['/loop', '/loop1', '/loop2']);
  });

  test('the job signal aborts a fetch with the abort reason, not a photo failure', async () => {
    const ac = new AbortController();
    const p = allowed().fetch(url('/hang.jpg'), ac.signal);
    ac.abort(new DOMException('deadline', 'TimeoutError'));
    const e = await p.catch((x: unknown) => x);
    expect(e).not.toBeInstanceOf(ListflowError);
    expect((e as Error).name).toBe('TimeoutError');
  });
});

describe('fetch: file://', () => {
  const dir = mkdtempSync(join(tmpdir(), 'listflow-fetch-'));
  const root = join(dir, 'photos');
  require('node:fs').mkdirSync(root);
  writeFileSync(join(root, 'a.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
  writeFileSync(join(root, 'big.jpg'), Buffer.alloc(5000));
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  symlinkSync(join(dir, 'secret.txt'), join(root, 'link.jpg'));
  const fetcher = createFetcher({ ...base, fileRoot: root });

  test('reads a file inside the root', async () => {
    expect([...(await fetcher.fetch(pathToFileURL(join(root, 'a.jpg')).href, signal))]).toEqual([0xff, 0xd8, 0xff]);
  });

  test.each([
    ['dot-dot escape', () => `file://${root}/../secret.txt`, 'IMAGE_BLOCKED_URL'],
    ['encoded dot-dot escape', () => `file://${root}/%2e%2e/secret.txt`, 'IMAGE_BLOCKED_URL'],
    ['absolute path elsewhere', () => 'file:///etc/passwd', 'IMAGE_BLOCKED_URL'],
    ['symlink pointing outside', () => pathToFileURL(join(root, 'link.jpg')).href, 'IMAGE_BLOCKED_URL'],
    ['missing file', () => pathToFileURL(join(root, 'nope.jpg')).href, 'IMAGE_FETCH_FAILED'],
    ['directory', () => pathToFileURL(root).href, 'IMAGE_FETCH_FAILED'],
    ['over the byte limit', () => pathToFileURL(join(root, 'big.jpg')).href, 'IMAGE_TOO_LARGE'],
  ])('%s -> %s', async (_name, make, code) => {
    expect(await codeOf(fetcher.fetch(make(), signal))).toBe(code);
  });
});
