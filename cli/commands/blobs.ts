/**
 * `listflow blobs gc [--grace DURATION] [--dry-run]`: removes stored photos that no listing in PostgreSQL
 * references any more and that are older than the grace period. The store and the references come from the
 * operator registry's tools (operators/tools.ts `photoStore`, `publishedListings`), so no operator is named.
 *
 * The grace period protects images written or rewritten recently, which a listing on its way through the
 * pipeline (stored, not yet published) is about to reference; an images worker that reuses a stored photo
 * touches it, so it counts as recent too, and an image touched after the listing below is skipped. The media
 * index entries (which image a photo identity is) that point at images no longer stored go as well. The dry
 * run lists what would go.
 */
import { BLOB_STORE_ENVS, POSTGRES_URL_ENV } from '../../k8s/deploy-needs';
import { type MediaIndexFile, type StoredImageEntry, toolOf } from '../../operators/tools';
import { type Command, printJson, stringOption, UsageError } from '../command';
import { cliContext } from '../context';

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `36h`, `7d` -> milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined;
}

export const DEFAULT_GRACE = '7d';

export interface GcPlan {
  readonly remove: StoredImageEntry[];
  readonly referenced: number;
  /** Unreferenced but inside the grace period. */
  readonly young: number;
}

/** What goes: unreferenced images whose newest file is at least `graceMs` old. */
export function planGc(
  images: readonly StoredImageEntry[],
  referenced: ReadonlySet<string>,
  nowMs: number,
  graceMs: number,
): GcPlan {
  const remove: StoredImageEntry[] = [];
  let kept = 0;
  let young = 0;
  for (const image of images) {
    if (referenced.has(image.sha256)) kept++;
    else if (nowMs - image.modifiedAt < graceMs) young++;
    else remove.push(image);
  }
  return { remove, referenced: kept, young };
}

/**
 * Media index entries to remove: those naming an image that is not stored once this run is done, or that are
 * damaged. An entry younger than the grace period stays unless its image goes in this run: a worker writes
 * an entry just after storing its image, which may be after the images were listed. A stale entry is never
 * trusted by a worker (it checks the image), so this only keeps the index from growing.
 */
export function planMediaGc(
  entries: readonly MediaIndexFile[],
  storedAfter: ReadonlySet<string>,
  removedNow: ReadonlySet<string>,
  nowMs: number,
  graceMs: number,
): MediaIndexFile[] {
  return entries.filter((e) => {
    if (e.sha256 !== null && storedAfter.has(e.sha256)) return false;
    return (e.sha256 !== null && removedNow.has(e.sha256)) || nowMs - e.modifiedAt >= graceMs;
  });
}

export const blobsCommands: Command[] = [
  {
    path: ['blobs', 'gc'],
    summary: 'Remove stored photos no listing in PostgreSQL references, older than the grace period.',
    maxPositionals: 0,
    options: { grace: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    optionHelp: {
      grace: `Keep unreferenced photos younger than this (e.g. 36h, 7d; default ${DEFAULT_GRACE}).`,
      'dry-run': 'List what would be removed; remove nothing.',
    },
    details: `The store is the settings of the step that writes it (${BLOB_STORE_ENVS.join(', ')}, S3 settings); the references are the image hashes of every row of the listings table (${POSTGRES_URL_ENV}). An image is removed manifest first, so a worker reading it meanwhile renders it again; one a worker reused (touched) since the listing stays. Media index entries that point at images no longer stored are removed too.`,
    async run(args, io) {
      const graceText = stringOption(args, 'grace') ?? DEFAULT_GRACE;
      const graceMs = parseDuration(graceText);
      if (graceMs === undefined) {
        throw new UsageError(`Expected --grace like 90s, 30m, 36h or 7d but received ${JSON.stringify(graceText)}.`);
      }
      const dryRun = args.values['dry-run'] === true;
      const ctx = cliContext();
      const store = toolOf('photoStore').open(ctx.env);
      try {
        // References first: an image published after this read is younger than the grace period anyway.
        const referenced = await toolOf('publishedListings').imageHashes(ctx.pg());
        const images: StoredImageEntry[] = [];
        for await (const image of store.list()) images.push(image);
        const now = Date.now();
        const plan = planGc(images, referenced, now, graceMs);
        const gone: StoredImageEntry[] = [];
        let touched = 0;
        for (const image of plan.remove) {
          if (dryRun || (await store.remove(image))) gone.push(image);
          else touched++;
        }
        const goneSet = new Set(gone.map((i) => i.sha256));
        const storedAfter = new Set(images.map((i) => i.sha256).filter((s) => !goneSet.has(s)));
        const entries: MediaIndexFile[] = [];
        for await (const e of store.listMediaEntries()) entries.push(e);
        const staleEntries = planMediaGc(entries, storedAfter, goneSet, now, graceMs);
        if (!dryRun) for (const e of staleEntries) await store.removeMediaEntry(e);
        const bytes = gone.reduce((n, i) => n + i.bytes, 0);
        if (io.json) {
          printJson(io, {
            store: store.description,
            dryRun,
            graceMs,
            images: images.length,
            referenced: plan.referenced,
            young: plan.young,
            touched,
            removed: gone.map((i) => ({ sha256: i.sha256, files: i.files.length, bytes: i.bytes })),
            bytes,
            mediaEntries: entries.length,
            mediaEntriesRemoved: staleEntries.length,
          });
        } else {
          for (const i of gone)
            io.out(`${dryRun ? 'would remove' : 'removed'} ${i.sha256} (${i.files.length} files, ${i.bytes} bytes)`);
          io.out(
            `${store.description}: ${images.length} images, ${plan.referenced} referenced, ${plan.young} unreferenced within ${graceText}, ${gone.length} ${dryRun ? 'would be removed' : 'removed'} (${bytes} bytes)${touched > 0 ? `, ${touched} kept (reused since listed)` : ''}; ${entries.length} media index entries, ${staleEntries.length} stale ${dryRun ? 'would be removed' : 'removed'}.`,
          );
        }
        return 0;
      } finally {
        store.close();
        await ctx.close();
      }
    },
  },
];
