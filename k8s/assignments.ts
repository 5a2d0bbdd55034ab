/**
 * An owning step's standing assignments in a deploy (runtime/operator.ts DeployAssignments; the sources step's
 * declared sources): the file its operator ships, copied into the base and mounted from a ConfigMap; the setup
 * Job's last step, which publishes it to the step's input; the Secret keys its declarations name; and the
 * replica cap they imply. Derived from the operator's `own` and `deploy.assignments`, never from a name.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { PipelineSpec, StepSpec } from '../runtime/pipeline';
import { isOwning, type ShippedAssignments, shippedAssignments } from './deploy-needs';
import { APP, cliContainer, ENV_CONFIGMAP, type RenderOptions, secretEnv } from './render';

/** An owning step's shipped assignments; undefined for a step that consumes jobs or whose operator ships none. */
export const shippedOf = (step: StepSpec): ShippedAssignments | undefined =>
  isOwning(step) ? shippedAssignments(step) : undefined;

/** The owning steps whose operators ship assignments, with them. */
export const assignmentSteps = (pipeline: PipelineSpec): { step: StepSpec; shipped: ShippedAssignments }[] =>
  pipeline.steps.flatMap((step) => {
    const shipped = shippedOf(step);
    return shipped ? [{ step, shipped }] : [];
  });

/**
 * The most replicas of `step` that have work: one per input partition and, for an owning step whose operator
 * ships its assignments, one per declared key (a replica beyond them owns nothing: it would only idle and take
 * part in every rebalance).
 */
export function maxUsefulReplicas(pipeline: PipelineSpec, step: StepSpec): number {
  const partitions = pipeline.topics[step.input]?.partitions ?? 0;
  const shipped = shippedOf(step);
  return shipped ? Math.min(partitions, shipped.keys.length) : partitions;
}

/** The ConfigMap (from the base kustomization's generator) holding an owning step's shipped assignments. */
export const assignmentsConfigMap = (step: StepSpec): string => `${APP}-${step.id}`;
/** The Secret holding the variables its declarations name (key = the variable). */
export const assignmentsSecret = (step: StepSpec): string => `${APP}-${step.id}`;
/** The base file holding the copy of the shipped file (kustomize reads no file outside the kustomization). */
export const assignmentsBaseFile = (step: StepSpec): string => `assignments-${step.id}.yaml`;
const mountOf = (step: StepSpec): string => `/etc/listflow/${step.id}`;

/** The base's copy of a shipped assignments file, with a header naming the original. */
export function assignmentsCopy(pipeline: PipelineSpec, step: StepSpec, shipped: ShippedAssignments): string {
  const rel = shipped.path.includes('/pipelines/')
    ? `pipelines/${shipped.path.split('/pipelines/').pop()}`
    : shipped.name;
  return `# Copied by k8s/generate.ts from ${rel} (step ${step.id} of pipeline ${pipeline.name}). Do not edit: edit ${rel} and run \`npm run k8s:render\`.\n${shipped.text}`;
}

/**
 * The secrets an owning step's shipped declarations name (a source's OAuth client or token), each from the
 * step's Secret by a key of the same name. One reference per variable, so the manifest says exactly which keys
 * the Secret must hold; required, because a poller without its credentials can only fail: without the key the
 * kubelet does not start the container (CreateContainerConfigError, naming it).
 */
export const assignmentSecretEnv = (step: StepSpec): IEnvVar[] =>
  (shippedOf(step)?.secretEnv ?? []).map((name) => secretEnv(name, assignmentsSecret(step), name, false));

/**
 * The setup Job's containers that apply (publish) each owning step's shipped file (mounted from its ConfigMap, its path
 * in the operator's file setting) to the step's input; adds their volumes to `volumes`. They get no source
 * secrets: a declaration names its variables, it never holds their values.
 */
export function applyContainers(pipeline: PipelineSpec, o: RenderOptions, volumes: IVolume[]): IContainer[] {
  return assignmentSteps(pipeline).map(({ step, shipped }) => {
    const volume = `assignments-${step.id}`;
    volumes.push({ name: volume, configMap: { name: assignmentsConfigMap(step) } });
    const c = cliContainer(`${step.id}-apply`, [...shipped.apply], o);
    return {
      ...c,
      env: [...(c.env ?? []), { name: shipped.fileEnv, value: `${mountOf(step)}/${shipped.name}` }],
      volumeMounts: [...(c.volumeMounts ?? []), { name: volume, mountPath: mountOf(step), readOnly: true }],
    };
  });
}

/**
 * What an owning step's pods need for the files and settings its declarations read (a file snapshot source's
 * feed, read with ingest's reader): each declared folder mounted read-only (from the declared ConfigMap or PVC,
 * else an empty directory an overlay patches), and each borrowed setting (LISTFLOW_INGEST_*) from the
 * listflow-env ConfigMap by its own key, optional (the reader's defaults apply), so the manifest names exactly
 * the settings the step reads beyond its own. One mount per folder: two sources in one folder share it, and
 * must then name the same volume.
 */
export function assignmentPodNeeds(shipped: ShippedAssignments | undefined): {
  env: IEnvVar[];
  volumes: IVolume[];
  mounts: IVolumeMount[];
} {
  const env: IEnvVar[] = (shipped?.settingEnv ?? []).map((name) => ({
    name,
    valueFrom: { configMapKeyRef: { name: ENV_CONFIGMAP, key: name, optional: true } },
  }));
  const volumes: IVolume[] = [];
  const mounts: IVolumeMount[] = [];
  const byPath = new Map<string, { key: string; from: string }>();
  for (const m of shipped?.mounts ?? []) {
    const from = JSON.stringify(m.from ?? null);
    const prior = byPath.get(m.path);
    if (prior) {
      if (prior.from !== from)
        throw new Error(
          `${shipped!.path}: sources ${prior.key} and ${m.key} read the folder ${m.path} from different volumes; give them one volume, or put their feeds in different folders`,
        );
      continue;
    }
    byPath.set(m.path, { key: m.key, from });
    const name = `feed-${m.key}`;
    const source: Omit<IVolume, 'name'> =
      m.from === undefined
        ? { emptyDir: { sizeLimit: '1Gi' } }
        : 'configMap' in m.from
          ? { configMap: { name: m.from.configMap } }
          : { persistentVolumeClaim: { claimName: m.from.persistentVolumeClaim, readOnly: true } };
    volumes.push({ name, ...source });
    mounts.push({ name, mountPath: m.path, readOnly: true });
  }
  return { env, volumes, mounts };
}
