import { buildQuery, type QuerySpec, resolveNextLink } from './query';

const spec: QuerySpec = {
  resource: 'https://api.example/v2/Property',
  timestampField: 'ModificationTimestamp',
  keyField: 'ListingKey',
  tieMode: 'key',
  pageSize: 1000,
  expandMedia: true,
};
const cursor = { timestamp: '2026-01-05T10:00:00.123456Z', key: "O'Brien-1" };
const params = (u: URL) => Object.fromEntries([...new URLSearchParams(u.search)]);

describe('buildQuery', () => {
  test.each<[string, QuerySpec, typeof cursor | undefined, Parameters<typeof buildQuery>[2], Record<string, string>]>([
    [
      'first page: no filter',
      spec,
      undefined,
      { initial: true },
      { $orderby: 'ModificationTimestamp asc,ListingKey asc', $top: '1000', $expand: 'Media' },
    ],
    [
      'key ties: exactly past the pair, the key quoted',
      spec,
      cursor,
      { initial: false },
      {
        $filter:
          "ModificationTimestamp gt 2026-01-05T10:00:00.123456Z or (ModificationTimestamp eq 2026-01-05T10:00:00.123456Z and ListingKey gt 'O''Brien-1')",
        $orderby: 'ModificationTimestamp asc,ListingKey asc',
        $top: '1000',
        $expand: 'Media',
      },
    ],
    [
      'ge ties, source filter and the first-load filter, ANDed in parentheses',
      {
        ...spec,
        tieMode: 'ge',
        filter: "OriginatingSystemName eq 'mred'",
        initialFilter: 'MlgCanView eq true',
        expandMedia: false,
      },
      cursor,
      { initial: true, count: true },
      {
        $filter:
          "(OriginatingSystemName eq 'mred') and (MlgCanView eq true) and (ModificationTimestamp ge 2026-01-05T10:00:00.123456Z)",
        $orderby: 'ModificationTimestamp asc',
        $top: '1000',
        $count: 'true',
      },
    ],
    [
      'after the first load the first-load filter is dropped',
      { ...spec, tieMode: 'ge', initialFilter: 'MlgCanView eq true', expandMedia: false },
      cursor,
      { initial: false },
      {
        $filter: 'ModificationTimestamp ge 2026-01-05T10:00:00.123456Z',
        $orderby: 'ModificationTimestamp asc',
        $top: '1000',
      },
    ],
    [
      'a purge pass: every key, no cursor, no Media',
      { ...spec, filter: "OriginatingSystemName eq 'x'" },
      cursor,
      { initial: false, allKeys: true, select: ['ListingKey'] },
      { $filter: "OriginatingSystemName eq 'x'", $orderby: 'ListingKey asc', $top: '1000', $select: 'ListingKey' },
    ],
    [
      'newest first (the ge probe): the cursor term, ordered by the timestamp descending',
      { ...spec, tieMode: 'ge' },
      cursor,
      { initial: false, newestFirst: true, count: true, top: 1, select: ['ListingKey', 'ModificationTimestamp'] },
      {
        $filter: 'ModificationTimestamp ge 2026-01-05T10:00:00.123456Z',
        $orderby: 'ModificationTimestamp desc',
        $top: '1',
        $select: 'ListingKey,ModificationTimestamp',
        $count: 'true',
      },
    ],
    [
      'a cursor term given (several streams probed at once): ANDed with the source filter, unordered',
      { ...spec, filter: "OriginatingSystemName eq 'x'" },
      undefined,
      { initial: false, cursorTerm: '(A gt 1) or (B gt 2)', top: 1, select: ['ListingKey'] },
      { $filter: "(OriginatingSystemName eq 'x') and ((A gt 1) or (B gt 2))", $top: '1', $select: 'ListingKey' },
    ],
  ])('%s', (_what, s, c, o, expected) => {
    const url = buildQuery(s, c, o);
    expect(params(url)).toEqual(expected);
    expect(url.search).not.toContain('+'); // spaces as %20, which every OData server reads
    expect(url.search).toContain('$top=');
  });

  test('the timestamp is sent as received: microseconds kept', () => {
    expect(decodeURIComponent(buildQuery(spec, cursor, { initial: false }).search)).toContain('10:00:00.123456Z');
  });
});

describe('resolveNextLink', () => {
  const page = new URL('https://api.example/v2/Property?$top=2');
  test.each<[string, string, 'standard' | 'double', string]>([
    ['absolute', 'https://api.example/v2/Property?$skip=2', 'standard', 'https://api.example/v2/Property?$skip=2'],
    ['relative', 'Property?$skiptoken=abc', 'standard', 'https://api.example/v2/Property?$skiptoken=abc'],
    [
      'double-encoded (MLS Grid v1)',
      'https://api.example/v2/Property?$filter=MlgCanView%2520eq%2520true&$skip=2',
      'double',
      'https://api.example/v2/Property?$filter=MlgCanView%20eq%20true&$skip=2',
    ],
    [
      'double, already single',
      'https://api.example/v2/Property?$filter=A%20eq%201',
      'double',
      'https://api.example/v2/Property?$filter=A%20eq%201',
    ],
  ])('%s', (_what, raw, enc, expected) => {
    expect(resolveNextLink(raw, page, enc).href).toBe(expected);
  });
});
