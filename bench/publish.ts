/**
 * npm run bench:publish: rows/s of publish's batched upsert path against a single multi-row
 * INSERT ... ON CONFLICT of the same rows (the ceiling), side by side in one run.
 *
 * BENCH_ROWS (default 100,000) EnrichedListings of realistic size (3 photos x 3 variants in the jsonb
 * document), in chunks of BENCH_CHUNK (default 500, the runtime's processBatch chunk). For each chunk, in
 * turn, so that load from other processes hits both alike:
 *   (a) ceiling: one statement, `INSERT INTO listings_ceiling (<21 columns>) VALUES (...), (...), ...
 *       ON CONFLICT (id) DO UPDATE SET ... WHERE modified_at < EXCLUDED.modified_at`, autocommit. Same columns,
 *       same indexes, same row values as publish writes (21 x 500 = 10,500 parameters, under the protocol's 65,535);
 *   (b) contender: publishBatch (operators/publish/process.ts) with the real pg Db: one transaction that locks
 *       and reads the current versions (listings and tombstones), plans, upserts with unnest, clears tombstones.
 * Two passes over the same ids: `insert` (empty tables) and `update` (every listing one day newer, so every
 * row is replaced). Rows/s per pass and overall, and the ratio b/a.
 *
 * Isolation: everything happens in a fresh schema `bench_publish_<random>` (search_path set on the
 * connection), created by publish's own migrations and dropped at the end; the shared `public` tables are
 * never touched. LISTFLOW_POSTGRES_URL picks the server (default: the local platform's).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { parseConfig } from '../runtime/config';
import { plainContext } from '../runtime/operator';
import { publishConfig } from '../operators/publish/config';
import { createPgDb } from '../operators/publish/db';
import { applyMigrations } from '../operators/publish/migrations';
import { publishBatch } from '../operators/publish/process';
import { LISTING_COLUMNS, upsertListings } from '../operators/publish/sql';
import type { EnrichedListing, PublishedListing } from '../schemas/generated/types';
import { benchEnriched } from './fixtures';
import { fmtRate, report, table } from './harness';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 500);
const URL_ = process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow';
const SCHEMA = `bench_publish_${randomUUID().slice(0, 8)}`;

function withSearchPath(url: string, schema: string): string {
  // %20, not '+': the connection-string parser decodes with decodeURIComponent.
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/**
 * The ceiling: one multi-row INSERT ... VALUES ... ON CONFLICT per chunk, with the same column values as
 * publish's upsert (taken from its own statement builder, so the two cannot drift apart).
 */
function ceilingInsert(docs: readonly PublishedListing[]): { text: string; values: unknown[] } {
  const columnsOf = upsertListings(docs).values as unknown[][]; // one array per column
  const n = LISTING_COLUMNS.length;
  const tuples: string[] = [];
  const values: unknown[] = [];
  for (let r = 0; r < docs.length; r++) {
    tuples.push(`(${LISTING_COLUMNS.map((_, c) => `$${r * n + c + 1}`).join(', ')})`);
    for (let c = 0; c < n; c++) values.push(columnsOf[c]![r]);
  }
  const updates = LISTING_COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ');
  return {
    text:
      `INSERT INTO listings_ceiling (${LISTING_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ` +
      `ON CONFLICT (id) DO UPDATE SET ${updates} WHERE listings_ceiling.modified_at < EXCLUDED.modified_at`,
    values,
  };
}

interface Pass {
  readonly name: string;
  ceilingMs: number;
  publishMs: number;
}

