/**
 * The mutable in-memory truth behind the project's RESO Web API test server: Property records with Media,
 * built from the sample generator, and the changes a test (or `npm run local`) makes to them. Every
 * change stamps ModificationTimestamp with microsecond precision; several changes can share one instant
 * (`atOneInstant`), which is how ties across page boundaries are made.
 *
 * How a deletion shows depends on the source (`deletes`): MLS Grid sets `MlgCanView` false, others set
 * `StandardStatus` to `Delete`, and Spark or CREA DDF simply stop listing the record (a purge pass finds it).
 * On PropTx a photo change moves PhotosChangeTimestamp without touching ModificationTimestamp.
 */
import { sampleListings } from '../../../samples';

export type DeleteStyle = 'flag' | 'status' | 'purge';

export interface DatasetOptions {
  readonly seed: number;
  readonly count: number;
  /** Records per initial timestamp: 7 with pages of 5 puts ties across every page boundary (default 1). */
  readonly tieSize?: number;
  readonly deletes: DeleteStyle;
  /** false on PropTx: a photo change leaves ModificationTimestamp alone (default true). */
  readonly photoChangeBumpsModification?: boolean;
  /** OriginatingSystemName of every record (MLS Grid filters on it). */
  readonly originatingSystem?: string;
  readonly keyPrefix?: string;
  /**
   * The first record's instant, microseconds since the epoch (default 2026-01-01T00:00:00Z). The local run
   * starts its server from now, so a later run's records come after the cursors an earlier run left.
   */
  readonly baseMicros?: bigint;
}

export interface MediaRecord {
  MediaKey: string;
  /** A path on the server; the server turns it into a URL (signed when the source signs). */
  MediaPath: string;
  MediaModificationTimestamp: string;
  Order: number;
  MediaCategory: 'Photo';
}

export type PropertyRecord = Record<string, unknown> & {
  ListingKey: string;
  ModificationTimestamp: string;
  PhotosChangeTimestamp: string;
  Media: MediaRecord[];
};

/** What a replica must hold for a live listing. */
export interface ListingTruth {
  readonly ListPrice: unknown;
  readonly StandardStatus: unknown;
  readonly ModificationTimestamp: string;
  readonly photos: ReadonlyArray<{ readonly MediaKey: string; readonly MediaModificationTimestamp: string }>;
}

const BASE_US = 1_767_225_600_000_000n; // 2026-01-01T00:00:00Z in microseconds

