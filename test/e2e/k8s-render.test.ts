/** `listflow k8s render` through the real CLI binary: base, overlay and --check against the committed k8s/ files. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import listings from '../../pipelines/listings';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

function cli(env: NodeJS.ProcessEnv, ...args: string[]) {
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}
const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing. Fix: run \`npx tsc -p tsconfig.build.json\` first.`);
});

test('prints the base: one Deployment per step', () => {
  const res = cli(baseEnv(), 'k8s', 'render');
  expect(res.code).toBe(0);
  const objects = YAML.parseAllDocuments(res.stdout).map(
    (d) => d.toJS() as { kind: string; metadata: { name: string } },
  );
  const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
  expect(deployments).toEqual(listings.steps.map((s) => `listflow-${s.id}`));
});

test('--overlay prod renders through kustomize into the overlay namespace; an unknown overlay is a usage error', () => {
  const res = cli(baseEnv(), 'k8s', 'render', '--overlay', 'prod');
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  const objects = YAML.parseAllDocuments(res.stdout).map(
    (d) => d.toJS() as { kind: string; metadata: { namespace?: string } },
  );
  expect(objects.some((o) => o.kind === 'ConfigMap')).toBe(true);
  const namespaces = new Set(objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.namespace));
  expect(namespaces.size).toBe(1);

  const bad = cli(baseEnv(), 'k8s', 'render', '--overlay', 'staging');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('Expected one of dev, prod for --overlay but received "staging".');
});

test('--check passes on the committed files and fails, naming the files, for a different pipeline', () => {
  const ok = cli(baseEnv(), 'k8s', 'render', '--check');
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);

  const dir = mkdtempSync(join(tmpdir(), 'listflow-e2e-k8s-'));
  try {
    const file = join(dir, 'pipeline.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...listings,
        steps: listings.steps.map((s) => (s.id === 'images' ? { ...s, replicas: 3 } : s)),
      }),
    );
    const stale = cli({ ...baseEnv(), LISTFLOW_PIPELINE_FILE: file }, 'k8s', 'render', '--check');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('out of date with the pipeline: k8s/base/setup-job.yaml, k8s/base/step-images.yaml');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
