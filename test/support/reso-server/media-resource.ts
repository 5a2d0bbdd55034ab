/**
 * The test server's Media resource (`GET /<source>/Media`), for sources whose quirks say `mediaResource`:
 * every photo of every listing as its own row (`ResourceRecordKey` = the listing's key), queried with
 * `$filter` (e.g. `ResourceRecordKey in ('A','B')`; a query without a filter is refused, as real servers
 * refuse unbounded Media scans), `$orderby` over ResourceRecordKey, Order and MediaKey, `$top` and `$skip`,
 * with `$skip` nextLinks.
 */
import {
  evaluateFilter,
  type FilterNode,
  FilterSyntaxError,
  parseFilter,
} from '../../../operators/sources/odata-filter';
import type { ResoDataset } from './dataset';
import { ODataError } from './odata';
import type { ResoQuirks } from './quirks';

const ORDERABLE = new Set(['ResourceRecordKey', 'Order', 'MediaKey']);
const KNOWN = new Set(['$filter', '$orderby', '$top', '$skip']);
const bad = (message: string): ODataError => new ODataError(400, 'BadRequest', message);

/** One page of the Media resource; `selfUrl` is the resource's URL (for the nextLink). */
export function mediaResourcePage(
  dataset: ResoDataset,
  params: URLSearchParams,
  quirks: ResoQuirks,
  selfUrl: string,
  mediaUrl: (path: string) => string,
): Record<string, unknown> {
  for (const k of params.keys()) if (!KNOWN.has(k)) throw bad(`The query option ${k} is not supported on Media.`);
  const raw = params.get('$filter');
  if (raw === null) throw bad('Media queries must filter by ResourceRecordKey.');
  let filter: FilterNode;
  try {
    filter = parseFilter(raw);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw bad(`Invalid $filter: ${e.message}.`);
    throw e;
  }
  const orderBy = (params.get('$orderby') ?? '')
    .split(',')
    .filter((t) => t.trim() !== '')
    .map((t) => {
      const m = /^\s*([A-Za-z]+)(?:\s+(asc|desc))?\s*$/.exec(t);
      if (!m || !ORDERABLE.has(m[1]!)) throw bad(`Cannot order Media by ${JSON.stringify(t)}.`);
      return { field: m[1]!, desc: m[2] === 'desc' };
    });
  const int = (name: string, dflt: number) => {
    const v = params.get(name);
    if (v === null) return dflt;
    if (!/^\d+$/.test(v)) throw bad(`${name} must be a non-negative integer.`);
    return Number(v);
  };
  const top = int('$top', quirks.defaultTop);
  if (top > quirks.maxTop) throw bad(`$top ${top} is over the maximum ${quirks.maxTop}.`);
  const skip = int('$skip', 0);
  const rows: Record<string, unknown>[] = [];
  for (const r of dataset.records.values()) {
    for (const { MediaPath, ...m } of r.Media) {
      const row = { ...m, ResourceRecordKey: r.ListingKey, ResourceName: 'Property', MediaURL: mediaUrl(MediaPath) };
      if (evaluateFilter(filter, row)) rows.push(row);
    }
  }
  rows.sort((a, b) => {
    for (const { field, desc } of orderBy) {
      const x = a[field] as string | number;
      const y = b[field] as string | number;
      if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1);
    }
    return 0;
  });
  const value = rows.slice(skip, skip + top);
  const out: Record<string, unknown> = { '@odata.context': `${selfUrl}/$metadata#Media`, value };
  if (skip + value.length < rows.length) {
    const next = new URLSearchParams(params);
    next.set('$skip', String(skip + value.length));
    out['@odata.nextLink'] = `${selfUrl}?${[...next].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
  }
  return out;
}
