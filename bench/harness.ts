/**
 * Shared pieces of the benchmarks: fresh topics, preloading, waiting for a topic to fill, a results file.
 * Benchmarks print ratios measured side by side in one run; they never assert on time.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { delay } from '../test/support/streams';

export async function topicSize(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

/**
 * Waits until `topic` holds `count` records and returns the steady-state rate in records/s: measured from
 * the moment 2% had arrived to the end, so that start-up (connecting, joining the group) is left out for
 * every contender alike.
 */
export async function steadyRate(admin: Admin, topic: string, count: number, timeoutMs = 600_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  const warm = Math.ceil(count * 0.02);
  let warmAt: { t: number; n: number } | null = null;
  for (;;) {
    const n = await topicSize(admin, topic);
    if (!warmAt && n >= warm) warmAt = { t: Date.now(), n };
    if (n >= count && warmAt) return ((n - warmAt.n) * 1000) / Math.max(1, Date.now() - warmAt.t);
    if (Date.now() > end) throw new Error(`${topic} did not reach ${count} records in ${timeoutMs} ms`);
    await delay(25);
  }
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Appends a dated section to docs/benchmarks.md. */
export function record(title: string, lines: string[]): void {
  const file = join(__dirname, '..', '..', 'docs', 'benchmarks.md');
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nWritten by `npm run bench:*`; newest last.\n');
  appendFileSync(
    file,
    `\n## ${title}: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\nMachine: ${machine()}\n\n${lines.join('\n')}\n`,
  );
}
