/**
 * What ingest offers beside its worker: the feed reader of the CLI (operators/tools.ts: `profile check` reads a
 * feed as the worker would), and the snapshot reader of the sources step (a `file`/`http` source read on a
 * schedule). Both stand on the worker's own services and settings, so a feed is parsed, limited and fetched
 * the same way whoever reads it.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigOf, fromEnv, parseConfig } from '../../runtime/config';
import { createGuardedClient } from '../../runtime/http/guarded-client';
import { plainContext } from '../../runtime/operator';
import { operatorEnvPrefix } from '../../runtime/settings';
import type { FeedFormat, RawListing } from '../../schemas/generated/types';
import type { FeedReader } from '../tools';
import { ingestConfig } from './config';
import { type FeedItem, readFeed } from './feed-readers';
import { type IngestServices, nodeFiles } from './feed-sources';
import { feedReadOptions, ingestFeed } from './process';

export type IngestConfig = ConfigOf<typeof ingestConfig.fields>;

/** The worker's services: the local file system and the guarded client under LISTFLOW_INGEST_ALLOW_HOSTS. */
export const ingestServices = (config: IngestConfig): IngestServices => ({
  http: createGuardedClient({
    allowHosts: config.allowHosts,
    allowSetting: 'LISTFLOW_INGEST_ALLOW_HOSTS',
    blockedCode: 'INGEST_BLOCKED_URL',
    what: 'feed',
    connectTimeoutMs: config.connectTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    maxRedirects: config.maxRedirects,
  }),
  files: nodeFiles,
});

export const closeIngestServices = async (services: IngestServices): Promise<void> => {
  await services.http.close?.();
};

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

/** A snapshot to read: its feed and how to read it (a `file`/`http` source's declaration). */
export interface SnapshotFeed {
  readonly uri: string;
  readonly format: FeedFormat;
  readonly profile: string | null;
}

/**
 * Every item of a snapshot's feed, in feed order, read as an ingest job reads it (ingest's settings from `env`,
 * a local file allowed from its own folder). Feed-level failures are thrown typed as ingest types them
 * (INGEST_FEED_UNREACHABLE retriable; not found, forbidden, too large, a broken frame permanent); an
 * unreadable record is an item with its reason.
 */
export async function* readSnapshot(
  feed: SnapshotFeed,
  env: Readonly<Record<string, string | undefined>>,
  signal: AbortSignal,
): AsyncGenerator<FeedItem> {
  const config = configFor(feed.uri, env);
  const svc = ingestServices(config);
  try {
    yield* readFeed(feed.uri, feed.format, svc, feedReadOptions(config, feed.profile, signal));
  } finally {
    await closeIngestServices(svc);
  }
}

const NO_FILES_ROOT = '/nonexistent/listflow-no-files';

/** ingest's settings from LISTFLOW_INGEST_*, with a local feed's own folder as the file root. */
function configFor(uri: string, env: Readonly<Record<string, string | undefined>>): IngestConfig {
  const prefix = operatorEnvPrefix('ingest');
  const raw = fromEnv(ingestConfig, env as NodeJS.ProcessEnv, prefix);
  if (uri.startsWith('file:')) raw.fileRoot = dirname(fileURLToPath(uri));
  // An http(s) feed reads no file (a remote page may not link to file://, feed-readers.ts), so the required
  // root may be unset there: then it is one nothing is inside of, should that rule ever be bypassed.
  else raw.fileRoot ??= NO_FILES_ROOT;
  return parseConfig(ingestConfig, raw, { where: 'ingest config (feed reader)', envPrefix: prefix });
}
