/**
 * A blob store that does what `inner` does except for the methods `over` replaces: tests count writes or
 * inject failures into one call without restating the rest of the BlobStore interface.
 */
import type { BlobStore } from '../../operators/images/blob-store/store';

export function wrapStore(inner: BlobStore, over: Partial<BlobStore> = {}): BlobStore {
  return {
    get: (s) => inner.get(s),
    putVariant: (s, f, b) => inner.putVariant(s, f, b),
    putManifest: (m) => inner.putManifest(m),
    touch: (s) => inner.touch(s),
    getMediaEntry: (id) => inner.getMediaEntry(id),
    putMediaEntry: (e) => inner.putMediaEntry(e),
    ...over,
  };
}
