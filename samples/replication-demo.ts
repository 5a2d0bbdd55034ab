/**
 * The replication part of `npm run local`: the project's RESO Web API server (test/support/reso-server, the
 * stand-in for MLS servers no machine here can reach) serves the four local sources of pipelines/sources.yaml,
 * each with its vendor's quirks, on 127.0.0.1:18480; `listflow sources apply` publishes their declarations;
 * the running sources worker replicates them (the initial load), then the server's data changes (prices,
 * statuses, deletions, photos, new listings) and the worker picks the changes up. After each phase PostgreSQL
 * is checked against the server's truth: every live listing with its latest price, status and photo count,
 * and no deleted one. Exits 1 when the replica is not exact within the time limit.
 *
 *   node dist/samples/replication-demo.js [--count N] [--seed N] [--timeout-ms N] [--json]
 *
 * The workers must be running (`listflow run --all`) with the local sources' credentials (LOCAL_RESO_ENV),
 * LISTFLOW_SOURCES_ALLOW_HOSTS and LISTFLOW_IMAGES_ALLOW_HOSTS allowing the server; scripts/local.sh sets them.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { toolOf } from '../operators/tools';
import {
  LOCAL_READINGS,
  LOCAL_RESO_PORT,
  localResoSources,
  type ResoServer,
  startResoServer,
} from '../test/support/reso-server';
import { expectedRows, type ReplicaDifference, replicaDifferences } from '../test/support/reso-server/replica-check';
import { writeSamplePhotos } from './images';

const run = promisify(execFile);

interface Options {
  readonly count: number;
  readonly seed: number;
  readonly timeoutMs: number;
  readonly json: boolean;
  readonly photosDir: string;
}

function options(argv: readonly string[]): Options {
  const o = { count: 40, seed: 1, timeoutMs: 180_000, json: false, photosDir: '.listflow/samples/reso-photos' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0)
        throw new Error(`replication-demo: ${a} needs a positive integer, received ${argv[i]}`);
      return v;
    };
    if (a === '--count') o.count = num();
    else if (a === '--seed') o.seed = num();
    else if (a === '--timeout-ms') o.timeoutMs = num();
    else if (a === '--json') o.json = true;
    else if (a === '--photos-dir') o.photosDir = argv[++i] ?? o.photosDir;
    else throw new Error(`replication-demo: unknown option ${a}`);
  }
  return o;
}

const say = (msg: string): void => void process.stderr.write(`== replication: ${msg}\n`);

interface PhaseResult {
  readonly phase: string;
  readonly ms: number;
  readonly sources: Record<string, { live: number; published: number; differences: number }>;
  readonly differences: readonly (ReplicaDifference & { source: string })[];
}

/** Waits until every source's published rows equal its truth (or the time is up), printing progress. */
async function converge(
  server: ResoServer,
  names: readonly string[],
  tag: string,
  db: pg.Pool,
  phase: string,
  timeoutMs: number,
): Promise<PhaseResult> {
  const listings = toolOf('publishedListings');
  const started = Date.now();
  let lastLine = '';
  for (;;) {
    const sources: PhaseResult['sources'] = {};
    const differences: (ReplicaDifference & { source: string })[] = [];
    for (const name of names) {
      const truth = expectedRows(LOCAL_READINGS.find((r) => r.name === name)!, server.source(name).dataset);
      // This run's listings only (their keys carry its tag): earlier runs' rows stay in PostgreSQL.
      const rows = (await listings.ofSource(db, name)).filter((r) => r.id.includes(`-${tag}-`));
      const d = replicaDifferences(name, truth, rows);
      sources[name] = { live: truth.size, published: rows.length, differences: d.length };
      differences.push(...d.map((x) => ({ ...x, source: name })));
    }
    const line = names
      .map(
        (n) =>
          `${n} ${sources[n]!.published}/${sources[n]!.live}${sources[n]!.differences ? ` (${sources[n]!.differences} to go)` : ''}`,
      )
      .join(', ');
    if (line !== lastLine) say(`${phase}: ${line}`);
    lastLine = line;
    if (differences.length === 0 || Date.now() - started > timeoutMs)
      return { phase, ms: Date.now() - started, sources, differences };
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** One round of live changes per source, as the issue lists them; returns what was changed. */
function changeEverything(server: ResoServer, names: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of names) {
    const d = server.source(name).dataset;
    const keys = d.liveKeys();
    const changes: string[] = [];
    const at = (i: number) => keys[i % keys.length]!;
    d.changePrice(at(0), 123_456);
    d.changePrice(at(1), 654_321);
    changes.push('2 price changes');
    d.changeStatus(at(2), 'Pending');
    changes.push('1 status change');
    d.changePhotos(at(3), { replace: true, removeLast: true, add: 1 });
    changes.push('1 photo change');
    // local-spark signals no deletions: its worker finds this one at its next purge pass (every minute here).
    d.remove(at(4));
    changes.push(d.options.deletes === 'purge' ? '1 deletion (found by a purge pass)' : '1 deletion');
    d.addListing();
    changes.push('1 new listing');
    out[name] = changes;
  }
  return out;
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  const photoFiles = await writeSamplePhotos(o.photosDir, 12, o.seed);
  const photoBytes = await Promise.all(photoFiles.map((u) => readFile(new URL(u))));
  const tag = `R${Date.now().toString(36).toUpperCase()}`;
  const server = await startResoServer({
    port: LOCAL_RESO_PORT,
    // Keys tagged and data starting now, per run: a second run on the same platform replicates its own listings
    // past the cursors the first left, and checks only those.
    sources: localResoSources(o.seed, o.count, { tag, baseMicros: BigInt(Date.now()) * 1000n }),
    photoBytes,
  });
  const names = LOCAL_READINGS.map((r) => r.name);
  const db = new pg.Pool({ connectionString: process.env.LISTFLOW_POSTGRES_URL, max: 2 });
  try {
    say(`RESO Web API server on ${server.url}: ${names.length} sources, ${o.count} listings each`);
    const cli = join(__dirname, '..', 'cli', 'main.js');
    const applied = await run(process.execPath, [cli, 'sources', 'apply', '--yes'], { env: process.env });
    process.stderr.write(applied.stdout);
    const phases: PhaseResult[] = [];
    phases.push(await converge(server, names, tag, db, 'initial load', o.timeoutMs));
    const changes = changeEverything(server, names);
    say(
      `live changes: ${Object.entries(changes)
        .map(([n, c]) => `${n}: ${c.join(', ')}`)
        .join('; ')}`,
    );
    phases.push(await converge(server, names, tag, db, 'live changes', o.timeoutMs));
    const requests = Object.fromEntries(names.map((n) => [n, server.source(n).requests()]));
    const ok = phases.every((p) => p.differences.length === 0);
    const summary = { ok, phases, changes, requests };
    if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      for (const p of phases)
        say(
          `${p.phase}: ${p.differences.length === 0 ? "PostgreSQL equals the servers' truth" : `${p.differences.length} difference(s), e.g. ${JSON.stringify(p.differences.slice(0, 3))}`} (${(p.ms / 1000).toFixed(1)} s)`,
        );
      say(
        `requests per source: ${Object.entries(requests)
          .map(([n, r]) => `${n} ${r}`)
          .join(', ')}`,
      );
    }
    return ok ? 0 : 1;
  } finally {
    await db.end();
    await server.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`replication-demo: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
