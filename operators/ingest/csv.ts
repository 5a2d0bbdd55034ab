/**
 * A streaming RFC 4180 CSV reader: quoted fields, doubled quotes, embedded newlines, CRLF or LF, a UTF-8 BOM.
 * It holds one row at a time, so memory is bounded by the longest row (`maxRowChars`), never the feed.
 */

export interface CsvRow {
  /** Fields of the row, in column order. */
  readonly fields: string[];
  /** 1-based line on which the row starts (rows may span lines through quoted newlines). */
  readonly line: number;
  /** The row's text as read, for dead letters. */
  readonly text: string;
  /** Set when the row is malformed (a quote in an unquoted field, an unterminated quote at the end of the feed). */
  readonly error?: string;
}

/** Thrown when a row grows past the limit: a runaway quote swallows the feed, so the feed cannot be trusted. */
export class CsvRowTooLongError extends Error {
  constructor(
    readonly line: number,
    readonly limit: number,
  ) {
    super(`the CSV row starting on line ${line} is longer than ${limit} characters (an unterminated quote?)`);
  }
}

/** Splits a stream of text chunks into CSV rows. Blank lines are skipped. */
export async function* readCsvRows(chunks: AsyncIterable<string>, maxRowChars: number): AsyncGenerator<CsvRow> {
  let fields: string[] = [];
  let field = '';
  let raw = '';
  let inQuotes = false;
  let quotedField = false; // the current field started with a quote
  let afterQuote = false; // just closed a quoted field; expecting a separator
  let error: string | undefined;
  let line = 1;
  let rowLine = 1;
  let first = true;
  let lastWasCR = false;

  const endRow = (): CsvRow | undefined => {
    fields.push(field);
    const row: CsvRow = error ? { fields, line: rowLine, text: raw, error } : { fields, line: rowLine, text: raw };
    const blank = fields.length === 1 && fields[0] === '' && !quotedField;
    fields = [];
    field = '';
    raw = '';
    quotedField = false;
    afterQuote = false;
    error = undefined;
    return blank ? undefined : row;
  };

  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      // The BOM is looked for in the first chunk that has text (an empty chunk may come first).
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    let start = 0; // start of the raw slice not yet appended to `raw`
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (i > 0) lastWasCR = false;
      if (inQuotes) {
        if (c === 34 /* " */) {
          if (i + 1 < chunk.length) {
            if (chunk.charCodeAt(i + 1) === 34) {
              field += '"';
              i++;
            } else {
              inQuotes = false;
              afterQuote = true;
            }
          } else {
            // The quote is the last char of the chunk: decide with the next chunk.
            inQuotes = false;
            afterQuote = true;
          }
        } else {
          if (c === 10) line++;
          field += chunk[i];
        }
        continue;
      }
      if (c === 44 /* , */) {
        fields.push(field);
        field = '';
        quotedField = false;
        afterQuote = false;
      } else if (c === 10 || c === 13) {
        raw += chunk.slice(start, i);
        start = i + 1;
        if (c === 10 && lastWasCR && i === 0) {
          lastWasCR = false; // the LF of a CRLF split across chunks
          continue;
        }
        if (c === 13) {
          if (i + 1 < chunk.length) {
            if (chunk.charCodeAt(i + 1) === 10) i++;
            start = i + 1;
          } else lastWasCR = true;
        }
        const row = endRow();
        line++;
        rowLine = line;
        if (row) yield row;
      } else if (c === 34) {
        if (afterQuote) {
          // `"a""b"` split across chunks: the closing quote was in fact an escaped one.
          field += '"';
          inQuotes = true;
          afterQuote = false;
        } else if (field === '' && !quotedField) {
          inQuotes = true;
          quotedField = true;
        } else {
          error ??= `a quote inside the unquoted field ${fields.length + 1}`;
          field += '"';
        }
      } else {
        if (afterQuote) {
          error ??= `text after the closing quote of field ${fields.length + 1}`;
          afterQuote = false;
        }
        field += chunk[i];
      }
    }
    raw += chunk.slice(start);
    if (raw.length > maxRowChars) throw new CsvRowTooLongError(rowLine, maxRowChars);
  }
  if (inQuotes) error ??= `an unterminated quote in field ${fields.length + 1}`;
  const last = endRow();
  if (last) yield last;
}

/**
 * Turns rows into records keyed by the header row. Yields either a record or a problem for one row
 * (wrong number of fields, malformed quoting), so that one bad row never stops the feed.
 */
export type CsvRecord =
  | { ok: true; record: Record<string, string>; line: number; text: string }
  | { ok: false; reason: string; line: number; text: string };

export async function* readCsvRecords(
  chunks: AsyncIterable<string>,
  maxRowChars: number,
): AsyncGenerator<CsvRecord, void, undefined> {
  let header: string[] | undefined;
  for await (const row of readCsvRows(chunks, maxRowChars)) {
    if (!header) {
      header = row.fields.map((h) => h.trim());
      if (row.error || header.some((h) => h === '') || new Set(header).size !== header.length) {
        throw new CsvHeaderError(row.error ?? 'empty or duplicate column names');
      }
      continue;
    }
    if (row.error) {
      yield { ok: false, reason: `malformed CSV: ${row.error}`, line: row.line, text: row.text };
      continue;
    }
    if (row.fields.length !== header.length) {
      yield {
        ok: false,
        reason: `the row has ${row.fields.length} fields but the header has ${header.length}`,
        line: row.line,
        text: row.text,
      };
      continue;
    }
    // Own data properties whatever the names: a `__proto__` column is a column, not the record's prototype.
    const record: Record<string, string> = Object.fromEntries(header.map((h, i) => [h, row.fields[i]!]));
    yield { ok: true, record, line: row.line, text: row.text };
  }
  if (!header) throw new CsvHeaderError('the feed is empty');
}

export class CsvHeaderError extends Error {
  constructor(reason: string) {
    super(`the CSV header row is invalid: ${reason}`);
  }
}
