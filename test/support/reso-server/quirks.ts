/**
 * The behaviours of real RESO Web API servers, as their public docs describe them, switchable per source on
 * the test server. Presets model the vendors (MLS Grid, Trestle, Spark, PropTx); tests switch single quirks
 * on and off.
 */
import type { DeleteStyle } from './dataset';

export type Fault =
  | { readonly kind: '503'; readonly retryAfterSeconds?: number }
  | { readonly kind: '429'; readonly retryAfterSeconds: number }
  | { readonly kind: 'reset' };

export interface ResoQuirks {
  /** OAuth2 client credentials with expiring tokens, or one static bearer token. */
  readonly auth:
    | {
        readonly kind: 'oauth2';
        readonly clientId: string;
        readonly clientSecret: string;
        readonly tokenTtlSeconds: number;
      }
    | { readonly kind: 'bearer'; readonly token: string };
  /** Every query must AND `OriginatingSystemName eq '<this>'` (MLS Grid). */
  readonly requireOriginatingSystem?: string;
  /** Only these fields may appear in $filter (MLS Grid's short list); undefined: any. */
  readonly filterable?: readonly string[];
  /** Most `or` operators in one $filter (MLS Grid: 5). */
  readonly maxOr?: number;
  /** ListingKey may be filtered and ordered by, so a (timestamp, key) cursor works. */
  readonly keyTieBreak: boolean;
  readonly defaultTop: number;
  readonly maxTop: number;
  /** Lower maximum when $expand=Media is asked (MLS Grid: 1,000). */
  readonly maxTopWithExpand?: number;
  /** nextLinks page by `$skip` over the live result, or by an opaque `$skiptoken` held by the server. */
  readonly paging: 'skip' | 'skiptoken';
  /** nextLinks sent percent-encoded twice (MLS Grid v1). */
  readonly doubleEncodedNextLink: boolean;
  /** A skiptoken unused this long is forgotten, and its link answers 410 (Trestle: 5 minutes). */
  readonly nextLinkIdleMs?: number;
  /** A nextLink on every non-empty page; the pass ends on an empty page (Trestle replication). */
  readonly emptyFinalPage: boolean;
  readonly deletes: DeleteStyle;
  readonly photoChangeBumpsModification: boolean;
  /** Media is its own resource (GET /<source>/Media), and `$expand=Media` on Property is refused (400). */
  readonly mediaResource?: boolean;
  /** Media URLs carry an expiry and a signature; an expired one answers 403 (MLS Grid). */
  readonly signedMediaTtlMs?: number;
  /** Requests per second before 429 with Retry-After. */
  readonly rateLimitPerSecond?: number;
  readonly rateLimitRetryAfterSeconds?: number;
  /** `$count=true` answers 400 (a server without $count: sources declare `capabilities.count: false`). */
  readonly refuseCount?: boolean;
  /** `$orderby=... desc` answers 400 (sources declare `capabilities.orderDescending: false`). */
  readonly refuseDescending?: boolean;
  /** Faults by the 1-based number of the resource request (token and media requests are not counted). */
  readonly faults?: (requestNumber: number) => Fault | undefined;
}

const oauth = { kind: 'oauth2', clientId: 'listflow', clientSecret: 'local-secret', tokenTtlSeconds: 3600 } as const;

export const PRESETS = {
  /** A plain RESO server: bearer token, key tie-break, $skip links, status deletes. */
  plain: {
    auth: { kind: 'bearer', token: 'local-token' },
    keyTieBreak: true,
    defaultTop: 100,
    maxTop: 1000,
    paging: 'skip',
    doubleEncodedNextLink: false,
    emptyFinalPage: false,
    deletes: 'status',
    photoChangeBumpsModification: true,
  },
  mlsgrid: {
    auth: oauth,
    requireOriginatingSystem: 'listflow',
    filterable: [
      'ModificationTimestamp',
      'StandardStatus',
      'PropertyType',
      'ListingId',
      'MlgCanView',
      'ListOfficeMlsId',
      'OriginatingSystemName',
    ],
    maxOr: 5,
    keyTieBreak: false,
    defaultTop: 500,
    maxTop: 5000,
    maxTopWithExpand: 1000,
    paging: 'skip',
    doubleEncodedNextLink: true,
    emptyFinalPage: false,
    deletes: 'flag',
    photoChangeBumpsModification: true,
    signedMediaTtlMs: 3_600_000,
    rateLimitPerSecond: 2,
    rateLimitRetryAfterSeconds: 1,
  },
  trestle: {
    auth: oauth,
    keyTieBreak: true,
    defaultTop: 1000,
    maxTop: 1000,
    paging: 'skiptoken',
    doubleEncodedNextLink: false,
    nextLinkIdleMs: 300_000,
    emptyFinalPage: true,
    deletes: 'status',
    photoChangeBumpsModification: true,
  },
  spark: {
    auth: { kind: 'bearer', token: 'local-token' },
    keyTieBreak: true,
    defaultTop: 25,
    maxTop: 1000,
    paging: 'skiptoken',
    doubleEncodedNextLink: false,
    emptyFinalPage: false,
    deletes: 'purge',
    photoChangeBumpsModification: true,
  },
  proptx: {
    auth: { kind: 'bearer', token: 'local-token' },
    keyTieBreak: true,
    defaultTop: 100,
    maxTop: 500,
    paging: 'skip',
    doubleEncodedNextLink: false,
    emptyFinalPage: false,
    deletes: 'status',
    photoChangeBumpsModification: false,
  },
  /**
   * A server that serves Media only as its own resource (CREA DDF's Web API, Bridge-style replication):
   * `$expand=Media` answers 400, so the source declares `media: { mode: separate }`.
   */
  ddf: {
    auth: { kind: 'bearer', token: 'local-token' },
    keyTieBreak: true,
    defaultTop: 100,
    maxTop: 100,
    paging: 'skip',
    doubleEncodedNextLink: false,
    emptyFinalPage: false,
    deletes: 'status',
    photoChangeBumpsModification: true,
    mediaResource: true,
  },
} as const satisfies Record<string, ResoQuirks>;
