/**
 * publish: a batch of EnrichedListing -> one PostgreSQL transaction -> PublishedListing (or a tombstone) per
 * record. Pure apart from ctx.services.db.
 *
 * The version of a listing in the view is the modifiedAt of its row, or of its tombstone after a DELETE.
 * For each record, in offset order, against that version:
 * - older: stale, ignored (no write, no output: the topic already holds something newer);
 * - equal, with the same content (listing and images): a replay; nothing is written and the stored state is
 *   emitted again, identical to the first time (so a batch whose Kafka send failed after its commit republishes
 *   exactly what it committed);
 * - equal, with other content: the same version derived again (a normalize rule changed and the step was
 *   replayed, or a photo that failed before is stored now): the row is replaced, keeping the previousPrice
 *   of the version it replaces, so a replay after a rule change reaches the rows it affects and no others;
 * - newer (or none): applied; DELETE removes the row and leaves a tombstone, anything else is upserted with
 *   previousPrice = the price of the version it replaces.
 */
import type { BatchItem, EmitFor, OperatorContext } from '../../runtime/operator';
import { emit } from '../../runtime/operator';
import type { EnrichedListing, Price, PublishedListing } from '../../schemas/generated/types';
import type { PublishConfig } from './config';
import type { Db, Queryable } from './db';
import {
  clearTombstones,
  type Deletion,
  deleteListings,
  type ListingRow,
  selectListings,
  selectTombstones,
  type TombstoneRow,
  upsertListings,
  upsertTombstones,
} from './sql';

export interface PublishServices {
  readonly db: Db;
}

export type PublishEmit = EmitFor<{ published: 'PublishedListing' }>;
export type PublishContext = Omit<OperatorContext<PublishConfig, PublishServices>, 'input'>;

/** What the view holds for one listing id. */
export type Current =
  | { readonly deleted: false; readonly modifiedAt: Date; readonly document: PublishedListing }
  | { readonly deleted: true; readonly modifiedAt: Date };

export interface Plan {
  /** One list of emits per input record, in order. */
  readonly emits: PublishEmit[][];
  /** Final documents to upsert, one per id. */
  readonly upserts: PublishedListing[];
  readonly deletions: Deletion[];
}

/** Decides every record of a batch against the current view, without touching it. */
export function planBatch(records: readonly EnrichedListing[], current: ReadonlyMap<string, Current>, now: Date): Plan {
  const state = new Map(current);
  const upserts = new Map<string, PublishedListing>();
  const deletions = new Map<string, Deletion>();
  const emits = records.map((r): PublishEmit[] => {
    const l = r.listing;
    const cur = state.get(l.id);
    const v = l.modifiedAt.getTime();
    if (cur && v < cur.modifiedAt.getTime()) return [];
    if (cur && v === cur.modifiedAt.getTime()) {
      if (cur.deleted || l.status === 'DELETE' || sameContent(cur.document, r)) {
        return [emit.output('published', l.id, cur.deleted ? null : cur.document)];
      }
      const rederived: PublishedListing = {
        listing: l,
        images: r.images,
        previousPrice: cur.document.previousPrice,
        publishedAt: now,
      };
      state.set(l.id, { deleted: false, modifiedAt: l.modifiedAt, document: rederived });
      upserts.set(l.id, rederived);
      return [emit.output('published', l.id, rederived)];
    }
    if (l.status === 'DELETE') {
      state.set(l.id, { deleted: true, modifiedAt: l.modifiedAt });
      upserts.delete(l.id);
      deletions.set(l.id, { id: l.id, modifiedAt: l.modifiedAt });
      return [emit.output('published', l.id, null)];
    }
    const previousPrice: Price | null = cur && !cur.deleted ? { ...cur.document.listing.price } : null;
    const doc: PublishedListing = { listing: l, images: r.images, previousPrice, publishedAt: now };
    state.set(l.id, { deleted: false, modifiedAt: l.modifiedAt, document: doc });
    deletions.delete(l.id);
    upserts.set(l.id, doc);
    return [emit.output('published', l.id, doc)];
  });
  return { emits, upserts: [...upserts.values()], deletions: [...deletions.values()] };
}

/** Whether a record carries what a stored document already holds (its listing and images), whatever key order. */
export function sameContent(stored: PublishedListing, record: EnrichedListing): boolean {
  return (
    canonicalJson({ listing: stored.listing, images: stored.images }) ===
    canonicalJson({ listing: record.listing, images: record.images })
  );
}

/** JSON with object keys sorted, so two documents that differ only in key order compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** A PublishedListing from its jsonb form (dates come back as ISO strings). */
export function reviveDocument(doc: unknown): PublishedListing {
  const d = (typeof doc === 'string' ? JSON.parse(doc) : doc) as PublishedListing & {
    listing: { modifiedAt: string | Date };
    publishedAt: string | Date;
  };
  return {
    ...d,
    // A document stored before Listing had localFields reads back as Avro would decode it: null.
    listing: { ...d.listing, localFields: d.listing.localFields ?? null, modifiedAt: new Date(d.listing.modifiedAt) },
    publishedAt: new Date(d.publishedAt),
  };
}

/** Reads (and locks) the current version of every id in the batch. */
export async function loadCurrent(q: Queryable, ids: readonly string[]): Promise<Map<string, Current>> {
  const rows = await q.query<ListingRow>(selectListings(ids).text, selectListings(ids).values);
  const tombs = await q.query<TombstoneRow>(selectTombstones(ids).text, selectTombstones(ids).values);
  const out = new Map<string, Current>();
  for (const t of tombs.rows) out.set(t.id, { deleted: true, modifiedAt: new Date(t.modified_at) });
  for (const r of rows.rows) {
    const m = new Date(r.modified_at);
    const t = out.get(r.id);
    if (!t || t.modifiedAt.getTime() < m.getTime()) {
      out.set(r.id, { deleted: false, modifiedAt: m, document: reviveDocument(r.document) });
    }
  }
  return out;
}

export async function writePlan(q: Queryable, plan: Plan, now: Date): Promise<void> {
  const run = (s: { text: string; values: readonly unknown[] }) => q.query(s.text, s.values);
  if (plan.deletions.length > 0) {
    await run(deleteListings(plan.deletions));
    await run(upsertTombstones(plan.deletions, now));
  }
  if (plan.upserts.length > 0) {
    await run(upsertListings(plan.upserts));
    await run(clearTombstones(plan.upserts));
  }
}

export async function publishBatch(
  items: ReadonlyArray<BatchItem<EnrichedListing>>,
  ctx: PublishContext,
): Promise<PublishEmit[][]> {
  const records = items.map((i) => i.record);
  const ids = [...new Set(records.map((r) => r.listing.id))].sort();
  const now = ctx.clock.now();
  // The emits are handed back only after COMMIT: the runtime produces them, then commits the offsets.
  return ctx.services.db.transaction(async (q) => {
    const plan = planBatch(records, await loadCurrent(q, ids), now);
    await writePlan(q, plan, now);
    ctx.logger.debug(
      { records: records.length, upserts: plan.upserts.length, deletions: plan.deletions.length },
      'publish batch planned',
    );
    return plan.emits;
  });
}
