/**
 * price-changes: PublishedListing -> PriceChanged when the price moved. Pure: no state, no services, because
 * publish already carries the replaced version's price in previousPrice.
 */
import { type EmitFor, emit } from '../../runtime/operator';
import type { Price, PublishedListing } from '../../schemas/generated/types';

export type PriceChangesEmit = EmitFor<{ changes: 'PriceChanged' }>;

/** Header carrying `<listing id>:<modifiedAt ms>`: the same change always has the same id, for consumers to dedupe. */
export const CHANGE_ID_HEADER = 'listflow.change-id';

export const samePrice = (a: Price, b: Price): boolean => a.amountMinor === b.amountMinor && a.currency === b.currency;

export function detectPriceChange(published: PublishedListing): PriceChangesEmit[] {
  const { listing, previousPrice } = published;
  if (!previousPrice || samePrice(previousPrice, listing.price)) return [];
  return [
    emit.output(
      'changes',
      listing.id,
      { listingId: listing.id, previous: previousPrice, current: listing.price, changedAt: listing.modifiedAt },
      { [CHANGE_ID_HEADER]: `${listing.id}:${listing.modifiedAt.getTime()}` },
    ),
  ];
}
