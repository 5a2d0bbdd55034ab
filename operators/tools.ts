/**
 * The tools operators offer the CLI beside their workers, and the one lookup for them: the CLI asks for a
 * tool by name (`toolOf('feedReader')`) and the registry says which operator offers it, so no command names
 * an operator (the same way k8s/deploy-needs.ts reads `deploy` declarations). Each tool's type is here,
 * beside the registry, because the runtime knows none (runtime/operator.ts OperatorTools is augmented below).
 */
import type { OperatorTools, OutputPorts, OwnerContext } from '../runtime/operator';
import type {
  IngestJob,
  ListingStatus,
  RawListing,
  SourceDeclaration,
  SourceState as SourceStateRecord,
} from '../schemas/generated/types';
import { operators } from './index';
import type { BlobInventory } from './images/blob-store/inventory';
import type { CheckReport } from './normalize/profiles/check';
import type { Queryable } from './publish/db';
import type { GetResult, ListingCard, ListingSummary, SearchOptions } from './publish/queries';
import type { DeletionReader } from './sources/deletes';

export type { BlobInventory, MediaIndexFile, StoredImageEntry } from './images/blob-store/inventory';
export type { CheckReport, OtherRejection, UnknownField, UnmappedValue } from './normalize/profiles/check';
export type { Queryable } from './publish/db';
export type { GetResult, ListingCard, ListingSummary, SearchOptions } from './publish/queries';

/** Reads a feed into raw records as the operator's worker would, with no broker (`profile check`). */
export interface FeedReader {
  /**
   * The first `limit` records of `job`'s feed, with the worker's settings from `env` (a local file is
   * allowed from its own folder). `unreadable` says why the feed as a whole could not be read.
   */
  read(
    job: IngestJob,
    limit: number,
    env: NodeJS.ProcessEnv,
  ): Promise<{ records: RawListing[]; unreadable?: { code: string; message: string } }>;
}

/** The source profiles the operator applies (`profile check`, and `--profile` of `ingest`). */
export interface SourceProfiles {
  /** The profile a record that names none is read with. */
  readonly defaultProfile: string;
  /** Every profile name there is: the built-in ones and those of the operator's profiles directory in `env`. */
  names(env: NodeJS.ProcessEnv): string[];
  /** What `profile` leaves unmapped in `records` (the profile file is named as a reader would open it). */
  check(records: readonly RawListing[], profile: string, env: NodeJS.ProcessEnv): CheckReport;
  /** The lines to add to the profile file for what the report lists. */
  suggestedLines(report: CheckReport): string[];
  /** How each profile reads a deletion (a source's delete rule must agree with its profile's reading). */
  deletionReaders(env: NodeJS.ProcessEnv): ReadonlyMap<string, DeletionReader>;
}

/** The reads of the published view (`listings get|search`, `ingest --wait`'s row check, the status page). */
export interface PublishedListings {
  /** The statuses a search shows when it names none: the listings on the market. */
  readonly onMarket: readonly ListingStatus[];
  get(db: Queryable, id: string): Promise<GetResult>;
  search(db: Queryable, opts: SearchOptions): Promise<ListingSummary[]>;
  /** When the view's row of each of `ids` was written (ms), for the ids it holds. */
  publishedAt(db: Queryable, ids: readonly string[]): Promise<Map<string, number>>;
  /** The most recently published, newest first; with `sourcePrefix`, only sources starting with it. */
  newest(
    db: Queryable,
    opts: { readonly limit: number; readonly sourcePrefix?: string | undefined },
  ): Promise<ListingCard[]>;
  /** The sha256 of every stored image a row of the view references (`blobs gc` keeps these). */
  imageHashes(db: Queryable): Promise<Set<string>>;
  /** Every row of one source, any status (the replication demo's check against the source's truth). */
  ofSource(db: Queryable, source: string): Promise<ListingSummary[]>;
}

/** The photos' blob store as an inventory (`blobs gc`), opened with the operator's settings from `env`. */
export interface PhotoStore {
  open(env: NodeJS.ProcessEnv): BlobInventory;
}

/** What the CLI shows of a declared source. */
export interface DeclaredSource {
  readonly name: string;
  readonly kind: string;
  /** The resource URL (reso-web-api), or the feed's (snapshot kinds). */
  readonly resource?: string;
  readonly pollIntervalMs: number;
  readonly profile?: string;
  readonly country?: string;
  readonly currency?: string;
}

/** The profiles a sources file is checked against (SourceProfiles: deletionReaders, defaultProfile). */
export interface ProfileCheck {
  readonly profiles: ReadonlyMap<string, DeletionReader>;
  readonly defaultProfile: string;
}

/** A source's state as the CLI shows it (the SourceState record, decoded). */
export interface SourceStateView {
  readonly cursor?: { readonly timestamp: string; readonly key: string };
  readonly photoCursor?: { readonly timestamp: string; readonly key: string };
  readonly initialDone: boolean;
  /** A snapshot source's progress through its current snapshot (kind file|http). */
  readonly snapshot?: {
    /** sha256 of the snapshot's records. */
    readonly id: string;
    /** Records read through the last committed chunk. */
    readonly position: number;
    /** Records in the snapshot; null in states written before it was kept. */
    readonly total: number | null;
    readonly done: boolean;
    /** ISO instant of the poll that first read it; null in states written before it was kept. */
    readonly takenAt: string | null;
  };
  /** The last snapshot refused for deleting too much, until one commits (SOURCE_SNAPSHOT_REFUSED). */
  readonly refused?: {
    readonly snapshot: string;
    readonly at: string;
    readonly code: string;
    readonly message: string;
    readonly known: number;
    readonly listed: number;
    readonly deletes: number;
  };
  /** ISO instant of the last committed page; '' before the first. */
  readonly lastPoll: string;
  readonly counts: {
    readonly records: number;
    readonly deletes: number;
    readonly pages: number;
    readonly requests: number;
  };
}

