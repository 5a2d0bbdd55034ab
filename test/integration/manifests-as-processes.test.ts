/**
 * The Kubernetes manifests run as processes: every overlay is rendered with kustomize from a base generated for
 * a pipeline renamed for this run (its topics, consumer groups and schema subjects are its own), and every
 * container of every Deployment and Job is started the way a kubelet would start it (test/support/k8s-pods.ts:
 * the Dockerfile's ENTRYPOINT and ENV, the manifest's env, ConfigMaps and Secrets as files with mount paths
 * remapped). The Secrets are a test set pointing at the local platform (`infra status --json`). In order:
 *
 *   1. `run --operator NAME --check` passes for every worker container of every overlay, with the manifest's
 *      own settings (prod's TLS, SASL and CA file included): a broken env fails here, naming the variable;
 *   2. the setup Job's containers run to completion (topics apply, schemas check, schemas register);
 *   3. every Deployment runs: its init container (schemas check), then its worker until /readyz answers;
 *   4. a sample feed (photos served over HTTP) goes through to rows in PostgreSQL and objects in the store.
 *
 * Steps 2-4 run the dev overlay (filesystem blob store on the PersistentVolumeClaim). What the machine differs
 * in from a cluster is named in LOCAL_PLATFORM and CLUSTER_ADDITIONS below, and nothing else is changed.
 * Not covered: the image build, scheduling, and probes under a kubelet (see the README's Kubernetes section).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadRenderOptions } from '../../k8s/options';
import { FEEDS_MOUNT, type K8sObject, POSTGRES_URL_ENV, renderFiles } from '../../k8s/render';
import { writeSampleFeed, writeSamplePhotos } from '../../operators/sample-feeds';
import { K8S, overlayNames, ROOT, renderKustomization } from '../k8s/support';
import {
  imageFromDockerfile,
  type LocalContainer,
  localContainers,
  type Running,
  runToEnd,
  type SecretSet,
  start,
  type Workload,
} from '../support/k8s-pods';
import { renamedListings } from '../support/pipeline-workers';
import { uniqueName, waitFor } from '../support/streams';

jest.setTimeout(600_000);

const RUN = uniqueName('k8s');
const pipeline = renamedListings(RUN);
const SCHEMA = `itest_k8s_${randomBytes(4).toString('hex')}`;
const SOURCE = RUN.replace('-', '');
const LISTINGS = 30;

interface PlatformStatus {
  readonly env: Record<string, string>;
}
const platform = (): PlatformStatus =>
  JSON.parse(
    execFileSync(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'infra', 'status', '--json'], {
      encoding: 'utf8',
    }),
  ) as PlatformStatus;

let dir: string;
let db: pg.Client;
let photoServer: Server;
let photoUrls: string[];
let secrets: SecretSet;
/** Where the cluster's endpoints are on this machine (one plaintext broker, no SASL): used to run, not to check. */
let LOCAL_PLATFORM: Record<string, string>;
const image = imageFromDockerfile();
const rendered = new Map<string, K8sObject[]>();
const running: Running[] = [];

/** What a cluster's operator adds in their own overlay: the host the sample photos come from. */
const CLUSTER_ADDITIONS = (photoHost: string): Record<string, string> => ({ LISTFLOW_IMAGES_ALLOW_HOSTS: photoHost });

const workloads = (objs: readonly K8sObject[], kind: 'Deployment' | 'Job') =>
  objs.filter((o) => o.kind === kind) as Workload[];
const stepOf = (w: Workload) => w.metadata.labels?.['listflow.io/step'] ?? '';
const podDir = (overlay: string, w: Workload) => join(dir, 'pods', overlay, w.metadata.name);
const containersOf = (overlay: string, w: Workload, objects = rendered.get(overlay)!) =>
  localContainers(w, { objects, secrets, image, dir: podDir(overlay, w), claimsDir: join(dir, 'claims', overlay) });
