/**
 * Kubernetes manifests derived from a pipeline definition: one Deployment, PodDisruptionBudget and KEDA
 * ScaledObject per step (none for an owning step: k8s/keda.ts), the setup Job (topics apply, schemas check,
 * schemas register, then publishing each owning step's shipped assignments), the pipeline ConfigMap (a JSON
 * rendering of the pipeline), an owning step's assignments ConfigMap, and the shared objects (ServiceAccount,
 * metrics Service). The blob store of
 * the steps whose operators declare one is a component an overlay picks (k8s/blob-store.ts): a PVC, or S3.
 *
 * Why generated: names, replicas, scaling limits, consumer groups and topics all come from pipelines/*.ts, so
 * there is no second, hand-kept copy of that truth. `npm run k8s:render`
 * writes k8s/base and k8s/components/keda; test/k8s checks the committed files equal this output.
 *
 * Objects are typed with kubernetes-models' interfaces so a misspelt field fails the typecheck; the rendered
 * overlays are validated again against the schemas in test/k8s.
 */
import { createHash } from 'node:crypto';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import YAML from 'yaml';
import { envName } from '../runtime/config';
import { groupId, type PipelineSpec, type StepSpec } from '../runtime/pipeline';
import { WORKER_ENV_PREFIX, workerSettingsSpec } from '../runtime/settings';
import { renderMonitoringComponent } from './alerts';
import { renderBlobStoreComponents } from './blob-store';
import { renderKedaComponent } from './keda';
import {
  assignmentPodNeeds,
  assignmentSecretEnv,
  assignmentSteps,
  assignmentsBaseFile,
  assignmentsConfigMap,
  assignmentsCopy,
  maxUsefulReplicas,
  applyContainers,
  shippedOf,
} from './assignments';
import { needsOf, settingEnv } from './deploy-needs';
import { mebibytes, stepResources } from './resources';

// Tests and the platform check the manifests against these; they are derived from the operators' deploy needs.
export { DATABASE_OPERATORS, POSTGRES_URL_ENV } from './deploy-needs';
export { assignmentsSecret, maxUsefulReplicas } from './assignments';

/** A Kubernetes object as rendered: apiVersion, kind and metadata.name are always set. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> } & Record<string, unknown>;
  readonly [field: string]: unknown;
}

export interface RenderOptions {
  /** Image without tag; overlays replace it with kustomize `images:`. */
  readonly imageName: string;
  /** Image tag: the package version, never `latest`. */
  readonly imageTag: string;
}

type WorkerSetting = keyof typeof workerSettingsSpec.fields;

/** `kafkaBrokers` -> `LISTFLOW_KAFKA_BROKERS`; typed so a setting that does not exist fails the typecheck. */
export const workerEnv = (key: WorkerSetting): string => envName(WORKER_ENV_PREFIX, key);

const defaultOf = <T>(key: WorkerSetting): T => {
  const d = workerSettingsSpec.fields[key].default;
  if (d === undefined) throw new Error(`worker setting ${key} has no default`);
  return d as T;
};

export const HTTP_PORT: number = defaultOf<number>('httpPort');
export const APP = 'listflow';
export const SERVICE_ACCOUNT = 'listflow';
export const PIPELINE_CONFIGMAP = 'listflow-pipeline';
export const ENV_CONFIGMAP = 'listflow-env';
export const METRICS_SERVICE = 'listflow-metrics';
/** Where the pipeline ConfigMap is mounted; LISTFLOW_PIPELINE_FILE points at the JSON in it. */
export const PIPELINE_MOUNT = '/etc/listflow/pipeline';
export const PIPELINE_FILE = `${PIPELINE_MOUNT}/pipeline.json`;
export const KAFKA_CA_MOUNT = '/etc/listflow/kafka-ca';
/**
 * The feeds root an operator declares (`deploy.feeds`, required there): file:// feeds must be inside it. The base mounts an empty
 * directory there, so a deploy reads http(s) and OData feeds; an overlay patches the `feeds` volume to serve files.
 */
