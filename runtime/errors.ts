/**
 * The one catalogue of Listflow error codes, and the typed errors that carry them.
 *
 * Every failure that reaches a dead letter, a log line or the `listflow_records_failed_total` metric
 * names one of these codes. Codes are stable: rename one and downstream alerting breaks, so add new
 * codes instead. Each entry says what it means and whether the runtime retries it:
 * - `retriable`: transient (network, timeouts, 5xx, broker). Retried with capped, jittered backoff for a
 *   bounded number of attempts, then dead-lettered.
 * - `permanent`: the input itself is wrong (validation, undecodable bytes, corrupt image). Dead-lettered at once.
 * - `bug`: the code is wrong (TypeError and its kin, output not matching its schema). Never retried blindly:
 *   dead-lettered at once with the stack, so that a fix plus `listflow dlq redrive` recovers the message.
 * - `fatal`: the worker cannot continue safely (dead-letter topic unwritable, bad config). It stops without
 *   committing, so nothing is lost.
 */

export type ErrorKind = 'retriable' | 'permanent' | 'bug' | 'fatal';

interface CatalogueEntry {
  readonly kind: ErrorKind;
  readonly description: string;
}

const entry = (kind: ErrorKind, description: string): CatalogueEntry => ({ kind, description });

export const errorCatalogue = {
  // --- Runtime: decoding and encoding (serde) ---
  SERDE_BAD_MAGIC_BYTE: entry(
    'permanent',
    'The message value does not start with the Confluent wire-format magic byte 0.',
  ),
  SERDE_UNKNOWN_SCHEMA_ID: entry(
    'permanent',
    'The schema id in the message header is not known to the schema registry.',
  ),
  SERDE_CORRUPT_AVRO: entry('permanent', 'The Avro body could not be decoded with its writer schema.'),
  SERDE_SCHEMA_MISMATCH: entry('permanent', "The writer schema cannot be resolved to the operator's reader schema."),
  SERDE_ENCODE_FAILED: entry('bug', 'An operator emitted a value that does not match its output schema.'),
  REGISTRY_UNAVAILABLE: entry('retriable', 'The schema registry did not answer or answered 5xx.'),

  // --- Runtime: processing and Kafka ---
  JOB_TIMEOUT: entry('retriable', "The job ran past its deadline (the operator's timeoutMs) and was aborted."),
  OPERATOR_BUG: entry(
    'bug',
    'The operator threw a TypeError, ReferenceError, RangeError or SyntaxError: a defect, not bad input.',
  ),
  UNCLASSIFIED_ERROR: entry(
    'retriable',
    'The operator threw an error that carries no Listflow code; retried as if transient.',
  ),
  KAFKA_PRODUCE_FAILED: entry('retriable', 'Kafka did not acknowledge an output record.'),
  DLQ_WRITE_FAILED: entry('fatal', 'A dead letter could not be written; the worker stops without committing.'),
  CONFIG_INVALID: entry('fatal', 'Configuration failed validation at startup.'),
  PIPELINE_INVALID: entry('fatal', 'The pipeline definition failed validation.'),

  // --- ingest ---
  INGEST_JOB_INVALID: entry('permanent', 'The ingest job itself is invalid (empty source or jobId, unknown format).'),
  INGEST_URI_INVALID: entry('permanent', 'The job URI is not a valid file://, http:// or https:// URI.'),
  INGEST_BLOCKED_URL: entry(
    'permanent',
    'A feed, OData page or redirect URL is refused: a non-public address, a nextLink to another origin, an https to http redirect, or credentials in the URL. Allow a host with LISTFLOW_INGEST_ALLOW_HOSTS.',
  ),
  INGEST_FEED_REFUSED: entry(
    'permanent',
    'The feed server refused the request with a 4xx status other than 401, 403, 404, 408, 410 and 429.',
  ),
  INGEST_FEED_NOT_FOUND: entry('permanent', 'The feed does not exist (missing file, HTTP 404 or 410).'),
  INGEST_FEED_FORBIDDEN: entry(
    'permanent',
    'The feed may not be read: permission denied, HTTP 401/403, or a file:// path outside the configured root.',
  ),
  INGEST_FEED_UNREACHABLE: entry(
    'retriable',
    'The feed could not be fetched for a transient reason (network error, timeout, HTTP 5xx or 429).',
  ),
  INGEST_FEED_TOO_LARGE: entry('permanent', 'The feed is larger than the configured maximum size.'),
  INGEST_FEED_FORMAT_INVALID: entry(
    'permanent',
    'The feed as a whole cannot be parsed in its format (e.g. not a JSON array, no CSV header).',
  ),
  INGEST_RECORD_UNPARSEABLE: entry(
    'permanent',
    'One record of the feed could not be parsed; the rest of the feed goes on.',
  ),
  INGEST_RECORD_NO_LISTING_KEY: entry(
    'permanent',
    'One record of the feed has no ListingKey; the rest of the feed goes on.',
  ),

  // --- normalize ---
  NORMALIZE_PAYLOAD_INVALID: entry('permanent', 'The raw payload is not a JSON object.'),
  NORMALIZE_STATUS_UNKNOWN: entry(
    'permanent',
    "StandardStatus (or MlsStatus) is missing or neither a known RESO or legacy status nor mapped by the record's source profile (the message names the profile file to add it to).",
  ),
  NORMALIZE_PROPERTY_TYPE_UNKNOWN: entry(
    'permanent',
    "PropertyType (or PropertySubType) is neither a known RESO property type nor mapped by the record's source profile (the message names the profile file to add it to).",
  ),
  NORMALIZE_PRICE_INVALID: entry('permanent', 'ListPrice is missing, non-numeric, zero or negative.'),
  NORMALIZE_CURRENCY_INVALID: entry('permanent', 'The currency is neither USD nor CAD.'),
  NORMALIZE_ADDRESS_INVALID: entry('permanent', 'No street address or city could be built from the record.'),
  NORMALIZE_REGION_UNKNOWN: entry(
    'permanent',
    'StateOrProvince is not a US state, DC, or a Canadian province or territory.',
  ),
  NORMALIZE_COUNTRY_UNKNOWN: entry(
    'permanent',
    'Country is not the US or Canada, or contradicts the region, or cannot be inferred.',
  ),
  NORMALIZE_POSTAL_CODE_INVALID: entry(
    'permanent',
    "PostalCode fits neither a US ZIP nor a Canadian postal code for the listing's country.",
  ),
  NORMALIZE_MODIFIED_AT_INVALID: entry('permanent', 'ModificationTimestamp is missing or not an ISO 8601 date-time.'),
  NORMALIZE_NUMBER_INVALID: entry(
    'permanent',
    'A numeric field (bedrooms, bathrooms, year built, area) is not a number.',
  ),
  NORMALIZE_PROFILE_UNKNOWN: entry(
    'permanent',
    'The record names a source profile that is neither built in (pipelines/profiles) nor in LISTFLOW_NORMALIZE_PROFILES_DIR.',
  ),
  PROFILE_INVALID: entry(
    'fatal',
    'A source profile file (pipelines/profiles/<name>.yaml or LISTFLOW_NORMALIZE_PROFILES_DIR) failed validation; the message names the file, field path, value and fix.',
  ),

  // --- sources (replication from RESO Web API servers) ---
  SOURCES_INVALID: entry(
    'fatal',
    'The sources file (pipelines/sources.yaml) failed validation, or names a secret variable that is not set; the message names the file, field path, value and fix.',
  ),
  SOURCE_BLOCKED_URL: entry(
    'permanent',
    "A source's resource, token or nextLink URL is refused: a non-public address, a nextLink to another origin, an https to http redirect, or credentials in the URL. Allow a host with the sources step's allow list.",
  ),
  SOURCE_AUTH_FAILED: entry(
    'permanent',
    'The source refused its credentials: the token endpoint answered 4xx, or a request stayed 401/403 after a fresh token.',
  ),
  SOURCE_UNAVAILABLE: entry(
    'retriable',
    'The source did not answer usably for a transient reason (network error, reset, timeout, 5xx, 429 past its retries).',
  ),
  SOURCE_REFUSED: entry(
    'permanent',
    'The source answered 4xx to a query (for example 400 for a $filter it does not support); the message carries its OData error.',
  ),
  SOURCE_SNAPSHOT_REFUSED: entry(
    'retriable',
    "A snapshot source's (kind file or http) new snapshot would delete more of the source's known listings than its maxDeleteFraction allows, or lists none while listings are known (an empty or truncated feed): nothing of it is written, the refusal is kept in the source's state, and the next poll reads the feed again. Fix the feed, raise maxDeleteFraction, or run `listflow sources sync NAME --once --allow-mass-delete`.",
  ),
  SOURCE_RESPONSE_INVALID: entry(
    'permanent',
    'A page is not an OData collection (no value array, a record without its key or timestamp, a timestamp that is not an instant).',
  ),

  // --- images (asset reason codes; a failed photo never fails its listing) ---
  IMAGE_FETCH_FAILED: entry(
    'permanent',
    'The photo could not be fetched (HTTP error, network error after retries, missing file).',
  ),
  IMAGE_FETCH_TIMEOUT: entry('permanent', 'Fetching the photo exceeded its connect or read timeout.'),
  IMAGE_BLOCKED_URL: entry(
    'permanent',
    'The photo URL is refused: a non-public address, an https to http redirect, bad scheme, or a file:// path outside the root. Allow a host with LISTFLOW_IMAGES_ALLOW_HOSTS.',
  ),
  IMAGE_TOO_LARGE: entry('permanent', 'The photo exceeds the byte limit or the pixel limit (decompression bomb).'),
  IMAGE_UNSUPPORTED: entry('permanent', 'The bytes are not a supported raster image (SVG, text, unknown format).'),
  IMAGE_CORRUPT: entry('permanent', 'The image could not be decoded (truncated, zero bytes, corrupt).'),
  BLOBSTORE_UNAVAILABLE: entry(
    'retriable',
    'The blob store could not be read or written (filesystem error; object store outage, 5xx, throttle or timeout).',
  ),
  BLOBSTORE_ACCESS_DENIED: entry(
    'permanent',
    'The object store refused the request (403, InvalidAccessKeyId, NoSuchBucket, wrong region): fix the bucket, endpoint or credentials, then redrive.',
  ),

  // --- publish ---
  PUBLISH_DB_UNAVAILABLE: entry(
    'retriable',
    'PostgreSQL did not answer, or the transaction failed for a transient reason.',
  ),
  PUBLISH_DB_REJECTED: entry('permanent', 'PostgreSQL refused the row (constraint or data error).'),
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof errorCatalogue;

export const isErrorCode = (s: string): s is ErrorCode => Object.hasOwn(errorCatalogue, s);

/** Base of every error Listflow raises on purpose. `code` comes from the catalogue; `kind` follows from it. */
export class ListflowError extends Error {
  readonly code: ErrorCode;
  readonly detail: Readonly<Record<string, string>>;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.detail = options.detail ?? {};
  }
  get kind(): ErrorKind {
    return errorCatalogue[this.code].kind;
  }
  get retriable(): boolean {
    return this.kind === 'retriable';
  }
}

