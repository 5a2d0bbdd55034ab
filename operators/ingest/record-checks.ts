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

/**
 * Structure problems of a JSON record's text, before JSON.parse (a too-deep text is never parsed): the
 * nesting, and how many keys its top-level object has, for `duplicateKeyProblem` after parsing. One pass that
 * jumps over strings with indexOf, so it costs a fraction of the parse.
 */
export function jsonTextProblem(text: string): { problem?: string; topLevelKeys: number } {
  let depth = 0;
  let topLevelKeys = 0;
  let rootIsObject = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = stringEnd(text, i);
      if (end < 0) break; // unterminated: JSON.parse reports it
      // A string at depth 1 of an object followed by ':' is a top-level key.
      if (depth === 1 && rootIsObject && nextNonSpace(text, end + 1) === 58 /* : */) topLevelKeys++;
      i = end;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === 0) rootIsObject = c === 123;
      if (++depth > MAX_NESTING) return { problem: `the record nests deeper than ${MAX_NESTING} levels`, topLevelKeys };
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return { topLevelKeys };
}

/** Index of the quote that closes the string opening at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  let j = start;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return -1;
    let backslashes = 0;
    for (let k = j - 1; text.charCodeAt(k) === 92; k--) backslashes++;
    if (backslashes % 2 === 0) return j;
  }
}

function nextNonSpace(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return c;
  }
  return -1;
}

/**
 * A top-level key written twice: JSON.parse keeps the last value, other parsers the first, so the record is
 * ambiguous. Found by comparing the text's key count with the parsed object's (a merge makes it smaller);
 * only then is the text read again for the name.
 */
export function duplicateKeyProblem(text: string, value: unknown, topLevelKeys: number): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (Object.keys(value).length === topLevelKeys) return undefined;
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const end = stringEnd(text, i);
      if (depth === 1 && nextNonSpace(text, end + 1) === 58) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (seen.has(key)) return `the key ${JSON.stringify(key)} appears twice (parsers disagree on which value wins)`;
        seen.add(key);
      }
      i = end;
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
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
