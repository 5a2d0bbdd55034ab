/**
 * price-changes: a second subscriber of listings.published, added without touching any other operator.
 *
 * - Input: PublishedListing (listings.published; tombstones of deleted listings are skipped by the runtime).
 * - Output: port `changes` -> PriceChanged, only when price (amount or currency) differs from previousPrice.
 * - Key / idempotency: key = listing id (the schema's key: per-listing order on one partition); the header
 *   `listflow.change-id` = `<id>:<modifiedAt ms>` is deterministic, so a replay emits the same event with
 *   the same id and consumers can drop duplicates. No state, no side effects.
 * - Error policy: nothing can fail per record except a decode error, which the runtime dead-letters.
 */
import { defineOperator } from '../../runtime/operator';
import { priceChangesConfig } from './config';
import { detectPriceChange } from './process';

export default defineOperator({
  name: 'price-changes',
  summary: "Emits PriceChanged when a published listing's price moves.",
  input: 'PublishedListing',
  outputs: { changes: 'PriceChanged' },
  config: priceChangesConfig,
  process: (record) => detectPriceChange(record),
});
