/** Photos from the RESO Media array: sorted by Order, duplicate URLs dropped, only http(s) URLs kept. */
import type { Photo } from '../../schemas/generated/types';
import { parseNumber } from './measures';

const pick = (m: Record<string, unknown>, names: string[]): unknown => {
  for (const n of names) if (m[n] !== undefined && m[n] !== null && m[n] !== '') return m[n];
  return undefined;
};

/**
 * `media` is the Media field: an array, or a JSON text of one (CSV feeds). Items whose MediaCategory says
 * they are not photos (virtual tours, documents) are left out. Orders are renumbered 0..n-1 after sorting,
 * since feeds start at 0 or 1 and leave gaps; items without an Order keep their place after those with one.
 * `allowFile` admits file:// URLs too (local runs with generated sample feeds).
 */
export function photosFrom(media: unknown, allowFile = false): Photo[] {
  let list = media;
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(list)) return [];
  const protocols = allowFile ? ['http:', 'https:', 'file:'] : ['http:', 'https:'];
  const items: { url: string; order: number; index: number; caption: string | null }[] = [];
  list.forEach((m, index) => {
    if (typeof m !== 'object' || m === null) return;
    const rec = m as Record<string, unknown>;
    const category = pick(rec, ['MediaCategory', 'MediaType']);
    if (typeof category === 'string' && !/photo|image|jpe?g|png|webp/i.test(category)) return;
    const url = pick(rec, ['MediaURL', 'MediaUrl', 'Url', 'URL', 'url']);
    if (typeof url !== 'string') return;
    let parsed: URL;
    try {
      parsed = new URL(url.trim());
    } catch {
      return;
    }
    if (!protocols.includes(parsed.protocol)) return;
    const order = parseNumber(pick(rec, ['Order', 'order', 'MediaOrder', 'DisplayOrder']));
    const caption = pick(rec, ['ShortDescription', 'Caption', 'MediaDescription']);
    items.push({
      url: url.trim(),
      order: order ?? Number.POSITIVE_INFINITY,
      index,
      caption: typeof caption === 'string' && caption.trim() !== '' ? caption.trim().replace(/\s+/g, ' ') : null,
    });
  });
  items.sort((a, b) => a.order - b.order || a.index - b.index);
  const seen = new Set<string>();
  const out: Photo[] = [];
  for (const it of items) {
    if (seen.has(it.url)) continue;
    seen.add(it.url);
    out.push({ url: it.url, order: out.length, caption: it.caption });
  }
  return out;
}
