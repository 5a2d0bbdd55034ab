/**
 * The pure parts of `listflow dlq`: what a dead letter says (from its headers), grouping for `dlq list`,
 * selection for `dlq redrive`, the ledger key that makes a redrive happen once, and the headers a redriven
 * message carries. Reading and redriving are read.ts and redrive.ts beside it.
 */
import type { MessageHeaders } from '../kafka-client';
import { DLQ_HEADER, headersToStrings } from './build';

/** Header set on every redriven message: the id of the redrive run. */
export const REDRIVE_ID_HEADER = 'listflow.redrive.id';
/** Header set on every redriven message: the dead letter it came from (`<dlq topic>:<partition>:<offset>`). */
export const REDRIVE_OF_HEADER = 'listflow.redrive.of';
/** Compacted topic recording what was redriven, keyed by ledgerKey. */
export const REDRIVE_LEDGER_TOPIC = 'listflow.dlq-redrive-ledger';

/** One message read from a dead-letter topic. */
export interface DeadLetterMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: MessageHeaders | undefined;
  /** Kafka timestamp (ms since epoch, as a string). */
  readonly timestamp: string;
}

/** A dead letter with its headers read. */
export interface DeadLetter {
  readonly ref: LetterRef;
  readonly step: string;
  readonly operator: string;
  readonly code: string;
  readonly kind: string;
  readonly message: string;
  /** Where the message failed: the topic to redrive it to. */
  readonly sourceTopic: string | undefined;
  readonly sourcePartition: string | undefined;
  readonly sourceOffset: string | undefined;
  readonly attempts: number | undefined;
  /** listflow.failure.last, else the Kafka timestamp. */
  readonly failedAt: Date;
  readonly headers: Readonly<Record<string, string>>;
  readonly raw: DeadLetterMessage;
}

