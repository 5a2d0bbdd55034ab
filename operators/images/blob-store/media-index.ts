/**
 * The media index: for each photo identity of a source (its MLS MediaKey, or its URL when it has none), the
 * version last stored and the image (sha256) it became. The images step reads it before fetching a photo, so
 * a listing whose photos did not change (a price change) downloads and renders nothing again.
 *
 * It lives in the blob store, beside the images, not in a worker's memory: workers are stateless, restart at
 * any time and share the store. One small JSON object per identity, `media/ab/<sha256 of the identity>.json`
 * (the identity holds a URL or any character an MLS puts in a key; its hash is a safe, fixed-length name).
 * Outside the `ab/<sha256>/` tree, so the inventory of images (inventory.ts) never takes an entry for an image.
 *
 * An entry is a hint, never the truth about the image: a reader checks that the image it names is still
 * stored (see ../reuse.ts), and writing it is an idempotent overwrite after the image is stored, so a lost
 * or stale entry costs one download and nothing else.
 */
import { createHash } from 'node:crypto';

/** The folder (under the root or the S3 prefix) that holds the index. */
export const MEDIA_INDEX_DIR = 'media';

export interface MediaEntry {
  /** The photo's identity (see identityOf in ../reuse.ts): source and MediaKey, or source and URL. */
  readonly id: string;
  /** The version stored: its MediaModificationTimestamp, or its URL (see identityOf in ../reuse.ts). */
  readonly version: string;
  /** The stored image that version of the photo is. */
  readonly sha256: string;
  /** When the entry was written (ISO 8601), for whoever reads the store. */
  readonly storedAt: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
const ENTRY_FILE = /^[0-9a-f]{64}\.json$/;

/** `media/ab/<hash>.json`, relative to the store's root or prefix. */
export function mediaEntryKey(id: string): string {
  const h = createHash('sha256').update(id).digest('hex');
  return `${MEDIA_INDEX_DIR}/${h.slice(0, 2)}/${h}.json`;
}

/** True for `ab/<hash>.json` under the index folder: what the inventory lists as entries. */
export const isMediaEntryPath = (shard: string, file: string): boolean =>
  /^[0-9a-f]{2}$/.test(shard) && ENTRY_FILE.test(file) && file.startsWith(shard);

export const mediaEntryText = (e: MediaEntry): string => JSON.stringify(e);

/**
 * Parses an entry; null when it is damaged, or holds another identity than `id` (when given), so a reader
 * treats it as absent and fetches, which rewrites it.
 */
export function readMediaEntry(text: string, id?: string): MediaEntry | null {
  try {
    const e = JSON.parse(text) as Partial<MediaEntry> | null;
    if (typeof e?.id !== 'string' || typeof e.version !== 'string' || typeof e.sha256 !== 'string') return null;
    if (!SHA256.test(e.sha256) || (id !== undefined && e.id !== id)) return null;
    return { id: e.id, version: e.version, sha256: e.sha256, storedAt: String(e.storedAt ?? '') };
  } catch {
    return null;
  }
}
