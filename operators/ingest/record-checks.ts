/**
 * Checks on one record that a parser accepts but the rest of the pipeline must not get, each returning the
 * reason of a reject (INGEST_RECORD_UNPARSEABLE) or undefined:
 * - text: bytes that were not valid UTF-8 (decoded as U+FFFD) and NUL characters (PostgreSQL refuses them);
 * - JSON text: nesting deeper than MAX_NESTING (a 100,000-level document would exhaust a recursive consumer's
 *   stack) and a key repeated at the top level (parsers disagree on which value wins, so the record is ambiguous);
 * - JSON values: strings with a lone UTF-16 surrogate (`"\ud800"`), which no UTF-8 consumer can store.
 *
 * `__proto__` and `constructor` keys need no check: JSON.parse and the CSV reader create them as own data
 * properties, never as the object's prototype.
 */

/** Deepest nesting of objects and arrays in one record; RESO records nest a few levels (Media, Rooms). */
export const MAX_NESTING = 64;

/** Text-level problems of any record (JSON, NDJSON line, CSV row). */
export function textProblem(text: string): string | undefined {
  if (text.includes('\uFFFD')) return 'the record has bytes that are not valid UTF-8 (decoded as U+FFFD)';
  if (text.includes('\u0000')) return 'the record contains a NUL character';
  return undefined;
}

/** Structure problems of a JSON record's text, in one pass (before JSON.parse: a too-deep text is never parsed). */
export function jsonTextProblem(text: string): string | undefined {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let hasEscape = false;
  let rootIsObject = false;
  let expectKey = false;
  let keyStart = -1;
  let keys: Set<string> | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 92 /* \ */) escaped = hasEscape = true;
      else if (c === 34 /* " */) {
        inString = false;
        if (keyStart >= 0) {
          const raw = text.slice(keyStart, i + 1);
          const key = hasEscape ? safeParseString(raw) : raw.slice(1, -1);
          keyStart = -1;
          keys ??= new Set();
          if (key !== undefined && keys.has(key)) {
            return `the key ${JSON.stringify(key)} appears twice (parsers disagree on which value wins)`;
          }
          if (key !== undefined) keys.add(key);
        }
      }
      continue;
    }
    if (c === 34) {
      inString = true;
      hasEscape = false;
      if (depth === 1 && rootIsObject && expectKey) keyStart = i;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === 0) rootIsObject = c === 123;
      depth++;
      if (depth > MAX_NESTING) return `the record nests deeper than ${MAX_NESTING} levels`;
      if (depth === 1) expectKey = true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
    else if (depth === 1 && c === 58 /* : */) expectKey = false;
    else if (depth === 1 && c === 44 /* , */) expectKey = true;
  }
  return undefined;
}

/** Lone surrogates (and NULs) in a parsed JSON value's strings; looked for only when the text escapes one. */
export function jsonValueProblem(text: string, value: unknown): string | undefined {
  if (!/\\u(?:[dD][89a-fA-F]|0000)/.test(text)) return undefined;
  return stringProblem(value);
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stringProblem(v: unknown): string | undefined {
  if (typeof v === 'string') {
    if (LONE_SURROGATE.test(v)) return 'the record has a string with a lone UTF-16 surrogate (\\uD800-\\uDFFF)';
    if (v.includes('\u0000')) return 'the record contains a NUL character';
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const p = stringProblem(k) ?? stringProblem(x);
    if (p) return p;
  }
  return undefined;
}

function safeParseString(raw: string): string | undefined {
  try {
    return JSON.parse(raw) as string;
  } catch {
    return undefined; // JSON.parse of the whole record reports it
  }
}

/**
 * The digits of a numeric top-level field as written, for numbers beyond 2^53 that JSON.parse rounds
 * (`12345678901234567890` would become "12345678901234567000"). Uses the reviver's source text (Node 21+).
 */
export function numberSource(text: string, field: string): string | undefined {
  const found: Array<{ holder: unknown; source: string }> = [];
  const root = JSON.parse(text, function (this: unknown, key: string, value: unknown, context?: { source?: string }) {
    if (key === field && typeof value === 'number' && context?.source !== undefined) {
      found.push({ holder: this, source: context.source });
    }
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown) as unknown;
  return found.find((f) => f.holder === root)?.source;
}
