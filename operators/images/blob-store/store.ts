/**
 * What every blob store shares: the interface the images operator writes through, and the content-addressed key
 * of each file.
 *
 * The key of every file comes from the sha256 of the photo's source bytes: `ab/<sha256>/card.webp`. So a replay,
 * or the same photo on two listings, writes the same keys with the same bytes, and a store can tell that an image
 * is already done: `manifest.json`, written last, records the image's dimensions, hash and variants, and its
 * presence means every variant is in place. A crash between the variants and the manifest leaves an image that
 * reads as not stored, so it is rendered and written again.
 */
import { PermanentError } from '../../../runtime/errors';
import type { ImageVariant } from '../../../schemas/generated/types';
import type { MediaEntry } from './media-index';

/** What the store remembers about a processed image (everything but where it was listed). */
export interface StoredImage {
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly dhash: string;
  readonly variants: readonly ImageVariant[];
}

export interface BlobStore {
  /** The manifest of an image whose variants are all stored, or null. */
  get(sha256: string): Promise<StoredImage | null>;
  /** Stores one variant file (idempotent; atomic) and returns its uri. */
  putVariant(sha256: string, fileName: string, bytes: Buffer): Promise<string>;
  /** Records the image as complete. Called after every variant is stored. */
  putManifest(image: StoredImage): Promise<void>;
  /**
   * Makes a stored image young again for `blobs gc` (its grace period reads the age of the image's newest
   * file): the manifest's modification time becomes now. Never recreates anything: false when the manifest is
   * gone (gc removed the image), so the caller stores it anew instead of pointing at deleted variants.
   */
  touch(sha256: string): Promise<boolean>;
  /** The media index entry of a photo identity (media-index.ts), or null (none, or damaged). */
  getMediaEntry(id: string): Promise<MediaEntry | null>;
  /** Writes or overwrites the identity's entry (atomic; the last writer wins, every writer is right). */
  putMediaEntry(entry: MediaEntry): Promise<void>;
}

export const MANIFEST = 'manifest.json';

const SHA256 = /^[0-9a-f]{64}$/;
const FILE_NAME = /^[a-z0-9][a-z0-9.-]{0,63}$/;

/** `ab/abcdef…/card.webp`: the key of one file, shared by every store implementation. */
export function blobKey(sha256: string, fileName: string): string {
  if (!SHA256.test(sha256)) throw new PermanentError('IMAGE_CORRUPT', `not a sha256: ${JSON.stringify(sha256)}`);
  if (!FILE_NAME.test(fileName)) throw new TypeError(`bad blob file name ${JSON.stringify(fileName)}`);
  return `${sha256.slice(0, 2)}/${sha256}/${fileName}`;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  json: 'application/json',
};

/** The Content-Type a file is served with, from its extension (the variants' extensions come from FILE_EXTENSION). */
export function contentTypeOf(fileName: string): string {
  return CONTENT_TYPES[fileName.slice(fileName.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/**
 * Parses a stored manifest; null when it is damaged or belongs to another image (the image is then processed
 * again, which rewrites it). Variant uris are rebuilt with `uriOf`: they follow today's settings (public base URL,
 * root, bucket), not the ones in force when the image was stored.
 */
export function readManifest(
  text: string,
  sha256: string,
  uriOf: (sha256: string, fileName: string) => string,
): StoredImage | null {
  try {
    const m = JSON.parse(text) as StoredImage;
    if (m.sha256 !== sha256 || !Array.isArray(m.variants)) return null;
    const variants = m.variants.map((v) => ({ ...v, uri: uriOf(sha256, v.uri.slice(v.uri.lastIndexOf('/') + 1)) }));
    return { ...m, variants };
  } catch {
    return null;
  }
}
