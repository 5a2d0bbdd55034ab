/**
 * Where the local platform lives: one ignored folder (`.listflow/` at the project root, or
 * LISTFLOW_HOME) holds downloads, data directories, logs and the pid of every process `infra up` started.
 * Ports are fixed defaults so tests, the CLI and docs agree; each can be moved with an env var (S3Proxy: 18333).
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
  readonly s3proxyPort: number;
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
    s3proxyPort: port(env, 'LISTFLOW_INFRA_S3PROXY_PORT', 18333),
  };
}

export const infraSourceDir = join(projectRoot, 'infra');

export const LOCAL_S3_BUCKET = 'listflow';
/** Variants go under a prefix, as they would in a production bucket shared with other data. */
export const LOCAL_S3_PREFIX = 'variants';
/**
 * S3Proxy's only identity (see s3proxy.ts). It guards a folder on this machine and nothing else, which is why it
 * may live in code: real credentials come from the SDK's chain, never from a file.
 */
export const LOCAL_S3_IDENTITY = { accessKeyId: 'listflow-local', secretAccessKey: 'listflow-local-secret' } as const;

export const s3proxyEndpoint = (l: PlatformLayout): string => `http://127.0.0.1:${l.s3proxyPort}`;

/** The connection settings a worker needs to use this platform (what `infra status --json` prints). */
export function platformEndpoints(l: PlatformLayout): Record<string, string> {
  return {
    LISTFLOW_KAFKA_BROKERS: `127.0.0.1:${l.kafkaPort}`,
    LISTFLOW_REGISTRY_URL: `http://127.0.0.1:${l.registryPort}/apis/ccompat/v7`,
    LISTFLOW_POSTGRES_URL: `postgres://listflow@127.0.0.1:${l.postgresPort}/listflow`,
    // The images operator's S3 blob store on S3Proxy; variants are put public-read so their uris (the path-style
    // bucket URL) open in a browser.
    LISTFLOW_IMAGES_BLOB_STORE: `s3://${LOCAL_S3_BUCKET}/${LOCAL_S3_PREFIX}`,
    LISTFLOW_IMAGES_S3_ENDPOINT: s3proxyEndpoint(l),
    LISTFLOW_IMAGES_S3_FORCE_PATH_STYLE: 'true',
    LISTFLOW_IMAGES_S3_OBJECT_ACL: 'public-read',
    LISTFLOW_IMAGES_PUBLIC_BASE_URL: `${s3proxyEndpoint(l)}/${LOCAL_S3_BUCKET}`,
    AWS_ACCESS_KEY_ID: LOCAL_S3_IDENTITY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_IDENTITY.secretAccessKey,
  };
}
