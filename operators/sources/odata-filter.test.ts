import { countOr, evaluateFilter, FilterSyntaxError, filterFields, parseFilter, stringLiteral } from './odata-filter';

const rec = {
  ListingKey: 'L7',
  ModificationTimestamp: '2026-01-05T10:00:00.000500Z',
  OriginatingSystemName: 'mred',
  MlgCanView: true,
  ListPrice: 250000,
  StandardStatus: 'Active',
  City: "O'Hare",
};

describe('the subset real clients send is parsed and evaluated', () => {
  test.each<[string, boolean]>([
    ["OriginatingSystemName eq 'mred'", true],
    ["OriginatingSystemName eq 'other'", false],
    ['ModificationTimestamp gt 2026-01-05T10:00:00.000499Z', true],
    ['ModificationTimestamp gt 2026-01-05T10:00:00.000500Z', false],
    ['ModificationTimestamp ge 2026-01-05T10:00:00.000500Z', true],
    ['ModificationTimestamp ge 2026-01-05T11:00:00.000500+01:00', true],
    [
      "ModificationTimestamp gt 2026-01-05T10:00:00.0005Z or (ModificationTimestamp eq 2026-01-05T10:00:00.0005Z and ListingKey gt 'L6')",
      true,
    ],
    [
      "ModificationTimestamp gt 2026-01-05T10:00:00.0005Z or (ModificationTimestamp eq 2026-01-05T10:00:00.0005Z and ListingKey gt 'L7')",
      false,
    ],
    ["(OriginatingSystemName eq 'mred') and (MlgCanView eq true)", true],
    ['MlgCanView eq false', false],
    ['ListPrice le 250000 and ListPrice gt 100000.5', true],
    ["StandardStatus in ('Pending', 'Active')", true],
    ["StandardStatus in ('Pending')", false],
    ["not (StandardStatus eq 'Active')", false],
    ["City eq 'O''Hare'", true],
    ['Missing eq null', true],
    ["Missing ne 'x'", true],
    ['Missing gt 3', false],
  ])('%s -> %p', (src, expected) => {
    expect(evaluateFilter(parseFilter(src), rec)).toBe(expected);
  });
});

describe('anything else is refused with a position', () => {
  test.each<[string, string]>([
    ['', 'empty filter at position 0'],
    ["OriginatingSystemName == 'mred'", 'unexpected character "=" at position 22'],
    ["OriginatingSystemName eq 'mred", 'unterminated string literal at position 25'],
    ['ListPrice eq', 'expected a literal at position 12'],
    ["contains(City, 'Bos')", 'expected eq, ne, gt, ge, lt, le or in at position 8'],
    ['ModificationTimestamp gt 2026-13-05T10:00:00Z', 'invalid DateTimeOffset 2026-13-05T10:00:00Z at position 25'],
    ['ModificationTimestamp gt 2026-01-05', 'unexpected character "2" at position 25'],
    ['(ListPrice eq 1', "expected ')' at position 15"],
    ['ListPrice eq 1 ListPrice eq 2', 'unexpected token at position 15'],
    ['eq eq 1', 'expected a property name at position 0'],
    ["City in 'Boston'", "expected '(' after in at position 8"],
  ])('%p', (src, message) => {
    expect(() => parseFilter(src)).toThrow(new FilterSyntaxError(0, '').constructor as typeof FilterSyntaxError);
    expect(() => parseFilter(src)).toThrow(message);
  });
});

test('filterFields and countOr (what a strict server checks)', () => {
  const f = parseFilter("(A eq 1 or B eq 2 or A eq 3) and not (C in ('x','y'))");
  expect(filterFields(f).sort()).toEqual(['A', 'B', 'C']);
  expect(countOr(f)).toBe(2);
});

test.each([
  ['plain', "'plain'"],
  ["O'Brien", "'O''Brien'"],
])('stringLiteral(%p)', (s, lit) => {
  expect(stringLiteral(s)).toBe(lit);
  expect(evaluateFilter(parseFilter(`K eq ${lit}`), { K: s })).toBe(true);
});
