/**
 * readSnapshot (tools.ts), the reader the sources step reads `file`/`http` snapshots with: ingest's own
 * parsing, settings (LISTFLOW_INGEST_* from the given environment) and guarded client, with the failures
 * typed the way the sources poller tells a failed poll (retriable) from a dead source (permanent).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { classifyError } from '../../runtime/errors';
import type { FeedItem } from './feed-readers';
import { readSnapshot } from './tools';

const FEED = JSON.stringify([{ ListingKey: 'A' }, { ListingKey: 'B' }]);
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/feed.json') res.writeHead(200, { 'content-type': 'application/json' }).end(FEED);
    else if (req.url === '/busy.json') res.writeHead(503).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const read = async (uri: string, env: Record<string, string>): Promise<FeedItem[]> => {
  const out: FeedItem[] = [];
  for await (const i of readSnapshot({ uri, format: 'auto', profile: null }, env, new AbortController().signal))
    out.push(i);
  return out;
};
const allow = () => ({ LISTFLOW_INGEST_ALLOW_HOSTS: new URL(base).host });

describe('readSnapshot', () => {
  it('reads a local file from its own folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapshot-reader-'));
    writeFileSync(join(dir, 'feed.json'), FEED);
    const items = await read(pathToFileURL(join(dir, 'feed.json')).href, {});
    expect(items.map((i) => (i.ok ? i.listingKey : i.reason))).toEqual(['A', 'B']);
  });

  it('reads an http feed through the guarded client, allow-listed by LISTFLOW_INGEST_ALLOW_HOSTS', async () => {
    const items = await read(`${base}/feed.json`, allow());
    expect(items.map((i) => (i.ok ? i.listingKey : i.reason))).toEqual(['A', 'B']);
  });

  it.each<[string, () => string, () => Record<string, string>, string, 'retriable' | 'permanent']>([
    [
      'a loopback host that is not allow-listed',
      () => `${base}/feed.json`,
      () => ({}),
      'INGEST_BLOCKED_URL',
      'permanent',
    ],
    ['a 404', () => `${base}/gone.json`, allow, 'INGEST_FEED_NOT_FOUND', 'permanent'],
    ['a 503', () => `${base}/busy.json`, allow, 'INGEST_FEED_UNREACHABLE', 'retriable'],
    ['a missing file', () => 'file:///nonexistent-dir/feed.json', () => ({}), 'INGEST_FEED_NOT_FOUND', 'permanent'],
  ])('%s fails typed', async (_n, uri, env, code, kind) => {
    const e = await read(uri(), env()).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(classifyError(e)).toMatchObject({ code, kind });
  });
});
