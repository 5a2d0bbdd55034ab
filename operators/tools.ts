/**
 * The tools operators offer the CLI beside their workers, and the one lookup for them: the CLI asks for a
 * tool by name (`toolOf('feedReader')`) and the registry says which operator offers it, so no command names
 * an operator (the same way k8s/deploy-needs.ts reads `deploy` declarations). Each tool's type is here,
 * beside the registry, because the runtime knows none (runtime/operator.ts OperatorTools is augmented below).
 */
import type { OperatorTools } from '../runtime/operator';
import type { IngestJob, ListingStatus, RawListing } from '../schemas/generated/types';
import { operators } from './index';
import type { BlobInventory } from './images/blob-store/inventory';
import type { CheckReport } from './normalize/profiles/check';
import type { Queryable } from './publish/db';
import type { GetResult, ListingCard, ListingSummary, SearchOptions } from './publish/queries';

export type { BlobInventory, StoredImageEntry } from './images/blob-store/inventory';
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

declare module '../runtime/operator' {
  interface OperatorTools {
    readonly feedReader: FeedReader;
    readonly sourceProfiles: SourceProfiles;
    readonly publishedListings: PublishedListings;
    readonly photoStore: PhotoStore;
  }
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