export const FEEDS_MOUNT = '/var/lib/listflow/feeds';
/** Numeric, so `runAsNonRoot` can be verified by the kubelet without reading /etc/passwd; matches the Dockerfile. */
export const RUN_AS_USER = 10001;
/** Seconds the preStop hook waits so the pod leaves endpoints and scrapers before SIGTERM starts the drain. */
export const PRE_STOP_SECONDS = 5;
/** Seconds after the drain for the final offset commit, producer flush and group leave. */
export const COMMIT_MARGIN_SECONDS = 15;
/** Upper bound of a step's drain: long jobs (reading a whole feed) are aborted and redelivered rather than waited for. */
export const MAX_DRAIN_MS = 300_000;

/** Secrets the workers read by reference; none is part of the manifests. */
export const SECRETS = {
  kafka: 'listflow-kafka',
  kafkaCa: 'listflow-kafka-ca',
  registry: 'listflow-registry',
  postgres: 'listflow-postgres',
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the S3 blob store (k8s/blob-store.ts). */
  objectStore: 'listflow-object-store',
} as const;

export const commonLabels = (pipeline: PipelineSpec): Record<string, string> => ({
  'app.kubernetes.io/name': APP,
  'app.kubernetes.io/part-of': APP,
  'app.kubernetes.io/managed-by': 'listflow-k8s-render',
  'listflow.io/pipeline': pipeline.name,
});

export const deploymentName = (step: StepSpec): string => `${APP}-${step.id}`;

const selectorLabels = (pipeline: PipelineSpec, step: StepSpec): Record<string, string> => ({
  'app.kubernetes.io/name': APP,
  'listflow.io/pipeline': pipeline.name,
  'listflow.io/step': step.id,
});

export const stepLabels = (pipeline: PipelineSpec, step: StepSpec): Record<string, string> => ({
  ...commonLabels(pipeline),
  ...selectorLabels(pipeline, step),
  'app.kubernetes.io/component': step.id,
  'listflow.io/operator': step.operator,
  'listflow.io/role': 'worker',
});

/** A step's drain: its job deadline, at least the runtime default and at most MAX_DRAIN_MS. */
export function shutdownGraceMs(step: StepSpec): number {
  return Math.min(MAX_DRAIN_MS, Math.max(defaultOf<number>('shutdownGraceMs'), step.timeoutMs));
}

/** preStop + drain + commit margin: the kubelet never SIGKILLs a worker that is still committing. */
export function terminationGraceSeconds(step: StepSpec): number {
  return PRE_STOP_SECONDS + Math.ceil(shutdownGraceMs(step) / 1000) + COMMIT_MARGIN_SECONDS;
}

/** Consumer lag per replica that KEDA aims for: ten waiting messages per job slot. */
export const lagThreshold = (step: StepSpec): number => Math.max(10, step.concurrency * 10);

export { stepResources };

/** The pipeline as the JSON file workers read from LISTFLOW_PIPELINE_FILE. */
export function renderPipelineJson(pipeline: PipelineSpec): string {
  return `${JSON.stringify(pipeline, null, 2)}\n`;
}

/** What the setup Job applies: the pipeline and every shipped assignments file. */
const pipelineHash = (pipeline: PipelineSpec): string => {
  const h = createHash('sha256').update(renderPipelineJson(pipeline));
  for (const { shipped } of assignmentSteps(pipeline)) h.update(shipped.text);
  return h.digest('hex').slice(0, 8);
};

/** Throws when the pipeline cannot be deployed as defined (replicas above partitions, unknown topics). */
export function checkDeployable(pipeline: PipelineSpec): void {
  const ids = new Set<string>();
  for (const step of pipeline.steps) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(step.id) || step.id.length > 40) {
      throw new Error(`step id ${JSON.stringify(step.id)} is not a valid Kubernetes name part (lowercase, digits, -)`);
    }
    if (ids.has(step.id)) throw new Error(`step id ${step.id} is used twice`);
    ids.add(step.id);
    const input = pipeline.topics[step.input];
    if (!input) throw new Error(`step ${step.id} reads topic ${step.input}, which the pipeline does not define`);
    if (step.replicas < 1 || step.replicas > input.partitions) {
      throw new Error(
        `step ${step.id} asks for ${step.replicas} replicas but its input ${step.input} has ${input.partitions} partitions; replicas must be 1..${input.partitions}`,
      );
    }
    const shipped = shippedOf(step);
    if (shipped && step.replicas > shipped.keys.length) {
      throw new Error(
        `step ${step.id} asks for ${step.replicas} replicas but ${shipped.path} declares ${shipped.keys.length}, and a replica past them would own nothing; replicas must be 1..${maxUsefulReplicas(pipeline, step)}`,
      );
    }
  }
}

