/**
 * What CLI commands share: the worker settings and pipeline, parsed once from the environment exactly as a
 * worker parses them (so `listflow` and `listflow run` never disagree about where Kafka is), and lazily built
 * clients for Kafka, the schema registry and PostgreSQL. Commands call `cliContext()` and `close()` it when done.
 */
import { Pool } from 'pg';
import { operators } from '../operators';
import builtInPipeline from '../pipelines/listings';
import { createKafka } from '../runtime/kafka';
import type { KafkaClient } from '../runtime/kafka-client';
import type { PipelineSpec } from '../runtime/pipeline';
import { resolvePipeline } from '../runtime/run';
import { createRegistry, type Registry } from '../runtime/registry-client';
import { AvroSerde } from '../runtime/serde';
import { loadWorkerSettings, type WorkerSettings } from '../runtime/settings';

/** Default PostgreSQL URL: the local platform's (`listflow infra up`). */
export const DEFAULT_POSTGRES_URL = 'postgres://listflow@127.0.0.1:15432/listflow';

export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly settings: WorkerSettings;
  readonly pipeline: PipelineSpec;
  readonly postgresUrl: string;
  kafka(): KafkaClient;
  registry(): Registry;
  serde(): AvroSerde;
  pg(): Pool;
  close(): Promise<void>;
}

export function cliContext(env: NodeJS.ProcessEnv = process.env, clientId = 'cli'): CliContext {
  const settings = loadWorkerSettings(env, operators);
  // Validated against the operators (PIPELINE_INVALID lists every problem), built-in or LISTFLOW_PIPELINE_FILE.
  const pipeline = resolvePipeline(builtInPipeline, settings, operators);
  let kafka: KafkaClient | undefined;
  let registry: Registry | undefined;
  let serde: AvroSerde | undefined;
  let pool: Pool | undefined;
  const postgresUrl = env.LISTFLOW_POSTGRES_URL || DEFAULT_POSTGRES_URL;
  const ctx: CliContext = {
    env,
    settings,
    pipeline,
    postgresUrl,
    kafka: () => {
      kafka ??= createKafka(settings, clientId);
      return kafka;
    },
    registry: () => {
      registry ??= createRegistry({
        url: settings.registryUrl,
        username: settings.registryUsername,
        password: settings.registryPassword,
      });
      return registry;
    },
    serde: () => {
      serde ??= new AvroSerde(ctx.registry());
      return serde;
    },
    pg: () => {
      pool ??= new Pool({ connectionString: postgresUrl, max: 4, connectionTimeoutMillis: 5000 });
      return pool;
    },
    async close() {
      await pool?.end().catch(() => undefined);
    },
  };
  return ctx;
}
