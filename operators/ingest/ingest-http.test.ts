/**
 * ingest with its real services (the guarded client of runtime/http) against feed servers on loopback:
 * what a hostile or broken feed server can and cannot make ingest do.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseConfig } from '../../runtime/config';
import { collect, plainContext, type RejectEmit } from '../../runtime/operator';
import type { IngestJob, IngestJobStatus } from '../../schemas/generated/types';
import { ingestConfig } from './config';
import type { IngestServices } from './feed-sources';
import ingest from './index';
import { type IngestEmit, ingestFeed } from './process';
import { testIngestJob } from '../../test/support/listings';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const page = (keys: string[], nextLink?: string) =>
  JSON.stringify({ value: keys.map((k) => ({ ListingKey: k })), ...(nextLink ? { '@odata.nextLink': nextLink } : {}) });

let server: Server;
let port: number;
const hits: string[] = [];
const routes: Record<string, Handler> = {};
const base = () => `http://127.0.0.1:${port}`;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    hits.push(path);
    (routes[path] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
  Object.assign(routes, {
    '/latest/meta-data/iam': (_q, r) => r.end('{"value":[{"ListingKey":"SECRET"}]}'),
    '/feed.json': (_q, r) => r.end(JSON.stringify([{ ListingKey: 'A1' }])),
    '/odata/p1': (_q, r) => r.end(page(['P1', 'P2'], `${base()}/odata/p2`)),
    '/odata/p2': (_q, r) => r.end(page(['P3'])),
    '/odata/to-localhost': (_q, r) => r.end(page(['P1'], `http://localhost:${port}/odata/p2`)),
    '/odata/to-metadata': (_q, r) => r.end(page(['P1'], 'http://169.254.169.254/latest/meta-data/iam')),
    '/to-private': (_q, r) => r.writeHead(302, { location: 'http://10.0.0.1/feed.json' }).end(),
    '/announced-big': (_q, r) => r.writeHead(200, { 'content-length': '5000' }).end('['.padEnd(5000, ' ')),
    '/endless': (_q, r) => {
      r.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const t = setInterval(() => r.write('{"ListingKey":"E"}\n'.repeat(50)), 2);
      r.on('close', () => clearInterval(t));
    },
    '/trickle': (_q, r) => {
      r.writeHead(200);
      r.write('['); // then a byte now and then, slower than the idle timeout
      const t = setInterval(() => r.write(' '), 1000);
      r.on('close', () => clearInterval(t));
    },
    '/feed.zip': (_q, r) => r.end(Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(100)])),
    '/feed.tar.gz': (_q, r) => {
      const tar = Buffer.alloc(1024);
      tar.write('feed.json', 0);
      tar.write('ustar', 257, 'latin1');
      r.end(gzipSync(tar));
    },
  } satisfies Record<string, Handler>);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});
beforeEach(() => {
  hits.length = 0;
});

const job = testIngestJob;

async function run(j: IngestJob, config: Record<string, unknown> = {}, attempt = 1) {
  const cfg = parseConfig(
    ingestConfig,
    { fileRoot: mkdtempSync(join(tmpdir(), 'listflow-ingest-http-')), ...config },
    { where: 'test' },
  );
  const services = (await ingest.services!(cfg, plainContext(cfg, undefined).logger)) as IngestServices;
  try {
    return await collect(ingestFeed(j, plainContext(cfg, services, { attempt })));
  } finally {
    await ingest.closeServices!(services);
  }
}

const last = (emits: IngestEmit[]) =>
  emits.flatMap((e) => (e.kind === 'output' && e.port === 'status' ? [e.value as IngestJobStatus] : [])).at(-1);
const jobReject = (emits: IngestEmit[]) => emits.find((e): e is RejectEmit => e.kind === 'reject');
const keys = (emits: IngestEmit[]) =>
  emits.flatMap((e) =>
    e.kind === 'output' && e.port === 'raw' ? [(e.value as { listingKey: string }).listingKey] : [],
  );

describe('blocked by default', () => {
  test('a feed on loopback is refused before any request, with host, address, rule and the setting to use', async () => {
    const emits = await run(job(`${base()}/feed.json`));
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_BLOCKED_URL' });
    expect(last(emits)?.message).toContain(`add 127.0.0.1:${port} to LISTFLOW_INGEST_ALLOW_HOSTS`);
    expect(jobReject(emits)?.detail).toMatchObject({ host: '127.0.0.1', address: '127.0.0.1', rule: 'loopback' });
    expect(hits).toEqual([]);
  });

  test('reached once allow-listed', async () => {
    const emits = await run(job(`${base()}/feed.json`), { allowHosts: `127.0.0.1:${port}` });
    expect(keys(emits)).toEqual(['A1']);
    expect(last(emits)?.state).toBe('COMPLETED');
  });

  test('a redirect to a private address is refused', async () => {
    const emits = await run(job(`${base()}/to-private`), { allowHosts: `127.0.0.1:${port}` });
    expect(jobReject(emits)).toMatchObject({
      code: 'INGEST_BLOCKED_URL',
      detail: { address: '10.0.0.1', rule: 'private' },
    });
  });
});

describe('OData nextLink policy', () => {
  const allow = () => ({ allowHosts: `127.0.0.1:${port}` });

  test('pages on the same origin are followed', async () => {
    expect(keys(await run(job(`${base()}/odata/p1`), allow()))).toEqual(['P1', 'P2', 'P3']);
  });

  test.each([
    ['another origin (same server under another name)', '/odata/to-localhost', 'otherOrigin'],
    ['the metadata address', '/odata/to-metadata', 'otherOrigin'],
  ])('a nextLink to %s is refused', async (_name, path, rule) => {
    const emits = await run(job(`${base()}${path}`), allow());
    expect(keys(emits)).toEqual(['P1']);
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_BLOCKED_URL', records: 1 });
    expect(jobReject(emits)?.detail.rule).toBe(rule);
    expect(hits).toEqual([path]);
  });

  test('a file page whose nextLink points at a loopback metadata path is refused (issue 12)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'listflow-ingest-page-'));
    writeFileSync(join(dir, 'page.json'), page(['F1'], `${base()}/latest/meta-data/iam`));
    const emits = await run(job(pathToFileURL(join(dir, 'page.json')).href), { fileRoot: dir });
    expect(keys(emits)).toEqual(['F1']);
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_BLOCKED_URL' });
    expect(jobReject(emits)?.detail).toMatchObject({ host: '127.0.0.1', address: '127.0.0.1', rule: 'loopback' });
    expect(hits).toEqual([]);
  });
});

describe('hostile feed servers', () => {
  const allow = { allowHosts: '127.0.0.1' };

  test('a Content-Length over maxFeedBytes fails before reading', async () => {
    const emits = await run(job(`${base()}/announced-big`), { ...allow, maxFeedBytes: 1000 });
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_TOO_LARGE' });
    expect(last(emits)?.message).toContain('announces 5000 bytes, more than the limit of 1000');
  });

  test('a feed that never ends stops at maxFeedBytes', async () => {
    const emits = await run(job(`${base()}/endless`), { ...allow, maxFeedBytes: 100_000 });
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_TOO_LARGE' });
  });

  test('a server that trickles is stopped by the idle timeout: retried, FAILED on the last attempt', async () => {
    await expect(run(job(`${base()}/trickle`), { ...allow, idleTimeoutMs: 300 })).rejects.toMatchObject({
      code: 'INGEST_FEED_UNREACHABLE',
      message: `The feed ${base()}/trickle sent nothing for 300 ms.`,
    });
    const emits = await run(job(`${base()}/trickle`), { ...allow, idleTimeoutMs: 300 }, 5);
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_UNREACHABLE' });
  });

  test('a refused connection is transient', async () => {
    await expect(run(job('http://127.0.0.1:1/feed.json'), { allowHosts: '127.0.0.1:1' })).rejects.toMatchObject({
      code: 'INGEST_FEED_UNREACHABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  test.each([
    ['/feed.zip', 'is a zip archive'],
    ['/feed.tar.gz', '(after gunzip) is a tar archive'],
  ])('%s served as a feed is refused', async (path, why) => {
    const emits = await run(job(`${base()}${path}`), allow);
    expect(last(emits)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_FEED_FORMAT_INVALID' });
    expect(last(emits)?.message).toContain(why);
  });
});
