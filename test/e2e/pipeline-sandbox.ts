/**
 * An isolated copy of the listings pipeline for end-to-end tests: every topic prefixed with a unique id and
 * a unique pipeline name (so unique consumer groups), handed to the CLI and its workers through
 * LISTFLOW_PIPELINE_FILE. Other runs on the same platform neither see these records nor steal them.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type KafkaMessage, Kafka as KafkaClient, logLevel } from 'kafkajs';
import pg from 'pg';
import builtIn from '../../pipelines/listings';
import { headersToStrings } from '../../runtime/dead-letters/build';
import type { PipelineSpec, StepSpec } from '../../runtime/pipeline';
import { AvroSerde, createRegistry } from '../../runtime/serde';
import type { PublishedListing } from '../../schemas/generated/types';

export const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');
export const BROKERS = process.env.LISTFLOW_KAFKA_BROKERS ?? '127.0.0.1:19092';
export const POSTGRES_URL = process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow';
export const REGISTRY_URL = process.env.LISTFLOW_REGISTRY_URL ?? 'http://127.0.0.1:18081/apis/ccompat/v7';

export interface Sandbox {
  readonly id: string;
  /** The sandbox's own directory (pipeline file, ready files, worker logs). */
  readonly dir: string;
  readonly pipeline: PipelineSpec;
  readonly pipelineFile: string;
  readonly topic: (name: string) => string;
  readonly env: NodeJS.ProcessEnv;
}

/** Step settings (retry, concurrency...) that differ in the sandbox's copy of the pipeline, by step id. */
export type StepOverrides = Readonly<Record<string, Partial<Omit<StepSpec, 'id' | 'operator' | 'input' | 'outputs'>>>>;

