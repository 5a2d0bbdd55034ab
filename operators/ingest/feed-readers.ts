/**
 * Feed readers: from a feed's bytes to one item per record, in feed order, for the four formats
 * (JSON array, NDJSON, CSV with a header row, RESO Web API OData pages). Every reader streams: it holds
 * one record (and one chunk) at a time. A record that cannot be read is an item with a reason, not an
 * exception, so the rest of the feed goes on; a feed whose frame is broken throws INGEST_FEED_FORMAT_INVALID.
 */
import { StringDecoder } from 'node:string_decoder';
import type { FeedFormat } from '../../schemas/generated/types';
import { type ErrorCode, PermanentError } from '../../runtime/errors';
import { CsvHeaderError, CsvRowTooLongError, readCsvRecords } from './csv';
import { type IngestServices, type OpenLimits, openFeed, parseFeedUri } from './feed-sources';
import { JsonArrayScanner, JsonFrameError } from './json-scanner';
import { duplicateKeyProblem, jsonTextProblem, jsonValueProblem, numberSource, textProblem } from './record-checks';

export type ConcreteFormat = Exclude<FeedFormat, 'auto'>;

export type FeedItem =
  | { ok: true; listingKey: string; payload: string; position: number; line: number; page: number }
  | { ok: false; code: ErrorCode; reason: string; payload: string; position: number; line: number; page: number };

export interface ReadOptions extends OpenLimits {
  readonly maxRecordBytes: number;
  readonly maxPages: number;
  /** The source profile's listing-key fields, tried before the standard spellings (the older DDF shape keys on ID). */
  readonly keyFields?: readonly string[];
}

/** RESO's name first; then the spellings seen in real feeds. ListingId is the MLS number, not the key. */
const LISTING_KEY_FIELDS = ['ListingKey', 'listingKey', 'listing_key', 'LISTINGKEY', 'ListingKeyNumeric'];

/** Reads the job's feed (all pages of it) and yields one item per record. */
export async function* readFeed(
  uri: string,
  format: FeedFormat,
  services: IngestServices,
  opts: ReadOptions,
): AsyncGenerator<FeedItem> {
  let url = parseFeedUri(uri);
  const keyFields = opts.keyFields?.length
    ? [...new Set([...opts.keyFields, ...LISTING_KEY_FIELDS])]
    : LISTING_KEY_FIELDS;
  // Pages after the first must stay on its origin (or an allow-listed host): a page cannot steer ingest elsewhere.
  const origin = url.protocol === 'file:' ? undefined : url;
  const seen = new Set<string>();
  let position = 0;
  for (let page = 1; ; page++) {
    seen.add(url.href);
    const feed = await openFeed(url, services, opts, page > 1 ? origin : undefined);
    const chunks = decodeUtf8(feed.bytes);
    const peeked = await peekText(chunks, 64 * 1024);
    const fmt: ConcreteFormat =
      page > 1 ? 'reso_odata' : format === 'auto' ? sniffFormat(feed.name, feed.contentType, peeked.head) : format;
    let scanner: JsonArrayScanner | undefined;
    let records: AsyncGenerator<RecordText>;
    if (fmt === 'csv') records = csvRecords(peeked.text, opts.maxRecordBytes);
    else if (fmt === 'ndjson') records = ndjsonRecords(peeked.text, opts.maxRecordBytes);
    else {
      scanner = new JsonArrayScanner(fmt === 'json' ? 'array' : 'odata', opts.maxRecordBytes);
      records = jsonRecords(peeked.text, scanner);
    }
    try {
      for await (const r of records) yield toItem(r, position++, page, keyFields);
    } catch (e) {
      throw asFormatError(e, url.href, fmt);
    }
    if (fmt !== 'reso_odata' || !scanner?.nextLink) return;
    url = nextPage(url, scanner.nextLink, seen);
    if (page >= opts.maxPages) {
      throw new PermanentError(
        'INGEST_FEED_TOO_LARGE',
        `The OData feed has more than ${opts.maxPages} pages (maxPages); stopped before ${url.href}.`,
      );
    }
  }
}

function nextPage(current: URL, link: string, seen: Set<string>): URL {
  let next: URL;
  try {
    next = new URL(link, current);
  } catch {
    throw new PermanentError(
      'INGEST_FEED_FORMAT_INVALID',
      `The OData @odata.nextLink ${JSON.stringify(link)} is not a URL.`,
    );
  }
  if (!['file:', 'http:', 'https:'].includes(next.protocol)) {
    throw new PermanentError(
      'INGEST_URI_INVALID',
      `The OData @odata.nextLink ${next.href} is not file://, http:// or https://.`,
    );
  }
  // A remote server must never steer ingest into the local file system.
  if (current.protocol !== 'file:' && next.protocol === 'file:') {
    throw new PermanentError(
      'INGEST_FEED_FORBIDDEN',
      `The OData page ${current.href} links to the local file ${next.href}; remote feeds may not link to files.`,
    );
  }
  if (seen.has(next.href)) {
    throw new PermanentError('INGEST_FEED_FORMAT_INVALID', `The OData @odata.nextLink loops back to ${next.href}.`);
  }
  return next;
}

function asFormatError(e: unknown, href: string, fmt: ConcreteFormat): unknown {
  if (e instanceof JsonFrameError || e instanceof CsvHeaderError || e instanceof CsvRowTooLongError) {
    return new PermanentError('INGEST_FEED_FORMAT_INVALID', `The ${fmt} feed ${href} cannot be read: ${e.message}.`, {
      cause: e,
    });
  }
  return e;
}

interface RecordText {
  /** The parsed record, or undefined when it could not be parsed. */
  value: unknown;
  text: string;
  line: number;
  reason?: string;
}

