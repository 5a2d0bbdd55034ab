/**
 * The generated alerts and dashboard: promtool (Debian's `prometheus` package) checks every rule expression and
 * runs unit tests of the alerts over synthetic series (they fire when they should, not when they should not);
 * every metric the dashboard and the rules read is one a worker really exports.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { readFileSync } from 'node:fs';
import { ownedAlerts, ruleGroups, rulesFile, stepAlerts } from '../../k8s/alerts';
import { dashboardExpressions, OWNED_GAUGES, renderDashboard } from '../../k8s/dashboards';
import { operators } from '../../operators';
import listings from '../../pipelines/listings';
import { WorkerMetrics } from '../../runtime/observability';
import { debianTool } from '../support/debian-tool';

let dir: string;
let promtool: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'listflow-alerts-'));
  promtool = debianTool('promtool', 'prometheus');
  writeFileSync(join(dir, 'rules.yaml'), rulesFile(listings));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]): { code: number; out: string } => {
  try {
    return { code: 0, out: execFileSync(promtool, args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: `${err.stdout}${err.stderr}` };
  }
};

test('promtool checks every rule of every step', () => {
  const r = run(['check', 'rules', 'rules.yaml']);
  const owning = listings.steps.filter((s) => operators[s.operator as keyof typeof operators]?.own).length;
  expect(owning).toBe(1);
  // A job step: lag growing, dead-letter rate, not ready. An owning step: not ready, key not polled.
  expect(r.out).toContain(`SUCCESS: ${(listings.steps.length - owning) * 3 + owning * 2} rules found`);
  expect(r.code).toBe(0);
});

test('promtool refuses a broken expression (the check can fail)', () => {
  const broken = ruleGroups(listings);
  const rule = broken.groups[0]!.rules[0]!;
  writeFileSync(
    join(dir, 'broken.yaml'),
    YAML.stringify({ groups: [{ name: 'x', rules: [{ ...rule, expr: `${rule.expr} and (` }] }] }),
  );
  expect(run(['check', 'rules', 'broken.yaml']).code).not.toBe(0);
});

/** The annotations a step's alert carries (they have no $value in them). */
const annotationsOf = (stepId: string, alert: string) =>
  stepAlerts(listings.steps.find((s) => s.id === stepId)!).find((a) => a.alert === alert)!.annotations;

/** promtool unit tests: series per minute, and the alerts expected at given times. */
const unitTests = {
  rule_files: ['rules.yaml'],
  evaluation_interval: '1m',
  tests: [
    {
      // normalize's lag grows 100 a minute for 30 minutes; images' lag stays at 50.
      interval: '1m',
      input_series: [
        { series: 'listflow_consumer_lag{step="normalize",partition="0"}', values: '0+100x30' },
        { series: 'listflow_consumer_lag{step="images",partition="0"}', values: '50x30' },
        { series: 'kube_deployment_status_replicas_ready{deployment="listflow-normalize"}', values: '1x30' },
        { series: 'kube_deployment_status_replicas_ready{deployment="listflow-images"}', values: '1x10 0x20' },
      ],
      alert_rule_test: [
        { eval_time: '5m', alertname: 'ListflowLagGrowing', exp_alerts: [] },
        {
          eval_time: '25m',
          alertname: 'ListflowLagGrowing',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', listflow_step: 'normalize' },
              exp_annotations: {
                summary: 'Step normalize falls behind on listings.raw',
                description:
                  "The lag of normalize on listings.raw (2500 records) has grown for 10m. Check its workers' logs and `listflow status`; add replicas (at most the topic's partitions).",
              },
            },
          ],
        },
        { eval_time: '12m', alertname: 'ListflowStepNotReady', exp_alerts: [] },
        {
          eval_time: '20m',
          alertname: 'ListflowStepNotReady',
          exp_alerts: [
            {
              exp_labels: { severity: 'critical', listflow_step: 'images' },
              exp_annotations: annotationsOf('images', 'ListflowStepNotReady'),
            },
          ],
        },
      ],
    },
    {
      // The sources step polls key a every minute (and a pod it left still shows a's last poll at 0); key b's
      // poller stops after 10 minutes. b alerts once 3 intervals (3m) have passed without a poll, a never.
      interval: '1m',
      input_series: [
        { series: 'listflow_owned_last_poll_timestamp_seconds{step="sources",key="a",pod="p1"}', values: '0+60x30' },
        { series: 'listflow_owned_last_poll_timestamp_seconds{step="sources",key="a",pod="p0"}', values: '0x30' },
        {
          series: 'listflow_owned_last_poll_timestamp_seconds{step="sources",key="b",pod="p1"}',
          values: '0+60x10 600x20',
        },
        { series: 'listflow_owned_poll_interval_seconds{step="sources",key="a",pod="p1"}', values: '60x30' },
        { series: 'listflow_owned_poll_interval_seconds{step="sources",key="a",pod="p0"}', values: '60x30' },
        { series: 'listflow_owned_poll_interval_seconds{step="sources",key="b",pod="p1"}', values: '60x30' },
      ],
      alert_rule_test: [
        { eval_time: '12m', alertname: 'ListflowKeyNotPolled', exp_alerts: [] },
        {
          eval_time: '20m',
          alertname: 'ListflowKeyNotPolled',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', listflow_step: 'sources', key: 'b' },
              exp_annotations: Object.fromEntries(
                Object.entries(ownedAlerts(listings.steps.find((s) => s.id === 'sources')!)[0]!.annotations).map(
                  ([k, v]) => [k, v.replaceAll('{{ $labels.key }}', 'b')],
                ),
              ),
            },
          ],
        },
      ],
    },
    {
      // publish: 10 records/s in; 2/s dead-lettered (20%). images: 10/s in, 0.1/s dead-lettered (1%).
      interval: '1m',
      input_series: [
        { series: 'listflow_records_in_total{step="publish"}', values: '0+600x40' },
        { series: 'listflow_dead_letters_total{step="publish",code="PUBLISH_DB_REJECTED"}', values: '0+120x40' },
        { series: 'listflow_records_in_total{step="images"}', values: '0+600x40' },
        { series: 'listflow_dead_letters_total{step="images",code="BLOBSTORE_ACCESS_DENIED"}', values: '0+6x40' },
      ],
      alert_rule_test: [
        { eval_time: '8m', alertname: 'ListflowDeadLetterRate', exp_alerts: [] },
        {
          eval_time: '30m',
          alertname: 'ListflowDeadLetterRate',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', listflow_step: 'publish' },
              exp_annotations: annotationsOf('publish', 'ListflowDeadLetterRate'),
            },
          ],
        },
      ],
    },
  ],
};

