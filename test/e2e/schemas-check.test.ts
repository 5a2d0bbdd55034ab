/**
 * `listflow schemas check` through the real CLI binary (dist/cli/main.js, built by `npx tsc -p
 * tsconfig.build.json`): registers the real schemas for a pipeline with unique topics, then proves that the check
 * passes on them and fails (exit 1, precise message) on a Listing.avsc with a new required field without default.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renamedListings } from '../support/pipeline-workers';
import { endpoints, uniqueName } from '../support/streams';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

let dir: string;
let run: string;
let env: NodeJS.ProcessEnv;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', CLI, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing. Fix: run \`npx tsc -p tsconfig.build.json\` first.`);
  dir = mkdtempSync(join(tmpdir(), 'listflow-e2e-schemas-'));
  run = uniqueName('e2e');
  const pipeline = renamedListings(run);
  writeFileSync(join(dir, 'pipeline.json'), JSON.stringify(pipeline));
  // Only what the CLI needs: a stray LISTFLOW_* variable of the caller must not change the outcome.
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LISTFLOW_PIPELINE_FILE: join(dir, 'pipeline.json'),
    LISTFLOW_KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    LISTFLOW_REGISTRY_URL: endpoints.registryUrl,
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('register, then check passes on the real schemas and fails on an incompatible Listing', () => {
  const register = cli('schemas', 'register');
  expect(register.stderr).toBe('');
  expect(register.code).toBe(0);
  expect(register.stdout).toMatch(
    new RegExp(`^${run}\\.normalized-value\\s+Listing\\s+\\d+\\s+\\S+\\s+registered$`, 'm'),
  );

  const ok = cli('schemas', 'check');
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain('all 5 links and 10 subjects are compatible');

  const bad = join(dir, 'bad-schemas');
  mkdirSync(bad);
  const listing = JSON.parse(readFileSync(join(ROOT, 'schemas', 'Listing.avsc'), 'utf8'));
  listing.fields.push({ name: 'energyRating', type: 'string' });
  writeFileSync(join(bad, 'Listing.avsc'), JSON.stringify(listing, null, 2));

  const failed = cli('schemas', 'check', '--schemas-dir', bad);
  expect(failed.code).toBe(1);
  const reason = 'no matching field for default-less listflow.Listing.energyRating';
  expect(failed.stderr).toContain(
    `listflow schemas check: broken link: step normalize port listings -> topic ${run}.normalized -> step images: writer Listing (built-in) cannot be read by reader Listing (schemas-dir ${bad}): ${reason}\n`,
  );
  expect(failed.stderr).toContain(
    `listflow schemas check: incompatible schema: topic ${run}.normalized: Listing is not BACKWARD-compatible with ${run}.normalized-value version 1 in the registry: the new schema cannot read data written with the registered one: ${reason}\n`,
  );
  expect(failed.stdout).toContain('6 problem(s)');

  // --json carries the same problems for scripts, and the same exit code.
  const json = cli('schemas', 'check', '--schemas-dir', bad, '--json');
  expect(json.code).toBe(1);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; problems: string[] };
  expect(parsed.ok).toBe(false);
  expect(parsed.problems).toHaveLength(6);

  // And the registry itself refuses to register it.
  const refused = cli('schemas', 'register', '--schemas-dir', bad);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(
    `listflow schemas register: [SERDE_SCHEMA_MISMATCH] The registry refused Listing under ${run}.normalized-value as incompatible`,
  );
});

test('a schemas dir with a file that is no pipeline schema is a usage error (exit 2)', () => {
  const odd = join(dir, 'odd-schemas');
  mkdirSync(odd);
  writeFileSync(join(odd, 'Lisitng.avsc'), '{"type":"record","name":"Lisitng","fields":[]}');
  const res = cli('schemas', 'check', '--schemas-dir', odd);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain(
    `${join(odd, 'Lisitng.avsc')}: expected a file named after one of the pipeline's schemas`,
  );
});
