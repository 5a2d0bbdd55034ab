/**
 * The `components/keda` component: a KEDA ScaledObject per step, scaling it on its consumer group's lag on its
 * input, and the TriggerAuthentication that gives KEDA the Kafka credentials. A component, because KEDA is a
 * cluster add-on an overlay opts into; with it the HPA owns replicas, so the scaled Deployments' are removed.
 *
 * An owning step (an operator with `own`, k8s/deploy-needs.ts isOwning) gets no ScaledObject: it never commits
 * offsets, so its group's lag is every record of its input at all times and a lag trigger would hold it at its
 * maximum. Its work is its set of keys, not a backlog; it keeps the Deployment's fixed replicas, which the
 * render caps at its useful maximum (k8s/assignments.ts maxUsefulReplicas).
 */
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import YAML from 'yaml';
import { type PipelineSpec, type Stage, stages } from '../runtime/pipeline';
import { isOwning } from './deploy-needs';
import {
  commonLabels,
  deploymentName,
  HEADER,
  type K8sObject,
  kustomization,
  lagThreshold,
  SECRETS,
  stepLabels,
  toYamlDocs,
  workerEnv,
} from './render';

/** KEDA: scale each step on its consumer-group lag, never beyond one member per input partition. */
function renderScaledObject(pipeline: PipelineSpec, { step, input, group }: Stage): IScaledObject & K8sObject {
  const partitions = pipeline.topics[input]!.partitions;
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: deploymentName(step), labels: stepLabels(pipeline, step) },
    spec: {
      scaleTargetRef: { name: deploymentName(step), envSourceContainerName: 'worker' },
      minReplicaCount: 1,
      maxReplicaCount: partitions,
      pollingInterval: 15,
      cooldownPeriod: 300,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            // Every membership change rebalances the group: remove one member per minute at most.
            scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
          },
        },
      },
      triggers: [
        {
          type: 'kafka',
          metadata: {
            bootstrapServersFromEnv: workerEnv('kafkaBrokers'),
            consumerGroup: group,
            topic: input,
            lagThreshold: String(lagThreshold(step)),
            offsetResetPolicy: 'earliest',
            allowIdleConsumers: 'false',
            scaleToZeroOnInvalidOffset: 'false',
          },
          authenticationRef: { name: 'listflow-kafka' },
        },
      ],
    },
  };
}

function renderTriggerAuthentication(pipeline: PipelineSpec): ITriggerAuthentication & K8sObject {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'TriggerAuthentication',
    metadata: { name: 'listflow-kafka', labels: commonLabels(pipeline) },
    spec: {
      secretTargetRef: [
        { parameter: 'sasl', name: SECRETS.kafka, key: 'keda-sasl' },
        { parameter: 'username', name: SECRETS.kafka, key: 'username' },
        { parameter: 'password', name: SECRETS.kafka, key: 'password' },
        { parameter: 'tls', name: SECRETS.kafka, key: 'keda-tls' },
        { parameter: 'ca', name: SECRETS.kafkaCa, key: 'ca.crt' },
      ],
    },
  };
}

/** The steps KEDA scales: every step that consumes jobs (not the owning ones). */
export const scaledStages = (pipeline: PipelineSpec): Stage[] => stages(pipeline).filter((s) => !isOwning(s.step));

/** The component's files, path relative to k8s/ -> content. */
export function renderKedaComponent(pipeline: PipelineSpec): Map<string, string> {
  const scaledSteps = scaledStages(pipeline);
  const scaled = [renderTriggerAuthentication(pipeline), ...scaledSteps.map((s) => renderScaledObject(pipeline, s))];
  return new Map([
    ['components/keda/scaledobjects.yaml', HEADER + toYamlDocs(scaled)],
    [
      'components/keda/kustomization.yaml',
      kustomization({
        apiVersion: 'kustomize.config.k8s.io/v1alpha1',
        kind: 'Component',
        resources: ['scaledobjects.yaml'],
        // KEDA's HPA owns the replicas of the steps it scales: drop them from those Deployments so `kubectl
        // apply` does not fight it. An owning step keeps its own.
        patches: scaledSteps.map(({ step }) => ({
          target: { kind: 'Deployment', name: deploymentName(step) },
          patch: YAML.stringify([{ op: 'remove', path: '/spec/replicas' }]),
        })),
      }),
    ],
  ]);
}
