/**
 * The poller (the sources step's `own`) over in-memory topics (runtime/assigned/memory.ts) against the
 * project's RESO test server: what it commits, in one transaction per page, and what it does on failures.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../runtime/config';
import { RetriableError } from '../../runtime/errors';
import { memoryOwner } from '../../runtime/assigned/memory';
import type { Logger } from '../../runtime/operator';
import type { RawListing, SourceDeclaration, SourceKey, SourceState } from '../../schemas/generated/types';
import {
  PRESETS,
  ResoDataset,
  type ResoQuirks,
  type ResoServer,
  startResoServer,
} from '../../test/support/reso-server';
import { sourcesConfig } from './config';
import { pollSource, type SourcePorts, type SourcesServices } from './poller';

let server: ResoServer | undefined;
/** Stops for every owner set up: a test that fails before its own stop must not leave its poller running. */
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await server?.close();
  server = undefined;
});

function declaration(entry: Record<string, unknown>): SourceDeclaration {
  const text = JSON.stringify(entry);
  return { name: String(entry.name), kind: 'reso-web-api', declaration: text, digest: 'd', appliedAt: new Date(0) };
}

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!ok()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setUp(
  deletes: 'status' | 'purge',
  entryOver: Record<string, unknown> = {},
  token = 'local-token',
  o: { quirks?: Partial<ResoQuirks>; tieSize?: number } = {},
) {
  const dataset = new ResoDataset({ seed: 3, count: 12, tieSize: o.tieSize ?? 3, deletes, keyPrefix: 'K' });
  server = await startResoServer({
    sources: [{ name: 's', quirks: { ...PRESETS.plain, deletes, ...o.quirks }, dataset }],
  });
  const entry = {
    name: 's',
    kind: 'reso-web-api',
    resource: server.source('s').resourceUrl,
    auth: { kind: 'bearer', tokenEnv: 'S_TOKEN' },
    tieBreak: 'key',
    paging: 'cursor',
    pageSize: 5,
    pollInterval: '1s',
    deletes:
      deletes === 'purge'
        ? { kind: 'purge', every: '1h' }
        : { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    media: { mode: 'expand', changeTimestamp: 'PhotosChangeTimestamp' },
    ...entryOver,
  };
  const config = parseConfig(
    sourcesConfig,
    { allowHosts: new URL(server.url).host, requestAttempts: '1' },
    { where: 'test' },
  );
  let offsetMs = 0;
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (_o: unknown, msg?: string) => {
      warnings.push(String(msg));
    },
    error() {},
    child: () => logger,
  };
  const owner = memoryOwner<typeof config, SourcesServices, SourcePorts>({
    key: 's',
    config,
    logger,
    services: { env: { S_TOKEN: token }, validate: {} },
    clock: { now: () => new Date(Date.now() + offsetMs) },
  });
  stops.push(() => owner.stop());
  const raws = () => (owner.log.get('raw') ?? []).map((e) => e.value as RawListing);
  const state = () => owner.latest.get('state')?.get('s') as SourceState | undefined;
  const keys = () => owner.latest.get('keys') as Map<string, SourceKey> | undefined;
  const requests = () => server!.log.filter((e) => e.kind === 'resource').length;
  /** Requests per poll from the `from`-th on: a poll's come back to back, polls are a second apart. */
  const perPoll = (from: number) => {
    const polls: number[] = [];
    let last = Number.NEGATIVE_INFINITY;
    for (const e of server!.log.filter((x) => x.kind === 'resource').slice(from)) {
      if (e.at - last > 400) polls.push(1);
      else polls[polls.length - 1]!++;
      last = e.at;
    }
    return polls;
  };
  return {
    dataset,
    entry,
    owner,
    warnings,
    requests,
    perPoll,
    raws,
    state,
    keys,
    later: (ms: number) => {
      offsetMs += ms;
    },
  };
}