const restrictedContainerSecurity: ISecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_AS_USER,
  runAsGroup: RUN_AS_USER,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const podSecurity: IPodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_AS_USER,
  runAsGroup: RUN_AS_USER,
  fsGroup: RUN_AS_USER,
  fsGroupChangePolicy: 'OnRootMismatch',
  seccompProfile: { type: 'RuntimeDefault' },
};

export const secretEnv = (name: string, secret: string, key: string, optional: boolean): IEnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key, optional } },
});

/**
 * Credentials by reference. Kafka and registry credentials are optional (a cluster may use no SASL or an open
 * registry; the worker's settings check refuses a SASL mechanism without them). The database URL goes only to
 * the pods that use it, and is not optional: without the Secret the kubelet does not start the container, and
 * without the variable the worker stops with CONFIG_INVALID naming it.
 */
const credentialEnv = (): IEnvVar[] => [
  secretEnv(workerEnv('kafkaSaslUsername'), SECRETS.kafka, 'username', true),
  secretEnv(workerEnv('kafkaSaslPassword'), SECRETS.kafka, 'password', true),
  secretEnv(workerEnv('registryUsername'), SECRETS.registry, 'username', true),
  secretEnv(workerEnv('registryPassword'), SECRETS.registry, 'password', true),
];

const databaseEnv = (name: string): IEnvVar[] => [secretEnv(name, SECRETS.postgres, 'url', false)];

