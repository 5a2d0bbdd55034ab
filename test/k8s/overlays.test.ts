/**
 * Every overlay (and the base) renders with kustomize, every object validates offline against its schema, and
 * the rendered YAML keeps the deployment policies the runtime relies on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import pipeline from '../../pipelines/listings';
import { groupId } from '../../runtime/pipeline';
import { BLOB_STORE_PVC } from '../../k8s/blob-store';
import { settingEnv } from '../../k8s/deploy-needs';
import {
  DATABASE_OPERATORS,
  FEEDS_MOUNT,
  POSTGRES_URL_ENV,
  PRE_STOP_SECONDS,
  renderPipelineJson,
  SECRETS,
  workerEnv,
} from '../../k8s/render';
import { workerSettingsSpec } from '../../runtime/settings';
import type { K8sObject } from '../../k8s/render';
import { K8S, overlayNames, ROOT, renderKustomization, schemaProblems, vendoredKinds } from './support';

/** The images step's settings as variables (the manifests derive them from its deploy needs). */
const imagesEnv = (key: string): string => settingEnv('images', key);

// Installing a kustomize (scripts/ensure-kubectl.sh) can take a while on a fresh machine.
jest.setTimeout(600_000);

type Obj = K8sObject & { spec?: Record<string, unknown>; data?: Record<string, string> };

const overlays = overlayNames();
const targets = ['base', ...overlays.map((o) => `overlays/${o}`)];
const rendered = new Map<string, Obj[]>();
const objectsOf = (target: string): Obj[] => {
  let objs = rendered.get(target);
  if (!objs) {
    objs = renderKustomization(join(K8S, target)) as Obj[];
    rendered.set(target, objs);
  }
  return objs;
};

const ofKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const podSpec = (o: Obj): IPodSpec => (o.spec as { template: { spec: IPodSpec } }).template.spec;
const allContainers = (p: IPodSpec): IContainer[] => [...(p.initContainers ?? []), ...p.containers];
const stepOf = (o: Obj) => pipeline.steps.find((s) => s.id === o.metadata.labels?.['listflow.io/step'])!;
const configMapData = (objs: Obj[], name: string | undefined) =>
  ofKind(objs, 'ConfigMap').find((m) => m.metadata.name === name)?.data;
const envValue = (objs: Obj[], c: IContainer, name: string): string | undefined => {
  const direct = c.env?.find((e) => e.name === name);
  const ref = direct?.valueFrom?.configMapKeyRef;
  if (ref) return configMapData(objs, ref.name)?.[ref.key];
  if (direct) return direct.value;
  for (const from of c.envFrom ?? []) {
    const cm = ofKind(objs, 'ConfigMap').find((m) => m.metadata.name === from.configMapRef?.name);
    if (cm?.data?.[name] !== undefined) return cm.data[name];
  }
  return undefined;
};

/** Env names that carry credentials: the worker settings marked secret, their usernames, and the PostgreSQL URL. */
const CREDENTIAL_ENV = [
  ...Object.entries(workerSettingsSpec.fields)
    .filter(([, f]) => f.secret)
    .map(([k]) => workerEnv(k as keyof typeof workerSettingsSpec.fields)),
  workerEnv('kafkaSaslUsername'),
  workerEnv('registryUsername'),
  POSTGRES_URL_ENV,
];
/**
 * The shipped sources file, read here on its own (not through the renderer): the sources step's replicas may not
 * exceed its sources, and its pods need every secret variable the file names.
 */
type SourceEntry = { name: string; auth?: Record<string, string> };
const SOURCES_FILE = join(ROOT, 'pipelines', 'sources.yaml');
const shippedSources = (YAML.parse(readFileSync(SOURCES_FILE, 'utf8')) as { sources: SourceEntry[] }).sources;
const SOURCE_SECRET_ENV = shippedSources.flatMap((s) =>
  Object.entries(s.auth ?? {})
    .filter(([k]) => k.endsWith('Env'))
    .map(([, v]) => v),
);
const SOURCES_STEP = pipeline.steps.find((s) => s.operator === 'sources')!;

/** The object store's credentials: only where the S3 blob store is used, and only by Secret reference. */
const OBJECT_STORE_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

test('there are dev and prod overlays, and the vendored CRD schemas', () => {
  expect(overlays).toEqual(expect.arrayContaining(['dev', 'prod']));
  expect(vendoredKinds()).toEqual([
    'keda.sh/v1alpha1/ScaledObject',
    'keda.sh/v1alpha1/TriggerAuthentication',
    'monitoring.coreos.com/v1/PrometheusRule',
    'monitoring.coreos.com/v1/ServiceMonitor',
  ]);
});

