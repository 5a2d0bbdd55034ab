import { describe, expect, it } from '@jest/globals';
import type { ListingTruth } from '../support/reso-server/dataset';
import { type PublishedRow, replicaDifferences } from '../support/reso-server/replica-check';

const truth = (price: number, status: string, photos: number): ListingTruth => ({
  ListPrice: price,
  StandardStatus: status,
  ModificationTimestamp: '2026-01-01T00:00:00.000001Z',
  photos: Array.from({ length: photos }, (_, i) => ({ MediaKey: `M${i}`, MediaModificationTimestamp: 't' })),
});
const row = (key: string, priceMinor: number, status: string, photoCount: number): PublishedRow => ({
  id: `s:${key}`,
  priceMinor,
  status,
  photoCount,
});

describe('replicaDifferences', () => {
  it.each([
    {
      name: 'an exact replica',
      t: [['A', truth(100, 'Active', 2)]],
      rows: [row('A', 10_000, 'ACTIVE', 2)],
      expected: [],
    },
    {
      name: 'RESO status spellings match the enum',
      t: [
        ['A', truth(1, 'Active Under Contract', 0)],
        ['B', truth(1, 'ActiveUnderContract', 0)],
      ],
      rows: [row('A', 100, 'ACTIVE_UNDER_CONTRACT', 0), row('B', 100, 'ACTIVE_UNDER_CONTRACT', 0)],
      expected: [],
    },
    { name: 'a missing listing', t: [['A', truth(1, 'Active', 0)]], rows: [], expected: ['A missing'] },
    {
      name: 'a deleted listing still published',
      t: [],
      rows: [row('A', 100, 'ACTIVE', 0)],
      expected: ['A not deleted'],
    },
    {
      name: 'a stale price, status and photo count',
      t: [['A', truth(2, 'Pending', 3)]],
      rows: [row('A', 100, 'ACTIVE', 2)],
      expected: ['A price', 'A status', 'A photos'],
    },
  ] as const)('$name', ({ t, rows, expected }) => {
    const d = replicaDifferences('s', new Map(t as unknown as [string, ListingTruth][]), rows);
    expect(d.map((x) => `${x.key} ${x.what}`)).toEqual(expected);
  });
});
