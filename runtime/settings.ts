/**
 * Worker settings: connections, HTTP, shutdown and consumer tuning, read once from the environment
 * (LISTFLOW_*) and validated against this spec. Operator settings live in each operator's own spec and are
 * read from LISTFLOW_<OPERATOR>_* (see `operatorEnvPrefix`), so a worker rejects typos in either.
 */
import { type ConfigFields, type ConfigOf, defineConfig, field, fieldEnvName, fromEnv, parseConfig } from './config';

export const workerSettingsSpec = defineConfig(
  {
    kafkaBrokers: field.list({
      description: 'Kafka bootstrap servers, comma-separated host:port.',
      default: ['127.0.0.1:19092'],
    }),
    kafkaClientId: field.string({ description: 'Kafka client id prefix.', default: 'listflow' }),
    kafkaClient: field.enum(['kafkajs', 'platformatic'] as const, {
      description:
        'Kafka client library behind the runtime, the CLI and infra (runtime/kafka-client/): kafkajs, or @platformatic/kafka.',
      default: 'kafkajs',
    }),
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
    fetchMaxBytes: field.optional(
      field.int({
        description: 'Fetch size of one request over all partitions; default 8 x LISTFLOW_MAX_BYTES_PER_PARTITION.',
        min: 1024,
        max: 512 * 1024 * 1024,
      }),
    ),
    produceMaxRecords: field.int({
      description: 'Records the producer puts in one produce request at most.',
      min: 1,
      max: 100_000,
      default: 5000,
    }),
    produceMaxBytesPerPartition: field.int({
      description:
        "Bytes per partition in one produce request; keep it under the broker's message.max.bytes (1 MiB by default).",
      min: 1024,
      max: 64 * 1024 * 1024,
      default: 800 * 1024,
    }),
    produceMaxBytes: field.int({
      description:
        'Bytes of one produce request over all partitions: a worker writing to many partitions sends fewer, fuller requests.',
      min: 1024,
      max: 512 * 1024 * 1024,
      default: 4 * 1024 * 1024,
    }),
    produceMaxRequests: field.int({
      description: 'Produce requests in flight at once (each idempotent, acks=all).',
      min: 1,
      max: 16,
      default: 2,
    }),
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

/** `clean-records` -> `LISTFLOW_CLEAN_RECORDS_` */
export const operatorEnvPrefix = (operator: string): string =>
  `${WORKER_ENV_PREFIX}${operator.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_`;

/**
 * Variables read outside the config specs, by the CLI, the local platform (infra/), the scripts and the tests;
 * never by a worker, which skips them. With the specs this is the whole list of LISTFLOW_* names (the README's
 * configuration table is generated from both, and test/k8s/setting-names.test.ts fails on any other name used
 * in the manifests, scripts, CLI or tests).
 */
export const OTHER_VARIABLES: Readonly<Record<string, string>> = {
  LISTFLOW_HOME: 'Folder of the local platform (downloads, data, logs, pids); default `.listflow/` in the checkout.',
  LISTFLOW_INFRA_KAFKA_PORT: 'Local platform: Kafka port (default 19092).',
  LISTFLOW_INFRA_KAFKA_CONTROLLER_PORT: 'Local platform: Kafka controller port (default 19093).',
  LISTFLOW_INFRA_REGISTRY_PORT: 'Local platform: Apicurio Registry port (default 18081).',
  LISTFLOW_INFRA_POSTGRES_PORT: 'Local platform: PostgreSQL port (default 15432).',
  LISTFLOW_INFRA_S3PROXY_PORT: 'Local platform: S3Proxy port, the S3 API of the photo store (default 18333).',
  LISTFLOW_INFRA_SETUP_TIMEOUT_MS: 'Local platform: longest a setup command (a download, apt-get) may take.',
  LISTFLOW_REPLICATION_FACTOR: '`listflow topics apply`: replicas of the topics it creates (default 1).',
  LISTFLOW_KUSTOMIZE: '`listflow k8s render` and test/k8s: the kustomize command (default `kubectl kustomize`).',
  LISTFLOW_DEBUG: 'CLI: print the stack of every error.',
  LISTFLOW_NODE_VERSION: 'scripts/node-env.sh: the Node 24 release fetched where the machine has an older Node.',
  LISTFLOW_TEST_SUITES: '`npm test`: the jest projects to run (default `unit integration e2e`).',
  LISTFLOW_KEEP_PLATFORM: '`npm test`: leave the local platform running afterwards.',
  LISTFLOW_TEST_KAFKA_CLIENTS:
    '`npm test`: the Kafka clients the integration suite runs on, one after the other (default `kafkajs platformatic`).',
};
/**
 * Prefixes of variables read by the local platform and the test command, never by a worker: skipped by
 * prefix, not only by the names above, so a new local-platform port never stops a worker that inherited it.
 */
const NOT_WORKER_PREFIXES = ['LISTFLOW_INFRA_', 'LISTFLOW_TEST_'];

/** What the settings loader needs of the operator registry: names, and fields read under a name of their own. */
export type OperatorConfigs = Readonly<
  Record<string, { readonly name: string; readonly config: { readonly fields: ConfigFields } }>
>;

/** Variables an operator's fields read by their own `env` name instead of `<operator prefix><FIELD>`. */
function ownNamedVariables(operators: OperatorConfigs): Set<string> {
  const out = new Set<string>();
  for (const op of Object.values(operators))
    for (const f of Object.values(op.config.fields)) if (f.env !== undefined) out.add(f.env);
  return out;
}

/**
 * Every LISTFLOW_* name the system reads, with who reads it: worker settings, each operator's fields, and
 * OTHER_VARIABLES. Used to catch a name in a manifest or script that nothing reads.
 */
export function knownVariables(operators: OperatorConfigs): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, f] of Object.entries(workerSettingsSpec.fields))
    out.set(fieldEnvName(WORKER_ENV_PREFIX, k, f), 'worker settings');
  for (const op of Object.values(operators))
    for (const [k, f] of Object.entries(op.config.fields))
      out.set(fieldEnvName(operatorEnvPrefix(op.name), k, f), `${op.name} config`);
  for (const name of Object.keys(OTHER_VARIABLES)) out.set(name, 'CLI, local platform or tests');
  return out;
}

