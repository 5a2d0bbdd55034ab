/** The feed reader ingest offers the CLI (operators/tools.ts): `profile check` reads a feed as the worker would. */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigOf, fromEnv, parseConfig } from '../../runtime/config';
import { plainContext } from '../../runtime/operator';
import { operatorEnvPrefix } from '../../runtime/settings';
import type { RawListing } from '../../schemas/generated/types';
import type { FeedReader } from '../tools';
import { ingestConfig } from './config';
import type { IngestServices } from './feed-sources';
import { ingestFeed } from './process';

export type IngestConfig = ConfigOf<typeof ingestConfig.fields>;

/** Reads with the worker's own services (`services`, closed with `close` when done). */
export function feedReader(
  services: (config: IngestConfig) => IngestServices,
  close: (services: IngestServices) => Promise<void>,
): FeedReader {
  return {
    async read(job, limit, env) {
      const config = configFor(job.uri, env);
      const svc = services(config);
      const records: RawListing[] = [];
      try {
        for await (const e of ingestFeed(job, plainContext(config, svc, { clock: { now: () => new Date() } }))) {
          if (e.kind === 'reject' && e.payload === null) {
            return { records, unreadable: { code: e.code, message: e.message } };
          }
          if (e.kind === 'output' && e.port === 'raw' && e.value) records.push(e.value as RawListing);
          if (records.length >= limit) break;
        }
      } finally {
        await close(svc);
      }
      return { records };
    },
  };
}

/** ingest's settings from LISTFLOW_INGEST_*, with a local feed's own folder as the file root. */
function configFor(uri: string, env: NodeJS.ProcessEnv): IngestConfig {
  const prefix = operatorEnvPrefix('ingest');
  const raw = fromEnv(ingestConfig, env, prefix);
  if (uri.startsWith('file:')) raw.fileRoot = dirname(fileURLToPath(uri));
  return parseConfig(ingestConfig, raw, { where: 'ingest config (profile check)', envPrefix: prefix });
}
