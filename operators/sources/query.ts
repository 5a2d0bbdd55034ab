/**
 * Builds a source's replication query from its cursor. Two tie modes, chosen per source:
 * - `key`: the server filters and orders by the key too, so the query asks exactly for what is past the
 *   cursor pair: `T gt t or (T eq t and ListingKey gt 'k')`, ordered by both. Nothing repeats.
 * - `ge`: the server orders by timestamp only. The query asks `T ge t` (RESO's own replication tool does)
 *   and the boundary records already taken come back; `isPast` drops them by the cursor's keysAtTimestamp.
 * `gt` alone is never used: records sharing the cursor's timestamp but not yet taken would be lost.
 */
import type { ODataPage, SourceClient } from './client';
import type { SourceCursor } from './cursor';
import { stringLiteral } from './odata-filter';

export type TieMode = 'key' | 'ge';

/**
 * What the server answers beyond the replication query itself, as the source declares it
 * (`capabilities`, source-validation.ts). The quiet-poll probe of a `ge` source (quiet-probe.ts) needs both.
 */
export interface ServerCapabilities {
  /** `$count=true` answers `@odata.count`. */
  readonly count: boolean;
  /** `$orderby=<timestamp> desc` is honoured. */
  readonly orderDescending: boolean;
}

/** What a source is assumed to answer when it declares nothing: both are OData 4 query options. */
export const DEFAULT_CAPABILITIES: ServerCapabilities = { count: true, orderDescending: true };

export interface QuerySpec {
  /** The resource, e.g. https://api.mlsgrid.com/v2/Property. */
  readonly resource: string;
  /** The replication timestamp (ModificationTimestamp; PhotosChangeTimestamp for a photo stream). */
  readonly timestampField: string;
  readonly keyField: string;
  readonly tieMode: TieMode;
  /** Terms ANDed to every query, e.g. `OriginatingSystemName eq 'mred'`. */
  readonly filter?: string;
  /** Terms ANDed until the first load has caught up, e.g. `MlgCanView eq true`. */
  readonly initialFilter?: string;
  readonly pageSize: number;
  readonly select?: readonly string[];
  readonly expandMedia: boolean;
  /** Undefined: DEFAULT_CAPABILITIES (what a declaration that names none gets). */
  readonly capabilities?: ServerCapabilities;
}

export interface QueryOptions {
  /** The first load has not caught up yet. */
  readonly initial: boolean;
  /** Ask for `@odata.count` (the remaining records past the cursor, for `sources list`). */
  readonly count?: boolean;
  /** Only this many records (a count query asks for 0). */
  readonly top?: number;
  /** Override `select` (a purge pass selects the key only). */
  readonly select?: readonly string[];
  /** No cursor term, no ordering by timestamp: a purge pass over every key. */
  readonly allKeys?: boolean;
  /** Newest first (`$orderby=<timestamp> desc`): the quiet-poll probe of a `ge` stream. */
  readonly newestFirst?: boolean;
  /** This term instead of the cursor's, no ordering: the one probe of several key-tie streams, a purge's confirmation. */
  readonly cursorTerm?: string;
}

/** The filter past `cursor` (undefined: from the beginning). */
export function cursorFilter(spec: QuerySpec, cursor: SourceCursor | undefined): string | undefined {
  if (!cursor) return undefined;
  const ts = spec.timestampField;
  if (spec.tieMode === 'ge') return `${ts} ge ${cursor.timestamp}`;
  return `${ts} gt ${cursor.timestamp} or (${ts} eq ${cursor.timestamp} and ${spec.keyField} gt ${stringLiteral(cursor.key)})`;
}

/** The URL of the first page past `cursor`. */
export function buildQuery(spec: QuerySpec, cursor: SourceCursor | undefined, o: QueryOptions): URL {
  const terms = [
    spec.filter,
    o.initial ? spec.initialFilter : undefined,
    o.allKeys ? undefined : (o.cursorTerm ?? cursorFilter(spec, cursor)),
  ]
    .filter((t): t is string => t !== undefined && t !== '')
    .map((t) => `(${t})`);
  const params: Array<[string, string]> = [];
  if (terms.length > 0) params.push(['$filter', terms.length === 1 ? terms[0]!.slice(1, -1) : terms.join(' and ')]);
  const order = o.allKeys
    ? `${spec.keyField} asc`
    : spec.tieMode === 'key'
      ? `${spec.timestampField} asc,${spec.keyField} asc`
      : `${spec.timestampField} asc`;
  if (o.newestFirst) params.push(['$orderby', `${spec.timestampField} desc`]);
  else if (o.cursorTerm === undefined) params.push(['$orderby', order]);
  params.push(['$top', String(o.top ?? spec.pageSize)]);
  const select = o.select ?? spec.select;
  if (select && select.length > 0) params.push(['$select', select.join(',')]);
  if (spec.expandMedia && !o.select) params.push(['$expand', 'Media']);
  if (o.count) params.push(['$count', 'true']);
  const url = new URL(spec.resource);
  // OData wants %20 for spaces; URLSearchParams would send '+', which some servers read literally.
  url.search = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return url;
}

/**
 * The URL of the next page from a page's `@odata.nextLink`, resolved against the page's URL. `double`
 * undoes one extra layer of percent-encoding (MLS Grid v1 sent `%2520` for a space).
 */
export function resolveNextLink(raw: string, pageUrl: URL, encoding: 'standard' | 'double'): URL {
  const text = encoding === 'double' ? raw.replace(/%25([0-9A-Fa-f]{2})/g, '%$1') : raw;
  return new URL(text, pageUrl);
}

/** The pages of a query from `url` on, following its nextLinks (same origin as `origin`) until one is empty or last. */
export async function* pagesFrom(
  client: SourceClient,
  url: URL,
  o: { readonly origin: URL; readonly nextLinkEncoding: 'standard' | 'double'; readonly signal: AbortSignal },
): AsyncGenerator<ODataPage> {
  let viaNextLink = false;
  for (;;) {
    const page = await client.getPage(url, { nextLink: viaNextLink, sameOriginAs: o.origin, signal: o.signal });
    yield page;
    if (page.nextLink === undefined || page.records.length === 0) return;
    url = resolveNextLink(page.nextLink, page.url, o.nextLinkEncoding);
    viaNextLink = true;
  }
}