/**
 * Parses worker settings from the environment. Variables under an operator's prefix, or read by an operator
 * field under their own name, belong to that operator and are skipped here; anything else starting with
 * LISTFLOW_ that is not a setting (nor in OTHER_VARIABLES) is an error.
 *
 * `operators` is the registry; operator names alone suffice where no operator field has a name of its own.
 */
export function loadWorkerSettings(
  env: NodeJS.ProcessEnv,
  operators: OperatorConfigs | readonly string[],
): WorkerSettings {
  return parseConfig(workerSettingsSpec, workerSettingsFromEnv(env, operators), {
    where: 'worker settings (environment)',
    envPrefix: WORKER_ENV_PREFIX,
  });
}

/** The raw worker settings in `env` (what loadWorkerSettings parses), by field; unknown names kept to be refused. */
export function workerSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  operators: OperatorConfigs | readonly string[],
): Record<string, unknown> {
  const names = Array.isArray(operators) ? operators : Object.keys(operators);
  const operatorPrefixes = names.map(operatorEnvPrefix);
  const operatorOwned = Array.isArray(operators) ? new Set<string>() : ownNamedVariables(operators as OperatorConfigs);
  const own: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (
      Object.hasOwn(OTHER_VARIABLES, k) ||
      operatorOwned.has(k) ||
      NOT_WORKER_PREFIXES.some((p) => k.startsWith(p)) ||
      operatorPrefixes.some((p) => k.startsWith(p))
    )
      continue;
    own[k] = v;
  }
  return fromEnv(workerSettingsSpec, own, WORKER_ENV_PREFIX);
}
