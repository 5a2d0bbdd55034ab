/**
 * The shape of a source as declared in the sources file (sources-file.ts loads it, source-validation.ts
 * checks it), and what a worker derives from one: its credentials from the environment and its
 * replication streams.
 */
import { ListflowError } from '../../runtime/errors';
import type { DeleteRule, DeletionReader } from './deletes';
import { mediaResourceOf } from './media-query';
import type { ServerCapabilities, TieMode } from './query';
import type { ReplicationSpec } from './replicate';

export type SourceAuth =
  | {
      readonly kind: 'oauth2';
      readonly tokenUrl: string;
      readonly clientIdEnv: string;
      readonly clientSecretEnv: string;
      readonly scope?: string;
    }
  | { readonly kind: 'bearer'; readonly tokenEnv: string }
  | { readonly kind: 'none' };

export interface MediaRule {
  /** `expand`: Media comes with each listing ($expand=Media); `separate`: a Media query; `none`: no photos. */
  readonly mode: 'expand' | 'separate' | 'none';
  /** The field whose change says the photos changed (PhotosChangeTimestamp), if the source has one. */
  readonly changeTimestamp?: string;
  /** false when a photo change leaves ModificationTimestamp alone (PropTx): photos get their own cursor. */
  readonly bumpsModification: boolean;
}

export interface SourceCommon {
  readonly name: string;
  readonly pollIntervalMs: number;
  readonly country?: 'US' | 'CA';
  readonly currency?: 'USD' | 'CAD';
  readonly profile?: string;
}

export interface ResoSource extends SourceCommon {
  readonly kind: 'reso-web-api';
  readonly resource: string;
  readonly auth: SourceAuth;
  readonly filter?: string;
  readonly initialFilter?: string;
  readonly tieBreak: 'key' | 'timestamp';
  readonly paging: 'next-link' | 'cursor';
  readonly nextLinkEncoding: 'standard' | 'double';
  readonly pageSize: number;
  readonly select?: readonly string[];
  readonly rateLimits: { readonly perSecond?: number; readonly perHour?: number; readonly perDay?: number };
  readonly deletes: DeleteRule;
  readonly media: MediaRule;
  /** What the server answers beyond replication queries (`$count`, descending order): the quiet-poll probe. */
  readonly capabilities: ServerCapabilities;
}

export interface SnapshotSource extends SourceCommon {
  readonly kind: 'file' | 'http';
  readonly uri: string;
  readonly format: 'auto' | 'json' | 'ndjson' | 'csv' | 'reso_odata';
  /** Records per transaction: a snapshot is produced in chunks of this many (default 1,000). */
  readonly pageSize: number;
  /**
   * The largest part of the source's known listings one snapshot may delete (0..1, default 0.5). A snapshot
   * past it, or one with no listings while some are known, is refused whole (snapshot-guard.ts): an empty or
   * truncated feed must not empty the site.
   */
  readonly maxDeleteFraction: number;
  /**
   * kind file: the Kubernetes volume that holds the feed, mounted read-only at the uri's folder in the sources
   * Deployment (k8s/render.ts). Without it a deploy mounts an empty directory there for an overlay to patch.
   */
  readonly volume?: FeedVolume;
}

/** Where a file snapshot source's feed comes from in a Kubernetes deploy: a ConfigMap or a PersistentVolumeClaim. */
export type FeedVolume = { readonly configMap: string } | { readonly persistentVolumeClaim: string };

export type SourceSpec = ResoSource | SnapshotSource;

export interface SourcesFile {
  readonly file: string;
  readonly sources: readonly SourceSpec[];
}

export interface SourcesProblem {
  readonly path: string;
  readonly message: string;
}

const DURATION_RE = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of `30s`, `5m`, `24h`, `7d`; undefined when it is not a duration. */
export function parseDuration(v: unknown): number | undefined {
  const m = typeof v === 'string' ? DURATION_RE.exec(v) : null;
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

export interface ValidateOptions {
  /**
   * The profiles that exist (built-ins plus LISTFLOW_NORMALIZE_PROFILES_DIR: `profileRegistry().profiles`);
   * unchecked when absent. With them, a delete rule is checked against the profile normalize will use, so
   * that a deletion the source signals is one normalize turns into a DELETE listing.
   */
  readonly profiles?: ReadonlyMap<string, DeletionReader>;
  /** The profile of a source that names none (normalize's default). */
  readonly defaultProfile?: string;
}

export type ResolvedAuth =
  | {
      readonly kind: 'oauth2';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scope?: string;
    }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'none' };

/** The source's credentials from the environment; SOURCES_INVALID names each variable that is not set. */
export function resolveSourceSecrets(s: ResoSource, env: Readonly<Record<string, string | undefined>>): ResolvedAuth {
  const missing: string[] = [];
  const read = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') missing.push(name);
    return v ?? '';
  };
  let out: ResolvedAuth;
  const a = s.auth;
  if (a.kind === 'oauth2') {
    out = {
      kind: 'oauth2',
      tokenUrl: a.tokenUrl,
      clientId: read(a.clientIdEnv),
      clientSecret: read(a.clientSecretEnv),
      ...(a.scope ? { scope: a.scope } : {}),
    };
  } else if (a.kind === 'bearer') out = { kind: 'bearer', token: read(a.tokenEnv) };
  else out = a;
  if (missing.length > 0) {
    throw new ListflowError(
      'SOURCES_INVALID',
      `Source ${s.name} needs the environment variable(s) ${missing.join(', ')}, which are not set. Fix: set them (in Kubernetes, from the source's Secret).`,
      { detail: { source: s.name, variables: missing.join(',') } },
    );
  }
  return out;
}

/** What a replication pass needs of a source (the main stream; a photo stream when photos have their own cursor). */
export function replicationSpecs(s: ResoSource): { main: ReplicationSpec; photos?: ReplicationSpec } {
  const tieMode: TieMode = s.tieBreak === 'key' ? 'key' : 'ge';
  const main: ReplicationSpec = {
    source: s.name,
    resource: s.resource,
    timestampField: 'ModificationTimestamp',
    keyField: 'ListingKey',
    tieMode,
    ...(s.filter ? { filter: s.filter } : {}),
    ...(s.initialFilter ? { initialFilter: s.initialFilter } : {}),
    pageSize: s.pageSize,
    ...(s.select ? { select: s.select } : {}),
    expandMedia: s.media.mode === 'expand',
    ...(s.media.mode === 'separate'
      ? { separateMedia: { resource: mediaResourceOf(s.resource), nextLinkEncoding: s.nextLinkEncoding } }
      : {}),
    deletes: s.deletes,
    nextLinkEncoding: s.nextLinkEncoding,
    paging: s.paging,
    capabilities: s.capabilities,
  };
  const photos =
    !s.media.bumpsModification && s.media.changeTimestamp
      ? { ...main, timestampField: s.media.changeTimestamp }
      : undefined;
  return photos ? { main, photos } : { main };
}