describe.each(targets)('k8s/%s', (target) => {
  const objs = () => objectsOf(target);
  const deployments = () => ofKind(objs(), 'Deployment');
  const workloads = () => [...deployments(), ...ofKind(objs(), 'Job')];

  test('renders with kustomize', () => {
    expect(objs().length).toBeGreaterThan(0);
  });

  test('every object validates against its schema', () => {
    expect(schemaProblems(objs())).toEqual([]);
  });

  test('one Deployment and one PodDisruptionBudget per step, selecting its pods', () => {
    expect(
      deployments()
        .map((d) => stepOf(d)?.id)
        .sort(),
    ).toEqual(pipeline.steps.map((s) => s.id).sort());
    for (const d of deployments()) {
      const labels = (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
        .labels;
      const pdbs = ofKind(objs(), 'PodDisruptionBudget').filter((p) => {
        const sel = (p.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
        return Object.entries(sel).every(([k, v]) => labels[k] === v);
      });
      expect(pdbs.map((p) => p.metadata.name)).toEqual([d.metadata.name]);
    }
  });

  test('every container has requests and limits, a non-root read-only securityContext without capabilities', () => {
    for (const w of workloads()) {
      const p = podSpec(w);
      expect([w.metadata.name, p.securityContext?.runAsNonRoot]).toEqual([w.metadata.name, true]);
      expect(p.securityContext?.runAsUser).toBeGreaterThan(0);
      for (const c of allContainers(p)) {
        const where = `${w.metadata.name}/${c.name}`;
        expect([where, Object.keys(c.resources?.requests ?? {}).sort()]).toEqual([where, ['cpu', 'memory']]);
        expect([where, Object.keys(c.resources?.limits ?? {}).sort()]).toEqual([where, ['cpu', 'memory']]);
        expect([where, c.securityContext]).toMatchObject([
          where,
          {
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        ]);
        expect(c.securityContext?.runAsUser ?? p.securityContext?.runAsUser).toBeGreaterThan(0);
      }
    }
  });

  test('workers probe /healthz and /readyz on the health port, and are scraped', () => {
    for (const d of deployments()) {
      const worker = podSpec(d).containers[0]!;
      const port = Number(envValue(objs(), worker, workerEnv('httpPort')));
      const portNumber = worker.ports?.find((p) => p.name === worker.livenessProbe?.httpGet?.port)?.containerPort;
      expect([d.metadata.name, worker.livenessProbe?.httpGet?.path, worker.readinessProbe?.httpGet?.path]).toEqual([
        d.metadata.name,
        '/healthz',
        '/readyz',
      ]);
      expect(portNumber).toBe(port);
      const ann = (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata
        .annotations;
      expect(ann).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      });
    }
  });

  test('workers run their step operator and read the pipeline from the mounted ConfigMap', () => {
    for (const d of deployments()) {
      const p = podSpec(d);
      const worker = p.containers[0]!;
      expect(worker.args).toEqual(['run', '--operator', stepOf(d).operator]);
      const file = envValue(objs(), worker, workerEnv('pipelineFile'))!;
      const mount = worker.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
      const volume = p.volumes!.find((v) => v.name === mount.name)!;
      const cm = ofKind(objs(), 'ConfigMap').find((m) => m.metadata.name === volume.configMap?.name)!;
      expect(cm.data?.[file.slice(mount.mountPath.length + 1)]).toBe(renderPipelineJson(pipeline));
    }
  });

  test('replicas never exceed the input partitions', () => {
    for (const d of deployments()) {
      const replicas = (d.spec as { replicas?: number }).replicas;
      if (replicas !== undefined) expect(replicas).toBeLessThanOrEqual(pipeline.topics[stepOf(d).input]!.partitions);
    }
  });

  test('the grace period covers preStop, the drain and the commit, and preStop is set', () => {
    for (const d of deployments()) {
      const p = podSpec(d);
      const worker = p.containers[0]!;
      const drainMs = Number(envValue(objs(), worker, workerEnv('shutdownGraceMs')));
      expect(drainMs).toBeGreaterThanOrEqual(30_000);
      expect(worker.lifecycle?.preStop?.exec?.command).toEqual(['sleep', String(PRE_STOP_SECONDS)]);
      expect(p.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(drainMs + PRE_STOP_SECONDS * 1000);
    }
  });

  test('no image uses latest or no tag', () => {
    for (const w of workloads()) {
      for (const c of allContainers(podSpec(w))) {
        expect(c.image).toMatch(/^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9._/-]+(:\w[\w.-]{0,127}|@sha256:[a-f0-9]{64})$/);
        expect(c.image).not.toMatch(/:latest$/);
      }
    }
  });

  test('no secrets inline: credentials come from Secret references, and no Secret is part of the manifests', () => {
    expect(ofKind(objs(), 'Secret')).toEqual([]);
    for (const cm of ofKind(objs(), 'ConfigMap')) {
      expect(Object.keys(cm.data ?? {}).filter((k) => [...CREDENTIAL_ENV, ...OBJECT_STORE_ENV].includes(k))).toEqual(
        [],
      );
    }
    for (const w of workloads()) {
      const p = podSpec(w);
      for (const c of allContainers(p)) {
        // The database URL only where it is used: the publish worker (not its init check, not the setup Job).
        const usesDb = w.kind === 'Deployment' && c === p.containers[0] && DATABASE_OPERATORS.has(stepOf(w).operator);
        const expected = CREDENTIAL_ENV.filter((n) => n !== POSTGRES_URL_ENV || usesDb);
        const creds = (c.env ?? []).filter((e) => CREDENTIAL_ENV.includes(e.name));
        expect([`${w.metadata.name}/${c.name}`, creds.map((e) => e.name).sort()]).toEqual([
          `${w.metadata.name}/${c.name}`,
          [...expected].sort(),
        ]);
        for (const e of creds)
          expect([e.name, e.value, e.valueFrom?.secretKeyRef?.name]).toEqual([e.name, undefined, expect.any(String)]);
        // Required, so a missing Secret stops the pod at once instead of letting publish dial a default.
        const db = creds.find((e) => e.name === POSTGRES_URL_ENV);
        if (db) expect(db.valueFrom?.secretKeyRef?.optional).toBe(false);
        for (const e of (c.env ?? []).filter((x) => OBJECT_STORE_ENV.includes(x.name)))
          expect([e.name, e.value, e.valueFrom?.secretKeyRef?.name]).toEqual([e.name, undefined, SECRETS.objectStore]);
      }
    }
  });

  test('ingest gets its required file root, on a mounted directory', () => {
    const ingest = deployments().find((d) => stepOf(d).operator === 'ingest')!;
    const worker = podSpec(ingest).containers[0]!;
    expect(envValue(objs(), worker, 'LISTFLOW_INGEST_FILE_ROOT')).toBe(FEEDS_MOUNT);
    expect(worker.volumeMounts?.map((m) => m.mountPath)).toContain(FEEDS_MOUNT);
  });

  test('a setup Job applies topics, checks and registers schemas, then applies the sources; workers wait for the check', () => {
    const jobs = ofKind(objs(), 'Job');
    expect(jobs).toHaveLength(1);
    const p = podSpec(jobs[0]!);
    expect(allContainers(p).map((c) => c.args)).toEqual([
      ['topics', 'apply'],
      ['schemas', 'check'],
      ['schemas', 'register'],
      ['sources', 'apply', '--yes'],
    ]);
    // The last one runs after every init container succeeded: the sources are applied once the schemas exist.
    expect(p.containers.map((c) => c.args)).toEqual([['sources', 'apply', '--yes']]);
    expect(p.restartPolicy).toBe('Never');
    // It reads the shipped sources file from a mounted ConfigMap, and gets none of the sources' secrets.
    const apply = p.containers[0]!;
    const file = envValue(objs(), apply, 'LISTFLOW_SOURCES_FILE')!;
    const mount = apply.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
    const volume = p.volumes!.find((v) => v.name === mount.name)!;
    const text = configMapData(objs(), volume.configMap?.name)?.[file.slice(mount.mountPath.length + 1)];
    expect((YAML.parse(text ?? '') as { sources: unknown }).sources).toEqual(shippedSources);
    for (const c of allContainers(p))
      expect([c.name, (c.env ?? []).filter((e) => SOURCE_SECRET_ENV.includes(e.name))]).toEqual([c.name, []]);
    for (const d of deployments())
      expect(podSpec(d).initContainers?.map((c) => c.args)).toEqual([['schemas', 'check']]);
    // Surge first, never take a running member away: a new pod stuck in its check stops the rollout.
    for (const d of deployments()) {
      expect((d.spec as { strategy: unknown }).strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      });
    }
  });

  test('the images step has one blob store: the filesystem on the shared claim, or S3 with no volume', () => {
    const images = deployments().find((d) => stepOf(d).operator === 'images')!;
    const pod = podSpec(images);
    const worker = pod.containers[0]!;
    const store = envValue(objs(), worker, imagesEnv('blobStore'));
    const claims = (pod.volumes ?? []).filter((v) => v.persistentVolumeClaim);
    if (target === 'base') {
      // The base leaves the choice to the overlay (k8s/blob-store.ts).
      expect([store, claims]).toEqual([undefined, []]);
      return;
    }
    if (store === 'file') {
      const root = envValue(objs(), worker, imagesEnv('blobRoot'));
      const mount = worker.volumeMounts!.find((m) => m.mountPath === root)!;
      expect(pod.volumes!.find((v) => v.name === mount.name)?.persistentVolumeClaim?.claimName).toBe(BLOB_STORE_PVC);
      expect(ofKind(objs(), 'PersistentVolumeClaim').map((v) => v.metadata.name)).toEqual([BLOB_STORE_PVC]);
    } else {
      expect(store).toMatch(/^s3:\/\/[a-z0-9.-]+(\/.*)?$/);
      // Read from the ConfigMap by a required reference: an overlay without it does not start.
      expect(worker.env?.find((e) => e.name === imagesEnv('blobStore'))?.valueFrom?.configMapKeyRef?.optional).toBe(
        false,
      );
      expect(claims).toEqual([]);
      expect(ofKind(objs(), 'PersistentVolumeClaim')).toEqual([]);
    }
  });

  test('the sources step runs its fixed replicas, at most one per source and per partition', () => {
    const d = deployments().find((x) => stepOf(x) === SOURCES_STEP)!;
    expect(podSpec(d).containers[0]!.args).toEqual(['run', '--operator', 'sources']);
    const cap = Math.min(pipeline.topics[SOURCES_STEP.input]!.partitions, shippedSources.length);
    const replicas = (d.spec as { replicas?: number }).replicas;
    expect(replicas).toBeGreaterThanOrEqual(1);
    expect(replicas).toBeLessThanOrEqual(cap);
    // It never commits offsets: a lag trigger would read every record as lag and hold it at its maximum.
    expect(ofKind(objs(), 'ScaledObject').filter((so) => stepOf(so) === SOURCES_STEP)).toEqual([]);
  });

  test("the sources worker reads each source's secrets by reference from Secret listflow-sources, required", () => {
    expect(SOURCE_SECRET_ENV.length).toBeGreaterThan(0);
    for (const d of deployments()) {
      for (const c of allContainers(podSpec(d))) {
        const refs = (c.env ?? []).filter((e) => SOURCE_SECRET_ENV.includes(e.name));
        const isSourcesWorker = stepOf(d) === SOURCES_STEP && c === podSpec(d).containers[0];
        expect([`${d.metadata.name}/${c.name}`, refs.map((e) => e.name).sort()]).toEqual([
          `${d.metadata.name}/${c.name}`,
          isSourcesWorker ? [...SOURCE_SECRET_ENV].sort() : [],
        ]);
        for (const e of refs)
          expect([e.name, e.value, e.valueFrom?.secretKeyRef]).toEqual([
            e.name,
            undefined,
            { name: 'listflow-sources', key: e.name, optional: false },
          ]);
      }
    }
  });

  test('KEDA ScaledObjects, where present, scale each job-consuming step on its group lag up to its partitions', () => {
    const scaled = ofKind(objs(), 'ScaledObject');
    if (scaled.length === 0) return;
    expect(scaled.map((so) => stepOf(so).id).sort()).toEqual(
      pipeline.steps
        .filter((s) => s !== SOURCES_STEP)
        .map((s) => s.id)
        .sort(),
    );
    for (const so of scaled) {
      const step = stepOf(so);
      const spec = so.spec as {
        scaleTargetRef: { name: string };
        minReplicaCount: number;
        maxReplicaCount: number;
        triggers: { type: string; metadata: Record<string, string> }[];
      };
      const partitions = pipeline.topics[step.input]!.partitions;
      expect(spec.maxReplicaCount).toBe(partitions);
      expect(spec.minReplicaCount).toBeLessThanOrEqual(partitions);
      expect(deployments().map((d) => d.metadata.name)).toContain(spec.scaleTargetRef.name);
      expect(spec.triggers[0]).toMatchObject({
        type: 'kafka',
        metadata: { consumerGroup: groupId(pipeline, step), topic: step.input },
      });
    }
    // KEDA owns the replicas of the steps it scales: their Deployments do not set them; the others keep theirs.
    for (const d of deployments()) {
      const replicas = (d.spec as { replicas?: number }).replicas;
      if (stepOf(d) === SOURCES_STEP)
        expect([d.metadata.name, replicas]).toEqual([d.metadata.name, expect.any(Number)]);
      else expect([d.metadata.name, replicas]).toEqual([d.metadata.name, undefined]);
    }
  });
});

describe('overlays', () => {
  test('dev runs one replica per step, without KEDA', () => {
    const objs = objectsOf('overlays/dev');
    expect(ofKind(objs, 'ScaledObject')).toEqual([]);
    expect(ofKind(objs, 'Deployment').map((d) => (d.spec as { replicas: number }).replicas)).toEqual(
      pipeline.steps.map(() => 1),
    );
  });

  test('prod autoscales with KEDA, uses TLS and SASL, and has a ServiceMonitor on the metrics Service', () => {
    const objs = objectsOf('overlays/prod');
    expect(ofKind(objs, 'ScaledObject')).toHaveLength(pipeline.steps.length - 1);
    const env = ofKind(objs, 'ConfigMap').find((m) => m.metadata.name.startsWith('listflow-env'))!.data!;
    expect(env[workerEnv('kafkaSsl')]).toBe('true');
    expect(env[workerEnv('kafkaSaslMechanism')]).toBe('scram-sha-512');
    const [sm] = ofKind(objs, 'ServiceMonitor');
    const sel = (sm!.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    const services = ofKind(objs, 'Service').filter((s) =>
      Object.entries(sel).every(([k, v]) => s.metadata.labels?.[k] === v),
    );
    expect(services.map((s) => s.metadata.name)).toEqual(['listflow-metrics']);
  });

  test('prod stores photos in S3 and mounts no ReadWriteMany volume; dev keeps the filesystem store', () => {
    const prod = objectsOf('overlays/prod');
    expect(ofKind(prod, 'PersistentVolumeClaim')).toEqual([]);
    for (const w of [...ofKind(prod, 'Deployment'), ...ofKind(prod, 'Job')])
      expect([w.metadata.name, (podSpec(w).volumes ?? []).filter((v) => v.persistentVolumeClaim)]).toEqual([
        w.metadata.name,
        [],
      ]);
    const env = ofKind(prod, 'ConfigMap').find((m) => m.metadata.name.startsWith('listflow-env'))!.data!;
    expect(env[imagesEnv('blobStore')]).toMatch(/^s3:\/\//);
    expect(env[imagesEnv('publicBaseUrl')]).toMatch(/^https:\/\//);
    const dev = objectsOf('overlays/dev');
    const pvc = ofKind(dev, 'PersistentVolumeClaim')[0]!;
    expect((pvc.spec as { accessModes: string[] }).accessModes).toEqual(['ReadWriteOnce']);
  });

  test.each(overlays)('%s sets a namespace with the restricted Pod Security level', (overlay) => {
    const objs = objectsOf(`overlays/${overlay}`);
    const [ns] = ofKind(objs, 'Namespace');
    expect(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of objs.filter((x) => x.kind !== 'Namespace')) expect(o.metadata['namespace']).toBe(ns!.metadata.name);
  });
});

describe('schema validation catches mistakes', () => {
  test.each([
    [
      'a Deployment with a string replica count',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'x' },
        spec: { replicas: 'two', selector: {}, template: {} },
      },
      'Deployment/x: data/spec/replicas must be integer',
    ],
    [
      'a ScaledObject with a misspelt field',
      {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: { name: 'x' },
        spec: { scaleTargetRef: { name: 'x' }, triggers: [], maxReplicas: 3 },
      },
      'ScaledObject/x/spec: must NOT have additional properties',
    ],
    [
      'a ServiceMonitor without a selector',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'x' },
        spec: { endpoints: [] },
      },
      "ServiceMonitor/x/spec: must have required property 'selector'",
    ],
    [
      'an unknown custom resource',
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } },
      'Widget/x: example.com/v1 is neither a core API nor a vendored CRD schema',
    ],
  ])('%s', (_name, obj, problem) => {
    expect(schemaProblems([obj])).toContain(problem);
  });
});
