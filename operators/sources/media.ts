/**
 * Photo change detection, so that an unchanged photo is never downloaded again.
 * A photo is identified by its MediaKey, or by its URL when the source gives no key. It changed when its
 * MediaModificationTimestamp differs from the stored one (a keyless photo changes only by its URL). A key
 * missing from the listing's Media means that photo was removed. Signed URLs (MLS Grid) change on every
 * read without the photo changing, so a keyed photo never counts its URL as a change.
 */

export interface MediaItem {
  readonly MediaKey?: string | null;
  readonly MediaURL?: string | null;
  readonly MediaModificationTimestamp?: string | null;
  readonly Order?: number | null;
}

export interface StoredPhoto {
  /** MediaKey, or `url:<MediaURL>` without one. */
  readonly id: string;
  /** MediaModificationTimestamp as stored, or '' when the source gives none. */
  readonly stamp: string;
}

export interface MediaPlan {
  /** New or changed: download. */
  readonly download: readonly MediaItem[];
  /** Unchanged: keep the stored asset. */
  readonly keep: readonly MediaItem[];
  /** Stored but no longer listed: leave the listing's assets. */
  readonly removed: readonly string[];
}

/** The identity of a photo; undefined when it has neither key nor URL (nothing to fetch). */
export function photoId(m: MediaItem): string | undefined {
  if (m.MediaKey) return m.MediaKey;
  return m.MediaURL ? `url:${m.MediaURL}` : undefined;
}

export function storedPhoto(m: MediaItem): StoredPhoto | undefined {
  const id = photoId(m);
  return id === undefined ? undefined : { id, stamp: m.MediaModificationTimestamp ?? '' };
}

/** Compares a listing's current Media with what was stored for it. */
export function planMedia(stored: readonly StoredPhoto[], current: readonly MediaItem[]): MediaPlan {
  const before = new Map(stored.map((s) => [s.id, s.stamp]));
  const download: MediaItem[] = [];
  const keep: MediaItem[] = [];
  const seen = new Set<string>();
  for (const m of current) {
    const id = photoId(m);
    if (id === undefined || seen.has(id)) continue;
    seen.add(id);
    const prior = before.get(id);
    if (prior !== undefined && prior === (m.MediaModificationTimestamp ?? '')) keep.push(m);
    else download.push(m);
  }
  const removed = [...before.keys()].filter((id) => !seen.has(id)).sort();
  return { download, keep, removed };
}

/**
 * Whether a listing's photos need looking at, from its photo-change timestamp (PhotosChangeTimestamp):
 * a stamp that differs from the one stored (or a listing never seen) says yes. Without the field, yes.
 */
export function photosMayHaveChanged(
  storedStamp: string | undefined,
  record: Readonly<Record<string, unknown>>,
  field: string | undefined,
): boolean {
  if (!field) return true;
  const now = record[field];
  if (typeof now !== 'string') return true;
  return storedStamp !== now;
}
