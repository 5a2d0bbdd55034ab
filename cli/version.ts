/**
 * `listflow --version` (also `listflow version`): what this CLI is and what it would talk with, answered
 * without any network call: the package version, the pipeline it runs (built-in or LISTFLOW_PIPELINE_FILE),
 * the schemas it encodes with and the Kafka client library.
 *
 * schemas/*.avsc carry no version numbers (the registry numbers versions per subject when they are
 * registered), so each schema is identified by its Avro fingerprint: the SHA-256 of its Parsing Canonical
 * Form, which changes exactly when the schema does and can be compared across machines and builds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readerType } from '../runtime/serde';
import { schemaNames, type SchemaName } from '../schemas/generated/types';
import { type Command, printJson } from './command';
import { cliContext } from './context';

export interface VersionInfo {
  readonly version: string;
  /** The pipeline's name, or null (with the reason) when the settings do not parse. */
  readonly pipeline: { readonly name: string | null; readonly from: string; readonly error?: string };
  /** Short SHA-256 fingerprint of each schema's canonical form. */
  readonly schemas: Readonly<Record<SchemaName, string>>;
  readonly kafkaClient: { readonly name: string; readonly version: string };
  readonly node: string;
}

/** The Kafka client package runtime/kafka.ts uses, unless a `kafkaClient` worker setting names another. */
const DEFAULT_KAFKA_CLIENT = 'kafkajs';

const packageJson = (file: string): { name?: string; version: string } =>
  JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
const packageVersion = (file: string): string => packageJson(file).version;

/**
 * Listflow's own package.json: the nearest one named listflow above this file, which is cli/ in a checkout
 * and dist/cli/ in a build or the container image (which holds package.json and dist/ only).
 */
function listflowPackageJson(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && packageJson(file).name === 'listflow') return file;
    if (dirname(dir) === dir) throw new Error(`no package.json of listflow above ${from}`);
  }
}

function installedVersion(pkg: string): string {
  try {
    return packageVersion(require.resolve(`${pkg}/package.json`));
  } catch {
    return 'not installed';
  }
}

/**
 * The `kafkaClient` worker setting, when the settings spec has one. Read by name, not by type: today the spec
 * has no such field (the runtime has only kafkajs), and this reports the choice as soon as one exists.
 */
function configuredKafkaClient(settings: object): string | undefined {
  const v = (settings as Readonly<Record<string, unknown>>).kafkaClient;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Fingerprint length shown: 12 hex digits tell schemas apart and fit on a line. */
const FINGERPRINT_CHARS = 12;

export function versionInfo(env: NodeJS.ProcessEnv = process.env): VersionInfo {
  let pipeline: VersionInfo['pipeline'];
  let client = DEFAULT_KAFKA_CLIENT;
  const from = env.LISTFLOW_PIPELINE_FILE ? `LISTFLOW_PIPELINE_FILE ${env.LISTFLOW_PIPELINE_FILE}` : 'built-in';
  try {
    const ctx = cliContext(env);
    pipeline = { name: ctx.pipeline.name, from };
    client = configuredKafkaClient(ctx.settings) ?? client;
  } catch (e) {
    // --version answers even when the environment is wrong; the reason is shown instead of the name.
    pipeline = { name: null, from, error: (e as Error).message };
  }
  const schemas = Object.fromEntries(
    schemaNames.map((n) => [n, readerType(n).fingerprint('sha256').toString('hex').slice(0, FINGERPRINT_CHARS)]),
  ) as Record<SchemaName, string>;
  return {
    version: packageVersion(listflowPackageJson()),
    pipeline,
    schemas,
    kafkaClient: { name: client, version: installedVersion(client) },
    node: process.version,
  };
}

export function versionLines(v: VersionInfo): string[] {
  // A settings error lists each problem on its own line; one line is enough here.
  const pipeline = v.pipeline.name ?? `? (${(v.pipeline.error ?? 'unknown').replace(/\s*\n\s*/g, ' ')})`;
  return [
    `listflow ${v.version}`,
    `pipeline      ${pipeline} (${v.pipeline.from})`,
    `schemas       ${Object.entries(v.schemas)
      .map(([n, f]) => `${n} ${f}`)
      .join(', ')}`,
    '              (SHA-256 fingerprints of the Avro canonical form, schemas/*.avsc)',
    `kafka client  ${v.kafkaClient.name} ${v.kafkaClient.version}`,
    `node          ${v.node}`,
  ];
}

export const versionCommand: Command = {
  path: ['version'],
  summary: 'Print the version, the pipeline, the schema fingerprints and the Kafka client (also `--version`).',
  maxPositionals: 0,
  async run(_args, io) {
    const v = versionInfo();
    if (io.json) printJson(io, v);
    for (const l of versionLines(v)) io.out(l);
    return 0;
  },
};
