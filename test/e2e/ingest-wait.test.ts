/**
 * `listflow ingest --wait`, `listflow status` and `listflow run --all` through the real CLI against the real
 * platform (sandboxed topics and consumer groups), plus the one-line errors of bad usage.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FeedSummary, writeSampleFeed } from '../../samples/writers';
import {
  provision,
  CLI,
  cli,
  codesOf,
  dropTopics,
  freeBasePort,
  readAll,
  ROOT,
  rowsForSources,
  sandbox,
} from './pipeline-sandbox';

const feedDir = join(ROOT, '.listflow', 'e2e', `wait-feeds-${randomBytes(3).toString('hex')}`);
const box = sandbox('e2e-wait', {
  LISTFLOW_INGEST_FILE_ROOT: feedDir,
  LISTFLOW_SHUTDOWN_GRACE_MS: '10000',
  // A SIGKILLed member leaves the group only when its session times out: keep the restart test short.
  LISTFLOW_SESSION_TIMEOUT_MS: '10000',
});
const readyFile = join(ROOT, '.listflow', 'e2e', box.id, 'ready.json');
const source = `e2ew${randomBytes(3).toString('hex')}`;

let supervisor: ChildProcess;
let supervisorExit: Promise<number | null>;
let supervisorErr = '';
let feed: FeedSummary;

const oneLine = (s: string) => s.trim().split('\n');

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${supervisorErr.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  feed = await writeSampleFeed({
    dir: feedDir,
    seed: 7000 + (randomBytes(2).readUInt16BE(0) % 1000),
    count: 60,
    format: 'ndjson',
    badRate: 0.1,
    name: 'wait-feed',
  });
  await provision(box);
  supervisor = spawn(
    process.execPath,
    [
      CLI,
      'run',
      '--all',
      '--base-port',
      String(await freeBasePort(box.pipeline.steps.length)),
      '--ready-file',
      readyFile,
    ],
    { cwd: ROOT, env: box.env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  supervisor.stderr?.on('data', (c: Buffer) => (supervisorErr += c.toString()));
  supervisorExit = new Promise((r) => supervisor.on('exit', (code) => r(code)));
  await until('the workers to be ready', () => existsSync(readyFile));
});

afterAll(async () => {
  if (supervisor && supervisor.exitCode === null) {
    supervisor.kill('SIGTERM');
    await supervisorExit;
  }
  await dropTopics(box);
});

test('ingest --wait returns only once every listing is published, with the rows in PostgreSQL', async () => {
  const r = await cli(['ingest', join(feedDir, 'wait-feed.ndjson'), '--source', source, '--wait', '--json'], box.env);
  // Asked at once: nothing may still be on its way when --wait returns.
  const rows = await rowsForSources([source]);
  if (r.code !== 0) throw new Error(`ingest exited ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  expect(out.state).toBe('COMPLETED');
  expect(rows).toBe(feed.listings);
  expect(out.publishedInPostgres).toBe(feed.listings);
  expect(out.totals.ingested).toBe(feed.raw);
  expect(out.totals.stages.publish.output).toBe(feed.listings);
  expect(out.totals.stages.normalize.failed + out.totals.ingestRejects).toBe(feed.total - feed.listings);
  expect(r.stderr).toMatch(/progress .*publish \d+ done/);

  // Latency from submission, per listing: every published listing got through every stage, in order.
  const latency = out.latencyMs as Record<'normalize' | 'images' | 'postgresRow' | 'publish', Latency>;
  for (const point of LATENCY_ORDER) {
    expect(latency[point].listings).toBe(feed.listings);
    expect(latency[point].p50).toBeGreaterThanOrEqual(0);
    expect(latency[point].max).toBeGreaterThanOrEqual(latency[point].p50);
  }
  expectOrdered(LATENCY_ORDER.map((p) => latency[p].p50));
  expectOrdered(LATENCY_ORDER.map((p) => latency[p].max));

  // The job, as `status` reports it afterwards.
  const s = await cli(['status', out.jobId, '--json'], box.env, 60_000);
  expect(s.code).toBe(0);
  const st = JSON.parse(s.stdout);
  expect(st.state).toBe('COMPLETED');
  expect(Number(st.status.records)).toBe(feed.raw);

  // The pipeline: every step, no lag left before publish, dead letters as the generator says.
  const p = await cli(['status', '--json', '--sample-ms', '0'], box.env, 60_000);
  expect(p.code).toBe(0);
  const steps = JSON.parse(p.stdout).steps as { step: string; lag: number; deadLetters: number; members: number }[];
  expect(steps.map((x) => x.step)).toEqual(['sources', 'ingest', 'normalize', 'images', 'publish', 'price-changes']);
  // The job steps (the sources step owns its sources and commits no offsets: it has no lag to read).
  for (const x of steps.filter((x) => x.step !== 'sources').slice(0, 4)) {
    expect(x.lag).toBe(0);
    expect(x.members).toBe(1);
  }
  const rawDlq = await readAll(box.topic('listings.raw.dlq'));
  // normalize reads listings.raw, so its dead letters are listings.raw.dlq.
  expect(steps.find((x) => x.step === 'normalize')!.deadLetters).toBe(rawDlq.length);
  expect(rawDlq.length).toBe(feed.raw - feed.listings);
  expect(sumOf(codesOf(rawDlq))).toBe(out.totals.stages.normalize.failed);
});

const sumOf = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

interface Latency {
  readonly listings: number;
  readonly p50: number;
  readonly max: number;
}
/** Where a listing gets to, in order: publish stamps the row before it writes listings.published. */
const LATENCY_ORDER = ['normalize', 'images', 'postgresRow', 'publish'] as const;
const LATENCY_LABELS = { normalize: 'normalize', images: 'images', postgresRow: 'PostgreSQL row', publish: 'publish' };