const workerOf = (cs: readonly LocalContainer[]) => cs.find((c) => c.argv.includes('run'))!;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'itest-k8s-'));
  // The generator's files for this run's pipeline, beside copies of the hand-written overlays.
  for (const [rel, content] of renderFiles(pipeline, loadRenderOptions(ROOT))) {
    mkdirSync(dirname(join(dir, 'k8s', rel)), { recursive: true });
    writeFileSync(join(dir, 'k8s', rel), content);
  }
  cpSync(join(K8S, 'overlays'), join(dir, 'k8s', 'overlays'), { recursive: true });

  const photos = join(dir, 'photo-server');
  const files = await writeSamplePhotos(photos, 6, 7);
  photoServer = createServer((req, res) => {
    const path = join(photos, decodeURIComponent((req.url ?? '/').slice(1)));
    if (!path.startsWith(`${photos}/`) || !existsSync(path)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': path.endsWith('.png') ? 'image/png' : 'image/jpeg' }).end(readFileSync(path));
  });
  await new Promise<void>((r) => photoServer.listen(0, '127.0.0.1', r));
  const photoHost = `127.0.0.1:${(photoServer.address() as { port: number }).port}`;
  photoUrls = files.map((f) => `http://${photoHost}/${relative(photos, fileURLToPath(f))}`);

  for (const overlay of overlayNames()) {
    const objs = renderKustomization(join(dir, 'k8s', 'overlays', overlay));
    const env = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('listflow-env')) as
      | (K8sObject & { data: Record<string, string> })
      | undefined;
    if (!env) throw new Error(`overlay ${overlay} renders no listflow-env ConfigMap`);
    Object.assign(env.data, CLUSTER_ADDITIONS(photoHost.split(':')[0]!));
    rendered.set(overlay, objs);
  }

  const local = platform().env;
  const pgUrl = new URL(local[POSTGRES_URL_ENV] ?? '');
  db = new pg.Client({ connectionString: pgUrl.toString() });
  await db.connect();
  await db.query(`CREATE SCHEMA ${SCHEMA}`);
  pgUrl.searchParams.set('options', `-c search_path=${SCHEMA}`);
  secrets = {
    'listflow-postgres': { url: pgUrl.toString() },
    // prod's SASL credentials and CA: only checked by --check (the local broker is plaintext).
    'listflow-kafka': {
      username: 'listflow',
      password: 'test-only',
      'keda-sasl': 'scram_sha512',
      'keda-tls': 'enable',
    },
    'listflow-kafka-ca': { 'ca.crt': '-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n' },
  };
  LOCAL_PLATFORM = {
    LISTFLOW_KAFKA_BROKERS: local.LISTFLOW_KAFKA_BROKERS ?? '',
    LISTFLOW_REGISTRY_URL: local.LISTFLOW_REGISTRY_URL ?? '',
    LISTFLOW_KAFKA_SSL: 'false',
    LISTFLOW_KAFKA_SASL_MECHANISM: 'none',
    LISTFLOW_REPLICATION_FACTOR: '1',
  };
});

afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await new Promise<void>((r) => photoServer?.close(() => r()));
  await db?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await db?.end();
  rmSync(dir, { recursive: true, force: true });
});

test('every overlay renders a Deployment per step and the setup Job', () => {
  for (const [overlay, objs] of rendered) {
    expect([overlay, workloads(objs, 'Deployment').map(stepOf).sort()]).toEqual([
      overlay,
      pipeline.steps.map((s) => s.id).sort(),
    ]);
    expect([overlay, workloads(objs, 'Job')]).toEqual([overlay, [expect.anything()]]);
  }
});

test('`run --operator NAME --check` passes for every worker container of every overlay, with its own settings', async () => {
  const failed: string[] = [];
  for (const [overlay, objs] of rendered) {
    for (const d of workloads(objs, 'Deployment')) {
      const r = runToEnd(workerOf(await containersOf(overlay, d)), { args: ['--check'], timeoutMs: 30_000 });
      if (r.code !== 0) failed.push(`${overlay}/${d.metadata.name} exited ${r.code}:\n${r.output}`);
    }
  }
  expect(failed).toEqual([]);
});

/** A Deployment of the dev rendering with one env entry of its worker container removed. */
function withoutVariable(step: string, variable: string): { objects: K8sObject[]; deployment: Workload } {
  const objects = structuredClone(rendered.get('dev')!);
  const deployment = workloads(objects, 'Deployment').find((d) => stepOf(d) === step)!;
  const worker = deployment.spec.template.spec.containers[0]!;
  const before = worker.env?.length ?? 0;
  worker.env = (worker.env ?? []).filter((e) => e.name !== variable);
  expect(worker.env.length).toBe(before - 1);
  return { objects, deployment };
}

test.each([
  ['publish', POSTGRES_URL_ENV],
  ['ingest', 'LISTFLOW_INGEST_FILE_ROOT'],
])('mutation: without %s env %s, --check fails naming it', async (step, variable) => {
  const { objects, deployment } = withoutVariable(step, variable);
  const c = workerOf(await containersOf('dev', deployment, objects));
  expect(c.env[variable]).toBeUndefined();
  const r = runToEnd(c, { args: ['--check'], timeoutMs: 30_000 });
  expect(r.code).toBe(1);
  expect(r.output).toContain(`Missing required ${variable} `);
});