function toItem(r: RecordText, position: number, page: number, keyFields: readonly string[]): FeedItem {
  const where = { position, line: r.line, page, payload: r.text };
  const reason = r.reason ?? textProblem(r.text);
  if (reason !== undefined) return { ok: false, code: 'INGEST_RECORD_UNPARSEABLE', reason, ...where };
  if (typeof r.value !== 'object' || r.value === null || Array.isArray(r.value)) {
    const type = Array.isArray(r.value) ? 'array' : r.value === null ? 'null' : typeof r.value;
    return {
      ok: false,
      code: 'INGEST_RECORD_UNPARSEABLE',
      reason: `the record is a JSON ${type}, not an object`,
      ...where,
    };
  }
  const rec = r.value as Record<string, unknown>;
  for (const f of keyFields) {
    const v = rec[f];
    if (typeof v === 'string' && v.trim() !== '') return { ok: true, listingKey: v.trim(), ...where };
    if (typeof v === 'number' && Number.isFinite(v)) {
      // Beyond 2^53 JSON.parse has rounded the number: the key is its digits as written.
      const key = Number.isSafeInteger(v) ? String(v) : (numberSource(r.text, f) ?? String(v));
      return { ok: true, listingKey: key, ...where };
    }
  }
  const got = rec.ListingKey === undefined ? 'no ListingKey field' : `ListingKey ${JSON.stringify(rec.ListingKey)}`;
  return { ok: false, code: 'INGEST_RECORD_NO_LISTING_KEY', reason: `the record has ${got}`, ...where };
}

async function* decodeUtf8(bytes: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const b of bytes) {
    const s = decoder.write(b);
    if (s) yield s;
  }
  const tail = decoder.end();
  if (tail) yield tail;
}

/** Reads up to `min` characters for sniffing, then replays them in front of the rest. */
async function peekText(chunks: AsyncGenerator<string>, min: number) {
  let head = '';
  while (head.length < min) {
    const r = await chunks.next();
    if (r.done) break;
    head += r.value;
  }
  async function* text(): AsyncGenerator<string> {
    if (head) yield head;
    yield* chunks;
  }
  return { head, text: text() };
}

/** `auto`: the name's extension, then the content type, then the first bytes. */
export function sniffFormat(name: string, contentType: string | undefined, head: string): ConcreteFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  const ct = contentType?.toLowerCase() ?? '';
  if (ct.includes('csv')) return 'csv';
  if (ct.includes('ndjson') || ct.includes('jsonl')) return 'ndjson';
  const body = head.replace(/^\uFEFF/, '').trimStart();
  if (body.startsWith('[')) return 'json';
  if (body.startsWith('{')) {
    // An OData page is one object whose keys are `@odata.*` and `value`; NDJSON starts with a listing.
    const key = /^\{\s*"((?:[^"\\]|\\.)*)"/.exec(body)?.[1];
    return key !== undefined && (key === 'value' || key.startsWith('@odata')) ? 'reso_odata' : 'ndjson';
  }
  return 'csv';
}

async function* jsonRecords(chunks: AsyncIterable<string>, scanner: JsonArrayScanner): AsyncGenerator<RecordText> {
  for await (const chunk of chunks) {
    for (const el of scanner.push(chunk)) yield parseJson(el.text, el.line);
  }
  scanner.end();
}

function parseJson(text: string, line: number): RecordText {
  const structure = jsonTextProblem(text);
  if (structure.problem !== undefined) return { value: undefined, text, line, reason: structure.problem };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { value: undefined, text, line, reason: `invalid JSON: ${(e as Error).message}` };
  }
  const problem = duplicateKeyProblem(text, value, structure.topLevelKeys) ?? jsonValueProblem(text, value);
  return problem === undefined ? { value, text, line } : { value: undefined, text, line, reason: problem };
}

async function* ndjsonRecords(chunks: AsyncIterable<string>, maxChars: number): AsyncGenerator<RecordText> {
  let pending = '';
  let line = 1;
  let skipping = false; // inside a line that was already rejected as too long
  let first = true;
  const tooLong = (text: string, n: number): RecordText => ({
    value: undefined,
    text: text.slice(0, 1024),
    line: n,
    reason: `the line is longer than ${maxChars} characters (maxRecordBytes); the dead letter holds its first 1024`,
  });
  // The limit applies to every line, whether it arrived whole in one chunk or across several.
  const lineItem = (text: string, n: number): RecordText | undefined => {
    if (text.length > maxChars) return tooLong(text, n);
    const t = text.trim();
    return t === '' ? undefined : parseJson(t, n);
  };
  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      chunk = chunk.replace(/^\uFEFF/, '');
      first = false;
    }
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      const text = pending + chunk.slice(start, nl);
      pending = '';
      start = nl + 1;
      if (skipping) skipping = false;
      else {
        const item = lineItem(text, line);
        if (item) yield item;
      }
      line++;
    }
    if (skipping) continue;
    pending += chunk.slice(start);
    if (pending.length > maxChars) {
      // Stop buffering a runaway line at once: memory stays bounded however long it is.
      yield tooLong(pending, line);
      pending = '';
      skipping = true;
    }
  }
  if (!skipping) {
    const item = lineItem(pending, line);
    if (item) yield item;
  }
}

async function* csvRecords(chunks: AsyncIterable<string>, maxChars: number): AsyncGenerator<RecordText> {
  for await (const r of readCsvRecords(chunks, maxChars)) {
    // The row as read (NULs included: the JSON of the record would escape them).
    const problem = r.ok ? textProblem(r.text) : r.reason;
    yield problem === undefined && r.ok
      ? { value: r.record, text: JSON.stringify(r.record), line: r.line }
      : { value: undefined, text: r.text, line: r.line, reason: problem ?? 'unreadable CSV row' };
  }
}
