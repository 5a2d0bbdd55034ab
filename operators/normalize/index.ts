/**
 * normalize: turns each RawListing into the canonical Listing that downstream teams build on.
 *
 * - Input: RawListing (listings.raw), key `<source>:<ListingKey>`.
 * - Output: port `listings` -> Listing keyed by its id `<source>:<ListingKey>` (the same key as the input).
 * - Rules: RESO field-name variations; StandardStatus and PropertyType to the enums (legacy values too);
 *   price to cents with USD/CAD; US/CA address, region, country and postal code; area in ft² and m²; geo
 *   inside North America or null; description without HTML; photos sorted and deduplicated; modifiedAt in
 *   UTC; fingerprint of the normalized address and unit. See process.ts and the tests beside it.
 * - Idempotency: a pure function of the input record, so a replay writes the same value under the same key.
 * - Errors: a record that breaks a rule throws PermanentError with a NORMALIZE_* code and a message naming
 *   the field and the value received (detail `field`). The runtime dead-letters the original bytes at once,
 *   so `listflow dlq redrive` can replay them after a fix. Throwing rather than emit.reject keeps one policy:
 *   one input, one outcome (a Listing or a dead letter). Nothing is dropped silently; geo out of range is
 *   not an error (null), and photos that are not http(s) are skipped by rule.
 * - Resources: cpuBound. With `threads` on its pipeline step it runs on worker threads; the outcome is the same.
 */
import { defineOperator, emit } from '../../runtime/operator';
import { normalizeConfig } from './config';
import { normalizeListing } from './process';
import { sourceProfiles } from './tools';

export default defineOperator({
  name: 'normalize',
  summary: 'Maps RawListing (RESO, US/CA) to the canonical Listing, or dead-letters it with a reason code.',
  input: 'RawListing',
  outputs: { listings: 'Listing' },
  config: normalizeConfig,
  // Pure CPU per record, no services: a step may run it on threads, off the event loop that does the Kafka I/O.
  cpuBound: true,
  // `profile check` and `ingest --profile` use the profiles this operator applies.
  tools: { sourceProfiles },
  process: (raw, ctx) => {
    const listing = normalizeListing(raw, ctx.config);
    return [emit.output('listings', listing.id, listing)];
  },
});
