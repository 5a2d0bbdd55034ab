/**
 * Where the local platform lives: one ignored folder (`.listflow/` at the project root, or
 * LISTFLOW_HOME) holds downloads, data directories, logs and the pid of every process `infra up` started.
 * Ports are fixed defaults so tests, the CLI and docs agree; each can be moved with an env var.
 */
import { join, resolve } from 'node:path';

export interface PlatformLayout {
  readonly home: string;
  readonly cache: string;
  readonly logs: string;
  readonly run: string;
  readonly kafkaPort: number;
  readonly kafkaControllerPort: number;
  readonly registryPort: number;
  readonly postgresPort: number;
}

const projectRoot = resolve(__dirname, __dirname.includes(`${'/dist/'}`) ? '../..' : '..');

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new Error(`Expected an integer between 1 and 65535 for ${name} but received ${JSON.stringify(raw)}.`);
  }
  return n;
}

/** Reads the layout once (the CLI's startup); everything below takes it as a parameter. */
export function platformLayout(env: NodeJS.ProcessEnv = process.env): PlatformLayout {
  const home = resolve(env.LISTFLOW_HOME || join(projectRoot, '.listflow'));
  return {
    home,
    cache: join(home, 'cache'),
    logs: join(home, 'logs'),
    run: join(home, 'run'),
    kafkaPort: port(env, 'LISTFLOW_INFRA_KAFKA_PORT', 19092),
    kafkaControllerPort: port(env, 'LISTFLOW_INFRA_KAFKA_CONTROLLER_PORT', 19093),
    registryPort: port(env, 'LISTFLOW_INFRA_REGISTRY_PORT', 18081),
    postgresPort: port(env, 'LISTFLOW_INFRA_POSTGRES_PORT', 15432),
  };
}

export const infraSourceDir = join(projectRoot, 'infra');

/** The connection settings a worker needs to use this platform (what `infra status --json` prints). */
export function platformEndpoints(l: PlatformLayout): Record<string, string> {
  return {
    LISTFLOW_KAFKA_BROKERS: `127.0.0.1:${l.kafkaPort}`,
    LISTFLOW_REGISTRY_URL: `http://127.0.0.1:${l.registryPort}/apis/ccompat/v7`,
    LISTFLOW_POSTGRES_URL: `postgres://listflow@127.0.0.1:${l.postgresPort}/listflow`,
  };
}
