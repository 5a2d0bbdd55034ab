/**
 * `listflow infra up|down|status`: the local platform (Kafka, Apicurio Registry, PostgreSQL, S3Proxy) on one machine,
 * with no Docker. `up` is idempotent: a service already running from this folder is reused. `down` stops
 * exactly the recorded pids. Every service counts as up only once it answers a real request.
 */
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { ensureKafkaJars, kafkaAnswers, requireJava, startKafka, waitForKafka } from './kafka';
import { type PlatformLayout, platformEndpoints } from './layout';
import { ensureListflowDatabase, postgresAnswers, startPostgres, waitForPostgres } from './postgres';
import { forgetRecord, isRunning, type ProcessRecord, readRecord, stopProcess } from './processes';
import { ensureLocalBucket, ensureS3ProxyJars, s3proxyAnswers, startS3Proxy, waitForS3Proxy } from './s3proxy';
import {
  ensureApicurio,
  globalCompatibility,
  registryAnswers,
  setGlobalCompatibility,
  startRegistry,
  waitForRegistry,
} from './registry';

export type ServiceName = 'kafka' | 'registry' | 'postgres' | 's3proxy';
export const serviceNames: readonly ServiceName[] = ['kafka', 'registry', 'postgres', 's3proxy'];

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly state: 'running' | 'stopped' | 'unresponsive';
  readonly pid: number | null;
  readonly endpoint: string;
  readonly log: string | null;
  /** For `up`: 'started' or 'reused', and how long it took to answer. */
  readonly action?: 'started' | 'reused';
  readonly readyMs?: number;
}

const ports = (l: PlatformLayout): Record<ServiceName, number> => ({
  kafka: l.kafkaPort,
  registry: l.registryPort,
  postgres: l.postgresPort,
  s3proxy: l.s3proxyPort,
});

const answers: Record<ServiceName, (l: PlatformLayout) => Promise<boolean>> = {
  kafka: kafkaAnswers,
  registry: registryAnswers,
  postgres: postgresAnswers,
  s3proxy: s3proxyAnswers,
};

function endpoint(l: PlatformLayout, name: ServiceName): string {
  const e = platformEndpoints(l);
  if (name === 'kafka') return e.LISTFLOW_KAFKA_BROKERS ?? '';
  if (name === 'registry') return e.LISTFLOW_REGISTRY_URL ?? '';
  if (name === 's3proxy') return e.LISTFLOW_IMAGES_S3_ENDPOINT ?? '';
  return e.LISTFLOW_POSTGRES_URL ?? '';
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolvePort(false);
    });
    socket.once('error', () => resolvePort(false));
  });
}

const envVarFor: Record<ServiceName, string> = {
  kafka: 'LISTFLOW_INFRA_KAFKA_PORT',
  registry: 'LISTFLOW_INFRA_REGISTRY_PORT',
  postgres: 'LISTFLOW_INFRA_POSTGRES_PORT',
  s3proxy: 'LISTFLOW_INFRA_S3PROXY_PORT',
};

/** How each service starts, and what it needs once it answers (a rule, a database, a bucket). */
const lifecycle: Record<
  ServiceName,
  {
    start(l: PlatformLayout, say: (msg: string) => void): Promise<ProcessRecord>;
    ready(l: PlatformLayout, record: ProcessRecord): Promise<void>;
  }
> = {
  kafka: { start: startKafka, ready: async (l, r) => void (await waitForKafka(l, r)) },
  registry: {
    start: startRegistry,
    async ready(l, r) {
      await waitForRegistry(l, r);
      await setGlobalCompatibility(l, 'BACKWARD');
    },
  },
  postgres: {
    start: startPostgres,
    async ready(l, r) {
      await waitForPostgres(l, r);
      await ensureListflowDatabase(l);
    },
  },
  s3proxy: {
    start: startS3Proxy,
    async ready(l, r) {
      await waitForS3Proxy(l, r);
      await ensureLocalBucket(l);
    },
  },
};

async function bringUp(l: PlatformLayout, name: ServiceName, say: (msg: string) => void): Promise<ServiceStatus> {
  const existing = readRecord(l.run, name);
  const started = Date.now();
  let record: ProcessRecord;
  let action: 'started' | 'reused';
  if (existing && isRunning(existing)) {
    record = existing;
    action = 'reused';
  } else {
    if (existing) forgetRecord(l.run, name);
    if (await portInUse(ports(l)[name])) {
      throw new Error(
        `Port ${ports(l)[name]} (${name}) is already in use by a process this project did not start. Stop it, or pick another port with ${envVarFor[name]}=<port>.`,
      );
    }
    record = await lifecycle[name].start(l, say);
    action = 'started';
    say(`${name}: started (pid ${record.pid}), waiting until it answers...`);
  }
  await lifecycle[name].ready(l, record);
  return {
    name,
    state: 'running',
    pid: record.pid,
    endpoint: endpoint(l, name),
    log: record.log,
    action,
    readyMs: Date.now() - started,
  };
}

