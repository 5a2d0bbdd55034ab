import { CsvRowTooLongError, readCsvRecords, readCsvRows } from './csv';

async function* chunked(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}
async function rows(text: string, size = 1 << 20) {
  const out = [];
  for await (const r of readCsvRows(chunked(text, size), 10_000))
    out.push(r.error ? { fields: r.fields, error: r.error } : r.fields);
  return out;
}

describe('readCsvRows', () => {
  test.each([
    {
      name: 'plain LF rows',
      text: 'a,b\n1,2\n',
      want: [
        ['a', 'b'],
        ['1', '2'],
      ],
    },
    {
      name: 'CRLF rows, no final newline',
      text: 'a,b\r\n1,2',
      want: [
        ['a', 'b'],
        ['1', '2'],
      ],
    },
    {
      name: 'a BOM',
      text: '\uFEFFa,b\n1,2',
      want: [
        ['a', 'b'],
        ['1', '2'],
      ],
    },
    { name: 'quoted commas', text: '"x, y",z', want: [['x, y', 'z']] },
    { name: 'doubled quotes', text: '"say ""hi""",2', want: [['say "hi"', '2']] },
    {
      name: 'embedded newlines',
      text: '"line 1\nline 2",b\nc,d',
      want: [
        ['line 1\nline 2', 'b'],
        ['c', 'd'],
      ],
    },
    { name: 'empty fields', text: ',,\n', want: [['', '', '']] },
    { name: 'blank lines skipped', text: 'a\n\n\nb\n', want: [['a'], ['b']] },
    { name: 'an empty quoted field is kept', text: '""\n', want: [['']] },
    { name: 'accents', text: 'Montréal,Québec', want: [['Montréal', 'Québec']] },
    {
      name: 'a stray quote',
      text: 'ab"c,d\n',
      want: [{ fields: ['ab"c', 'd'], error: 'a quote inside the unquoted field 1' }],
    },
    {
      name: 'text after a closing quote',
      text: '"ab"c,d',
      want: [{ fields: ['abc', 'd'], error: 'text after the closing quote of field 1' }],
    },
    {
      name: 'an unterminated quote',
      text: 'a,"bc',
      want: [{ fields: ['a', 'bc'], error: 'an unterminated quote in field 2' }],
    },
  ])('$name, in any chunking', async ({ text, want }) => {
    for (const size of [1, 2, 3, 5, 1 << 20]) expect(await rows(text, size)).toEqual(want);
  });

  test('line numbers count quoted newlines', async () => {
    const lines = [];
    for await (const r of readCsvRows(chunked('a\n"x\ny"\nb\r\nc', 3), 1000)) lines.push(r.line);
    expect(lines).toEqual([1, 2, 4, 5]);
  });

  test('a runaway row stops at the limit', async () => {
    const gen = readCsvRows(chunked(`a\n"${'x'.repeat(5000)}`, 100), 1000);
    await expect(async () => {
      for await (const _ of gen);
    }).rejects.toThrow(CsvRowTooLongError);
  });
});

describe('readCsvRecords', () => {
  test('maps rows to the header and reports rows with the wrong field count', async () => {
    const out = [];
    for await (const r of readCsvRecords(chunked(' ListingKey , City\nA,Austin\nB\nC,"Québec"\n', 4), 1000))
      out.push(r);
    expect(out).toEqual([
      { ok: true, record: { ListingKey: 'A', City: 'Austin' }, line: 2, text: 'A,Austin' },
      { ok: false, reason: 'the row has 1 fields but the header has 2', line: 3, text: 'B' },
      { ok: true, record: { ListingKey: 'C', City: 'Québec' }, line: 4, text: 'C,"Québec"' },
    ]);
  });

  test.each([
    { text: '', reason: 'the feed is empty' },
    { text: 'a,a\n1,2', reason: 'empty or duplicate column names' },
  ])('rejects a bad header: $reason', async ({ text, reason }) => {
    await expect(async () => {
      for await (const _ of readCsvRecords(chunked(text, 10), 1000));
    }).rejects.toThrow(`the CSV header row is invalid: ${reason}`);
  });
});