describe('the dev overlay runs on the local platform', () => {
  const objs = () => rendered.get('dev')!;

  test('the setup Job runs: topics apply, schemas check, schemas register', async () => {
    const [job] = workloads(objs(), 'Job');
    for (const c of await containersOf('dev', job!)) {
      const r = runToEnd(c, { env: LOCAL_PLATFORM });
      expect([c.name, r.code, r.code === 0 ? '' : r.output]).toEqual([c.name, 0, '']);
    }
  });

  test('every Deployment runs: its init check, then its worker until the readiness probe answers', async () => {
    const probes: { name: string; url: string }[] = [];
    for (const d of workloads(objs(), 'Deployment')) {
      const [init, worker] = await containersOf('dev', d);
      const r = runToEnd(init!, { env: LOCAL_PLATFORM });
      expect([d.metadata.name, init!.name, r.code, r.code === 0 ? '' : r.output]).toEqual([
        d.metadata.name,
        'schemas-check',
        0,
        '',
      ]);
      running.push(start(worker!, LOCAL_PLATFORM));
      const probe = d.spec.template.spec.containers[0]!.readinessProbe!.httpGet!;
      probes.push({ name: d.metadata.name, url: `http://127.0.0.1:${worker!.ports[String(probe.port)]}${probe.path}` });
    }
    for (const [i, p] of probes.entries()) {
      const ready = await waitFor(async () => (await fetch(p.url).catch(() => null))?.status === 200, 120_000, 500);
      expect([p.name, ready, ready ? '' : running[i]!.output().slice(-3000)]).toEqual([p.name, true, '']);
    }
  });

  test('a sample feed goes through to rows in PostgreSQL and objects in the blob store', async () => {
    const ingest = workloads(objs(), 'Deployment').find((d) => stepOf(d) === 'ingest')!;
    const feeds = workerOf(await containersOf('dev', ingest)).mounts[FEEDS_MOUNT]!;
    const feed = await writeSampleFeed({
      dir: feeds,
      seed: 11,
      count: LISTINGS,
      format: 'ndjson',
      badRate: 0,
      photoUrls,
      name: 'k8s-sample',
    });
    expect(feed.listings).toBe(LISTINGS);
    // Submitted from the setup Job's environment: a CLI in the cluster with the workers' settings.
    const [job] = workloads(objs(), 'Job');
    const cli = (await containersOf('dev', job!))[0]!;
    const submit = runToEnd(
      { ...cli, argv: [...image.entrypoint, 'ingest', feed.uri, '--source', SOURCE] },
      { env: LOCAL_PLATFORM },
    );
    expect([submit.code, submit.code === 0 ? '' : submit.output]).toEqual([0, '']);

    const rows = async () =>
      Number((await db.query(`SELECT count(*) AS n FROM ${SCHEMA}.listings WHERE source = $1`, [SOURCE])).rows[0].n);
    const done = await waitFor(async () => (await rows()) >= LISTINGS, 240_000, 1000);
    if (!done) for (const r of running) console.log(r.container.argv.join(' '), '\n', r.output().slice(-3000));
    expect(await rows()).toBe(LISTINGS);

    // Every stored variant URI is an object of the store on the PersistentVolumeClaim.
    const store = join(dir, 'claims', 'dev', 'listflow-blobs');
    const docs = (await db.query(`SELECT document FROM ${SCHEMA}.listings WHERE source = $1`, [SOURCE])).rows as {
      document: { images: { status: string; variants: { uri: string }[] }[] };
    }[];
    const uris = docs.flatMap((d) => d.document.images.flatMap((i) => i.variants.map((v) => v.uri)));
    expect(uris.length).toBeGreaterThan(0);
    for (const uri of uris) {
      expect(uri.startsWith(`file://${store}/`)).toBe(true);
      expect(existsSync(fileURLToPath(uri))).toBe(true);
    }
    expect(readdirSync(store, { recursive: true }).length).toBeGreaterThan(0);
  });

  test('every worker drains and exits 0 on SIGTERM', async () => {
    for (const r of running) r.child.kill('SIGTERM');
    const codes = await Promise.all(running.map((r) => r.exited));
    expect(codes).toEqual(running.map(() => 0));
  });
});