/** `2026-01-01T00:00:00.000123Z` from microseconds since the epoch. */
export function formatMicros(us: bigint): string {
  const seconds = us / 1_000_000n;
  const micros = us % 1_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${iso}.${micros.toString().padStart(6, '0')}Z`;
}

export class ResoDataset {
  readonly records = new Map<string, PropertyRecord>();
  private clock: bigint;
  private shared: string | undefined;
  private added = 0;
  private mediaSeq = 0;
  /**
   * Bumped by every change, so the server can cache a query's ordered result until the data changes (a
   * full sort per page request is what a benchmark would otherwise measure).
   */
  version = 0;

  constructor(readonly options: DatasetOptions) {
    const tie = options.tieSize ?? 1;
    const prefix = options.keyPrefix ?? `L${options.seed}-`;
    const base = options.baseMicros ?? BASE_US;
    let i = 0;
    for (const s of sampleListings({ seed: options.seed, count: options.count, badRate: 0, keyPrefix: prefix })) {
      // 1.000123 s apart per tie group: whole seconds alone would hide a client that drops microseconds.
      const at = formatMicros(base + BigInt(Math.floor(i / tie)) * 1_000_123n);
      this.records.set(String(s.record.ListingKey), this.build(s.record, at, 1 + (i % 3)));
      i++;
    }
    this.clock = base + BigInt(Math.ceil(options.count / tie) + 1) * 1_000_123n;
  }

  /** The next instant: later than every stamp so far, microseconds set. */
  private stamp(): string {
    this.version++;
    if (this.shared) return this.shared;
    this.clock += 1_000_001n;
    return formatMicros(this.clock);
  }

  /** Runs `fn` with every change inside stamped with one shared instant (ties). */
  atOneInstant(fn: () => void): string {
    const at = this.stamp();
    this.shared = at;
    try {
      fn();
    } finally {
      this.shared = undefined;
    }
    return at;
  }

  /**
   * Runs `fn` with its changes stamped `at`, an instant already used: a late arrival (a record the server
   * commits at an instant a replica may already have read, as servers that stamp before they commit do).
   */
  atPastInstant(at: string, fn: () => void): void {
    this.version++;
    this.shared = at;
    try {
      fn();
    } finally {
      this.shared = undefined;
    }
  }

  private build(sample: Record<string, unknown>, at: string, photos: number): PropertyRecord {
    const { Media: _ignored, ...fields } = sample;
    const key = String(fields.ListingKey);
    const rec: PropertyRecord = {
      ...fields,
      ListingKey: key,
      ModificationTimestamp: at,
      PhotosChangeTimestamp: at,
      OriginatingSystemName: this.options.originatingSystem ?? 'listflow',
      MlgCanView: true,
      Media: [],
    };
    for (let j = 0; j < photos; j++) rec.Media.push(this.photo(key, j + 1, at));
    return rec;
  }

  private photo(key: string, order: number, at: string): MediaRecord {
    const id = `${key}-M${++this.mediaSeq}`;
    return {
      MediaKey: id,
      MediaPath: `/media/${id}.jpg`,
      MediaModificationTimestamp: at,
      Order: order,
      MediaCategory: 'Photo',
    };
  }

  private live(key: string): PropertyRecord {
    const r = this.records.get(key);
    if (!r || this.isDeleted(r)) throw new Error(`no live listing ${key}`);
    return r;
  }

  private touch(r: PropertyRecord): string {
    const at = this.stamp();
    r.ModificationTimestamp = at;
    return at;
  }

  isDeleted(r: PropertyRecord): boolean {
    return r.MlgCanView === false || r.StandardStatus === 'Delete';
  }

  changePrice(key: string, price: number): void {
    const r = this.live(key);
    r.ListPrice = price;
    this.touch(r);
  }

  changeStatus(key: string, status: string): void {
    const r = this.live(key);
    r.StandardStatus = status;
    this.touch(r);
  }

  /** Deletes as the source signals it: a flag, a status, or by disappearing. */
  remove(key: string): void {
    const r = this.live(key);
    if (this.options.deletes === 'purge') {
      this.records.delete(key);
      this.version++;
    } else {
      if (this.options.deletes === 'flag') r.MlgCanView = false;
      else r.StandardStatus = 'Delete';
      this.touch(r);
    }
  }

  /** The record leaves the feed with no change stamped (a hard delete; MLS Grid drops flagged records after 7 days). */
  vanish(key: string): void {
    if (!this.records.delete(key)) throw new Error(`no listing ${key}`);
    this.version++;
  }

  /** Replaces the first photo's content, removes the last (if more than one) and adds one. */
  changePhotos(key: string, o: { replace?: boolean; removeLast?: boolean; add?: number } = { replace: true }): void {
    const r = this.live(key);
    const at = this.stamp();
    if (o.replace && r.Media[0]) {
      r.Media[0].MediaModificationTimestamp = at;
      r.Media[0].MediaPath = `/media/${r.Media[0].MediaKey}.jpg?v=${at}`;
    }
    if (o.removeLast && r.Media.length > 1) r.Media.pop();
    for (let j = 0; j < (o.add ?? 0); j++) r.Media.push(this.photo(key, r.Media.length + 1, at));
    r.PhotosChangeTimestamp = at;
    if (this.options.photoChangeBumpsModification !== false) r.ModificationTimestamp = at;
  }

  addListing(): string {
    const n = this.added++;
    const [sample] = [
      ...sampleListings({
        seed: this.options.seed + 1_000 + n,
        count: 1,
        badRate: 0,
        keyPrefix: `${this.options.keyPrefix ?? ''}N${this.options.seed}-${n}-`,
      }),
    ];
    const rec = this.build(sample!.record, this.stamp(), 2);
    this.records.set(rec.ListingKey, rec);
    return rec.ListingKey;
  }

  /** Keys of live listings, in insertion order. */
  liveKeys(): string[] {
    return [...this.records.values()].filter((r) => !this.isDeleted(r)).map((r) => r.ListingKey);
  }

  /** What a perfect replica holds: every live listing with its price, status and photos. */
  truth(): Map<string, ListingTruth> {
    const out = new Map<string, ListingTruth>();
    for (const r of this.records.values()) {
      if (this.isDeleted(r)) continue;
      out.set(r.ListingKey, {
        ListPrice: r.ListPrice,
        StandardStatus: r.StandardStatus,
        ModificationTimestamp: r.ModificationTimestamp,
        photos: r.Media.map((m) => ({
          MediaKey: m.MediaKey,
          MediaModificationTimestamp: m.MediaModificationTimestamp,
        })),
      });
    }
    return out;
  }
}
