/**
 * Worker settings: connections, HTTP, shutdown and consumer tuning, read once from the environment
 * (LISTFLOW_*) and validated against this spec. Operator settings live in each operator's own spec and are
 * read from LISTFLOW_<OPERATOR>_* (see `operatorEnvPrefix`), so a worker rejects typos in either.
 */
import { type ConfigOf, defineConfig, field, fromEnv, parseConfig } from './config';

export const workerSettingsSpec = defineConfig(
  {
    kafkaBrokers: field.list({
      description: 'Kafka bootstrap servers, comma-separated host:port.',
      default: ['127.0.0.1:19092'],
    }),
    kafkaClientId: field.string({ description: 'Kafka client id prefix.', default: 'listflow' }),
    kafkaSsl: field.boolean({ description: 'Use TLS to reach Kafka.', default: false }),
    kafkaSslCaFile: field.optional(
      field.string({
        description: 'PEM file of the CA that signed the brokers (TLS).',
        example: '/etc/listflow/ca.pem',
      }),
    ),
    kafkaSaslMechanism: field.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, {
      description: 'SASL mechanism for Kafka.',
      default: 'none',
    }),
    kafkaSaslUsername: field.optional(field.string({ description: 'SASL username.' })),
    kafkaSaslPassword: field.optional(field.string({ description: 'SASL password.', secret: true })),
    registryUrl: field.url({
      description: 'Confluent-compatible schema registry base URL.',
      protocols: ['http:', 'https:'],
      default: 'http://127.0.0.1:18081/apis/ccompat/v7',
    }),
    registryUsername: field.optional(field.string({ description: 'Schema registry basic-auth user.' })),
    registryPassword: field.optional(
      field.string({ description: 'Schema registry basic-auth password.', secret: true }),
    ),
    registerSchemas: field.boolean({
      description:
        'Register output schemas at startup (local runs). Deploys register them with `listflow schemas register` instead.',
      default: false,
    }),
    httpPort: field.int({
      description: 'Port of /healthz, /readyz and /metrics; 0 picks a free port.',
      min: 0,
      max: 65535,
      default: 9400,
    }),
    shutdownGraceMs: field.int({
      description: 'On SIGTERM, how long in-flight jobs may finish before they are aborted.',
      min: 1000,
      max: 3_600_000,
      default: 30_000,
    }),
    logLevel: field.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
      description: 'Log level (JSON logs on stdout).',
      default: 'info',
    }),
    pipelineFile: field.optional(
      field.string({
        description: 'JSON pipeline definition to use instead of the built-in one.',
        example: '/etc/listflow/pipeline.json',
      }),
    ),
    sessionTimeoutMs: field.int({
      description: 'Consumer group session timeout.',
      min: 6000,
      max: 300_000,
      default: 30_000,
    }),
    rebalanceTimeoutMs: field.int({
      description: 'Time a member has to finish in-flight work and rejoin when the group rebalances.',
      min: 10_000,
      max: 600_000,
      default: 60_000,
    }),
    heartbeatIntervalMs: field.int({
      description: 'Consumer heartbeat interval.',
      min: 500,
      max: 60_000,
      default: 3_000,
    }),
    maxBytesPerPartition: field.int({
      description: 'Fetch size per partition; bounds a batch, and so memory and drain time.',
      min: 1024,
      max: 64 * 1024 * 1024,
      default: 1024 * 1024,
    }),
    maxInFlight: field.int({
      description:
        'Records per partition taken but not yet committed. Bounds memory and what a crash makes the worker process again; fetching pauses when it is reached.',
      min: 1,
      max: 100_000,
      default: 1000,
    }),
    commitIntervalMs: field.int({
      description:
        'How often finished work is committed while a batch runs (also when half the in-flight window has finished).',
      min: 10,
      max: 60_000,
      default: 200,
    }),
    concurrency: field.optional(
      field.int({ description: "Override of the step's jobs in flight per partition.", min: 1, max: 1024 }),
    ),
  },
  [
    (c) =>
      c.kafkaSaslMechanism !== 'none' && (!c.kafkaSaslUsername || !c.kafkaSaslPassword)
        ? `LISTFLOW_KAFKA_SASL_MECHANISM is ${c.kafkaSaslMechanism} but LISTFLOW_KAFKA_SASL_USERNAME or LISTFLOW_KAFKA_SASL_PASSWORD is missing. Fix: set both, or set the mechanism to none.`
        : undefined,
    (c) =>
      c.heartbeatIntervalMs * 3 > c.sessionTimeoutMs
        ? `LISTFLOW_HEARTBEAT_INTERVAL_MS (${c.heartbeatIntervalMs}) must be at most a third of LISTFLOW_SESSION_TIMEOUT_MS (${c.sessionTimeoutMs}). Fix: lower the interval or raise the timeout.`
        : undefined,
  ],
);

export type WorkerSettings = ConfigOf<typeof workerSettingsSpec.fields>;

export const WORKER_ENV_PREFIX = 'LISTFLOW_';

/** `price-changes` -> `LISTFLOW_PRICE_CHANGES_` */
export const operatorEnvPrefix = (operator: string): string =>
  `${WORKER_ENV_PREFIX}${operator.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_`;

/** Variables read by other parts of the system, not by a worker (so they are not reported as unknown). */
const NOT_WORKER_SETTINGS = [
  'LISTFLOW_OPERATOR',
  'LISTFLOW_NODE_VERSION',
  'LISTFLOW_POSTGRES_URL',
  'LISTFLOW_HOME',
  'LISTFLOW_KEEP_PLATFORM',
  'LISTFLOW_DEBUG',
  // `listflow topics apply`: replication factor of the topics it creates.
  'LISTFLOW_REPLICATION_FACTOR',
];
/** Prefixes of variables read by the local platform (infra/) and the test command, never by a worker. */
const NOT_WORKER_PREFIXES = ['LISTFLOW_INFRA_', 'LISTFLOW_TEST_'];

/**
 * Parses worker settings from the environment. Variables under an operator's prefix belong to that operator
 * and are skipped here; anything else starting with LISTFLOW_ that is not a setting is an error.
 */
export function loadWorkerSettings(env: NodeJS.ProcessEnv, operatorNames: readonly string[]): WorkerSettings {
  const operatorPrefixes = operatorNames.map(operatorEnvPrefix);
  const own: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (
      NOT_WORKER_SETTINGS.includes(k) ||
      NOT_WORKER_PREFIXES.some((p) => k.startsWith(p)) ||
      operatorPrefixes.some((p) => k.startsWith(p))
    )
      continue;
    own[k] = v;
  }
  return parseConfig(workerSettingsSpec, fromEnv(workerSettingsSpec, own, WORKER_ENV_PREFIX), {
    where: 'worker settings (environment)',
    envPrefix: WORKER_ENV_PREFIX,
  });
}