/** Transient failure: the runtime retries it. Use a code whose kind is `retriable`. */
export class RetriableError extends ListflowError {}

/** The input is wrong and retrying cannot help: the runtime dead-letters it at once. */
export class PermanentError extends ListflowError {}

/** A retriable error that failed on every allowed attempt. */
export class RetriesExhaustedError extends ListflowError {
  readonly attempts: number;
  constructor(last: ListflowError, attempts: number) {
    super(last.code, `${last.message} (gave up after ${attempts} attempts)`, { cause: last, detail: last.detail });
    this.attempts = attempts;
  }
}

/**
 * A startup configuration problem. The message names the field, the value received and the fix,
 * e.g. `Expected integer between 1 and 256 for images.concurrency but received "lots" of type string.
 * Fix: set LISTFLOW_IMAGES_CONCURRENCY to a whole number such as 4.`
 */
export class ConfigError extends ListflowError {
  readonly problems: readonly string[];
  constructor(where: string, problems: string[]) {
    super('CONFIG_INVALID', `Invalid ${where}:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/**
 * A failure the Kafka client reported, as the client seam (runtime/kafka-client/) hands it up when the client's
 * own error does not already carry these fields (kafkajs's do). Not a catalogue code: the caller decides what a
 * failed request means (a produce failure fails the batch, a rebalance makes the member rejoin).
 */
export class KafkaClientError extends Error {
  override readonly name = 'KafkaClientError';
  /** The broker's error name (e.g. REBALANCE_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION), when it named one. */
  readonly type: string | undefined;
  /** Asking again may succeed (a transient broker or network state). */
  readonly retriable: boolean;
  /** The brokers could not be reached at all. */
  readonly connection: boolean;
  constructor(
    message: string,
    opts: { type?: string | undefined; retriable: boolean; connection: boolean; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.type = opts.type;
    this.retriable = opts.retriable;
    this.connection = opts.connection;
  }
}

const BUG_TYPES = [TypeError, ReferenceError, RangeError, SyntaxError];

export interface ClassifiedError {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly message: string;
  readonly error: Error;
}

/**
 * Maps anything thrown by an operator or the runtime to a catalogue code and kind.
 * AbortError from the job deadline becomes JOB_TIMEOUT; TypeError and its kin are bugs; any other
 * uncoded Error is UNCLASSIFIED_ERROR (retried a bounded number of times, then dead-lettered).
 */
export function classifyError(thrown: unknown): ClassifiedError {
  // DOMException (AbortSignal.timeout's reason) is error-like but may come from another realm.
  const errorLike =
    thrown instanceof Error ||
    (typeof thrown === 'object' && thrown !== null && 'name' in thrown && 'message' in thrown);
  const error = errorLike ? (thrown as Error) : new Error(`non-Error thrown: ${safeString(thrown)}`);
  if (error instanceof ListflowError) return { code: error.code, kind: error.kind, message: error.message, error };
  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    return { code: 'JOB_TIMEOUT', kind: 'retriable', message: error.message, error };
  }
  if (BUG_TYPES.some((t) => error instanceof t)) {
    return { code: 'OPERATOR_BUG', kind: 'bug', message: `${error.name}: ${error.message}`, error };
  }
  return { code: 'UNCLASSIFIED_ERROR', kind: 'retriable', message: error.message, error };
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/**
 * Describes a value the way sharp's errors do: `"spoons" of type string`, `-1 of type number`.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  const shown = typeof v === 'string' ? JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v) : safeString(v);
  return `${shown} of type ${Array.isArray(v) ? 'array' : typeof v}`;
}

/** "Expected <what> for <field> but received <value>." plus an optional fix, in one shape everywhere. */
export function invalidParameterMessage(field: string, expected: string, received: unknown, fix?: string): string {
  return `Expected ${expected} for ${field} but received ${describeValue(received)}.${fix ? ` Fix: ${fix}` : ''}`;
}
