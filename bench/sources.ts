/**
 * npm run bench:sources: replication with the sources modules against a bare fetch-and-parse loop, side by
 * side in one run, over the same pages of the project's RESO test server (test/support/reso-server/).
 *
 * The server runs in a child process (its sorting and JSON writing would otherwise share this event loop
 * with both contenders and flatten the ratio towards 1). One source, the plain preset (bearer token,
 * ListingKey tie-break, $skip nextLinks), BENCH_RECORDS (default 20,000) listings with 1-3 photos each in
 * ties of 7 across page boundaries, $expand=Media, page size 1,000 (BENCH_PAGE_SIZE).
 *   (a) baseline: a bare loop written here: fetch (Node's undici), JSON-parse, follow @odata.nextLink;
 *   (b) contender: replicatePass (operators/sources/replicate.ts) over the source client (client.ts: rate
 *       budget, token, decisions, the guarded HTTP client), from no cursor to caught up, and rawListingsOf for
 *       every page (the RawListings the sources step would produce; nothing is sent to Kafka).
 * Both follow the same nextLinks, so they fetch exactly the same pages. BENCH_ROUNDS (default 5) rounds,
 * alternating which contender goes first; the ratio is the median of the per-round ratios b/a (target >= 0.8).
 * Also: requests per idle poll (a pass from the caught-up state: target exactly 1) and each one's peak RSS.
 * `-- --write` (or BENCH_WRITE=1) records the result in docs/benchmarks.md.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createSourceClient } from '../operators/sources/client';
import { buildQuery } from '../operators/sources/query';
import { RateBudget } from '../operators/sources/rate-budget';
import { rawListingsOf } from '../operators/sources/raw-listings';
import { type ReplicationSpec, type ReplicationState, replicatePass } from '../operators/sources/replicate';
import { staticBearer } from '../operators/sources/token';
import { createGuardedClient } from '../runtime/http/guarded-client';
import { PRESETS, ResoDataset, startResoServer } from '../test/support/reso-server';
import { fmtRate, mib, PeakRss, report, table } from './harness';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const PAGE_SIZE = Number(process.env.BENCH_PAGE_SIZE ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SOURCE = 'bench';
const TOKEN = PRESETS.plain.auth.token;

/** Child mode: the RESO test server over BENCH_RECORDS listings; sends its URL, stops on disconnect. */
async function serve(): Promise<void> {
  const server = await startResoServer({
    sources: [
      {
        name: SOURCE,
        quirks: { ...PRESETS.plain, defaultTop: PAGE_SIZE, maxTop: Math.max(1000, PAGE_SIZE) },
        dataset: new ResoDataset({ seed: 15, count: RECORDS, tieSize: 7, deletes: 'status' }),
      },
    ],
  });
  process.send!({ url: server.url });
  process.on('disconnect', () => {
    void server.close().then(() => process.exit(0));
  });
}

function startServerProcess(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(__filename, ['--serve'], { stdio: 'inherit' });
  return new Promise((ok, fail) => {
    child.once('message', (m) => ok({ child, url: (m as { url: string }).url }));
    child.once('exit', (code) => fail(new Error(`the RESO test server exited (${code})`)));
  });
}

interface Run {
  readonly records: number;
  readonly pages: number;
  readonly seconds: number;
  readonly rss: number;
}

const rss = new PeakRss();

async function timed(fn: () => Promise<{ records: number; pages: number }>): Promise<Run> {
  rss.reset();
  const t0 = process.hrtime.bigint();
  const { records, pages } = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { records, pages, seconds, rss: rss.value };
}

/** (a) fetch, parse, follow the nextLink: what replication costs without any of the modules. */
async function bareLoop(first: URL): Promise<{ records: number; pages: number }> {
  let url: string | undefined = first.href;
  let records = 0;
  let pages = 0;
  while (url !== undefined) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    const doc = (await res.json()) as { value: unknown[]; '@odata.nextLink'?: string };
    records += doc.value.length;
    pages++;
    url = doc.value.length > 0 ? doc['@odata.nextLink'] : undefined;
  }
  return { records, pages };
}

