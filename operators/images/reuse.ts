/**
 * No needless photo work: a photo whose media identity and version are those of an image already stored is
 * not downloaded again. The MLS says what changed: a photo is the same photo across versions of a listing by
 * its MediaKey (or its URL when the source gives no key), and new bytes come with a new
 * MediaModificationTimestamp. MLS Grid's signed URLs change on every read while the photo does not, so a keyed
 * photo's URL is never part of its identity or version.
 *
 * What was stored for an identity is the media index in the blob store (blob-store/media-index.ts), never
 * process memory: workers are stateless and restart at any time.
 */
import { createHash } from 'node:crypto';
import type { Photo } from '../../schemas/generated/types';
import type { MediaEntry } from './blob-store/media-index';
import type { BlobStore, StoredImage } from './blob-store/store';
import type { VariantSpec } from './config';

export interface MediaIdentity {
  /** `key <source> <MediaKey>` or `url <source> <hash of the URL>`: the index entry's identity. */
  readonly id: string;
  /**
   * `ts <MediaModificationTimestamp>` (the source's text: a microsecond apart is another version), or
   * `url <hash of the URL>` without a key or a timestamp. A keyed photo without a timestamp thus changes only
   * with its URL: with signed URLs that means it is always fetched, the safe side.
   */
  readonly version: string;
}

/**
 * A URL goes into the index only as its hash: a photo URL may carry an MLS token in its query, and the index
 * lives in the blob store, whose filesystem root may be served as it is (LISTFLOW_IMAGES_PUBLIC_BASE_URL).
 */
const urlHash = (url: string): string => createHash('sha256').update(url).digest('hex');

/** The identity and version of one photo of a listing of `source`. */
export function identityOf(source: string, photo: Photo): MediaIdentity {
  const key = photo.mediaKey ?? null;
  const stamp = photo.mediaModificationTimestamp ?? null;
  const url = key === null || stamp === null ? urlHash(photo.url) : '';
  return {
    // A newline cannot be in a source name or a trimmed key, so no two identities spell the same.
    id: key !== null ? `key\n${source}\n${key}` : `url\n${source}\n${url}`,
    version: key !== null && stamp !== null ? `ts\n${stamp}` : `url\n${url}`,
  };
}

/** Why a photo is fetched rather than reused (a log field and a unit-test outcome). */
export type FetchReason = 'new' | 'changed' | 'gone' | 'other-variants';

export type ReuseDecision =
  | { readonly kind: 'reuse'; readonly image: StoredImage }
  | { readonly kind: 'fetch'; readonly reason: FetchReason };

/** A stored image can be reused only if it has exactly the variants (names, widths, format) asked for now. */
export function matches(stored: StoredImage, specs: readonly VariantSpec[], format: string): boolean {
  if (stored.variants.length !== specs.length) return false;
  return specs.every((s) =>
    stored.variants.some(
      (v) => v.name === s.name && v.format === format && v.width === Math.min(s.width, stored.width),
    ),
  );
}

/**
 * The stored image `sha256`, made young for `blobs gc`, or why it cannot be reused.
 *
 * gc race: gc deletes unreferenced images older than its grace period, and a reused image is unreferenced
 * until publish writes the listing. So reuse verifies and touches: the manifest is read (it is written last
 * and deleted first, so its presence means every variant is there), then touched, and the touch fails if the
 * manifest is gone by then, so an image gc removed in between is stored anew instead of pointed at. After
 * the touch, a gc that lists the store sees the image as young, and one that listed it earlier sees the
 * manifest changed and skips it (inventory.ts `remove`). What is left is a gc between that check and its
 * first delete, microseconds against a grace period of days. gc also drops index entries whose images are
 * gone, but only to keep the index small: a stale entry is harmless, because of this check.
 */
export async function storedForReuse(
  blobStore: BlobStore,
  sha256: string,
  specs: readonly VariantSpec[],
  format: string,
): Promise<ReuseDecision> {
  const image = await blobStore.get(sha256);
  if (!image) return { kind: 'fetch', reason: 'gone' };
  if (!matches(image, specs, format)) return { kind: 'fetch', reason: 'other-variants' };
  if (!(await blobStore.touch(sha256))) return { kind: 'fetch', reason: 'gone' };
  return { kind: 'reuse', image };
}

/** What the index says about a photo: reuse the image it names, or download it (the reason says why). */
export async function decideReuse(
  blobStore: BlobStore,
  media: MediaIdentity,
  specs: readonly VariantSpec[],
  format: string,
): Promise<ReuseDecision> {
  const entry = await blobStore.getMediaEntry(media.id);
  if (!entry) return { kind: 'fetch', reason: 'new' };
  if (entry.version !== media.version) return { kind: 'fetch', reason: 'changed' };
  return storedForReuse(blobStore, entry.sha256, specs, format);
}

/** The entry to write once `sha256` is stored for this version of the photo. */
export const mediaEntry = (media: MediaIdentity, sha256: string, now: Date): MediaEntry => ({
  id: media.id,
  version: media.version,
  sha256,
  storedAt: now.toISOString(),
});
