import { JsonArrayScanner, JsonFrameError } from './json-scanner';
import { sniffFormat } from './feed-readers';

function scan(mode: 'array' | 'odata', text: string, size: number) {
  const s = new JsonArrayScanner(mode, 10_000);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)).map((e) => e.text));
  s.end();
  return { elements: out, nextLink: s.nextLink };
}

describe('JsonArrayScanner', () => {
  test.each([
    { mode: 'array', text: '[]', elements: [], nextLink: undefined },
    {
      mode: 'array',
      text: ' [ {"a":1} , {"b":[1,2,{"c":"]}"}]} ]\n',
      elements: ['{"a":1}', '{"b":[1,2,{"c":"]}"}]}'],
      nextLink: undefined,
    },
    {
      mode: 'array',
      text: '[{"q":"a \\" quote, and a \\\\"},{"x":2}]',
      elements: ['{"q":"a \\" quote, and a \\\\"}', '{"x":2}'],
      nextLink: undefined,
    },
    { mode: 'array', text: '[{"a":tru},1]', elements: ['{"a":tru}', '1'], nextLink: undefined },
    {
      mode: 'odata',
      text: '{"@odata.context":"x","value":[{"k":"[1]"},{"k":2}],"@odata.nextLink":"https://h/p?$skip=2"}',
      elements: ['{"k":"[1]"}', '{"k":2}'],
      nextLink: 'https://h/p?$skip=2',
    },
    {
      mode: 'odata',
      text: '{"@odata.nextLink":"p2.json","other":[{"x":1}],"value":[{"k":1}]}',
      elements: ['{"k":1}'],
      nextLink: 'p2.json',
    },
  ] as const)('$mode $text', ({ mode, text, elements, nextLink }) => {
    for (const size of [1, 2, 7, 1000]) expect(scan(mode, text, size)).toEqual({ elements, nextLink });
  });

  test.each([
    { mode: 'array', text: '{"a":1}', message: /expected the document to start with '\['/ },
    { mode: 'array', text: '[{"a":1}', message: /ends before its closing bracket/ },
    { mode: 'array', text: '[{"a":"1}]', message: /ends inside a string/ },
    { mode: 'array', text: '[1] [2]', message: /unexpected data after the end/ },
    { mode: 'array', text: '   ', message: /empty/ },
    { mode: 'odata', text: '{"items":[]}', message: /no "value" array/ },
  ] as const)('frame error: $text', ({ mode, text, message }) => {
    expect(() => scan(mode, text, 3)).toThrow(JsonFrameError);
    expect(() => scan(mode, text, 3)).toThrow(message);
  });

  test('elements longer than the limit are a frame error', () => {
    const s = new JsonArrayScanner('array', 20);
    expect(() => s.push(`[{"a":"${'x'.repeat(50)}"}]`)).toThrow(/longer than 20 characters/);
  });

  test('reports the line where each element starts', () => {
    const s = new JsonArrayScanner('array', 1000);
    expect(s.push('[\n{"a":1},\n\n{"b":2}]').map((e) => e.line)).toEqual([2, 4]);
  });
});

describe('sniffFormat', () => {
  test.each([
    { name: '/f.csv', ct: undefined, head: '[', want: 'csv' },
    { name: '/f.jsonl', ct: undefined, head: '{', want: 'ndjson' },
    { name: '/f', ct: 'text/csv; charset=utf-8', head: 'a,b', want: 'csv' },
    { name: '/f', ct: 'application/x-ndjson', head: '{', want: 'ndjson' },
    { name: '/f.json', ct: undefined, head: '\uFEFF  [{"ListingKey":1}]', want: 'json' },
    { name: '/f.json', ct: undefined, head: '{"@odata.context":"x","value":[]}', want: 'reso_odata' },
    { name: '/f.json', ct: undefined, head: '{\n  "value": [', want: 'reso_odata' },
    { name: '/f', ct: undefined, head: '{"ListingKey":"1"}\n{"ListingKey":"2"}', want: 'ndjson' },
    { name: '/f', ct: undefined, head: 'ListingKey,City', want: 'csv' },
  ])('$name $ct $head -> $want', ({ name, ct, head, want }) => {
    expect(sniffFormat(name, ct, head)).toBe(want);
  });
});