async function main(): Promise<void> {
  const { child, url } = await startServerProcess();
  const spec: ReplicationSpec = {
    source: SOURCE,
    resource: `${url}/${SOURCE}/Property`,
    keyField: 'ListingKey',
    timestampField: 'ModificationTimestamp',
    tieMode: 'key',
    pageSize: PAGE_SIZE,
    expandMedia: true,
    deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    nextLinkEncoding: 'standard',
    paging: 'next-link',
  };
  const guarded = createGuardedClient({
    allowHosts: [new URL(url).host],
    allowSetting: 'LISTFLOW_SOURCES_ALLOW_HOSTS',
    blockedCode: 'SOURCE_BLOCKED_URL',
    what: 'source page',
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
    maxRedirects: 0,
  });
  const client = createSourceClient({
    source: SOURCE,
    guarded,
    tokens: staticBearer(TOKEN),
    budget: new RateBudget({}),
    retry: { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 5_000 },
    maxRetryAfterMs: 60_000,
    maxPageBytes: 256 * 2 ** 20,
    pageTimeoutMs: 120_000,
  });
  const source = { name: SOURCE, pollIntervalMs: 60_000, country: 'US', currency: 'USD' } as const;
  const signal = new AbortController().signal;
  let caughtUp: ReplicationState = { initialDone: false };

  /** (b) a whole pass with the modules, building each page's RawListings. */
  async function modules(): Promise<{ records: number; pages: number }> {
    let records = 0;
    let pages = 0;
    let state: ReplicationState = { initialDone: false };
    const receivedAt = new Date();
    // As the worker's syncs run it: the next page is asked for while this one becomes records.
    for await (const page of replicatePass(spec, client, state, signal, { prefetch: true })) {
      const raws = rawListingsOf(source, page, { passId: `${SOURCE}@start`, position: records, receivedAt });
      records += raws.length;
      pages++;
      state = page.state;
    }
    caughtUp = state;
    return { records, pages };
  }

  const first = buildQuery(spec, undefined, { initial: true });
  // One warm-up of each (JIT, connections, the server's query cache), not counted.
  await bareLoop(first);
  await modules();
  const bare: Run[] = [];
  const mods: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      bare.push(await timed(() => bareLoop(first)));
      mods.push(await timed(modules));
    } else {
      mods.push(await timed(modules));
      bare.push(await timed(() => bareLoop(first)));
    }
    const a = bare[round]!;
    const b = mods[round]!;
    console.log(
      `round ${round + 1}: bare ${fmtRate(a.records / a.seconds)} records/s, modules ${fmtRate(b.records / b.seconds)} records/s, ratio ${(a.seconds / b.seconds).toFixed(2)}`,
    );
  }
  for (const [a, b] of bare.map((a, i) => [a, mods[i]!] as const)) {
    if (a.records !== b.records || a.pages !== b.pages) {
      throw new Error(
        `the contenders saw different pages: bare ${a.records}/${a.pages}, modules ${b.records}/${b.pages}`,
      );
    }
  }
  if (bare[0]!.records !== RECORDS) throw new Error(`replicated ${bare[0]!.records} records, expected ${RECORDS}`);

  // A quiet poll: from the caught-up state, nothing changed.
  const before = client.requests();
  let idleRecords = 0;
  for await (const page of replicatePass(spec, client, caughtUp, signal)) idleRecords += page.records.length;
  const idleRequests = client.requests() - before;

  child.disconnect();
  await guarded.close();
  rss.stop();

  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const ratios = bare.map((a, i) => a.seconds / mods[i]!.seconds);
  const rate = (r: Run) => r.records / r.seconds;
  const rows = [
    [
      '(a) bare fetch + JSON.parse loop',
      bare.map((r) => fmtRate(rate(r))).join(' / '),
      fmtRate(median(bare.map(rate))),
      mib(Math.max(...bare.map((r) => r.rss))),
    ],
    [
      '(b) replicatePass + client + rawListingsOf',
      mods.map((r) => fmtRate(rate(r))).join(' / '),
      fmtRate(median(mods.map(rate))),
      mib(Math.max(...mods.map((r) => r.rss))),
    ],
  ];
  report('sources', [
    `${RECORDS.toLocaleString('en-US')} listings with Media (1-3 photos), page size ${PAGE_SIZE.toLocaleString('en-US')} (${bare[0]!.pages} pages), ${ROUNDS} rounds alternating; server in a child process.`,
    '',
    ...table(['contender', 'records/s per round', 'median records/s', 'peak RSS (this process)'], rows),
    '',
    `Ratio b/a: median ${median(ratios).toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; target >= 0.8).`,
    `Idle poll: ${idleRequests} request(s), ${idleRecords} records (target: exactly 1 request).`,
  ]);
}

if (process.argv.includes('--serve')) {
  void serve();
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
