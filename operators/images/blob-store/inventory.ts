/**
 * What the blob store holds, image by image, and the removal of one image: for `listflow blobs gc`, which
 * deletes the images no listing references any more. Beside the stores, not in them: the images step never
 * lists or deletes, so the worker's BlobStore interface stays write-and-read only.
 *
 * An image is the files under `ab/<sha256>/` (its variants and manifest.json, store.ts). Its age is that of its
 * newest file: a rewrite (new variant settings) makes it young again, and so does a worker reusing it
 * (BlobStore.touch). Removal deletes the manifest first, so an images worker reading the image meanwhile sees
 * it as not stored and renders it again, never a manifest whose variants are gone; and it skips an image
 * whose manifest was touched since the listing, which a worker reused in between.
 *
 * The media index entries (media-index.ts) are listed and removed here too: gc drops those that point at
 * images no longer stored, so the index does not grow with every photo ever seen.
 */
import { readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import type { ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { join, resolve } from 'node:path';
import { RetriableError } from '../../../runtime/errors';
import pLimit from 'p-limit';
import { INCOMING_DIR } from './fs';
import { isMediaEntryPath, MEDIA_INDEX_DIR, readMediaEntry } from './media-index';
import { MANIFEST } from './store';

export interface StoredImageEntry {
  readonly sha256: string;
  /** The image's files, as the store names them (paths relative to the root, or object keys). */
  readonly files: readonly string[];
  readonly bytes: number;
  /** Modification time of its newest file (ms since the epoch). */
  readonly modifiedAt: number;
}

/** One media index entry as gc sees it. */
export interface MediaIndexFile {
  /** As the store names it (a path relative to the root, or an object key). */
  readonly file: string;
  /** The image it points at; null when the entry is damaged. */
  readonly sha256: string | null;
  /** Its modification time (ms since the epoch). */
  readonly modifiedAt: number;
}

export interface BlobInventory {
  /** Where the store is, for messages (never a credential). */
  readonly description: string;
  /** Every image in the store, grouped by sha256. */
  list(): AsyncIterable<StoredImageEntry>;
  /**
   * Deletes the image's files, the manifest first, unless its manifest changed since `image` was listed (a
   * worker reused and touched it meanwhile): then nothing is deleted and the answer is false.
   */
  remove(image: StoredImageEntry): Promise<boolean>;
  /** Every media index entry, with the image it names (each entry is read). */
  listMediaEntries(): AsyncIterable<MediaIndexFile>;
  removeMediaEntry(entry: MediaIndexFile): Promise<void>;
  close(): void;
}

/** Media entries read at once while listing (one small read each). */
const ENTRY_READS = 16;

const SHA256 = /^[0-9a-f]{64}$/;
const SHARD = /^[0-9a-f]{2}$/;

const unavailable = (what: string, e: unknown) =>
  new RetriableError('BLOBSTORE_UNAVAILABLE', `blob store: ${what}: ${(e as NodeJS.ErrnoException).code ?? e}`, {
    cause: e,
  });

/** The manifest first, then the variants (see the file comment). */
const removalOrder = (files: readonly string[]): string[] =>
  [...files].sort((a, b) => Number(b.endsWith(`/${MANIFEST}`)) - Number(a.endsWith(`/${MANIFEST}`)));

/** The filesystem store's images under `root` (the incoming folder of half-written files is not an image). */
export function fsInventory(rootDir: string): BlobInventory {
  const root = resolve(rootDir);
  const dirs = async (path: string): Promise<string[]> => {
    try {
      return (await readdir(path, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw unavailable(`listing ${path}`, e);
    }
  };
  return {
    description: `file ${root}`,
    async *list() {
      for (const shard of (await dirs(root)).filter((d) => SHARD.test(d) && d !== INCOMING_DIR).sort()) {
        for (const sha256 of (await dirs(join(root, shard))).filter((d) => SHA256.test(d)).sort()) {
          const dir = join(root, shard, sha256);
          const names = await readdir(dir).catch((e: unknown) => {
            throw unavailable(`listing ${dir}`, e);
          });
          let bytes = 0;
          let modifiedAt = 0;
          const files: string[] = [];
          for (const name of names) {
            const info = await stat(join(dir, name)).catch(() => null);
            if (!info?.isFile()) continue;
            bytes += info.size;
            modifiedAt = Math.max(modifiedAt, info.mtimeMs);
            files.push(`${shard}/${sha256}/${name}`);
          }
          if (files.length > 0) yield { sha256, files, bytes, modifiedAt };
        }
      }
    },
    async remove(image) {
      try {
        const manifest = join(root, image.sha256.slice(0, 2), image.sha256, MANIFEST);
        const now = await stat(manifest).catch(() => null);
        if (now && now.mtimeMs > image.modifiedAt) return false;
        for (const f of removalOrder(image.files)) await rm(join(root, ...f.split('/')), { force: true });
        // The folder goes too when nothing else was written into it meanwhile (a new variant stays).
        await rmdir(join(root, image.sha256.slice(0, 2), image.sha256)).catch(() => undefined);
        return true;
      } catch (e) {
        throw unavailable(`removing ${image.sha256}`, e);
      }
    },
    async *listMediaEntries() {
      const index = join(root, MEDIA_INDEX_DIR);
      const limit = pLimit(ENTRY_READS);
      for (const shard of (await dirs(index)).sort()) {
        const names = await readdir(join(index, shard)).catch((e: unknown) => {
          throw unavailable(`listing ${join(index, shard)}`, e);
        });
        const read = names
          .filter((n) => isMediaEntryPath(shard, n))
          .sort()
          .map((name) =>
            limit(async (): Promise<MediaIndexFile | null> => {
              const path = join(index, shard, name);
              // Gone since the readdir (another gc): nothing to report.
              const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]).catch(() => [null, null]);
              if (text === null || info === null) return null;
              const file = `${MEDIA_INDEX_DIR}/${shard}/${name}`;
              return { file, sha256: readMediaEntry(text)?.sha256 ?? null, modifiedAt: info.mtimeMs };
            }),
          );
        for (const entry of await Promise.all(read)) if (entry) yield entry;
      }
    },
    async removeMediaEntry(entry) {
      try {
        await rm(join(root, ...entry.file.split('/')), { force: true });
      } catch (e) {
        throw unavailable(`removing ${entry.file}`, e);
      }
    },
    close: () => undefined,
  };
}

/** Where the S3 store keeps its images. */
export interface S3InventoryTarget {
  readonly bucket: string;
  /** '' or a prefix ending in '/'. */
  readonly prefix: string;
  readonly endpoint: string;
}

/** The S3 store's images under `target.prefix`; the listing comes grouped, since keys share `ab/<sha256>/`. */
export function s3Inventory(client: S3Client, target: S3InventoryTarget): BlobInventory {
  // Loaded only for an S3 store (the SDK costs ~0.2 s to load, as in index.ts).
  const { ListObjectsV2Command, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } =
    require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const missing = (e: unknown) => {
    const x = e as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
    return x?.name === 'NoSuchKey' || x?.name === 'NotFound' || x?.$metadata?.httpStatusCode === 404;
  };
  /** Every object under `prefix`, page by page. */
  async function* objects(prefix: string) {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await client.send(
          new ListObjectsV2Command({
            Bucket: target.bucket,
            Prefix: prefix,
            MaxKeys: 1000,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (e) {
        throw unavailable(`listing s3://${target.bucket}/${prefix}`, e);
      }
      yield page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  return {
    description: `s3://${target.bucket}/${target.prefix} at ${target.endpoint}`,
    async *list() {
      let current: { sha256: string; files: string[]; bytes: number; modifiedAt: number } | undefined;
      for await (const page of objects(target.prefix)) {
        for (const o of page) {
          const parts = (o.Key ?? '').slice(target.prefix.length).split('/');
          if (parts.length !== 3 || !SHA256.test(parts[1]!) || parts[0] !== parts[1]!.slice(0, 2)) continue;
          const sha256 = parts[1]!;
          if (current && current.sha256 !== sha256) {
            yield current;
            current = undefined;
          }
          current ??= { sha256, files: [], bytes: 0, modifiedAt: 0 };
          current.files.push(o.Key!);
          current.bytes += o.Size ?? 0;
          current.modifiedAt = Math.max(current.modifiedAt, o.LastModified?.getTime() ?? 0);
        }
      }
      if (current) yield current;
    },
    async remove(image) {
      const manifest = `${target.prefix}${image.sha256.slice(0, 2)}/${image.sha256}/${MANIFEST}`;
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: manifest }));
        if ((head.LastModified?.getTime() ?? 0) > image.modifiedAt) return false;
      } catch (e) {
        if (!missing(e)) throw unavailable(`checking s3://${target.bucket}/${manifest}`, e);
      }
      for (const key of removalOrder(image.files)) {
        try {
          await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }));
        } catch (e) {
          throw unavailable(`deleting s3://${target.bucket}/${key}`, e);
        }
      }
      return true;
    },
    async *listMediaEntries() {
      const limit = pLimit(ENTRY_READS);
      const index = `${target.prefix}${MEDIA_INDEX_DIR}/`;
      for await (const page of objects(index)) {
        const read = page
          .filter((o) => {
            const parts = (o.Key ?? '').slice(index.length).split('/');
            return parts.length === 2 && isMediaEntryPath(parts[0]!, parts[1]!);
          })
          .map((o) =>
            limit(async (): Promise<MediaIndexFile | null> => {
              let text: string;
              try {
                const out = await client.send(new GetObjectCommand({ Bucket: target.bucket, Key: o.Key }));
                text = (await out.Body?.transformToString('utf8')) ?? '';
              } catch (e) {
                // Gone since the listing (another gc): nothing to report.
                if (missing(e)) return null;
                throw unavailable(`reading s3://${target.bucket}/${o.Key}`, e);
              }
              const modifiedAt = o.LastModified?.getTime() ?? 0;
              return { file: o.Key!, sha256: readMediaEntry(text)?.sha256 ?? null, modifiedAt };
            }),
          );
        for (const entry of await Promise.all(read)) if (entry) yield entry;
      }
    },
    async removeMediaEntry(entry) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: entry.file }));
      } catch (e) {
        throw unavailable(`deleting s3://${target.bucket}/${entry.file}`, e);
      }
    },
    close: () => client.destroy(),
  };
}