export async function up(
  l: PlatformLayout,
  say: (msg: string) => void,
  only: readonly ServiceName[] = serviceNames,
): Promise<ServiceStatus[]> {
  for (const d of [l.home, l.cache, l.logs, l.run]) mkdirSync(d, { recursive: true });
  // Ports first: a port held by another program is the commonest failure, and it should fail in a second,
  // not after minutes of downloads.
  const busy: string[] = [];
  for (const name of only) {
    if (isRunningRecord(l, name)) continue;
    if (await portInUse(ports(l)[name])) {
      busy.push(
        `Port ${ports(l)[name]} (${name}) is already in use by a process this project did not start. Stop it, or pick another port with ${envVarFor[name]}=<port>.`,
      );
    }
  }
  if (busy.length > 0) throw new Error(busy.join('\n'));
  const needsJava = only.some((n) => n !== 'postgres' && !isRunningRecord(l, n));
  if (needsJava) await requireJava();
  // Maven downloads run one at a time: two mvn processes writing the same ~/.m2 can corrupt it.
  if (only.includes('kafka') && !isRunningRecord(l, 'kafka')) await ensureKafkaJars(l, say);
  if (only.includes('registry') && !isRunningRecord(l, 'registry')) await ensureApicurio(l, say);
  if (only.includes('s3proxy') && !isRunningRecord(l, 's3proxy')) await ensureS3ProxyJars(l, say);
  const results = await Promise.allSettled(only.map((n) => bringUp(l, n, say)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length > 0) {
    throw new Error(failures.map((f) => f.message).join('\n\n'));
  }
  return results.map((r) => (r as PromiseFulfilledResult<ServiceStatus>).value);
}

function isRunningRecord(l: PlatformLayout, name: ServiceName): boolean {
  const r = readRecord(l.run, name);
  return r !== undefined && isRunning(r);
}

/** Stops in reverse dependency order; each by its recorded pid only. */
export async function down(
  l: PlatformLayout,
  say: (msg: string) => void,
): Promise<{ name: ServiceName; result: 'not-running' | 'stopped' | 'killed' }[]> {
  const out: { name: ServiceName; result: 'not-running' | 'stopped' | 'killed' }[] = [];
  for (const name of ['s3proxy', 'registry', 'kafka', 'postgres'] as const) {
    const record = readRecord(l.run, name);
    if (!record) {
      out.push({ name, result: 'not-running' });
      continue;
    }
    // PostgreSQL's fast shutdown is SIGINT; the JVMs shut down cleanly on SIGTERM.
    const result = await stopProcess(record, name === 'postgres' ? 'SIGINT' : 'SIGTERM', 30_000);
    forgetRecord(l.run, name);
    say(`${name}: ${result === 'not-running' ? 'was not running' : `${result} (pid ${record.pid})`}`);
    out.push({ name, result });
  }
  return out;
}

export async function status(l: PlatformLayout): Promise<(ServiceStatus & { compatibility?: string })[]> {
  return Promise.all(
    serviceNames.map(async (name) => {
      const record = readRecord(l.run, name);
      const alive = record !== undefined && isRunning(record);
      const ok = alive ? await answers[name](l).catch(() => false) : false;
      const base: ServiceStatus = {
        name,
        state: alive ? (ok ? 'running' : 'unresponsive') : 'stopped',
        pid: alive ? record.pid : null,
        endpoint: endpoint(l, name),
        log: record?.log ?? null,
      };
      if (name === 'registry' && ok) {
        const compatibility = await globalCompatibility(l).catch(() => undefined);
        return compatibility ? { ...base, compatibility } : base;
      }
      return base;
    }),
  );
}

/**
 * Restarts the recorded Kafka in place (integration tests of broker outages): SIGTERM to exactly the recorded
 * pid (a controlled shutdown), then the same start function on the same data directory, and back only once a
 * metadata request answers again. Throws when no live Kafka of this folder is recorded: it never starts one
 * that was not running.
 */
export async function restartKafka(
  l: PlatformLayout,
  say: (msg: string) => void,
): Promise<{ stoppedPid: number; pid: number; downMs: number }> {
  const record = readRecord(l.run, 'kafka');
  if (!record || !isRunning(record)) {
    throw new Error(`Kafka is not running from ${l.home} (no live pid in ${l.run}/kafka.json); run \`infra up\`.`);
  }
  const started = Date.now();
  const result = await stopProcess(record, 'SIGTERM', 30_000);
  forgetRecord(l.run, 'kafka');
  say(`kafka: ${result} (pid ${record.pid}) after ${Date.now() - started} ms; starting it again`);
  const next = await startKafka(l, say);
  await waitForKafka(l, next);
  const downMs = Date.now() - started;
  say(`kafka: answering again (pid ${next.pid}) after ${downMs} ms down`);
  return { stoppedPid: record.pid, pid: next.pid, downMs };
}
