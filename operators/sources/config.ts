/**
 * sources operator configuration (environment: LISTFLOW_SOURCES_*), parsed once at startup.
 */
import { type ConfigOf, defineConfig, field } from '../../runtime/config';
import { allowHostsField } from '../../runtime/http/allow-list';
import type { SourceClientSettings } from './source-client';

export const sourcesConfig = defineConfig({
  file: field.optional(
    field.string({
      description:
        'The sources file `listflow sources apply` publishes to listings.sources (default: the shipped pipelines/sources.yaml). Workers read the published declarations, not this file.',
      example: '/etc/listflow/sources.yaml',
    }),
  ),
  allowHosts: allowHostsField({
    description:
      'host[:port] entries a source (its resource, token endpoint or links) may be fetched from although they resolve to non-public addresses (loopback, private, link-local); everything else that is not public unicast is refused.',
    example: 'mls.internal:8443,127.0.0.1:18480',
  }),
  connectTimeoutMs: field.int({ description: 'TCP/TLS connect timeout per request.', min: 1, default: 10_000 }),
  pageTimeoutMs: field.int({
    description: 'Longest wait for a page: its headers, and between two chunks of its body.',
    min: 1,
    default: 60_000,
  }),
  maxPageBytes: field.int({ description: 'Largest page accepted, in bytes.', min: 1024, default: 64 * 2 ** 20 }),
  maxRetryAfterMs: field.int({
    description: "Longest Retry-After (429/503) honoured; a longer one counts as the server's refusal for this poll.",
    min: 0,
    default: 600_000,
  }),
  requestAttempts: field.int({
    description: 'Attempts per page on 5xx, resets and timeouts (capped, jittered backoff) before the poll fails.',
    min: 1,
    max: 20,
    default: 6,
  }),
});

export type SourcesConfig = ConfigOf<typeof sourcesConfig.fields>;

/** The page client's settings out of the operator's config. */
export const clientSettingsOf = (c: SourcesConfig): SourceClientSettings => ({
  retry: { maxAttempts: c.requestAttempts, initialBackoffMs: 500, maxBackoffMs: 30_000 },
  maxRetryAfterMs: c.maxRetryAfterMs,
  maxPageBytes: c.maxPageBytes,
  pageTimeoutMs: c.pageTimeoutMs,
});
