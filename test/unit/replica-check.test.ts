import { describe, expect, it } from '@jest/globals';
import { ResoDataset } from '../support/reso-server/dataset';
import {
  type ExpectedRow,
  expectedRows,
  type PublishedRow,
  replicaDifferences,
} from '../support/reso-server/replica-check';

const row = (key: string, priceMinor: number, status: string, photoCount: number): PublishedRow => ({
  id: `s:${key}`,
  priceMinor,
  status,
  photoCount,
});
const exp = (priceMinor: number, status: string, photoCount: number): ExpectedRow => ({
  priceMinor,
  status,
  photoCount,
});

describe('replicaDifferences', () => {
  it.each([
    { name: 'an exact replica', e: [['A', exp(100, 'ACTIVE', 2)]], rows: [row('A', 100, 'ACTIVE', 2)], out: [] },
    { name: 'a missing listing', e: [['A', exp(1, 'ACTIVE', 0)]], rows: [], out: ['A missing'] },
    { name: 'a deleted listing still published', e: [], rows: [row('A', 100, 'ACTIVE', 0)], out: ['A not deleted'] },
    {
      name: 'a stale price, status and photo count',
      e: [['A', exp(200, 'PENDING', 3)]],
      rows: [row('A', 100, 'ACTIVE', 2)],
      out: ['A price', 'A status', 'A photos'],
    },
  ] as const)('$name', ({ e, rows, out }) => {
    const d = replicaDifferences('s', new Map(e as unknown as [string, ExpectedRow][]), rows);
    expect(d.map((x) => `${x.key} ${x.what}`)).toEqual(out);
  });
});

describe('expectedRows', () => {
  it('reads each live record as normalize does, and leaves deleted ones out', () => {
    const d = new ResoDataset({ seed: 4, count: 6, deletes: 'status', keyPrefix: 'E' });
    const [a, gone] = d.liveKeys();
    d.changePrice(a!, 250_000);
    d.changeStatus(a!, 'Pending');
    d.remove(gone!);
    const rows = expectedRows({ name: 's', profile: 'reso-dd-2.0', country: 'US', currency: 'USD' }, d);
    expect(rows.has(gone!)).toBe(false);
    expect(rows.get(a!)).toMatchObject({ priceMinor: 25_000_000, status: 'PENDING' });
    expect(rows.get(a!)?.photoCount).toBe(d.records.get(a!)!.Media.length);
  });
});
