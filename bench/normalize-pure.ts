/**
 * normalize's pure function alone: no Kafka, no runtime, one thread. Over the same deterministic sample feed
 * as bench:normalize (seed 5, ~3% broken), it times normalizeListing in alternating warm rounds and prints
 * records/s and a digest of every outcome (Listing or error code + message), so a speed-up that changes any
 * output shows up as a different digest.
 *
 * Run after a build (`npx tsc -p tsconfig.build.json`): `node dist/bench/normalize-pure.js`
 * (add `--cpu-prof --cpu-prof-dir=/tmp/prof` for a profile). Knobs: BENCH_RECORDS (default 50,000),
 * BENCH_ROUNDS (default 5), BENCH_VARY=1 to rename fields as JSON feeds do (varyFieldNames).
 */
import { createHash } from 'node:crypto';
import { normalizeConfig } from '../operators/normalize/config';
import { normalizeListing } from '../operators/normalize/process';
import { parseConfig } from '../runtime/config';
import type { RawListing } from '../schemas/generated/types';
import { sampleRawListings } from './fixtures';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const VARY = process.env.BENCH_VARY === '1';

const records: RawListing[] = sampleRawListings(TOTAL, { vary: VARY }).map((r) => r.value);
const config = parseConfig(normalizeConfig, {}, { where: 'bench' });

function digest(): { hash: string; thrown: number } {
  const h = createHash('sha256');
  let thrown = 0;
  for (const r of records) {
    try {
      h.update(JSON.stringify(normalizeListing(r, config)));
    } catch (e) {
      thrown++;
      const err = e as { code?: string; message?: string; detail?: unknown };
      h.update(`!${err.code}|${err.message}|${JSON.stringify(err.detail)}`);
    }
    h.update('\n');
  }
  return { hash: h.digest('hex').slice(0, 16), thrown };
}

function round(): number {
  const t0 = performance.now();
  for (const r of records) {
    try {
      normalizeListing(r, config);
    } catch {
      // counted by digest()
    }
  }
  return records.length / ((performance.now() - t0) / 1000);
}

round(); // warm-up: JIT and inline caches
const rates: number[] = [];
for (let k = 0; k < ROUNDS; k++) rates.push(round());
rates.sort((a, b) => a - b);
const { hash, thrown } = digest();
const median = rates[Math.floor(rates.length / 2)]!;
console.log(
  `normalizeListing over ${records.length} records${VARY ? ' (varied names)' : ''}: median ${Math.round(median)} records/s, best ${Math.round(rates.at(-1)!)} (${(1e6 / median).toFixed(1)} µs/record); ${thrown} thrown; digest ${hash}`,
);
