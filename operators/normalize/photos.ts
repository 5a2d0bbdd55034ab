/**
 * Photos from the RESO Media array: sorted by Order, duplicate URLs dropped, only http(s) URLs kept, each with
 * its MediaKey and MediaModificationTimestamp when the feed gives them (the images step reuses a stored photo
 * whose key and timestamp are unchanged instead of downloading it again).
 */
import type { Photo } from '../../schemas/generated/types';
import { parseNumber } from './measures';

const CATEGORY_NAMES = ['MediaCategory', 'MediaType'];
const URL_NAMES = ['MediaURL', 'MediaUrl', 'Url', 'URL', 'url'];
const ORDER_NAMES = ['Order', 'order', 'MediaOrder', 'DisplayOrder'];
const CAPTION_NAMES = ['ShortDescription', 'Caption', 'MediaDescription'];
const KEY_NAMES = ['MediaKey', 'MediaKeyNumeric'];
/**
 * The Media record's own ModificationTimestamp is the fallback: it also moves on caption edits, so a source
 * that gives only it costs a download more often, never a stale photo.
 */
const MEDIA_TIMESTAMP_NAMES = ['MediaModificationTimestamp', 'ModificationTimestamp'];
const PHOTO_CATEGORY = /photo|image|jpe?g|png|webp/i;
const WEB_PROTOCOLS = ['http:', 'https:'];
const WEB_AND_FILE_PROTOCOLS = ['http:', 'https:', 'file:'];

const pick = (m: Record<string, unknown>, names: readonly string[]): unknown => {
  for (const n of names) {
    const v = m[n];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
};

/** Trimmed, inner whitespace collapsed; the regex only runs when there is something to collapse. */
const tidyCaption = (s: string): string => {
  const t = s.trim();
  return /\s\s|[^\S ]/.test(t) ? t.replace(/\s+/g, ' ') : t;
};

/** A key as text: strings trimmed, numbers (MediaKeyNumeric) as written; anything else is no key. */
const textValue = (v: unknown): string | null => {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t === '' ? null : t;
};

/**
 * `media` is the Media field: an array, or a JSON text of one (CSV feeds). Items whose MediaCategory says
 * they are not photos (virtual tours, documents) are left out. Orders are renumbered 0..n-1 after sorting,
 * since feeds start at 0 or 1 and leave gaps; items without an Order keep their place after those with one.
 * `allowFile` admits file:// URLs too (local runs with generated sample feeds). The media timestamp is kept
 * as the source's text, not parsed: it is compared, never computed with, and parsing would round
 * microseconds away (two versions a few microseconds apart would look the same).
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
  const protocols = allowFile ? WEB_AND_FILE_PROTOCOLS : WEB_PROTOCOLS;
  const items: Item[] = [];
  for (let index = 0; index < list.length; index++) {
    // Holes in a sparse array were skipped by forEach; JSON never makes them, but keep it that way.
    if (!(index in list)) continue;
    const m: unknown = list[index];
    if (typeof m !== 'object' || m === null) continue;
    const rec = m as Record<string, unknown>;
    const category = pick(rec, CATEGORY_NAMES);
    if (typeof category === 'string' && !PHOTO_CATEGORY.test(category)) continue;
    const url = pick(rec, URL_NAMES);
    if (typeof url !== 'string') continue;
    const trimmed = url.trim();
    if (!isPlainWebUrl(trimmed)) {
      // URL.parse returns null where `new URL` throws: a bad URL is common input, not an exception.
      const parsed = URL.parse(trimmed);
      if (parsed === null || !protocols.includes(parsed.protocol)) continue;
    }
    const order = parseNumber(pick(rec, ORDER_NAMES));
    const caption = pick(rec, CAPTION_NAMES);
    items.push({
      url: trimmed,
      order: order ?? Number.POSITIVE_INFINITY,
      index,
      caption: typeof caption === 'string' && caption.trim() !== '' ? tidyCaption(caption) : null,
      mediaKey: textValue(pick(rec, KEY_NAMES)),
      mediaModificationTimestamp: textValue(pick(rec, MEDIA_TIMESTAMP_NAMES)),
    });
  }
  sortItems(items);
  // Duplicates: a Set only pays off for long lists; for a few photos a scan of the output is cheaper.
  // Either way a URL is dropped exactly when an earlier item already put it in `out`.
  const seen = items.length > SMALL ? new Set<string>() : undefined;
  const out: Photo[] = [];
  for (const it of items) {
    if (seen ? seen.has(it.url) : out.some((p) => p.url === it.url)) continue;
    seen?.add(it.url);
    // Both media fields always set (null when absent): what a decoded Listing holds, so a replay compares equal.
    out.push({
      url: it.url,
      order: out.length,
      caption: it.caption,
      mediaKey: it.mediaKey,
      mediaModificationTimestamp: it.mediaModificationTimestamp,
    });
  }
  return out;
}

const LOWER_A = 97;
const LOWER_Z = 122;
const HYPHEN = 45;

/**
 * True only when URL.parse(s) certainly succeeds with protocol http: or https:, which both protocol lists
 * admit: parsing costs more than the rest of a photo. The shape is what feeds send: lower-case `http://` or
 * `https://`, a host of non-empty labels of lower-case letters, digits and hyphens, then the end or a `/`,
 * `?` or `#`. Past the host nothing can fail for these schemes (path, query and fragment are only
 * percent-encoded). Such a host cannot fail either: UTS 46 maps nothing in it, unless a label starts with
 * `xn--` (punycode, which may be invalid), and it is not an IPv4 address to check, since its last label
 * starts with a letter. Anything else (upper case, ports, user info, IP hosts, other schemes) returns
 * false and takes URL.parse, so this only saves work and never changes which URLs are kept.
 */
export function isPlainWebUrl(s: string): boolean {
  let i: number;
  if (s.startsWith('https://')) i = 8;
  else if (s.startsWith('http://')) i = 7;
  else return false;
  let labelStart = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
    if (c === 46 /* . */) {
      if (i === labelStart) return false;
      labelStart = i + 1;
    } else if (!((c >= LOWER_A && c <= LOWER_Z) || (c >= 48 && c <= 57) || c === HYPHEN)) {
      return false;
    } else if (i === labelStart && s.startsWith('xn--', i)) {
      return false;
    }
  }
  const first = s.charCodeAt(labelStart);
  return i > labelStart && first >= LOWER_A && first <= LOWER_Z;
}

type Item = {
  url: string;
  order: number;
  index: number;
  caption: string | null;
  mediaKey: string | null;
  mediaModificationTimestamp: string | null;
};
const SMALL = 16;
const byOrder = (a: Item, b: Item): number => a.order - b.order || a.index - b.index;

/**
 * By Order, then position. That order is total (positions are distinct), so every correct sort gives the
 * same result. Media lists are short, and for a few items Array#sort's setup costs more than the sorting:
 * insertion sort up to SMALL items.
 */
function sortItems(items: Item[]): void {
  if (items.length > SMALL) {
    items.sort(byOrder);
    return;
  }
  for (let i = 1; i < items.length; i++) {
    const it = items[i]!;
    let j = i - 1;
    for (; j >= 0 && byOrder(items[j]!, it) > 0; j--) items[j + 1] = items[j]!;
    items[j + 1] = it;
  }
}