export const sharedVolumes = (): IVolume[] => [
  { name: 'pipeline', configMap: { name: PIPELINE_CONFIGMAP } },
  { name: 'kafka-ca', secret: { secretName: SECRETS.kafkaCa, optional: true } },
  { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
];

const sharedMounts = (): IVolumeMount[] => [
  { name: 'pipeline', mountPath: PIPELINE_MOUNT, readOnly: true },
  { name: 'kafka-ca', mountPath: KAFKA_CA_MOUNT, readOnly: true },
  { name: 'tmp', mountPath: '/tmp' },
];

const image = (o: RenderOptions): string => `${o.imageName}:${o.imageTag}`;

/** A short CLI run (init containers, the setup Job): same image, env and hardening as the workers. */
export function cliContainer(name: string, args: string[], o: RenderOptions): IContainer {
  return {
    name,
    image: image(o),
    imagePullPolicy: 'IfNotPresent',
    args,
    envFrom: [{ configMapRef: { name: ENV_CONFIGMAP } }],
    env: credentialEnv(),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    securityContext: restrictedContainerSecurity,
    volumeMounts: sharedMounts(),
  };
}

function renderDeployment(pipeline: PipelineSpec, step: StepSpec, o: RenderOptions): IDeployment & K8sObject {
  const labels = stepLabels(pipeline, step);
  const resources = stepResources(step);
  const heapMb = Math.floor(mebibytes(resources.limits.memory) * 0.75);
  const needs = needsOf(step);
  // What the step's declarations read (a file snapshot source's feed folder, ingest's settings for its reader).
  const declared = assignmentPodNeeds(shippedOf(step));
  const env: IEnvVar[] = [
    { name: workerEnv('httpPort'), value: String(HTTP_PORT) },
    { name: workerEnv('shutdownGraceMs'), value: String(shutdownGraceMs(step)) },
    { name: 'NODE_OPTIONS', value: `--max-old-space-size=${heapMb}` },
    ...credentialEnv(),
    ...(needs.database ? databaseEnv(settingEnv(step.operator, needs.database.url)) : []),
    ...assignmentSecretEnv(step),
    ...declared.env,
  ];
  const volumes = [...sharedVolumes(), ...declared.volumes];
  const mounts = [...sharedMounts(), ...declared.mounts];
  if (needs.feeds) {
    env.push({ name: settingEnv(step.operator, needs.feeds.root), value: FEEDS_MOUNT });
    volumes.push({ name: 'feeds', emptyDir: { sizeLimit: '1Gi' } });
    mounts.push({ name: 'feeds', mountPath: FEEDS_MOUNT, readOnly: true });
  }
  (needs.writablePaths ?? []).forEach((path, i) => {
    volumes.push({ name: `scratch-${i}`, emptyDir: { sizeLimit: '256Mi' } });
    mounts.push({ name: `scratch-${i}`, mountPath: path });
  });
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: 'http-metrics' },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold,
  });
  const spec: IPodSpec = {
    serviceAccountName: SERVICE_ACCOUNT,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: terminationGraceSeconds(step),
    securityContext: podSecurity,
    // The gate of a rollout: a worker starts only once the registry holds compatible schemas for its topics.
    initContainers: [cliContainer('schemas-check', ['schemas', 'check'], o)],
    containers: [
      {
        name: 'worker',
        image: image(o),
        imagePullPolicy: 'IfNotPresent',
        args: ['run', '--operator', step.operator],
        ports: [{ name: 'http-metrics', containerPort: HTTP_PORT, protocol: 'TCP' }],
        envFrom: [{ configMapRef: { name: ENV_CONFIGMAP } }],
        env,
        resources,
        startupProbe: probe('/healthz', 5, 24),
        livenessProbe: probe('/healthz', 10, 3),
        readinessProbe: probe('/readyz', 5, 3),
        lifecycle: { preStop: { exec: { command: ['sleep', String(PRE_STOP_SECONDS)] } } },
        securityContext: restrictedContainerSecurity,
        volumeMounts: mounts,
      },
    ],
    volumes,
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selectorLabels(pipeline, step) },
      },
    ],
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: deploymentName(step),
      labels,
      annotations: {
        'listflow.io/input-topic': step.input,
        'listflow.io/consumer-group': groupId(pipeline, step),
      },
    },
    spec: {
      replicas: step.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(pipeline, step) },
      // Surge first: a new pod whose schema check fails never replaces a running one, so the rollout stops.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(HTTP_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec,
      },
    },
  };
}

function renderPdb(pipeline: PipelineSpec, step: StepSpec): IPodDisruptionBudget & K8sObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: deploymentName(step), labels: stepLabels(pipeline, step) },
    // One member at a time: each eviction is one rebalance, and a single-replica step can still be drained.
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(pipeline, step) } },
  };
}

/**
 * The setup Job: `topics apply`, then `schemas check` (a failing check fails the Job), then `schemas register`.
 * Named after the pipeline's hash because a Job's pod template is immutable: a changed pipeline is a new Job.
 */
