/** A RawListing for unit tests of the runtime: every field set, `over` changes some. */
import type { RawListing } from '../../schemas/generated/types';

export const rawListing = (over: Partial<RawListing> = {}): RawListing => ({
  jobId: 'j',
  source: 's',
  listingKey: 'L0',
  position: 0,
  receivedAt: new Date(0),
  defaultCountry: null,
  defaultCurrency: null,
  payload: '{}',
  ...over,
});
