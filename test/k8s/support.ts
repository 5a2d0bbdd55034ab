/**
 * Helpers of the k8s tests: render overlays with kustomize, and validate objects offline against the
 * Kubernetes schemas (kubernetes-models) and the vendored CRD schemas (k8s/vendor, with ajv).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import type { K8sObject } from '../../k8s/render';
import { loadCrdValidators } from '../../k8s/validate';

export const ROOT = resolve(__dirname, '../..');
export const K8S = join(ROOT, 'k8s');

let kustomizeCommand: string[] | undefined;

/**
 * The kustomize renderer: `kubectl kustomize` (Debian's kubectl, or the machine's) or a kustomize binary that
 * scripts/ensure-kubectl.sh provides. Never skipped: without one, the tests fail and say how to get it.
 */
export function kustomize(): string[] {
  if (kustomizeCommand) return kustomizeCommand;
  const fromEnv = process.env['LISTFLOW_KUSTOMIZE'];
  const line = fromEnv
    ? fromEnv
    : execFileSync('bash', [join(ROOT, 'scripts/ensure-kubectl.sh')], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim();
  kustomizeCommand = line.split(/\s+/);
  return kustomizeCommand;
}

export function renderKustomization(dir: string): K8sObject[] {
  const [cmd, ...args] = kustomize();
  const out = execFileSync(cmd!, [...args, dir], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return YAML.parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export const overlayNames = (): string[] =>
  readdirSync(join(K8S, 'overlays'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(K8S, 'overlays', d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();

/** The vendored CRD kinds, as apiVersion/kind. */
export const vendoredKinds = (): string[] => [...loadCrdValidators(join(K8S, 'vendor')).keys()].sort();

/**
 * Problems of objects against their schemas (k8s/validate.ts, in a child process: kubernetes-models is ESM-only
 * and jest's module registry cannot load it). Empty when all are valid.
 */
export function schemaProblems(objects: readonly object[]): string[] {
  const out = execFileSync(
    process.execPath,
    ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', join(K8S, 'validate.ts'), '--json'],
    { cwd: ROOT, input: JSON.stringify(objects), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return (JSON.parse(out) as { problems: string[] }).problems;
}