function expectOrdered(ms: readonly number[]): void {
  for (let i = 1; i < ms.length; i++) expect(ms[i]).toBeGreaterThanOrEqual(ms[i - 1]!);
}

/** "p50 41 ms" or "p50 1.88 s" -> milliseconds. */
const msOf = (n: string, unit: string) => (unit === 's' ? Math.round(Number(n) * 1000) : Number(n));

test('ingest --wait on one listing without photos prints its latency to every stage and to the row', async () => {
  const one = await writeSampleFeed({
    dir: feedDir,
    seed: 8000 + (randomBytes(2).readUInt16BE(0) % 1000),
    count: 1,
    format: 'ndjson',
    badRate: 0,
    name: 'one-listing',
  });
  expect(one.listings).toBe(1);
  const r = await cli(['ingest', one.uri, '--source', `${source}one`, '--wait'], box.env);
  if (r.code !== 0) throw new Error(`ingest exited ${r.code}: ${r.stderr}`);
  expect(r.stdout).toMatch(/^ +latency +from submission to each stage's output$/m);
  const seen = LATENCY_ORDER.map((point) => {
    const line = new RegExp(
      `^ +${LATENCY_LABELS[point]} +p50 ([\\d.]+) (ms|s) +max ([\\d.]+) (ms|s) +\\(1 listing[;)]`,
      'm',
    ).exec(r.stdout);
    if (!line) throw new Error(`no ${point} latency line in:\n${r.stdout}`);
    const [, p50, p50Unit, max, maxUnit] = line;
    // One listing: its p50 is its max.
    expect(msOf(p50!, p50Unit!)).toBe(msOf(max!, maxUnit!));
    return msOf(p50!, p50Unit!);
  });
  for (const ms of seen) expect(ms).toBeGreaterThanOrEqual(0);
  expectOrdered(seen);
  // Shown in the test's output: the figure the README's performance section quotes.
  process.stdout.write(`one listing, no photos: ${LATENCY_ORDER.map((p, i) => `${p} ${seen[i]} ms`).join(', ')}\n`);
});

test('ingest without --wait prints the job id at once; status knows it', async () => {
  const r = await cli(['ingest', feed.uri, '--source', source], box.env, 60_000);
  expect(r.code).toBe(0);
  const jobId = r.stdout.trim();
  expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
  const s = await cli(['status', jobId, '--json'], box.env, 60_000);
  expect(s.code).toBe(0);
  expect(['PENDING', 'RUNNING', 'COMPLETED']).toContain(JSON.parse(s.stdout).state);
  const unknown = await cli(['status', '00000000-0000-0000-0000-000000000000'], box.env, 60_000);
  expect(unknown.code).toBe(1);
});

test('run --all restarts a worker that crashed', async () => {
  const workers = JSON.parse(readFileSync(readyFile, 'utf8')).workers as { step: string; pid: number; port: number }[];
  const normalize = workers.find((w) => w.step === 'normalize')!;
  process.kill(normalize.pid, 'SIGKILL');
  await until('the supervisor to restart normalize', () =>
    /normalize exited unexpectedly \(signal SIGKILL\)/.test(supervisorErr),
  );
  await until('normalize to be ready again', async () => {
    try {
      return (await fetch(`http://127.0.0.1:${normalize.port}/readyz`)).status === 200;
    } catch {
      return false;
    }
  });
  const pids = [...supervisorErr.matchAll(/started normalize \(pid (\d+)/g)].map((m) => Number(m[1]));
  expect(pids).toHaveLength(2);
  expect(pids[1]).not.toBe(normalize.pid);
});

describe('bad usage: one line on stderr, non-zero exit, no hang', () => {
  test.each([
    { name: 'a missing file', args: ['ingest', '/no/such/feed.json', '--source', 'x'], env: {}, msg: /no such file/ },
    {
      name: 'a bad URI',
      args: ['ingest', 'ftp://feeds.example/x.json', '--source', 'x'],
      env: {},
      msg: /INGEST_URI_INVALID/,
    },
    {
      name: 'an unknown operator',
      args: ['run', '--operator', 'nope'],
      env: {},
      msg: /Unknown operator or step "nope"/,
    },
    {
      name: 'a broker that is down (ingest)',
      args: ['ingest', join(feedDir, 'wait-feed.ndjson'), '--source', 'x'],
      env: { LISTFLOW_KAFKA_BROKERS: '127.0.0.1:9' },
      msg: /cannot reach Kafka at 127\.0\.0\.1:9/,
    },
    {
      name: 'a broker that is down (status)',
      args: ['status'],
      env: { LISTFLOW_KAFKA_BROKERS: '127.0.0.1:9' },
      msg: /cannot reach Kafka at 127\.0\.0\.1:9/,
    },
  ])('$name', async ({ args, env, msg }) => {
    const r = await cli(args, { ...box.env, ...env }, 60_000);
    expect(r.code).not.toBeNull(); // null: killed after 60 s, i.e. it hung
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
  });
});