async function main(): Promise<void> {
  const url = withSearchPath(URL_, SCHEMA);
  const admin = new pg.Client({ connectionString: URL_ });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  const db = createPgDb({ url, poolSize: 1, statementTimeoutMs: 120_000, connectTimeoutMs: 5_000 });
  const ceiling = new pg.Client({ connectionString: url, statement_timeout: 120_000 });
  try {
    await applyMigrations(db);
    await ceiling.connect();
    // Same columns, constraints and indexes as publish's table.
    await ceiling.query('CREATE TABLE listings_ceiling (LIKE listings INCLUDING ALL)');
    const check = await ceiling.query<{ s: string }>('SELECT current_schema() AS s');
    if (check.rows[0]?.s !== SCHEMA) throw new Error(`search_path not applied: ${check.rows[0]?.s}`);

    const config = parseConfig(publishConfig, { postgresUrl: url, migrate: false }, { where: 'bench' });
    const ctx = plainContext(config, { db });
    console.log(`publish bench: ${ROWS} rows in chunks of ${CHUNK}, schema ${SCHEMA}`);
    const passes: Pass[] = [];
    for (const [name, day] of [
      ['insert (new ids)', 1],
      ['update (every id one day newer)', 2],
    ] as const) {
      const pass: Pass = { name, ceilingMs: 0, publishMs: 0 };
      const modifiedAt = new Date(Date.UTC(2026, 0, day));
      for (let start = 0; start < ROWS; start += CHUNK) {
        const records: EnrichedListing[] = [];
        for (let i = start; i < Math.min(ROWS, start + CHUNK); i++) records.push(benchEnriched(i, modifiedAt));
        const now = new Date();
        const docs: PublishedListing[] = records.map((r) => ({
          listing: r.listing,
          images: r.images,
          previousPrice: null,
          publishedAt: now,
        }));
        // Alternate which goes first, so neither always meets a warm or a cold cache.
        const runCeiling = async () => {
          const t = performance.now();
          const s = ceilingInsert(docs);
          await ceiling.query(s.text, s.values);
          pass.ceilingMs += performance.now() - t;
        };
        const runPublish = async () => {
          const t = performance.now();
          await publishBatch(
            records.map((record, i) => ({
              record,
              input: {
                topic: 'bench',
                partition: 0,
                offset: String(start + i),
                key: record.listing.id,
                headers: {},
                timestamp: '0',
              },
            })),
            ctx,
          );
          pass.publishMs += performance.now() - t;
        };
        if ((start / CHUNK) % 2 === 0) {
          await runCeiling();
          await runPublish();
        } else {
          await runPublish();
          await runCeiling();
        }
      }
      const c = (ROWS * 1000) / pass.ceilingMs;
      const p = (ROWS * 1000) / pass.publishMs;
      console.log(`${name}: ceiling ${fmtRate(c)} rows/s, publish ${fmtRate(p)} rows/s, ratio ${(p / c).toFixed(2)}`);
      passes.push(pass);
    }
    const counts = await ceiling.query<{ a: string; b: string }>(
      'SELECT (SELECT count(*) FROM listings) AS a, (SELECT count(*) FROM listings_ceiling) AS b',
    );
    if (Number(counts.rows[0]!.a) !== ROWS || Number(counts.rows[0]!.b) !== ROWS)
      throw new Error(
        `row counts differ: listings ${counts.rows[0]!.a}, ceiling ${counts.rows[0]!.b}, expected ${ROWS}`,
      );

    const rows = passes.map((p) => {
      const c = (ROWS * 1000) / p.ceilingMs;
      const b = (ROWS * 1000) / p.publishMs;
      return [p.name, fmtRate(c), fmtRate(b), `**${(b / c).toFixed(2)}**`];
    });
    const totalC = (2 * ROWS * 1000) / passes.reduce((n, p) => n + p.ceilingMs, 0);
    const totalP = (2 * ROWS * 1000) / passes.reduce((n, p) => n + p.publishMs, 0);
    rows.push(['both passes', fmtRate(totalC), fmtRate(totalP), `**${(totalP / totalC).toFixed(2)}**`]);
    report(
      'publish',
      [
        `Sizes: ${ROWS.toLocaleString('en-US')} EnrichedListings (3 photos x 3 variants each in the jsonb document) per pass, chunks of ${CHUNK} rows, one connection each, chunks alternating between the two; isolated schema, dropped afterwards.`,
        '',
        ...table(
          [
            'pass',
            '(a) ceiling: one multi-row INSERT ... ON CONFLICT, rows/s',
            '(b) publishBatch, rows/s',
            'ratio b/a',
          ],
          rows,
        ),
        '',
        `Ratio publish / ceiling over both passes: **${(totalP / totalC).toFixed(2)}**. The ceiling does strictly less: no transaction around it, no SELECT ... FOR UPDATE of current versions and tombstones, no plan, no tombstone clean-up; publish needs those for its version guard and previousPrice.`,
      ],
      { perClient: true },
    );
  } finally {
    await ceiling.end().catch(() => undefined);
    await db.close().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch((e: unknown) => {
      console.error(`could not drop schema ${SCHEMA}: ${(e as Error).message}`);
    });
    await admin.end();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