export interface LetterRef {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export const UNKNOWN = '(unknown)';

export function readDeadLetter(m: DeadLetterMessage): DeadLetter {
  const h = headersToStrings(m.headers);
  const last = h[DLQ_HEADER.lastFailure] ? new Date(h[DLQ_HEADER.lastFailure]!) : undefined;
  const failedAt = last && !Number.isNaN(last.getTime()) ? last : new Date(Number(m.timestamp));
  const attempts = h[DLQ_HEADER.attempts] !== undefined ? Number(h[DLQ_HEADER.attempts]) : undefined;
  return {
    ref: { topic: m.topic, partition: m.partition, offset: m.offset },
    step: h[DLQ_HEADER.step] ?? UNKNOWN,
    operator: h[DLQ_HEADER.operator] ?? UNKNOWN,
    code: h[DLQ_HEADER.code] ?? UNKNOWN,
    kind: h[DLQ_HEADER.kind] ?? UNKNOWN,
    message: h[DLQ_HEADER.message] ?? '',
    sourceTopic: h[DLQ_HEADER.topic],
    sourcePartition: h[DLQ_HEADER.partition],
    sourceOffset: h[DLQ_HEADER.offset],
    attempts: attempts !== undefined && Number.isFinite(attempts) ? attempts : undefined,
    failedAt,
    headers: h,
    raw: m,
  };
}

/** `<dlq topic>:<partition>:<offset>`: the ledger key of a dead letter, and how `dlq show` names one. */
export const ledgerKey = (ref: LetterRef): string => `${ref.topic}:${ref.partition}:${ref.offset}`;

/**
 * Parses `<topic>:<partition>:<offset>`. Kafka topic names cannot contain ':', so the last two fields are
 * split from the right. Returns an error sentence instead of throwing.
 */
export function parseLetterRef(s: string): LetterRef | string {
  const m = /^([A-Za-z0-9._-]+):(\d+):(\d+)$/.exec(s.trim());
  if (!m)
    return `Expected <topic>:<partition>:<offset> (e.g. listings.raw.dlq:0:42) but received ${JSON.stringify(s)}.`;
  return { topic: m[1]!, partition: Number(m[2]), offset: String(BigInt(m[3]!)) };
}

export interface LetterGroup {
  readonly step: string;
  readonly operator: string;
  readonly code: string;
  readonly count: number;
  readonly oldest: Date;
  readonly newest: Date;
  /** Dead-letter topics the group's letters are on. */
  readonly topics: readonly string[];
}

/** Groups by step, operator and code; sorted by step, then count (descending), then code. */
export function groupLetters(letters: readonly DeadLetter[]): LetterGroup[] {
  const groups = new Map<string, { g: Omit<LetterGroup, 'topics'>; topics: Set<string> }>();
  for (const l of letters) {
    const k = JSON.stringify([l.step, l.operator, l.code]);
    const cur = groups.get(k);
    if (!cur) {
      groups.set(k, {
        g: { step: l.step, operator: l.operator, code: l.code, count: 1, oldest: l.failedAt, newest: l.failedAt },
        topics: new Set([l.ref.topic]),
      });
      continue;
    }
    cur.topics.add(l.ref.topic);
    cur.g = {
      ...cur.g,
      count: cur.g.count + 1,
      oldest: l.failedAt.getTime() < cur.g.oldest.getTime() ? l.failedAt : cur.g.oldest,
      newest: l.failedAt.getTime() > cur.g.newest.getTime() ? l.failedAt : cur.g.newest,
    };
  }
  return [...groups.values()]
    .map(({ g, topics }) => ({ ...g, topics: [...topics].sort() }))
    .sort((a, b) => a.step.localeCompare(b.step) || b.count - a.count || a.code.localeCompare(b.code));
}

export interface LetterFilter {
  /** Step id or operator name. */
  readonly step?: string | undefined;
  readonly code?: string | undefined;
  /** Inclusive lower bound on failedAt. */
  readonly since?: Date | undefined;
  /** Exclusive upper bound on failedAt. */
  readonly until?: Date | undefined;
}

export function matchesFilter(l: DeadLetter, f: LetterFilter): boolean {
  if (f.step !== undefined && l.step !== f.step && l.operator !== f.step) return false;
  if (f.code !== undefined && l.code !== f.code) return false;
  if (f.since !== undefined && l.failedAt.getTime() < f.since.getTime()) return false;
  if (f.until !== undefined && l.failedAt.getTime() >= f.until.getTime()) return false;
  return true;
}

/** Why a letter cannot be redriven, or undefined when it can. */
export function notRedrivable(l: DeadLetter): string | undefined {
  if (!l.sourceTopic) return `it has no ${DLQ_HEADER.topic} header`;
  const v = l.raw.value;
  // Rejects of a part of the input (a bad line of a feed) carry the rejected text, not the original message:
  // sending it back would only fail again. Original messages are Confluent wire format (magic byte 0).
  if (v === null || v.length < 5 || v[0] !== 0) return 'its value is not the original message (not Avro wire format)';
  return undefined;
}

/**
 * Headers of the redriven message: the original ones, without what the dead-letter writer added
 * (listflow.error.*, listflow.source.*, step, operator, attempts, failure times, listflow.detail.*), plus
 * the redrive id and the letter it came from. The trace id is kept, so the redriven record stays traceable.
 */
export function redriveHeaders(l: DeadLetter, redriveId: string): MessageHeaders {
  const added = new Set<string>(Object.values(DLQ_HEADER).filter((h) => h !== DLQ_HEADER.detailPrefix));
  const out: MessageHeaders = {};
  for (const [k, v] of Object.entries(l.raw.headers ?? {})) {
    if (v === undefined) continue;
    if (added.has(k) || k.startsWith('listflow.error.') || k.startsWith(DLQ_HEADER.detailPrefix)) continue;
    if (k === REDRIVE_ID_HEADER || k === REDRIVE_OF_HEADER) continue;
    out[k] = v;
  }
  out[REDRIVE_ID_HEADER] = redriveId;
  out[REDRIVE_OF_HEADER] = ledgerKey(l.ref);
  return out;
}

/** `50`, `50/s` or `3000/m` -> messages per second. Returns an error sentence when malformed. */
export function parseRate(s: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m))?$/.exec(s.trim());
  const n = m ? Number(m[1]) / (m[2] === 'm' ? 60 : 1) : Number.NaN;
  if (!m || !(n > 0)) return `Expected --rate as N/s or N/m with N > 0 (e.g. 100/s) but received ${JSON.stringify(s)}.`;
  return n;
}

/** An ISO 8601 date-time option, or an error sentence. */
export function parseInstant(name: string, s: string): Date | string {
  const d = new Date(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(d.getTime()))
    return `Expected an ISO 8601 date-time for --${name} (e.g. 2026-01-31T12:00:00Z) but received ${JSON.stringify(s)}.`;
  return d;
}

/** What the ledger records per redriven letter (JSON value of the compacted ledger topic). */
export interface LedgerEntry {
  readonly redriveId: string;
  readonly letter: string;
  readonly targetTopic: string;
  readonly step: string;
  readonly code: string;
  readonly redrivenAt: string;
}
