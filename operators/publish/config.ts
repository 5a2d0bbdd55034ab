/**
 * publish operator configuration (environment: LISTFLOW_PUBLISH_*).
 */
import { type ConfigOf, defineConfig, field } from '../../runtime/config';

export const publishConfig = defineConfig({
  postgresUrl: field.url({
    description: 'PostgreSQL connection URL of the published view.',
    protocols: ['postgres:', 'postgresql:'],
    default: 'postgres://listflow@127.0.0.1:15432/listflow',
    secret: true,
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
