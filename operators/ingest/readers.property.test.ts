/**
 * Property-based tests (fast-check) of the two hand-written streaming parsers of ingest: on valid input they
 * agree with a maintained parser (JSON.parse, csv-parse), whatever the chunking; on mutated input they never
 * throw anything but their own typed errors (which ingest turns into INGEST_FEED_FORMAT_INVALID).
 */
import { parse as parseCsv } from 'csv-parse/sync';
import fc from 'fast-check';
import { CsvRowTooLongError, readCsvRows } from './csv';
import { JsonArrayScanner, JsonFrameError } from './json-scanner';

const RUNS = { numRuns: 300 };

/** Cuts `text` at the given (sorted, deduplicated) positions. */
function cut(text: string, at: readonly number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of points) {
    out.push(text.slice(from, p));
    from = p;
  }
  out.push(text.slice(from));
  return out;
}

const cuts = fc.array(fc.nat(), { maxLength: 20 });

function scanAll(mode: 'array' | 'odata', chunks: readonly string[]) {
  const scanner = new JsonArrayScanner(mode, 1_000_000);
  const texts: string[] = [];
  for (const c of chunks) texts.push(...scanner.push(c).map((e) => e.text));
  scanner.end();
  return { texts, nextLink: scanner.nextLink };
}

const whitespace = fc.constantFrom('', ' ', '\n', '\t', '\r\n', '  \n ');

describe('JsonArrayScanner agrees with JSON.parse', () => {
  test('a JSON array: every element, in order, however it is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), whitespace, cuts, (values, ws, at) => {
        const text = `${ws}[${ws}${values.map((v) => JSON.stringify(v, null, ws.length > 1 ? 1 : 0)).join(`${ws},${ws}`)}${ws}]${ws}`;
        const { texts } = scanAll('array', cut(text, at));
        expect(texts.map((t) => JSON.parse(t))).toEqual(JSON.parse(text));
      }),
      RUNS,
    );
  });

  test('an OData page: the value array and the nextLink, among other keys', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 6 }),
        fc.option(fc.string(), { nil: undefined }),
        fc.dictionary(
          fc.string().filter((k) => k !== 'value' && k !== '@odata.nextLink'),
          fc.jsonValue(),
          { maxKeys: 3 },
        ),
        cuts,
        (value, nextLink, others, at) => {
          const page = { ...others, value, ...(nextLink === undefined ? {} : { '@odata.nextLink': nextLink }) };
          const text = JSON.stringify(page);
          const scanned = scanAll('odata', cut(text, at));
          expect(scanned.texts.map((t) => JSON.parse(t))).toEqual(JSON.parse(text).value);
          expect(scanned.nextLink).toBe(nextLink);
        },
      ),
      RUNS,
    );
  });

  test('mutated input: elements or a JsonFrameError, never another exception', () => {
    const mutation = fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 6 }),
        fc.array(mutation, { minLength: 1, maxLength: 5 }),
        fc.constantFrom('array' as const, 'odata' as const),
        cuts,
        (values, mutations, mode, at) => {
          let text = mode === 'array' ? JSON.stringify(values) : JSON.stringify({ value: values });
          for (const [pos, del, ins] of mutations) {
            const p = pos % (text.length + 1);
            text = text.slice(0, p) + ins + text.slice(p + del);
          }
          try {
            scanAll(mode, cut(text, at));
          } catch (e) {
            expect(e).toBeInstanceOf(JsonFrameError);
          }
        },
      ),
      RUNS,
    );
  });
});

/** RFC 4180 quoting: a field with a comma, a quote, CR or LF is quoted and its quotes doubled. */
const quote = (f: string): string => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f);

async function* from(chunks: readonly string[]): AsyncGenerator<string> {
  for (const c of chunks) yield c;
}

async function csvRows(chunks: readonly string[], maxRowChars = 1_000_000) {
  const out: { fields: string[]; error?: string }[] = [];
  for await (const r of readCsvRows(from(chunks), maxRowChars))
    out.push(r.error ? { fields: r.fields, error: r.error } : { fields: r.fields });
  return out;
}

// Fields with the characters that matter to CSV, and some that do not.
const csvField = fc
  .array(fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '\u00a0', 'x"y'), { maxLength: 6 })
  .map((parts) => parts.join(''));

describe('readCsvRows agrees with csv-parse', () => {
  test('quoted fields, doubled quotes, embedded newlines, LF, CRLF or a lone CR, a BOM, however the text is chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 5 })
          .chain((width) =>
            fc.array(fc.array(csvField, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 6 }),
          ),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.boolean(),
        cuts,
        async (records, eol, bom, at) => {
          // A row of one empty field is a blank line to both parsers; keep rows that say something.
          const kept = records.filter((r) => !(r.length === 1 && r[0] === ''));
          const text = `${bom ? '\uFEFF' : ''}${kept.map((r) => r.map(quote).join(',')).join(eol)}${eol}`;
          const expected = parseCsv(text, {
            bom: true,
            relax_column_count: true,
            skip_empty_lines: true,
          }) as string[][];
          const got = await csvRows(cut(text, at));
          expect(got.map((r) => r.fields)).toEqual(expected);
          expect(got.filter((r) => r.error)).toEqual([]);
        },
      ),
      RUNS,
    );
  });

  test('mutated input: rows (some marked malformed) or a CsvRowTooLongError, never another exception', async () => {
    const mutation = fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.constantFrom('"', ',', '\n', '\r', '\0', 'x', '""'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(csvField, { minLength: 2, maxLength: 2 }), { minLength: 1, maxLength: 5 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        cuts,
        async (records, mutations, at) => {
          let text = records.map((r) => r.map(quote).join(',')).join('\n');
          for (const [pos, del, ins] of mutations) {
            const p = pos % (text.length + 1);
            text = text.slice(0, p) + ins + text.slice(p + del);
          }
          try {
            await csvRows(cut(text, at), 64);
          } catch (e) {
            expect(e).toBeInstanceOf(CsvRowTooLongError);
          }
        },
      ),
      RUNS,
    );
  });
});
