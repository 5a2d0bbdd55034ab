/**
 * `listflow web` in a real headless Chromium (Debian's package; installed when missing as root, else the test
 * fails): a sandboxed pipeline runs a sample feed with photos (stored on the platform's S3Proxy, as `npm run
 * local` stores them) and broken records, then the page must show the pipeline picture with every step, the
 * run's listings with their photos loaded, and the dead letters by code, one click from the decoded letter.
 * The screenshot is written to the sandbox's directory (web.png).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { platformLayout } from '../../infra/layout';
import { removeLocalObjects } from '../../infra/s3proxy';
import { writeSamplePhotos } from '../../samples/images';
import { type FeedSummary, writeSampleFeed } from '../../samples/writers';
import { type Browser, launchChromium } from '../support/chromium';
import {
  CLI,
  cli,
  dropTopics,
  freeBasePort,
  provision,
  ROOT,
  sandbox,
  startWorkers,
  type Sandbox,
} from './pipeline-sandbox';

const tag = randomBytes(3).toString('hex');
const feedDir = join(ROOT, '.listflow', 'e2e', `web-feeds-${tag}`);
const source = `web${tag}`;
const storePrefix = `e2e-web-${tag}/`;
let box: Sandbox;
let feed: FeedSummary;
let web: ChildProcess | undefined;
let url = '';
let browser: Browser | undefined;

/** The platform's photo store settings (S3Proxy), as `infra status --json` exports them. */
async function storeEnv(): Promise<NodeJS.ProcessEnv> {
  const r = await cli(['infra', 'status', '--json'], process.env, 60_000);
  const env = (JSON.parse(r.stdout) as { env: Record<string, string> }).env;
  return Object.fromEntries(Object.entries(env).filter(([k]) => /^(LISTFLOW_IMAGES_|AWS_)/.test(k)));
}

beforeAll(async () => {
  box = sandbox('e2e-web', {
    ...(await storeEnv()),
    // The platform's bucket, under this run's own prefix, removed afterwards.
    LISTFLOW_IMAGES_BLOB_STORE: `s3://listflow/${storePrefix}variants`,
    LISTFLOW_INGEST_FILE_ROOT: feedDir,
    LISTFLOW_IMAGES_FILE_ROOT: feedDir,
    LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true',
    LISTFLOW_SHUTDOWN_GRACE_MS: '10000',
  });
  const photoUrls = await writeSamplePhotos(join(feedDir, 'photos'), 4, 8100);
  feed = await writeSampleFeed({
    dir: feedDir,
    count: 10,
    badRate: 0.3,
    photoUrls,
    seed: 8101,
    format: 'ndjson',
    name: 'web',
  });
  await provision(box);
  const workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length));
  const r = await cli(['ingest', feed.uri, '--source', source, '--wait', '--json'], box.env, 600_000);
  expect(await workers.stop()).toBe(0);
  if (r.code !== 0) throw new Error(`ingest exited ${r.code}: ${r.stderr}`);

  web = spawn(process.execPath, [CLI, 'web', '--port', '0', '--json'], {
    cwd: ROOT,
    env: box.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  web.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listflow web printed no URL:\n${err}`)), 60_000);
    web!.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    web!.once('exit', (code) => reject(new Error(`listflow web exited ${code}:\n${err}`)));
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  web?.kill('SIGTERM');
  await dropTopics(box);
  await removeLocalObjects(platformLayout(), storePrefix);
});

test('binds to 127.0.0.1 and has no admin action unless asked', async () => {
  expect(new URL(url).hostname).toBe('127.0.0.1');
  const r = await fetch(new URL('/admin/redrive', url), { method: 'POST', body: 'step=normalize&code=X' });
  expect(r.status).toBe(404);
});

test('the page: the pipeline picture, the run’s listings with photos, dead letters by code, one click to a letter', async () => {
  const b = browser!;
  await b.goto(`${url}?source=${source}`);
  const steps = await b.evaluate<string[]>(
    `[...document.querySelectorAll('#pipeline svg g.step')].map((g) => g.getAttribute('data-step'))`,
  );
  expect(steps).toEqual(box.pipeline.steps.map((s) => s.id));
  const stepText = await b.evaluate<string>(
    `document.querySelector('#pipeline svg g.step[data-step="normalize"]').textContent`,
  );
  expect(stepText).toMatch(/rate .*lag \d+.*dead letters \d+/s);

  // Every listing of the run, each with its photo loaded from the store (decoded: naturalWidth > 0).
  const cards = await b.evaluate<{ id: string; src: string | null; loaded: boolean }[]>(`
    Promise.all([...document.querySelectorAll('#listings .card')].map(async (c) => {
      const img = c.querySelector('img');
      if (img) { try { await img.decode(); } catch {} }
      return { id: c.getAttribute('data-listing'), src: img && img.src, loaded: !!img && img.naturalWidth > 0 };
    }))`);
  expect(cards).toHaveLength(feed.listings);
  expect(cards.every((c) => c.id?.startsWith(`${source}:`))).toBe(true);
  const withPhotos = cards.filter((c) => c.src !== null);
  expect(withPhotos.length).toBeGreaterThan(0);
  expect(withPhotos.filter((c) => !c.loaded)).toEqual([]);
  expect(withPhotos.every((c) => c.src!.startsWith('http://127.0.0.1:'))).toBe(true);

  // Dead letters: this run's rejects, by code, with their counts.
  const groups = await b.evaluate<{ code: string; count: number }[]>(`
    [...document.querySelectorAll('#dead-letters tbody tr')].map((tr) => ({
      code: tr.querySelector('code').textContent, count: Number(tr.children[2].textContent) }))`);
  const expected = Object.entries(feed.rejects).sort(([a], [b]) => a.localeCompare(b));
  const shown = new Map(
    groups.map((g) => [g.code, groups.filter((x) => x.code === g.code).reduce((n, x) => n + x.count, 0)]),
  );
  for (const [code, n] of expected) expect([code, shown.get(code)]).toEqual([code, n]);

  writeFileSync(join(box.dir, 'web.png'), await b.screenshot());

  // One click: the first letter link opens the decoded letter.
  const code = groups[0]!.code;
  await b.navigateBy(`document.querySelector('#dead-letters a.letter').click()`);
  const letter = await b.evaluate<{ title: string; decoded: string; headers: string }>(`({
    title: document.querySelector('#letter h2').textContent,
    decoded: document.querySelector('#decoded').textContent,
    headers: document.querySelector('#headers').textContent })`);
  expect(letter.title).toContain(code);
  expect(letter.headers).toContain('listflow.error.code');
  expect(letter.decoded.length).toBeGreaterThan(10);
});
