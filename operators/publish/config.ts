/**
 * publish operator configuration (environment: LISTFLOW_PUBLISH_*, and the database as LISTFLOW_POSTGRES_URL).
 */
import { type ConfigOf, defineConfig, field } from '../../runtime/config';

export const publishConfig = defineConfig({
  // One name for the database everywhere (worker, CLI, local run, tests, the listflow-postgres Secret), and no
  // default: a deploy whose Secret is missing stops at once with CONFIG_INVALID instead of dialling localhost.
  postgresUrl: field.url({
    description:
      'PostgreSQL connection URL of the published view (also what `listflow listings` reads). Required: in Kubernetes, key `url` of the listflow-postgres Secret.',
    protocols: ['postgres:', 'postgresql:'],
    example: 'postgres://listflow@127.0.0.1:15432/listflow',
    secret: true,
    env: 'LISTFLOW_POSTGRES_URL',
  }),
  poolSize: field.int({ description: 'PostgreSQL connections in the pool.', min: 1, max: 64, default: 4 }),
  statementTimeoutMs: field.int({
    description: 'Server-side statement timeout; a statement over it fails the batch (retried).',
    min: 100,
    default: 20_000,
  }),
  connectTimeoutMs: field.int({ description: 'Timeout of a new PostgreSQL connection.', min: 100, default: 5_000 }),
  migrate: field.boolean({
    description: 'Apply pending schema migrations at startup (idempotent, serialized by an advisory lock).',
    default: true,
  }),
});

export type PublishConfig = ConfigOf<typeof publishConfig.fields>;
