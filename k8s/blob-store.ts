/**
 * Where the steps whose operators declare `deploy.blobStore` store their blobs, as two kustomize components an
 * overlay picks one of:
 *
 * - `components/blob-store-filesystem`: a PersistentVolumeClaim (ReadWriteMany, so every such replica shares
 *   it) mounted at /var/lib/listflow/blobs, with the operator's store setting = file and its blob root on it.
 * - `components/blob-store-s3`: an S3-compatible object store and no volume. The bucket (the store setting =
 *   s3://bucket/prefix), region, endpoint and public base URL are the overlay's listflow-env settings; the
 *   worker reads the store from that ConfigMap by a required key reference, so an overlay that forgets it does not
 *   start (CreateContainerConfigError) instead of writing to the image's read-only filesystem. Credentials are the
 *   SDK's standard AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the Secret listflow-object-store, optional so
 *   that pod identities (IRSA, Workload Identity) work without one; wrong or missing credentials stop the worker at
 *   startup, when it checks the bucket (BLOBSTORE_ACCESS_DENIED).
 *
 * Why components and not one store in the base: many clusters offer no ReadWriteMany class, and an object store
 * needs no volume at all, so the base carries neither and the choice is one line in an overlay.
 */
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { PipelineSpec, StepSpec } from '../runtime/pipeline';
import { BLOB_STORE_OPERATORS, needsOf, settingEnv } from './deploy-needs';
import {
  commonLabels,
  deploymentName,
  ENV_CONFIGMAP,
  HEADER,
  type K8sObject,
  kustomization,
  SECRETS,
  toYamlDocs,
} from './render';

export const BLOB_STORE_PVC = 'listflow-blobs';
export const BLOB_MOUNT = '/var/lib/listflow/blobs';
/** Keys of the object store's credentials in Secret SECRETS.objectStore. */
export const OBJECT_STORE_KEYS = { accessKeyId: 'access-key-id', secretAccessKey: 'secret-access-key' } as const;

export const BLOB_STORE_COMPONENTS = {
  filesystem: 'blob-store-filesystem',
  s3: 'blob-store-s3',
} as const;

/** The variables of a step's blob-store settings (its operator's deploy.blobStore). */
function storeEnv(step: StepSpec): { store: string; root: string } {
  const need = needsOf(step).blobStore!;
  return { store: settingEnv(step.operator, need.store), root: settingEnv(step.operator, need.root) };
}

/** A strategic-merge patch of the worker container (and pod volumes) of every step that writes the store. */
function workerPatches(pipeline: PipelineSpec, envOf: (step: StepSpec) => IEnvVar[], withVolume: boolean): K8sObject[] {
  return pipeline.steps
    .filter((s) => BLOB_STORE_OPERATORS.has(s.operator))
    .map((step) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: deploymentName(step) },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'worker',
                env: envOf(step),
                ...(withVolume ? { volumeMounts: [{ name: 'blobs', mountPath: BLOB_MOUNT }] } : {}),
              },
            ],
            ...(withVolume
              ? { volumes: [{ name: 'blobs', persistentVolumeClaim: { claimName: BLOB_STORE_PVC } }] }
              : {}),
          },
        },
      },
    }));
}

function filesystemComponent(pipeline: PipelineSpec): Map<string, string> {
  const pvc: IPersistentVolumeClaim & K8sObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: BLOB_STORE_PVC,
      labels: commonLabels(pipeline),
      annotations: {
        'listflow.io/note': `Filesystem blob store shared by every ${[...BLOB_STORE_OPERATORS].join(', ')} replica (ReadWriteMany); the blob-store-s3 component needs no volume. See k8s/README.md.`,
      },
    },
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '100Gi' } } },
  };
  const env = (step: StepSpec): IEnvVar[] => [
    { name: storeEnv(step).store, value: 'file' },
    { name: storeEnv(step).root, value: BLOB_MOUNT },
  ];
  const dir = `components/${BLOB_STORE_COMPONENTS.filesystem}`;
  return new Map([
    [`${dir}/persistentvolumeclaim.yaml`, HEADER + toYamlDocs([pvc])],
    [`${dir}/workers.yaml`, HEADER + toYamlDocs(workerPatches(pipeline, env, true))],
    [
      `${dir}/kustomization.yaml`,
      kustomization({
        apiVersion: 'kustomize.config.k8s.io/v1alpha1',
        kind: 'Component',
        resources: ['persistentvolumeclaim.yaml'],
        patches: [{ path: 'workers.yaml' }],
      }),
    ],
  ]);
}

function s3Component(pipeline: PipelineSpec): Map<string, string> {
  const secretEnv = (name: string, key: string): IEnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: SECRETS.objectStore, key, optional: true } },
  });
  const env = (step: StepSpec): IEnvVar[] => [
    {
      name: storeEnv(step).store,
      valueFrom: { configMapKeyRef: { name: ENV_CONFIGMAP, key: storeEnv(step).store, optional: false } },
    },
    secretEnv('AWS_ACCESS_KEY_ID', OBJECT_STORE_KEYS.accessKeyId),
    secretEnv('AWS_SECRET_ACCESS_KEY', OBJECT_STORE_KEYS.secretAccessKey),
  ];
  const dir = `components/${BLOB_STORE_COMPONENTS.s3}`;
  return new Map([
    [`${dir}/workers.yaml`, HEADER + toYamlDocs(workerPatches(pipeline, env, false))],
    [
      `${dir}/kustomization.yaml`,
      kustomization({
        apiVersion: 'kustomize.config.k8s.io/v1alpha1',
        kind: 'Component',
        patches: [{ path: 'workers.yaml' }],
      }),
    ],
  ]);
}

/** The generated files of both components, path relative to k8s/ -> content. */
export function renderBlobStoreComponents(pipeline: PipelineSpec): Map<string, string> {
  return new Map([...filesystemComponent(pipeline), ...s3Component(pipeline)]);
}
