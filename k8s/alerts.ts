/**
 * The PrometheusRule of the pipeline (Prometheus Operator), generated from the pipeline: one rule per step and
 * condition, so a step added to pipelines/*.ts gets its alerts with no hand-kept list.
 *
 * - ListflowLagGrowing: the step's input lag (listflow_consumer_lag, summed over partitions) is above zero and
 *   has grown over the last 10 minutes, for 10 minutes: the step falls behind, it does not just have a burst.
 * - ListflowDeadLetterRate: more than DEAD_LETTER_RATIO of the step's input became dead letters over 10 minutes
 *   (and at least DEAD_LETTER_MIN_PER_SECOND), for 10 minutes: a bad feed, a broken dependency, a bug.
 * - ListflowStepNotReady: the step's Deployment has no ready replica for 5 minutes (kube-state-metrics'
 *   kube_deployment_status_replicas_ready; expected while an operator has scaled it to 0 for `listflow replay`).
 *
 * - ListflowKeyNotPolled (owning steps only, e.g. sources): a key (a source) whose last poll is older than
 *   NOT_POLLED_INTERVALS of its poll interval, from the gauges its owner sets (listflow_owned_*{step, key}): its
 *   poller is stuck, gone, or its key is owned by nobody. The newest value over pods counts per key.
 *
 * The expressions are checked by `promtool check rules` in test/k8s/alerts.test.ts, and every metric they name
 * must be one a worker exports (runtime/observability.ts) or kube-state-metrics'.
 */
import YAML from 'yaml';
import type { PipelineSpec, StepSpec } from '../runtime/pipeline';
import { DASHBOARD_FILE, dashboardJson, ownedMetric, owns } from './dashboards';
import { commonLabels, deploymentName, HEADER, type K8sObject, kustomization, toYamlDocs } from './render';

export const LAG_GROWTH_WINDOW = '10m';
/** Dead letters over input records above which a step alerts. */
export const DEAD_LETTER_RATIO = 0.05;
/** ...and at least this many dead letters a second, so one bad record among ten is no page. */
export const DEAD_LETTER_MIN_PER_SECOND = 0.01;
export const NOT_READY_FOR = '5m';
/** Poll intervals without a poll after which an owned key (a source) alerts. */
export const NOT_POLLED_INTERVALS = 3;

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

const sel = (step: StepSpec): string => `step="${step.id}"`;

/**
 * The alerts of every step. An owning step (owns) consumes no jobs, so it has no input lag and no records in to
 * rate its dead letters against: it gets only ListflowStepNotReady here, and its keys' alerts from ownedAlerts.
 */
export function stepAlerts(step: StepSpec): AlertRule[] {
  return [...(owns(step) ? [] : jobAlerts(step)), notReadyAlert(step)];
}

function notReadyAlert(step: StepSpec): AlertRule {
  return {
    alert: 'ListflowStepNotReady',
    expr: `max(kube_deployment_status_replicas_ready{deployment="${deploymentName(step)}"}) < 1`,
    for: NOT_READY_FOR,
    labels: { severity: 'critical', listflow_step: step.id },
    annotations: {
      summary: `Step ${step.id} has no ready replica`,
      description: `Deployment ${deploymentName(step)} has had no ready pod for ${NOT_READY_FOR}: nothing reads ${step.input}. Expected only while it is scaled to 0 for \`listflow replay\`.`,
    },
  };
}