export function sandbox(label: string, extraEnv: NodeJS.ProcessEnv = {}, steps: StepOverrides = {}): Sandbox {
  const id = `${label}-${randomBytes(3).toString('hex')}`;
  const topic = (name: string) => `${id}.${name}`;
  const pipeline: PipelineSpec = {
    name: `listings-${id}`,
    topics: Object.fromEntries(Object.entries(builtIn.topics).map(([k, v]) => [topic(k), v])),
    steps: builtIn.steps.map((s) => ({
      ...s,
      ...steps[s.id],
      input: topic(s.input),
      outputs: Object.fromEntries(Object.entries(s.outputs).map(([k, v]) => [k, topic(v)])),
    })),
  };
  const dir = join(ROOT, '.listflow', 'e2e', id);
  mkdirSync(dir, { recursive: true });
  const pipelineFile = join(dir, 'pipeline.json');
  writeFileSync(pipelineFile, JSON.stringify(pipeline, null, 2));
  // Only LISTFLOW_* variables a worker knows may reach it: start from the environment without the others.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LISTFLOW_') || k === 'LISTFLOW_NODE_VERSION'),
  );
  return {
    id,
    dir,
    pipeline,
    pipelineFile,
    topic,
    env: {
      ...base,
      LISTFLOW_KAFKA_BROKERS: BROKERS,
      LISTFLOW_POSTGRES_URL: POSTGRES_URL,
      LISTFLOW_PIPELINE_FILE: pipelineFile,
      LISTFLOW_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  };
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a command to its end; past `timeoutMs` it is killed and the run reports code null ("hung"). */
export function run(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Run> {
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(command, [...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('exit', () => clearTimeout(timer));
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

export const cli = (args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<Run> =>
  run(process.execPath, ['--disable-warning=TimeoutNegativeWarning', CLI, ...args], { env, timeoutMs });

export function kafka(): KafkaClient {
  return new KafkaClient({ clientId: 'e2e', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
}

/** Every record of `topic` now (it is the sandbox's, so all of them belong to the test). */
export async function readAll(topic: string): Promise<KafkaMessage[]> {
  const k = kafka();
  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (total === 0) return [];
  const consumer = k.consumer({ groupId: `e2e-read-${randomBytes(4).toString('hex')}` });
  const out: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((done) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push(message);
        if (out.length >= total) done();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

export const codesOf = (messages: readonly KafkaMessage[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const m of messages) {
    const code = headersToStrings(m.headers)['listflow.error.code'] ?? '?';
    out[code] = (out[code] ?? 0) + 1;
  }
  return out;
};

export async function rowsForSources(sources: readonly string[]): Promise<number> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>('SELECT count(*) AS n FROM listings WHERE source = ANY($1::text[])', [
      sources,
    ]);
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** What a deploy does before workers start, through the real CLI: `topics apply`, then `schemas register`. */
export async function provision(box: Sandbox): Promise<void> {
  for (const args of [
    ['topics', 'apply'],
    ['schemas', 'register'],
  ]) {
    const r = await cli(args, box.env, 120_000);
    if (r.code !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  }
}

export async function dropTopics(box: Sandbox): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const mine = [...existing].filter((t) => t.startsWith(`${box.id}.`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}

/** Polls `ok` every 200 ms until it holds; past `ms` it throws, naming `what` and the `context()` text. */
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 180_000,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `listflow run --all` in the sandbox, started and ready. */
export interface Workers {
  /** What the supervisor wrote to stderr so far. */
  readonly stderr: () => string;
  /** SIGTERM, then the supervisor's exit code once every worker drained. */
  stop(): Promise<number | null>;
}

let workerRuns = 0;

/** True when `port` can be listened on now (all interfaces, as a worker's health server does). */
function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const server = createServer();
    server.once('error', () => res(false));
    server.listen(port, '0.0.0.0', () => server.close(() => res(true)));
  });
}

/**
 * A base port for `run --all --base-port` with `span` free ports from it, below Linux's ephemeral range
 * (32768 and up): a port in that range can be taken at any moment by the local end of an outgoing
 * connection (a Kafka or PostgreSQL client), and a worker whose health port was taken failed with EADDRINUSE.
 */
export async function freeBasePort(span: number): Promise<number> {
  const low = 20_000;
  const high = 32_000 - span;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + (randomBytes(2).readUInt16BE(0) % (high - low));
    let free = true;
    for (let p = base; free && p < base + span; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error(`no ${span} consecutive free ports found between ${low} and ${high + span}`);
}

/** Starts `run --all` with the sandbox's env plus `env` and resolves once every worker answers /readyz. */
export async function startWorkers(box: Sandbox, basePort: number, env: NodeJS.ProcessEnv = {}): Promise<Workers> {
  const n = ++workerRuns;
  const readyFile = join(box.dir, `ready-${n}.json`);
  const logDir = join(box.dir, `logs-${n}`);
  let stderr = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'run', '--all', '--base-port', String(basePort), '--ready-file', readyFile, '--log-dir', logDir],
    { cwd: ROOT, env: { ...box.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const workers: Workers = {
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  try {
    await until(
      'the workers to be ready',
      () => {
        if (child.exitCode !== null) throw new Error(`run --all exited ${child.exitCode}:\n${stderr.slice(-3000)}`);
        return existsSync(readyFile);
      },
      180_000,
      () => stderr,
    );
  } catch (e) {
    await workers.stop();
    throw e;
  }
  return workers;
}

/**
 * The latest value per key of the sandbox's listings.published, decoded through the registry with the
 * PublishedListing reader schema, as JSON (dates as ISO strings, like `listflow dry-run` writes them).
 */
export async function publishedDocuments(box: Sandbox): Promise<Map<string, unknown>> {
  const serde = new AvroSerde(createRegistry({ url: REGISTRY_URL }));
  const out = new Map<string, unknown>();
  const messages = await readAll(box.topic('listings.published'));
  messages.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
  for (const m of messages) {
    const key = m.key?.toString('utf8') ?? '';
    if (m.value === null) {
      out.delete(key);
      continue;
    }
    const d = await serde.decode<PublishedListing>(m.value, 'PublishedListing');
    if (!d.ok) throw new Error(`cannot decode published ${key}: ${d.error.code} ${d.error.message}`);
    out.set(key, JSON.parse(JSON.stringify(d.value)));
  }
  return out;
}
