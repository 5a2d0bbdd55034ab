/**
 * Offline schema validation of Kubernetes objects: core kinds against kubernetes-models (the Kubernetes OpenAPI
 * schemas), KEDA and Prometheus Operator kinds against their kubernetes-models packages and the CRD schemas
 * vendored in k8s/vendor (with ajv, stricter: unknown fields fail).
 *
 *   kubectl kustomize k8s/overlays/prod | node k8s/validate.ts        # YAML stream in, problems out, exit 1 if any
 *   node k8s/validate.ts --json < objects.json                          # JSON array in, JSON { problems } out
 *
 * A separate process because kubernetes-models is ESM-only and jest's module registry cannot load it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import YAML from 'yaml';

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}
interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

const CORE_API_VERSIONS = ['v1', 'apps/v1', 'batch/v1', 'policy/v1', 'autoscaling/v2', 'networking.k8s.io/v1'];
const MODEL_PACKAGES: Readonly<Record<string, string>> = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

export function loadCrdValidators(vendorDir: string): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const out = new Map<string, ValidateFunction>();
  for (const file of readdirSync(vendorDir).filter((f) => f.endsWith('.json'))) {
    const schema = JSON.parse(readFileSync(join(vendorDir, file), 'utf8')) as {
      properties: { apiVersion: { enum: string[] }; kind: { enum: string[] } };
    };
    out.set(`${schema.properties.apiVersion.enum[0]}/${schema.properties.kind.enum[0]}`, ajv.compile(schema));
  }
  return out;
}

export async function validateObjects(root: string, objects: readonly Obj[]): Promise<string[]> {
  const crds = loadCrdValidators(join(root, 'k8s', 'vendor'));
  const problems: string[] = [];
  for (const obj of objects) {
    const where = `${obj.kind}/${obj.metadata?.name}`;
    const apiVersion = obj.apiVersion ?? '';
    const kind = obj.kind ?? '';
    const crd = crds.get(`${apiVersion}/${kind}`);
    if (!crd && !CORE_API_VERSIONS.includes(apiVersion)) {
      problems.push(`${where}: ${apiVersion} is neither a core API nor a vendored CRD schema`);
      continue;
    }
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
    const file = join(root, 'node_modules', MODEL_PACKAGES[group] ?? 'kubernetes-models', apiVersion, `${kind}.js`);
    if (!existsSync(file)) {
      problems.push(`${where}: no schema for ${apiVersion} ${kind}`);
      continue;
    }
    const mod = (await import(pathToFileURL(file).href)) as Record<string, ModelClass>;
    try {
      new mod[kind]!(obj).validate();
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
    if (crd && !crd(obj)) {
      for (const err of crd.errors ?? []) problems.push(`${where}${err.instancePath}: ${err.message}`);
    }
  }
  return problems;
}

async function main(): Promise<void> {
  const root = resolve(dirname(resolve(process.argv[1]!)), '..');
  const json = process.argv.includes('--json');
  const input = readFileSync(0, 'utf8');
  const objects = json
    ? (JSON.parse(input) as Obj[])
    : YAML.parseAllDocuments(input)
        .map((d) => d.toJS() as Obj | null)
        .filter((o): o is Obj => o !== null);
  const problems = await validateObjects(root, objects);
  if (json) process.stdout.write(`${JSON.stringify({ problems })}\n`);
  else {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.stdout.write(`${objects.length} objects, ${problems.length} problems\n`);
  }
  process.exitCode = problems.length > 0 && !json ? 1 : 0;
}

if (process.argv[1] && /validate\.[jt]s$/.test(process.argv[1])) void main();
