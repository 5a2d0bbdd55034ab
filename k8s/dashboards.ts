/**
 * The Grafana dashboard of the pipeline, generated from it: one row per step (throughput in and out, lag, job
 * latency p50/p99, dead letters and retries by code), then the workers' Node process metrics. It is shipped as a
 * ConfigMap labelled `grafana_dashboard: "1"`, which Grafana's dashboard sidecar (kube-prometheus-stack) loads.
 *
 * Every query names a metric a worker exports (runtime/observability.ts; the process metrics come from
 * prom-client's collectDefaultMetrics); test/k8s/dashboards.test.ts checks that against a worker's /metrics.
 *
 * A step whose operator declares `items` (runtime/operator.ts, e.g. photos) gets a panel per item: ok and failed
 * by code, from `listflow_items_total`; the operator is found in the registry, so this file names none.
 *
 * A step whose operator owns keys (runtime/operator.ts `own`, e.g. the sources step's pollers) gets the owned
 * keys' panels from the gauges an owner sets per key (`listflow_owned_<name>{step, key}`, OwnedGauges): lag
 * (time since the key last caught up, e.g. a source's lag), time since its last poll, records and deletes.
 * The newest value over pods is taken per key (`max by (key)`): a key that moved leaves its old pod's gauge behind.
 */
import { operators } from '../operators';
import type { PipelineSpec, StepSpec } from '../runtime/pipeline';

export const DASHBOARD_UID = 'listflow';
export const DASHBOARD_FILE = 'listflow-dashboard.json';

interface Target {
  readonly expr: string;
  readonly legendFormat: string;
  readonly refId: string;
}

interface Panel {
  readonly id: number;
  readonly type: 'timeseries' | 'row';
  readonly title: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly datasource?: { type: 'prometheus'; uid: '${datasource}' };
  readonly targets?: readonly Target[];
  readonly fieldConfig?: { defaults: { unit: string }; overrides: [] };
  readonly collapsed?: boolean;
  readonly panels?: [];
}

/** Grafana's own variable syntax (the dashboard's datasource picker), not a JavaScript template. */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('') as '${datasource}';
const DATASOURCE = { type: 'prometheus', uid: DATASOURCE_VARIABLE } as const;

/** Every query, with the metric names it reads (the test checks them against a real /metrics). */
export function stepQueries(step: StepSpec): { title: string; unit: string; targets: Omit<Target, 'refId'>[] }[] {
  const s = `step="${step.id}"`;
  // An owning step (its keys' pollers) consumes no jobs: it has no input lag, records in or job latency, only its
  // keys' panels (ownedQueries) beside dead letters and retries.
  const jobs = !owns(step);
  return [
    ...(jobs ? jobQueries(step) : []),
    {
      title: 'Dead letters and retries (/s)',
      unit: 'ops',
      targets: [
        { expr: `sum by (code) (rate(listflow_dead_letters_total{${s}}[5m]))`, legendFormat: 'dead letter {{code}}' },
        { expr: `sum by (code) (rate(listflow_retries_total{${s}}[5m]))`, legendFormat: 'retry {{code}}' },
      ],
    },
    ...ownedQueries(step),
    ...Object.keys(operators[step.operator]?.items ?? {}).map((item) => ({
      title: `${item}: ok and failed by code (/s)`,
      unit: 'ops',
      targets: [
        {
          expr: `sum by (outcome, code) (rate(listflow_items_total{${s},item="${item}"}[5m]))`,
          legendFormat: `${item} {{outcome}} {{code}}`,
        },
      ],
    })),
  ];
}

/** Whether the step's operator owns keys (runtime/operator.ts `own`) instead of consuming jobs. */
export const owns = (step: StepSpec): boolean => operators[step.operator]?.own !== undefined;

