/**
 * `media: { mode: separate }`: servers that cannot expand Media on Property (or cap `$top` with it) serve it
 * as its own resource. After each page of listings, the page's Media comes from one query per batch of keys,
 * `ResourceRecordKey in (...)` ordered by key and `Order`, through the same source client (guarded HTTP, rate
 * budget, retries, token refresh), and each listing gets its `Media` array before the page becomes RawListings,
 * so the photos are committed in the page's own transaction, exactly as an expanded page's are.
 */
import type { SourceClient } from './client';
import { inList, KEYS_PER_IN_LIST } from './odata-filter';
import { pagesFrom } from './query';
import type { ReplicatedPage } from './replicate';

export interface SeparateMedia {
  /** The Media resource, e.g. https://api.example.com/Media (beside the Property resource by default). */
  readonly resource: string;
  readonly nextLinkEncoding: 'standard' | 'double';
}

/** The Media resource beside a Property resource: `.../Property` -> `.../Media`. */
export const mediaResourceOf = (resource: string): string => new URL('Media', resource).href;

/** The first page of the Media query for `keys`. */
export function mediaQuery(resource: string, keys: readonly string[]): URL {
  const url = new URL(resource);
  const filter = inList('ResourceRecordKey', keys);
  // OData wants %20 for spaces; URLSearchParams would send '+' (as query.ts says).
  url.search = [
    ['$filter', filter],
    ['$orderby', 'ResourceRecordKey asc,Order asc'],
  ]
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');
  return url;
}

/** The page with each live record's `Media` (its rows in `Order`; [] when it has none), by the Media resource. */
export async function withSeparateMedia(
  media: SeparateMedia,
  client: SourceClient,
  page: ReplicatedPage,
  signal: AbortSignal,
): Promise<ReplicatedPage> {
  const keys = [...new Set(page.records.map((r) => r.ListingKey).filter((k): k is string => typeof k === 'string'))];
  if (keys.length === 0) return page;
  const walk = { origin: new URL(media.resource), nextLinkEncoding: media.nextLinkEncoding, signal };
  const byKey = new Map<string, Record<string, unknown>[]>();
  for (let i = 0; i < keys.length; i += KEYS_PER_IN_LIST) {
    const url = mediaQuery(media.resource, keys.slice(i, i + KEYS_PER_IN_LIST));
    for await (const p of pagesFrom(client, url, walk)) {
      for (const m of p.records) {
        const k = m.ResourceRecordKey;
        if (typeof k !== 'string') continue;
        const rows = byKey.get(k) ?? [];
        rows.push(m);
        byKey.set(k, rows);
      }
    }
  }
  const order = (m: Record<string, unknown>) => (typeof m.Order === 'number' ? m.Order : Number.MAX_SAFE_INTEGER);
  // Sorted here too: a server that ignores the second $orderby term must not reorder a listing's photos.
  const records = page.records.map((r) => ({
    ...r,
    Media: [...(byKey.get(r.ListingKey as string) ?? [])].sort((a, b) => order(a) - order(b)),
  }));
  return { ...page, records };
}
