/**
 * `listflow listings get|search`: the published view in PostgreSQL, presented. The queries are the sink's,
 * beside its tables, offered through the operator registry (operators/tools.ts `publishedListings`).
 *
 * - get <id>: the full published document of any status; a deleted listing or an unknown id exits 1.
 * - search --city C: listings on the market (the statuses of listing_search) in a city, newest first; with
 *   --status, that status instead (any ListingStatus). card_url comes from listing_search.
 */
import { type ListingSummary, toolOf } from '../../operators/tools';
import { type ListingStatus, ListingStatusValues, type PublishedListing } from '../../schemas/generated/types';
import { type Command, intOption, printJson, stringOption, UsageError } from '../command';
import { cliContext } from '../context';

const listings = toolOf('publishedListings');

class ListingsError extends Error {
  override readonly name = 'ListingsError';
}

/** 45000000 USD -> "USD 450,000.00" */
export const formatPrice = (minor: number, currency: string): string =>
  `${currency} ${(minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function searchTable(rows: readonly ListingSummary[]): string[] {
  const table = [
    ['ID', 'STATUS', 'TYPE', 'PRICE', 'BEDS', 'BATHS', 'CITY', 'REGION', 'PHOTOS', 'MODIFIED'],
    ...rows.map((r) => [
      r.id,
      r.status,
      r.propertyType,
      formatPrice(r.priceMinor, r.currency),
      r.bedrooms === null ? '-' : String(r.bedrooms),
      r.bathrooms === null ? '-' : String(r.bathrooms),
      r.city,
      r.region,
      String(r.photoCount),
      r.modifiedAt.replace(/\.\d{3}Z$/, 'Z'),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

export function listingLines(s: ListingSummary, d: PublishedListing): string[] {
  const l = d.listing;
  const a = l.address;
  const lines = [
    `${s.id}  ${s.status}  ${s.propertyType}`,
    `  price      ${formatPrice(s.priceMinor, s.currency)}${s.previousPriceMinor !== null ? ` (was ${formatPrice(s.previousPriceMinor, d.previousPrice?.currency ?? s.currency)})` : ''}`,
    `  address    ${a.line1}${a.unit ? `, ${a.unit}` : ''}, ${a.city}, ${a.region} ${a.postalCode}, ${a.country}`,
    `  size       ${s.bedrooms ?? '-'} bd, ${s.bathrooms ?? '-'} ba${s.livingAreaSqft !== null ? `, ${s.livingAreaSqft} ft²` : ''}`,
    `  photos     ${s.photoCount} (${d.images.filter((i) => i.status === 'OK').length} ready)${s.cardUrl ? `  card ${s.cardUrl}` : ''}`,
    `  modified   ${s.modifiedAt}   published ${s.publishedAt}`,
  ];
  if (l.geo) lines.splice(3, 0, `  geo        ${l.geo.lat}, ${l.geo.lon}`);
  if (l.description)
    lines.push(`  ${l.description.length > 160 ? `${l.description.slice(0, 157)}...` : l.description}`);
  return lines;
}

export const listingsCommands: Command[] = [
  {
    path: ['listings', 'get'],
    summary: 'Print one published listing from PostgreSQL. Exit code 1 if it is not there.',
    args: '<id>',
    minPositionals: 1,
    maxPositionals: 1,
    details: 'The id is `<source>:<ListingKey>`. --json prints the summary columns and the full published document.',
    async run(args, io) {
      const id = args.positionals[0]!;
      const ctx = cliContext();
      try {
        const r = await listings.get(ctx.pg(), id);
        if (!r.found) {
          throw new ListingsError(
            r.deletedAt
              ? `Listing ${id} was deleted (version ${r.modifiedAt}, at ${r.deletedAt}).`
              : `No published listing with id ${JSON.stringify(id)}. Ids look like <source>:<ListingKey>; try \`listflow listings search --city <city>\`.`,
          );
        }
        if (io.json) printJson(io, { ...r.summary, document: r.document });
        else for (const line of listingLines(r.summary, r.document)) io.out(line);
        return 0;
      } finally {
        await ctx.close();
      }
    },
  },
  {
    path: ['listings', 'search'],
    summary: 'Search published listings by city (on the market by default), newest first.',
    maxPositionals: 0,
    options: { city: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } },
    optionHelp: {
      city: 'City, case-insensitive (required).',
      status: `Only this status (${ListingStatusValues.join(', ')}); default: on the market (${listings.onMarket.join(', ')}).`,
      limit: 'Most rows (1-1000, default 20).',
    },
    async run(args, io) {
      const city = stringOption(args, 'city');
      if (!city?.trim()) throw new UsageError('Expected --city <city>, e.g. --city Toronto.');
      const statusRaw = stringOption(args, 'status');
      const status = statusRaw
        ?.trim()
        .toUpperCase()
        .replace(/[\s-]+/g, '_');
      if (status !== undefined && !(ListingStatusValues as readonly string[]).includes(status)) {
        throw new UsageError(
          `Expected --status one of ${ListingStatusValues.join(', ')} but received ${JSON.stringify(statusRaw)}.`,
        );
      }
      const limit = intOption(args, 'limit', 1, 1000) ?? 20;
      const ctx = cliContext();
      try {
        const rows = await listings.search(ctx.pg(), { city, status: status as ListingStatus | undefined, limit });
        if (io.json) printJson(io, { count: rows.length, listings: rows });
        else if (rows.length === 0) io.out(`No ${status ?? 'on-market'} listings in ${city}.`);
        else for (const line of searchTable(rows)) io.out(line);
        return 0;
      } finally {
        await ctx.close();
      }
    },
  },
];
