/**
 * An in-memory stand-in for publish's database, for the dry run only (publish's `dryRun.services`): publish's own code (planBatch,
 * loadCurrent, writePlan and the statements of operators/publish/sql.ts) runs unchanged against it, and it
 * applies those statements' effects, version guards included, to two maps (listings and tombstones).
 *
 * It recognises exactly the statements sql.ts builds (compared by text); any other statement fails as
 * OPERATOR_BUG, so a change to publish's SQL cannot silently make the dry run wrong: the dry-run tests fail.
 * A transaction works on a copy and replaces the maps only when it succeeds (rollback on failure).
 */
import { ListflowError } from '../../runtime/errors';
import type { Db, Queryable } from './db';
import {
  clearTombstones,
  deleteListings,
  LISTING_COLUMNS,
  selectListings,
  selectTombstones,
  upsertListings,
  upsertTombstones,
} from './sql';

export interface MemoryListingRow {
  readonly id: string;
  readonly modified_at: Date;
  /** The jsonb column as its JSON text. */
  readonly document: string;
}

export interface MemoryTombstone {
  readonly id: string;
  readonly modified_at: Date;
  readonly deleted_at: Date;
}

interface State {
  listings: Map<string, MemoryListingRow>;
  tombstones: Map<string, MemoryTombstone>;
}

const TEXT = {
  selectListings: selectListings([]).text,
  selectTombstones: selectTombstones([]).text,
  upsertListings: upsertListings([]).text,
  clearTombstones: clearTombstones([]).text,
  deleteListings: deleteListings([]).text,
  upsertTombstones: upsertTombstones([], new Date(0)).text,
};

const COL = {
  id: LISTING_COLUMNS.indexOf('id'),
  modifiedAt: LISTING_COLUMNS.indexOf('modified_at'),
  document: LISTING_COLUMNS.indexOf('document'),
};

const time = (v: unknown): number => (v instanceof Date ? v : new Date(v as string)).getTime();
const asDate = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));

export class MemoryPublishDb implements Db {
  private state: State = { listings: new Map(), tombstones: new Map() };

  /** Current rows, sorted by id. */
  listings(): MemoryListingRow[] {
    return [...this.state.listings.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  tombstones(): MemoryTombstone[] {
    return [...this.state.tombstones.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const work: State = { listings: new Map(this.state.listings), tombstones: new Map(this.state.tombstones) };
    const result = await fn({
      query: async <R>(text: string, values: readonly unknown[] = []) => ({ rows: apply(work, text, values) as R[] }),
    });
    this.state = work;
    return result;
  }

  async close(): Promise<void> {}
}

function apply(s: State, text: string, values: readonly unknown[]): unknown[] {
  switch (text) {
    case TEXT.selectListings: {
      const ids = new Set(values[0] as string[]);
      return [...s.listings.values()].filter((r) => ids.has(r.id)).sort((a, b) => a.id.localeCompare(b.id));
    }
    case TEXT.selectTombstones: {
      const ids = new Set(values[0] as string[]);
      return [...s.tombstones.values()]
        .filter((t) => ids.has(t.id))
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((t) => ({ id: t.id, modified_at: t.modified_at }));
    }
    case TEXT.upsertListings: {
      const cols = values as unknown[][];
      const ids = cols[COL.id] as string[];
      ids.forEach((id, i) => {
        const modified = asDate(cols[COL.modifiedAt]![i]);
        const cur = s.listings.get(id);
        if (cur && cur.modified_at.getTime() > modified.getTime()) return;
        s.listings.set(id, { id, modified_at: modified, document: String(cols[COL.document]![i]) });
      });
      return [];
    }
    case TEXT.clearTombstones: {
      const [ids, mods] = values as [string[], unknown[]];
      ids.forEach((id, i) => {
        const t = s.tombstones.get(id);
        if (t && t.modified_at.getTime() < time(mods[i])) s.tombstones.delete(id);
      });
      return [];
    }
    case TEXT.deleteListings: {
      const [ids, mods] = values as [string[], unknown[]];
      ids.forEach((id, i) => {
        const r = s.listings.get(id);
        if (r && r.modified_at.getTime() <= time(mods[i])) s.listings.delete(id);
      });
      return [];
    }
    case TEXT.upsertTombstones: {
      const [ids, mods, now] = values as [string[], unknown[], unknown];
      ids.forEach((id, i) => {
        const t = s.tombstones.get(id);
        if (t && t.modified_at.getTime() >= time(mods[i])) return;
        s.tombstones.set(id, { id, modified_at: asDate(mods[i]), deleted_at: asDate(now) });
      });
      return [];
    }
    default:
      throw new ListflowError(
        'OPERATOR_BUG',
        `the dry run's publish database stand-in does not know the statement ${JSON.stringify(text.slice(0, 120))}; teach operators/publish/memory-db.ts the statements of operators/publish/sql.ts`,
      );
  }
}
