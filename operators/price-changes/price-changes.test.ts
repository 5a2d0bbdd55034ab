import { collect, plainContext } from '../../runtime/operator';
import type { Listing, Price, PublishedListing } from '../../schemas/generated/types';
import priceChanges from './index';

const MODIFIED = new Date('2026-02-03T04:05:06.789Z');
const usd = (amountMinor: number): Price => ({ amountMinor, currency: 'USD' });

function published(price: Price, previousPrice: Price | null): PublishedListing {
  const listing = {
    id: 'bright:X1',
    price,
    modifiedAt: MODIFIED,
  } as Listing;
  return { listing, images: [], previousPrice, publishedAt: new Date('2026-02-03T05:00:00Z') };
}

describe('price-changes', () => {
  test.each([
    ['price cut', usd(50_000_000), usd(48_000_000), true],
    ['price rise', usd(50_000_000), usd(52_500_000), true],
    ['one cent', usd(50_000_000), usd(50_000_001), true],
    ['currency change', usd(50_000_000), { amountMinor: 50_000_000, currency: 'CAD' } as Price, true],
    ['same price', usd(50_000_000), usd(50_000_000), false],
    ['first version (no previous price)', null, usd(50_000_000), false],
  ] as const)('%s -> emits: %s', async (_name, previous, current, emits) => {
    const out = await collect(priceChanges.process!(published(current, previous), plainContext({}, undefined)));
    if (!emits) {
      expect(out).toEqual([]);
      return;
    }
    expect(out).toEqual([
      {
        kind: 'output',
        port: 'changes',
        key: 'bright:X1',
        value: { listingId: 'bright:X1', previous, current, changedAt: MODIFIED },
        headers: { 'listflow.change-id': `bright:X1:${MODIFIED.getTime()}` },
      },
    ]);
  });

  test('a replay emits the identical event', async () => {
    const rec = published(usd(2), usd(1));
    const a = await collect(priceChanges.process!(rec, plainContext({}, undefined)));
    const b = await collect(priceChanges.process!(rec, plainContext({}, undefined)));
    expect(b).toEqual(a);
  });
});