/** The ports of an owning replication step: its pages, its state and the keys it holds. */
export type ReplicationPorts = { raw: 'RawListing'; state: 'SourceState'; keys: 'SourceKey' };

/**
 * What an owner of one source gets from whoever runs it (the sources worker, or the CLI for `sources sync`):
 * the source's transactional writer, its last committed state, an abort signal. Config and services come from
 * the tool itself, out of `env`, as the worker reads them.
 */
export type OwnerIo<P extends OutputPorts> = Omit<OwnerContext<unknown, unknown, P>, 'config' | 'services'>;

export interface SyncSummary {
  readonly pages: number;
  readonly records: number;
  readonly deletes: number;
  readonly requests: number;
  readonly started: SourceStateView | undefined;
  readonly state: SourceStateView;
}

/** Source replication for the CLI (`sources apply|list|sync|reset`, `ingest --source`, status). */
export interface SourceReplication {
  /** The sources file the settings in `env` name (LISTFLOW_SOURCES_FILE), else the shipped one, else undefined. */
  sourcesFile(env: NodeJS.ProcessEnv): string | undefined;
  /** The sources of `file`, validated (SOURCES_INVALID lists every problem); with `check`, delete rules too. */
  load(file: string, check?: ProfileCheck): { readonly file: string; readonly sources: readonly DeclaredSource[] };
  /** The declaration records of `file` (what `sources apply` writes), validated as `load` does. */
  declarations(file: string, check: ProfileCheck, now: Date): SourceDeclaration[];
  /** The source a declaration record declares (validated again, SOURCES_INVALID otherwise). */
  sourceOf(d: SourceDeclaration): DeclaredSource;
  /** A state record, decoded. */
  stateOf(r: SourceStateRecord): SourceStateView;
  /**
   * The state a start from `from` (an instant with offset) is: the cursor just before every record at that
   * instant, the rest of `current` kept. Undefined when `from` is not an instant.
   */
  stateFrom(source: string, from: string, current: SourceStateRecord | undefined): SourceStateRecord | undefined;
  /** Records past the state's cursor by one `$count` request (undefined when the server gives no count). */
  remaining(
    d: SourceDeclaration,
    state: SourceStateRecord | undefined,
    env: NodeJS.ProcessEnv,
    signal: AbortSignal,
  ): Promise<number | undefined>;
  /**
   * The first `limit` records of the declared reso-web-api source `name` of `file`, as a first load would fetch
   * them (its query, auth and limits, through the guarded client) and as the RawListings its worker would
   * produce. Nothing is written and no state is read: `profile check --source` onboards a source with this.
   * Undefined when the source is not a reso-web-api one (its feed is checked as a file or URL instead).
   */
  firstRecords(
    file: string,
    name: string,
    o: { readonly env: NodeJS.ProcessEnv; readonly limit: number; readonly signal: AbortSignal },
  ): Promise<RawListing[] | undefined>;
  /**
   * One sync of the declared source until caught up, through the owner's writer (the worker's commit path:
   * a page and its state per transaction), from its last committed state or `from` (an instant: a backfill).
   */
  syncOnce(
    d: SourceDeclaration,
    io: OwnerIo<ReplicationPorts>,
    o: {
      readonly env: NodeJS.ProcessEnv;
      readonly from?: string;
      /** Apply a snapshot that the mass-delete guard refuses (snapshot sources only). */
      readonly allowMassDelete?: boolean;
    },
  ): Promise<SyncSummary>;
}

declare module '../runtime/operator' {
  interface OperatorTools {
    readonly feedReader: FeedReader;
    readonly sourceProfiles: SourceProfiles;
    readonly publishedListings: PublishedListings;
    readonly photoStore: PhotoStore;
    readonly sourceReplication: SourceReplication;
  }
}

/** The name of the one operator offering the tool `name` (a step running it is where the tool's data lives). */
export function operatorOfTool(name: keyof OperatorTools): string {
  const offering = Object.values(operators).filter((o) => o.tools?.[name] !== undefined);
  if (offering.length !== 1) {
    throw new Error(`Expected one operator offering the ${name} tool but found ${offering.length}.`);
  }
  return offering[0]!.name;
}

/** The tool `name`, from the one operator in the registry that offers it (an error when none or several do). */
export function toolOf<K extends keyof OperatorTools>(name: K): OperatorTools[K] {
  const offering = Object.values(operators).filter((o) => o.tools?.[name] !== undefined);
  if (offering.length !== 1) {
    throw new Error(
      `Expected one operator offering the ${name} tool but found ${offering.length} (${offering.map((o) => o.name).join(', ') || 'none'}).`,
    );
  }
  return offering[0]!.tools![name] as OperatorTools[K];
}