export function renderSetupJob(pipeline: PipelineSpec, o: RenderOptions): IJob & K8sObject {
  const labels = { ...commonLabels(pipeline), 'app.kubernetes.io/component': 'setup', 'listflow.io/role': 'setup' };
  const volumes = sharedVolumes();
  const steps = [
    cliContainer('topics-apply', ['topics', 'apply'], o),
    cliContainer('schemas-check', ['schemas', 'check'], o),
    cliContainer('schemas-register', ['schemas', 'register'], o),
    // Last, once the schemas are registered: each owning step's shipped assignments published to its input.
    ...applyContainers(pipeline, o, volumes),
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${APP}-setup-${pipelineHash(pipeline)}`, labels },
    spec: {
      backoffLimit: 3,
      activeDeadlineSeconds: 900,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: SERVICE_ACCOUNT,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity,
          // In order, each after the previous succeeded: all but the last as init containers.
          initContainers: steps.slice(0, -1),
          containers: steps.slice(-1),
          volumes,
        },
      },
    },
  };
}

function renderShared(pipeline: PipelineSpec): K8sObject[] {
  const labels = commonLabels(pipeline);
  const sa: IServiceAccount & K8sObject = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: SERVICE_ACCOUNT, labels },
    automountServiceAccountToken: false,
  };
  const svc: IService & K8sObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: METRICS_SERVICE, labels: { ...labels, 'listflow.io/role': 'metrics' } },
    spec: {
      clusterIP: 'None',
      selector: { 'app.kubernetes.io/name': APP, 'listflow.io/pipeline': pipeline.name, 'listflow.io/role': 'worker' },
      ports: [{ name: 'http-metrics', port: HTTP_PORT, targetPort: 'http-metrics', protocol: 'TCP' }],
    },
  };
  return [sa, svc];
}

/** Every object of the base, in a stable order. ConfigMaps come from the kustomization's generators. */
export function renderBase(pipeline: PipelineSpec, o: RenderOptions): K8sObject[] {
  checkDeployable(pipeline);
  const out: K8sObject[] = [...renderShared(pipeline), renderSetupJob(pipeline, o)];
  for (const step of pipeline.steps) out.push(renderDeployment(pipeline, step, o), renderPdb(pipeline, step));
  return out;
}

/** Literals of the listflow-env ConfigMap; overlays merge their endpoints and TLS/SASL choices over them. */
export function baseEnvLiterals(): string[] {
  return [
    `${workerEnv('kafkaBrokers')}=kafka-bootstrap:9092`,
    `${workerEnv('registryUrl')}=http://schema-registry:8081`,
    `${workerEnv('kafkaSsl')}=false`,
    `${workerEnv('kafkaSaslMechanism')}=none`,
    `${workerEnv('logLevel')}=info`,
    `${workerEnv('pipelineFile')}=${PIPELINE_FILE}`,
  ];
}

export const HEADER =
  '# Generated by k8s/generate.ts from the pipeline definition. Do not edit: run `npm run k8s:render`.\n';

export const toYamlDocs = (objects: readonly object[]): string =>
  objects.map((o) => YAML.stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');

export const kustomization = (body: object): string => HEADER + YAML.stringify(body, { lineWidth: 0 });

/** Files under k8s/ that the generator owns, path relative to k8s/ -> content. */
export function renderFiles(pipeline: PipelineSpec, o: RenderOptions): Map<string, string> {
  const base = renderBase(pipeline, o);
  const files = new Map<string, string>();
  const byFile = new Map<string, K8sObject[]>();
  const put = (file: string, obj: K8sObject) => byFile.set(file, [...(byFile.get(file) ?? []), obj]);
  for (const obj of base) {
    const step = obj.metadata.labels?.['listflow.io/step'];
    if (step) put(`step-${step}.yaml`, obj);
    else if (obj.kind === 'Job') put('setup-job.yaml', obj);
    else put(`${obj.kind.toLowerCase()}.yaml`, obj);
  }
  const resources = [...byFile.keys()];
  for (const [file, objs] of byFile) files.set(`base/${file}`, HEADER + toYamlDocs(objs));
  files.set('base/pipeline.json', renderPipelineJson(pipeline));
  const assignments = assignmentSteps(pipeline);
  for (const { step, shipped } of assignments) {
    files.set(`base/${assignmentsBaseFile(step)}`, assignmentsCopy(pipeline, step, shipped));
  }
  files.set(
    'base/kustomization.yaml',
    kustomization({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources,
      // Hash-suffixed names: a changed pipeline or setting rolls the workers.
      configMapGenerator: [
        { name: PIPELINE_CONFIGMAP, files: ['pipeline.json'] },
        { name: ENV_CONFIGMAP, literals: baseEnvLiterals() },
        // An owning step's shipped assignments, as the setup Job publishes them.
        ...assignments.map(({ step, shipped }) => ({
          name: assignmentsConfigMap(step),
          files: [`${shipped.name}=${assignmentsBaseFile(step)}`],
        })),
      ],
    }),
  );
  for (const [rel, content] of renderBlobStoreComponents(pipeline)) files.set(rel, content);
  // The PrometheusRule and Grafana dashboard, generated from the pipeline (k8s/alerts.ts, k8s/dashboards.ts).
  for (const [rel, content] of renderMonitoringComponent(pipeline)) files.set(rel, content);
  for (const [rel, content] of renderKedaComponent(pipeline)) files.set(rel, content);
  return files;
}
