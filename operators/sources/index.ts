/**
 * sources: replicates RESO Web API sources (MLS Grid, Trestle, Bridge, Spark, PropTx, CREA DDF) into Listflow.
 *
 * - Input: SourceDeclaration (listings.sources, compacted, one record per source, written by
 *   `listflow sources apply`). Not consumed as jobs: the step OWNS each source of the partitions it is
 *   assigned (runtime/assigned/), so with N replicas every source has exactly one poller.
 * - Outputs: port `raw` -> RawListing (listings.raw, keyed `<source>:<ListingKey>` as ingest keys them) and
 *   port `state` -> SourceState (listings.source-state, compacted, key = source), written in ONE Kafka
 *   transaction per page by the source's transactional producer: a crash at any instant neither loses nor
 *   repeats a page, and a moved source's stale poller is fenced.
 * - Idempotency: a re-read page produces the same keys and payloads; publish keeps the newest by modifiedAt.
 * - Error policy: see poller.ts (a failed poll waits for the next; a permanent failure dead-letters the
 *   declaration).
 * - Every request goes through the guarded HTTP client (LISTFLOW_SOURCES_ALLOW_HOSTS for non-public hosts),
 *   within the source's rate limits, honouring Retry-After; secrets come from the variables the declaration
 *   names.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListflowError } from '../../runtime/errors';
import { defineOperator } from '../../runtime/operator';
import { sourcesConfig } from './config';
import { pollSource, type SourcesServices } from './poller';
import { sourceReplication } from './tool';
import { loadSourcesFile, type SourceSpec, shippedSourcesFile } from './sources-file';

/** The variables a source's secrets are read from (resolveSourceSecrets reads the same ones). */
const secretEnvOf = (s: SourceSpec): string[] => {
  if (s.kind !== 'reso-web-api') return [];
  const a = s.auth;
  return a.kind === 'oauth2' ? [a.clientIdEnv, a.clientSecretEnv] : a.kind === 'bearer' ? [a.tokenEnv] : [];
};

export default defineOperator({
  name: 'sources',
  summary: 'Replicates RESO Web API sources continuously: pages and cursors in one Kafka transaction.',
  input: 'SourceDeclaration',
  outputs: { raw: 'RawListing', state: 'SourceState', keys: 'SourceKey' },
  config: sourcesConfig,
  services(_config, _logger, _metrics, env): SourcesServices {
    // A source's secrets, by the names its declaration gives, from the environment the runtime started with.
    // Declarations are checked against the profiles when applied (`sources apply`, which knows the profiles
    // directory); here their shape is checked again, so a record from elsewhere cannot run unchecked.
    return { env: env ?? {}, validate: {} };
  },
  // `listflow sources apply|list|sync|reset`, status and `ingest --source` (operators/tools.ts).
  tools: { sourceReplication },
  // A deploy ships the sources file and publishes it with `sources apply` (the setup Job); each declared source
  // is one key of listings.sources, so replicas past the number of sources would own nothing (k8s/render.ts).
  deploy: {
    assignments: {
      file: 'file',
      shipped: () => {
        const file = shippedSourcesFile();
        if (!file) {
          throw new ListflowError(
            'SOURCES_INVALID',
            'No pipelines/sources.yaml above operators/sources: the deploy has no sources file to ship. Fix: restore pipelines/sources.yaml.',
          );
        }
        return file;
      },
      declared: (file) => {
        const { sources } = loadSourcesFile(file);
        const snapshots = sources.filter((s) => s.kind !== 'reso-web-api');
        return {
          keys: sources.map((s) => s.name),
          secretEnv: [...new Set(sources.flatMap(secretEnvOf))],
          // A file source's feed is read from its own folder (ingest/tools.ts readSnapshot): that folder is mounted.
          mounts: snapshots.flatMap((s) =>
            s.kind === 'file'
              ? [{ key: s.name, path: dirname(fileURLToPath(s.uri)), ...(s.volume ? { from: s.volume } : {}) }]
              : [],
          ),
          // Snapshots are read with ingest's reader and its LISTFLOW_INGEST_* settings.
          settingsOf: snapshots.length > 0 ? ['ingest'] : [],
        };
      },
      apply: ['sources', 'apply', '--yes'],
    },
  },
  own: pollSource,
});