/** The panels of a step that consumes jobs: throughput, input lag, job latency. */
function jobQueries(step: StepSpec): { title: string; unit: string; targets: Omit<Target, 'refId'>[] }[] {
  const s = `step="${step.id}"`;
  return [
    {
      title: 'Throughput (records/s)',
      unit: 'ops',
      targets: [
        { expr: `sum(rate(listflow_records_in_total{${s}}[5m]))`, legendFormat: `in: ${step.input}` },
        { expr: `sum by (topic) (rate(listflow_records_out_total{${s}}[5m]))`, legendFormat: 'out: {{topic}}' },
      ],
    },
    {
      title: 'Lag (records)',
      unit: 'short',
      targets: [{ expr: `sum by (partition) (listflow_consumer_lag{${s}})`, legendFormat: 'partition {{partition}}' }],
    },
    {
      title: 'Job latency',
      unit: 's',
      targets: [0.5, 0.99].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le) (rate(listflow_processing_seconds_bucket{${s}}[5m])))`,
        legendFormat: `p${q * 100}`,
      })),
    },
  ];
}

/** The gauge names an owning operator sets per key that the dashboard and the alerts read. */
export const OWNED_GAUGES = [
  'caught_up_timestamp_seconds',
  'last_poll_timestamp_seconds',
  'poll_interval_seconds',
  'records',
  'deletes',
] as const;

export const ownedMetric = (name: (typeof OWNED_GAUGES)[number], step: StepSpec): string =>
  `max by (key) (listflow_owned_${name}{step="${step.id}"})`;

/** The panels of an owning step's keys (none for a step that consumes jobs). */
export function ownedQueries(step: StepSpec): { title: string; unit: string; targets: Omit<Target, 'refId'>[] }[] {
  if (!owns(step)) return [];
  return [
    {
      title: 'Lag per key: since caught up (s)',
      unit: 's',
      targets: [{ expr: `time() - ${ownedMetric('caught_up_timestamp_seconds', step)}`, legendFormat: '{{key}}' }],
    },
    {
      title: 'Since last poll, and the poll interval (s)',
      unit: 's',
      targets: [
        { expr: `time() - ${ownedMetric('last_poll_timestamp_seconds', step)}`, legendFormat: '{{key}} since poll' },
        { expr: ownedMetric('poll_interval_seconds', step), legendFormat: '{{key}} interval' },
      ],
    },
    {
      title: 'Records and deletes per key',
      unit: 'short',
      targets: [
        { expr: ownedMetric('records', step), legendFormat: '{{key}} records' },
        { expr: ownedMetric('deletes', step), legendFormat: '{{key}} deletes' },
      ],
    },
  ];
}

/** One series per worker step of a metric every worker exports (prom-client's process and Node.js defaults). */
const perStep = (title: string, unit: string, how: 'sum' | 'max', metric: string, rate = false) => {
  const series = `${metric}{step!=""}`;
  return {
    title,
    unit,
    targets: [{ expr: `${how} by (step) (${rate ? `rate(${series}[5m])` : series})`, legendFormat: '{{step}}' }],
  };
};

export const PROCESS_QUERIES = [
  perStep('CPU (cores)', 'short', 'sum', 'process_cpu_seconds_total', true),
  perStep('Resident memory', 'bytes', 'sum', 'process_resident_memory_bytes'),
  perStep('Event loop lag p99', 's', 'max', 'nodejs_eventloop_lag_p99_seconds'),
  perStep('Heap used', 'bytes', 'sum', 'nodejs_heap_size_used_bytes'),
];

export function renderDashboard(pipeline: PipelineSpec): object {
  const panels: Panel[] = [];
  let id = 1;
  let y = 0;
  const row = (
    title: string,
    queries: readonly { title: string; unit: string; targets: readonly Omit<Target, 'refId'>[] }[],
  ) => {
    panels.push({ id: id++, type: 'row', title, gridPos: { h: 1, w: 24, x: 0, y: y++ }, collapsed: false, panels: [] });
    // Four panels across, then the next line of the row.
    queries.forEach((q, i) => {
      panels.push({
        id: id++,
        type: 'timeseries',
        title: q.title,
        gridPos: { h: 8, w: 6, x: (i % 4) * 6, y: y + Math.floor(i / 4) * 8 },
        datasource: DATASOURCE,
        targets: q.targets.map((t, j) => ({ ...t, refId: String.fromCharCode(65 + j) })),
        fieldConfig: { defaults: { unit: q.unit }, overrides: [] },
      });
    });
    y += Math.ceil(queries.length / 4) * 8;
  };
  for (const step of pipeline.steps) row(`${step.id}: ${step.input}`, stepQueries(step));
  row('Worker processes', PROCESS_QUERIES);
  return {
    uid: DASHBOARD_UID,
    title: `Listflow: ${pipeline.name}`,
    tags: ['listflow'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus', current: {} }],
    },
    annotations: { list: [] },
    panels,
  };
}

/** Every PromQL expression of the dashboard. */
export const dashboardExpressions = (pipeline: PipelineSpec): string[] => [
  ...pipeline.steps.flatMap((s) => stepQueries(s).flatMap((q) => q.targets.map((t) => t.expr))),
  ...PROCESS_QUERIES.flatMap((q) => q.targets.map((t) => t.expr)),
];

/** A JSON array of strings or numbers spread over lines, as JSON.stringify(_, null, 2) writes it. */
const SCALAR_ARRAY = /\[\n\s+((?:"[^"\n]*"|-?[\d.]+)(?:,\n\s+(?:"[^"\n]*"|-?[\d.]+))*)\n\s*\]/g;

/** The dashboard file, with arrays of scalars on one line as the repository's formatter (Biome) writes JSON. */
export const dashboardJson = (pipeline: PipelineSpec): string => {
  const text = JSON.stringify(renderDashboard(pipeline), null, 2);
  return `${text.replace(SCALAR_ARRAY, (_, items: string) => `[${items.split(/,\n\s+/).join(', ')}]`)}\n`;
};
