/**
 * `listflow run --operator NAME --check` through the real CLI binary (dist/cli/main.js): exit 0 with the
 * effective configuration on stdout, exit 1 with every problem on stderr, and no connection either way: the
 * brokers, registry and database point at a port nothing listens on, and the check still answers at once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** A port that was free a moment ago and that nothing listens on now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function check(operator: string, env: Record<string, string>, ...extra: string[]) {
  const started = Date.now();
  const res = spawnSync(process.execPath, [CLI, 'run', '--operator', operator, '--check', ...extra], {
    cwd: ROOT,
    // Only what is given: a stray LISTFLOW_* variable of the caller must not change the outcome.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr, ms: Date.now() - started };
}

let unreachable: Record<string, string>;
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing. Fix: run \`npx tsc -p tsconfig.build.json\` first.`);
  const port = await closedPort();
  unreachable = {
    LISTFLOW_KAFKA_BROKERS: `127.0.0.1:${port}`,
    LISTFLOW_REGISTRY_URL: `http://127.0.0.1:${port}/apis/ccompat/v7`,
    LISTFLOW_POSTGRES_URL: `postgres://listflow:hunter2@127.0.0.1:${port}/listflow`,
  };
});

test.each(['ingest', 'normalize', 'images', 'publish', 'price-changes'])(
  '%s: a valid configuration exits 0 at once with nothing listening, printing values and sources',
  (operator) => {
    const env = { ...unreachable, ...(operator === 'ingest' ? { LISTFLOW_INGEST_FILE_ROOT: '/srv/feeds' } : {}) };
    const r = check(operator, env);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain(`${operator} (operator ${operator}, pipeline built-in): configuration OK`);
    expect(r.stdout).toMatch(
      new RegExp(`LISTFLOW_KAFKA_BROKERS\\s+${unreachable.LISTFLOW_KAFKA_BROKERS}\\s+environment`),
    );
    expect(r.stdout).toMatch(/LISTFLOW_HTTP_PORT\s+9400\s+default/);
    expect(r.stdout).not.toContain('hunter2');
    // A connection attempt to a closed port would retry for many seconds (kafkajs: 8 retries).
    expect(r.ms).toBeLessThan(10_000);
  },
);

test('publish without its database URL and with bad values: exit 1 naming every variable, value and fix', () => {
  const { LISTFLOW_POSTGRES_URL: _dropped, ...rest } = unreachable;
  const r = check('publish', { ...rest, LISTFLOW_PUBLISH_POOL_SIZE: '0', LISTFLOW_MAX_IN_FLIGHT: 'lots' });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('publish: 3 configuration problem(s):');
  expect(r.stderr).toMatch(
    /- Expected integer between 1 and 100000 for LISTFLOW_MAX_IN_FLIGHT but received "lots".*Fix:/,
  );
  expect(r.stderr).toMatch(/- Missing required LISTFLOW_POSTGRES_URL .*Fix: set it/);
  expect(r.stderr).toMatch(/- Expected integer between 1 and 64 for LISTFLOW_PUBLISH_POOL_SIZE but received "0".*Fix:/);
});

test('--json: the same report as data, secrets redacted', () => {
  const r = check('publish', unreachable, '--json');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as {
    ok: boolean;
    groups: { title: string; values: { variable: string; shown: string; source: string }[] }[];
  };
  expect(report.ok).toBe(true);
  const db = report.groups.flatMap((g) => g.values).find((v) => v.variable === 'LISTFLOW_POSTGRES_URL');
  expect(db).toMatchObject({ shown: '(secret, set)', source: 'environment' });
  expect(r.stdout).not.toContain('hunter2');
});