describe('pollSource', () => {
  it('replicates, then picks up changes; each page with its state and keys in one commit', async () => {
    const t = await setUp('status');
    const running = pollSource(declaration(t.entry), t.owner.ctx);
    await until('the initial load', () => t.raws().length === 12);
    // 12 records in pages of 5: three pages, three commits, the state after the last.
    expect(t.owner.commits()).toBe(3);
    expect(t.state()?.initialDone).toBe(true);
    expect(t.keys()?.size).toBe(12);
    const [a, gone] = t.dataset.liveKeys();
    t.dataset.changePrice(a!, 777);
    t.dataset.remove(gone!);
    await until('the changes', () => t.raws().length === 14);
    const last = t
      .raws()
      .slice(12)
      .map((r) => JSON.parse(r.payload) as Record<string, unknown>);
    expect(last.map((r) => [r.ListingKey, r.ListPrice ?? null, r.StandardStatus])).toEqual(
      expect.arrayContaining([
        [a, 777, expect.anything()],
        [gone, expect.anything(), 'Delete'],
      ]),
    );
    // The deleted listing leaves the source's keys (a tombstone in the same commit).
    expect(t.keys()?.has(`s:${gone}`)).toBe(false);
    expect(t.state()?.cursor?.key).toBe([a, gone].sort().at(-1));
    t.owner.stop();
    await running;
  });

  it('a purge pass deletes the keys the server stopped listing, stamped with the purge time', async () => {
    const t = await setUp('purge');
    const running = pollSource(declaration(t.entry), t.owner.ctx);
    await until(
      'the initial load and first purge',
      // The committed record holds null until a purge has run (undefined would match before it).
      () => t.raws().length === 12 && typeof t.state()?.lastPurgeAt === 'string',
    );
    const gone = t.dataset.liveKeys()[4]!;
    t.dataset.remove(gone);
    t.later(2 * 3_600_000); // the next purge is due
    await until('the purge', () => t.raws().length === 13);
    const purge = t.raws()[12]!;
    expect(purge).toMatchObject({ listingKey: gone, source: 's' });
    expect(JSON.parse(purge.payload)).toMatchObject({ ListingKey: gone, StandardStatus: 'Delete' });
    expect(t.keys()?.has(`s:${gone}`)).toBe(false);
    expect(t.keys()?.size).toBe(11);
    expect(t.state()?.counts.deletes).toBe(1);
    t.owner.stop();
    await running;
  });

  it('a failed commit fails the poll only: counted, and the next poll resumes from the committed state', async () => {
    const t = await setUp('status');
    t.owner.failNextCommit(new RetriableError('SOURCE_UNAVAILABLE', 'broker away'));
    const running = pollSource(declaration(t.entry), t.owner.ctx);
    await until('the initial load', () => t.raws().length === 12, 20_000);
    expect(t.owner.gauges.get('poll_failures')).toBe(1);
    // No record twice: the failed page was never committed, and the next poll took it from the cursor.
    const keys = t.raws().map((r) => r.listingKey);
    expect(new Set(keys).size).toBe(keys.length);
    t.owner.stop();
    await running;
  });

  // MLS Grid-like: the server cannot break ties by key (ge ties), and the whole load is one instant: a tie of
  // 12 over pages of 5, which a quiet pass would re-read in 3 requests.
  const geTies = { tieBreak: 'timestamp', paging: 'next-link' };
  const mlsLike = { keyTieBreak: false };

  it('ge ties larger than a page: every quiet poll is one request; a change after them is taken once', async () => {
    const t = await setUp('status', geTies, undefined, { quirks: mlsLike, tieSize: 12 });
    const running = pollSource(declaration(t.entry), t.owner.ctx);
    try {
      await until('the initial load', () => t.raws().length === 12);
      expect(t.state()?.cursor?.keysAtTimestamp).toHaveLength(12);
      const commits = t.owner.commits();
      const from = t.requests();
      await until('three quiet polls', () => t.requests() >= from + 3, 10_000);
      expect(t.perPoll(from)).toEqual([1, 1, 1]);
      expect(t.owner.commits()).toBe(commits);
      const [a] = t.dataset.liveKeys();
      t.dataset.changePrice(a!, 4242);
      await until('the change', () => t.raws().length === 13);
      expect(JSON.parse(t.raws()[12]!.payload)).toMatchObject({ ListingKey: a, ListPrice: 4242 });
      const settled = t.requests();
      await until('quiet again', () => t.requests() >= settled + 2, 10_000);
      // (the poll that took the change: the probe, then the pass over the tie, 3 pages; then quiet polls)
      expect(t.perPoll(settled).slice(0, 2)).toEqual([1, 1]);
      expect(t.raws().filter((r) => r.listingKey === a)).toHaveLength(2); // the load's version and the change's
      expect(t.warnings).toEqual([]);
    } finally {
      // a failed wait must not leave the poller running (jest would wait for it)
      t.owner.stop();
      await running;
    }
  }, 30_000);

  it('a server that refuses the probe still replicates, and the poller warns what to declare', async () => {
    const t = await setUp('status', geTies, undefined, { quirks: { ...mlsLike, refuseDescending: true }, tieSize: 12 });
    const running = pollSource(declaration(t.entry), t.owner.ctx);
    try {
      await until('the initial load', () => t.raws().length === 12);
      const [a] = t.dataset.liveKeys();
      t.dataset.changePrice(a!, 4343);
      await until('the change', () => t.raws().length === 13);
      await until('a warning', () => t.warnings.length > 0);
      expect(t.warnings[0]).toContain('orderDescending: false');
      expect(t.raws().filter((r) => r.listingKey === a)).toHaveLength(2);
    } finally {
      // a failed wait must not leave the poller running (jest would wait for it)
      t.owner.stop();
      await running;
    }
  }, 30_000);

  it.each([
    {
      name: 'a secret that is not set',
      over: { auth: { kind: 'bearer', tokenEnv: 'UNSET' } },
      code: 'SOURCES_INVALID',
    },
    { name: 'a token the server refuses', over: {}, token: 'not-the-token', code: 'SOURCE_AUTH_FAILED' },
    {
      name: 'a snapshot kind',
      over: { kind: 'file', uri: 'file:///tmp/x.json', resource: undefined },
      code: 'SOURCES_INVALID',
    },
  ])('a permanent failure ($name) is thrown, for the runtime to dead-letter', async ({ over, code, token }) => {
    const t = await setUp('status', over, token);
    await expect(pollSource(declaration(JSON.parse(JSON.stringify(t.entry))), t.owner.ctx)).rejects.toMatchObject({
      code,
    });
    expect(t.owner.commits()).toBe(0);
  });
});