/** Lag growing and dead-letter rate: for a step that consumes jobs from its input topic. */
function jobAlerts(step: StepSpec): AlertRule[] {
  const labels = { severity: 'warning', listflow_step: step.id };
  const lag = `sum(listflow_consumer_lag{${sel(step)}})`;
  return [
    {
      alert: 'ListflowLagGrowing',
      expr: `${lag} > 0 and delta(${lag}[${LAG_GROWTH_WINDOW}:1m]) > 0`,
      for: LAG_GROWTH_WINDOW,
      labels,
      annotations: {
        summary: `Step ${step.id} falls behind on ${step.input}`,
        description: `The lag of ${step.id} on ${step.input} ({{ $value }} records) has grown for ${LAG_GROWTH_WINDOW}. Check its workers' logs and \`listflow status\`; add replicas (at most the topic's partitions).`,
      },
    },
    {
      alert: 'ListflowDeadLetterRate',
      expr:
        `sum(rate(listflow_dead_letters_total{${sel(step)}}[10m])) > ${DEAD_LETTER_MIN_PER_SECOND} and ` +
        `sum(rate(listflow_dead_letters_total{${sel(step)}}[10m])) / sum(rate(listflow_records_in_total{${sel(step)}}[10m])) > ${DEAD_LETTER_RATIO}`,
      for: '10m',
      labels,
      annotations: {
        summary: `Step ${step.id} dead-letters more than ${DEAD_LETTER_RATIO * 100}% of its input`,
        description: `More than ${DEAD_LETTER_RATIO * 100}% of ${step.input} went to ${step.input}.dlq over 10 minutes. \`listflow dlq list --step ${step.id}\` shows the codes; fix, then \`listflow dlq redrive\`.`,
      },
    },
  ];
}

/** The alerts of an owning step's keys (runtime/operator.ts `own`); none for a step that consumes jobs. */
export function ownedAlerts(step: StepSpec): AlertRule[] {
  if (!owns(step)) return [];
  return [
    {
      alert: 'ListflowKeyNotPolled',
      expr: `time() - ${ownedMetric('last_poll_timestamp_seconds', step)} > ${NOT_POLLED_INTERVALS} * ${ownedMetric('poll_interval_seconds', step)}`,
      for: '1m',
      labels: { severity: 'warning', listflow_step: step.id },
      annotations: {
        summary: `${step.id}: {{ $labels.key }} not polled within ${NOT_POLLED_INTERVALS} intervals`,
        description: `${step.id} has not polled {{ $labels.key }} for more than ${NOT_POLLED_INTERVALS} of its poll intervals. Check \`listflow status\` and \`listflow dlq list --step ${step.id}\` (a declaration that failed for good is dead-lettered), and the ${deploymentName(step)} pods' logs.`,
      },
    },
  ];
}

export const PROMETHEUS_RULE = 'listflow';

/** The rule groups, as a Prometheus rules file has them (what promtool checks). */
export function ruleGroups(pipeline: PipelineSpec): { groups: { name: string; rules: AlertRule[] }[] } {
  return {
    groups: [
      {
        name: `listflow-${pipeline.name}`,
        rules: pipeline.steps.flatMap((s) => [...stepAlerts(s), ...ownedAlerts(s)]),
      },
    ],
  };
}

export function renderPrometheusRule(pipeline: PipelineSpec): K8sObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: PROMETHEUS_RULE, labels: commonLabels(pipeline) },
    spec: ruleGroups(pipeline),
  };
}

/** The rules file form, for `promtool check rules`. */
export const rulesFile = (pipeline: PipelineSpec): string => YAML.stringify(ruleGroups(pipeline), { lineWidth: 0 });

export const MONITORING_COMPONENT = 'monitoring';
export const DASHBOARD_CONFIGMAP = 'listflow-dashboard';

/**
 * `components/monitoring`: the PrometheusRule and the dashboard's ConfigMap, a component so that an overlay
 * without the Prometheus Operator's CRDs (dev) does not get a kind its cluster refuses; prod includes it.
 */
export function renderMonitoringComponent(pipeline: PipelineSpec): Map<string, string> {
  const dir = `components/${MONITORING_COMPONENT}`;
  return new Map([
    [`${dir}/prometheusrule.yaml`, HEADER + toYamlDocs([renderPrometheusRule(pipeline)])],
    [`${dir}/${DASHBOARD_FILE}`, dashboardJson(pipeline)],
    [
      `${dir}/kustomization.yaml`,
      kustomization({
        apiVersion: 'kustomize.config.k8s.io/v1alpha1',
        kind: 'Component',
        resources: ['prometheusrule.yaml'],
        configMapGenerator: [
          {
            name: DASHBOARD_CONFIGMAP,
            files: [DASHBOARD_FILE],
            // Grafana's dashboard sidecar (kube-prometheus-stack) loads every ConfigMap with this label.
            options: { labels: { ...commonLabels(pipeline), grafana_dashboard: '1' } },
          },
        ],
      }),
    ],
  ]);
}
