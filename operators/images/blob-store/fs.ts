/**
 * The filesystem blob store: files under a root directory (a local folder, or a volume every replica mounts),
 * written atomically (temp file, then rename), with the keys of store.ts.
 *
 * Any failure of the filesystem is a RetriableError(BLOBSTORE_UNAVAILABLE): the runtime retries the listing.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RetriableError } from '../../../runtime/errors';
import { type MediaEntry, mediaEntryKey, mediaEntryText, readMediaEntry } from './media-index';
import { type BlobStore, blobKey, MANIFEST, readManifest, type StoredImage } from './store';

const unavailable = (what: string, e: unknown) =>
  new RetriableError('BLOBSTORE_UNAVAILABLE', `blob store: ${what}: ${(e as NodeJS.ErrnoException).code ?? e}`, {
    cause: e,
  });

export interface FsBlobStoreOptions {
  readonly root: string;
  /** When set, variant uris are `<publicBaseUrl>/<key>`; otherwise file:// URLs. */
  readonly publicBaseUrl?: string | undefined;
  /** fsync each file before it is renamed into place (durable across power loss). Default true. */
  readonly fsync?: boolean;
}

/**
 * Where files are written before they are renamed into place: one folder under the root (so the rename stays
 * on one filesystem and is atomic), outside the content-addressed tree, so a half-written file left by a
 * kill -9 can never be mistaken for a variant, and can be swept (see `sweepIncoming`).
 */
export const INCOMING_DIR = '.incoming';

/** The default store: files under a root directory, written atomically (temp file, then rename). */
export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly base: string | undefined;
  private readonly fsync: boolean;

  constructor(opts: FsBlobStoreOptions) {
    this.root = resolve(opts.root);
    this.base = opts.publicBaseUrl?.replace(/\/+$/, '');
    this.fsync = opts.fsync ?? true;
  }

  pathOf(sha256: string, fileName: string): string {
    return join(this.root, ...blobKey(sha256, fileName).split('/'));
  }

  uriOf(sha256: string, fileName: string): string {
    return this.base ? `${this.base}/${blobKey(sha256, fileName)}` : pathToFileURL(this.pathOf(sha256, fileName)).href;
  }

  async get(sha256: string): Promise<StoredImage | null> {
    let text: string;
    try {
      text = await readFile(this.pathOf(sha256, MANIFEST), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw unavailable(`reading the manifest of ${sha256}`, e);
    }
    return readManifest(text, sha256, (s, f) => this.uriOf(s, f));
  }

  async putVariant(sha256: string, fileName: string, bytes: Buffer): Promise<string> {
    await this.writeAtomic(this.pathOf(sha256, fileName), bytes);
    return this.uriOf(sha256, fileName);
  }

  async putManifest(image: StoredImage): Promise<void> {
    await this.writeAtomic(this.pathOf(image.sha256, MANIFEST), Buffer.from(JSON.stringify(image)));
  }

  /** utimes, not a rewrite: the inventory's age is the newest file's mtime, and a missing manifest stays missing. */
  async touch(sha256: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.pathOf(sha256, MANIFEST), now, now);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw unavailable(`touching the manifest of ${sha256}`, e);
    }
  }

  mediaEntryPath(id: string): string {
    return join(this.root, ...mediaEntryKey(id).split('/'));
  }

  async getMediaEntry(id: string): Promise<MediaEntry | null> {
    let text: string;
    try {
      text = await readFile(this.mediaEntryPath(id), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw unavailable('reading a media index entry', e);
    }
    return readMediaEntry(text, id);
  }

  async putMediaEntry(entry: MediaEntry): Promise<void> {
    await this.writeAtomic(this.mediaEntryPath(entry.id), Buffer.from(mediaEntryText(entry)));
  }

  /**
   * Removes temp files older than `olderThanMs` from the incoming folder: what a killed writer stranded. Called
   * once when a worker starts. The age bound keeps it from deleting a file another replica sharing the volume
   * is writing right now. Returns how many were removed.
   */
  async sweepIncoming(olderThanMs: number, now: number = Date.now()): Promise<number> {
    const dir = join(this.root, INCOMING_DIR);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw unavailable('listing the incoming folder', e);
    }
    let removed = 0;
    for (const name of names) {
      const path = join(dir, name);
      const info = await stat(path).catch(() => null);
      if (info && now - info.mtimeMs >= olderThanMs) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Readers see the old file or the new one, never half of one; two writers of the same key both succeed. */
  private async writeAtomic(path: string, bytes: Buffer): Promise<void> {
    const incoming = join(this.root, INCOMING_DIR);
    const tmp = join(incoming, `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
    try {
      await mkdir(incoming, { recursive: true });
      await mkdir(dirname(path), { recursive: true });
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(bytes);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw unavailable(`writing ${path}`, e);
    }
  }
}
