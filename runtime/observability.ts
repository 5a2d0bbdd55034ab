/**
 * Logs, metrics and the health endpoints of one worker process.
 *
 * - Logs: JSON lines (pino) on stdout, with operator and step on every line.
 * - Metrics: Prometheus text at /metrics (prom-client, one registry per worker).
 * - /healthz (liveness) fails when the consumer crashed for good, or when jobs are in flight but none has
 *   finished for `stallMs`: a stuck worker gets restarted. /readyz answers 200 once the member joined its group.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ItemMetrics, Logger } from './operator';

export function createLogger(level: string, bindings: Record<string, unknown>): Logger {
  return pino({
    level,
    base: { ...bindings, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  }) as unknown as Logger;
}

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly recordsIn: Counter<'step'>;
  readonly recordsOut: Counter<'step' | 'topic'>;
  readonly recordsFailed: Counter<'step' | 'code'>;
  readonly retries: Counter<'step' | 'code'>;
  readonly deadLetters: Counter<'step' | 'code'>;
  readonly skipped: Counter<'step' | 'reason'>;
  readonly processing: Histogram<'step'>;
  readonly inFlight: Gauge<'step'>;
  readonly committedOffset: Gauge<'step' | 'topic' | 'partition'>;
  readonly lag: Gauge<'step' | 'topic' | 'partition'>;
  readonly rebalances: Counter<'step'>;
  readonly items: Counter<'step' | 'item' | 'outcome' | 'code'>;

  constructor(readonly step: string) {
    const r = [this.registry];
    // Node's process metrics (CPU, memory, heap, event-loop lag, GC), labelled with the step like ours, for the
    // dashboard's worker row (k8s/dashboards.ts).
    collectDefaultMetrics({ register: this.registry, labels: { step } });
    this.recordsIn = new Counter({
      name: 'listflow_records_in_total',
      help: 'Input records taken for processing.',
      labelNames: ['step'],
      registers: r,
    });
    this.recordsOut = new Counter({
      name: 'listflow_records_out_total',
      help: 'Output records acknowledged by Kafka.',
      labelNames: ['step', 'topic'],
      registers: r,
    });
    this.recordsFailed = new Counter({
      name: 'listflow_records_failed_total',
      help: 'Failed processing attempts, by error code.',
      labelNames: ['step', 'code'],
      registers: r,
    });
    this.retries = new Counter({
      name: 'listflow_retries_total',
      help: 'Retries after a retriable error.',
      labelNames: ['step', 'code'],
      registers: r,
    });
    this.deadLetters = new Counter({
      name: 'listflow_dead_letters_total',
      help: 'Dead letters acknowledged by Kafka.',
      labelNames: ['step', 'code'],
      registers: r,
    });
    this.skipped = new Counter({
      name: 'listflow_records_skipped_total',
      help: 'Input records with nothing to process (tombstones).',
      labelNames: ['step', 'reason'],
      registers: r,
    });
    this.processing = new Histogram({
      name: 'listflow_processing_seconds',
      help: 'Time from taking a record to its outputs being acknowledged.',
      labelNames: ['step'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: r,
    });
    this.inFlight = new Gauge({
      name: 'listflow_in_flight_jobs',
      help: 'Jobs taken but not yet acknowledged.',
      labelNames: ['step'],
      registers: r,
    });
    this.committedOffset = new Gauge({
      name: 'listflow_committed_offset',
      help: 'Last committed offset (next to read).',
      labelNames: ['step', 'topic', 'partition'],
      registers: r,
    });
    this.lag = new Gauge({
      name: 'listflow_consumer_lag',
      help: 'High watermark minus committed offset.',
      labelNames: ['step', 'topic', 'partition'],
      registers: r,
    });
    this.rebalances = new Counter({
      name: 'listflow_rebalances_total',
      help: 'Group joins after the first.',
      labelNames: ['step'],
      registers: r,
    });
    this.items = new Counter({
      name: 'listflow_items_total',
      help: "Items within records that the operator declares and counts (e.g. photos), by outcome and error code ('' when ok).",
      labelNames: ['step', 'item', 'outcome', 'code'],
      registers: r,
    });
  }
}

/** The operator's item counts on `metrics`, labelled with its step. */
export const itemMetrics = (metrics: WorkerMetrics): ItemMetrics => ({
  count: (item, outcome, code = '') => metrics.items.inc({ step: metrics.step, item, outcome, code }),
});

export interface HealthState {
  /** True once the consumer joined its group and the producer connected. */
  ready(): boolean;
  /** Undefined when live; otherwise why not. */
  deadReason(): string | undefined;
}

export async function startHealthServer(port: number, metrics: WorkerMetrics, health: HealthState): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const reason = health.deadReason();
      res.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' }).end(reason ?? 'ok');
    } else if (path === '/readyz') {
      const ok = health.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready' : 'not ready');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  return server;
}

export const serverPort = (server: Server): number => (server.address() as AddressInfo).port;