test('promtool unit tests: the alerts fire on the conditions, and only there', () => {
  writeFileSync(join(dir, 'rules.test.yaml'), YAML.stringify(unitTests, { lineWidth: 0 }));
  const r = run(['test', 'rules', 'rules.test.yaml']);
  expect(r.out).toContain('SUCCESS');
  expect(r.code).toBe(0);
});

test("every metric the dashboard and the alerts read is one a worker exports (or kube-state-metrics')", () => {
  const exported = new Set(
    new WorkerMetrics('normalize').registry.getMetricsAsArray().flatMap((m) => {
      const { name, type } = m as unknown as { name: string; type: string };
      return type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    }),
  );
  // An owning step's gauges are set by its owner per key (listflow_owned_<name>): the sources poller sets these.
  const poller = readFileSync(join(__dirname, '../../operators/sources/poller.ts'), 'utf8');
  for (const g of OWNED_GAUGES) {
    expect(poller).toContain(`gauges.set('${g}'`);
    exported.add(`listflow_owned_${g}`);
  }
  const exprs = [...dashboardExpressions(listings), ...ruleGroups(listings).groups[0]!.rules.map((r) => r.expr)];
  const FUNCTIONS = new Set(['sum', 'rate', 'delta', 'max', 'by', 'histogram_quantile', 'and', 'le', 'time', 'key']);
  const read = new Set(
    exprs.flatMap((e) =>
      [...e.replace(/\{[^}]*\}/g, '').matchAll(/[a-z_][a-z0-9_]*/g)].map((m) => m[0]).filter((n) => n.includes('_')),
    ),
  );
  const missing = [...read].filter((n) => !FUNCTIONS.has(n) && !n.startsWith('kube_') && !exported.has(n));
  expect(missing).toEqual([]);
  expect(read).toContain('process_cpu_seconds_total');
  expect(read).toContain('listflow_processing_seconds_bucket');
  expect(read).toContain('listflow_owned_caught_up_timestamp_seconds');
});

test('the dashboard has one row per step with throughput, lag, latency, dead letters; then the processes', () => {
  const d = renderDashboard(listings) as { panels: { type: string; title: string }[] };
  const rows = d.panels.filter((p) => p.type === 'row').map((p) => p.title);
  expect(rows).toEqual([...listings.steps.map((s) => `${s.id}: ${s.input}`), 'Worker processes']);
  // The panels under each row, by step.
  const byRow = new Map<string, string[]>();
  let row = '';
  for (const p of d.panels) {
    if (p.type === 'row') {
      row = p.title;
      byRow.set(row, []);
    } else byRow.get(row)!.push(p.title);
  }
  for (const s of listings.steps) {
    const panels = byRow.get(`${s.id}: ${s.input}`)!;
    if (operators[s.operator as keyof typeof operators]?.own) {
      // An owning step consumes no jobs: no input lag, throughput or job latency; its keys' panels instead.
      expect(panels.slice(0, 2)).toEqual(['Dead letters and retries (/s)', 'Lag per key: since caught up (s)']);
      expect(panels).not.toContain('Lag (records)');
    } else {
      expect(panels.slice(0, 4)).toEqual([
        'Throughput (records/s)',
        'Lag (records)',
        'Job latency',
        'Dead letters and retries (/s)',
      ]);
    }
  }
});
