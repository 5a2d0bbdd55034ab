/**
 * The query side of the test server: reads $filter, $orderby, $top, $skip, $select, $expand and $count
 * strictly, checks them against the source's quirks, and runs them over the dataset. Anything outside the
 * subset answers 400 with an OData error body, as real servers do.
 */
import { compareInstants } from '../../../operators/sources/cursor';
import {
  countOr,
  evaluateFilter,
  type FilterNode,
  FilterSyntaxError,
  filterFields,
  parseFilter,
} from '../../../operators/sources/odata-filter';
import type { PropertyRecord } from './dataset';
import type { ResoQuirks } from './quirks';

export class ODataError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  body(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message } });
  }
}

export interface ParsedQuery {
  readonly filter?: FilterNode;
  readonly orderBy: ReadonlyArray<{ readonly field: string; readonly desc: boolean }>;
  readonly top: number;
  readonly skip: number;
  readonly select?: readonly string[];
  readonly expandMedia: boolean;
  readonly count: boolean;
}

const KNOWN = new Set([
  '$filter',
  '$orderby',
  '$top',
  '$skip',
  '$select',
  '$expand',
  '$count',
  '$skiptoken',
  'replication',
]);
const TIMESTAMPS = new Set(['ModificationTimestamp', 'PhotosChangeTimestamp']);

const bad = (message: string): ODataError => new ODataError(400, 'BadRequest', message);

/** Reads the query options of `params`; `$skiptoken` is the caller's business. */
export function parseQuery(params: URLSearchParams, q: ResoQuirks): ParsedQuery {
  for (const k of params.keys()) if (!KNOWN.has(k)) throw bad(`The query option ${k} is not supported.`);
  let filter: FilterNode | undefined;
  const rawFilter = params.get('$filter');
  if (rawFilter !== null) {
    try {
      filter = parseFilter(rawFilter);
    } catch (e) {
      if (e instanceof FilterSyntaxError) throw bad(`Invalid $filter: ${e.message}.`);
      throw e;
    }
    for (const f of filterFields(filter)) {
      if (f === 'ListingKey' && !q.keyTieBreak) throw bad('ListingKey is not filterable on this server.');
      if (q.filterable && !q.filterable.includes(f) && f !== 'ListingKey') throw bad(`${f} is not filterable.`);
    }
    if (q.maxOr !== undefined && countOr(filter) > q.maxOr) throw bad(`At most ${q.maxOr} or operators; use in.`);
  }
  if (q.requireOriginatingSystem !== undefined && !requiresTerm(filter, q.requireOriginatingSystem)) {
    throw bad(`Every query must filter OriginatingSystemName eq '${q.requireOriginatingSystem}'.`);
  }
  const orderBy = (params.get('$orderby') ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((part) => {
      const m = /^\s*([A-Za-z]+)(?:\s+(asc|desc))?\s*$/.exec(part);
      if (!m) throw bad(`Invalid $orderby term ${JSON.stringify(part)}.`);
      const field = m[1]!;
      if (!TIMESTAMPS.has(field) && field !== 'ListingKey') throw bad(`Cannot order by ${field}.`);
      if (field === 'ListingKey' && !q.keyTieBreak) throw bad('Cannot order by ListingKey on this server.');
      if (m[2] === 'desc' && q.refuseDescending) throw bad('Descending order is not supported.');
      return { field, desc: m[2] === 'desc' };
    });
  const expand = params.get('$expand');
  if (expand !== null && expand !== 'Media') throw bad(`Cannot expand ${JSON.stringify(expand)}; only Media.`);
  if (expand !== null && q.mediaResource) throw bad('Cannot expand Media here; query the Media resource.');
  const expandMedia = expand === 'Media';
  const max = expandMedia && q.maxTopWithExpand !== undefined ? q.maxTopWithExpand : q.maxTop;
  const top = intParam(params, '$top', q.defaultTop);
  if (top > max) throw bad(`$top ${top} is over the maximum ${max}${expandMedia ? ' with $expand' : ''}.`);
  const skip = intParam(params, '$skip', 0);
  const selectRaw = params.get('$select');
  const select = selectRaw === null ? undefined : selectRaw.split(',').map((s) => s.trim());
  if (select?.some((s) => !/^[A-Za-z]+$/.test(s))) throw bad(`Invalid $select ${JSON.stringify(selectRaw)}.`);
  const countRaw = params.get('$count');
  if (countRaw !== null && countRaw !== 'true' && countRaw !== 'false') throw bad('$count must be true or false.');
  if (countRaw === 'true' && q.refuseCount) throw bad('$count is not supported.');
  return { filter, orderBy, top, skip, select, expandMedia, count: countRaw === 'true' };
}

function intParam(params: URLSearchParams, name: string, dflt: number): number {
  const v = params.get(name);
  if (v === null) return dflt;
  if (!/^\d+$/.test(v)) throw bad(`${name} must be a non-negative integer, not ${JSON.stringify(v)}.`);
  return Number(v);
}

/** Whether `OriginatingSystemName eq 'x'` is a term ANDed at the top of the filter. */
function requiresTerm(node: FilterNode | undefined, system: string): boolean {
  if (!node) return false;
  if (node.kind === 'and') return requiresTerm(node.left, system) || requiresTerm(node.right, system);
  return (
    node.kind === 'compare' &&
    node.field === 'OriginatingSystemName' &&
    node.op === 'eq' &&
    node.value.type === 'string' &&
    node.value.value === system
  );
}

/** The matching records in order (a stable sort: ties keep the dataset's order, not the key's). */
export function runQuery(records: Iterable<PropertyRecord>, q: ParsedQuery): PropertyRecord[] {
  return filterOrdered(orderRecords(records, q.orderBy), q);
}

/** All records in `orderBy` order (stable), so one sort can serve every filter over the same data. */
export function orderRecords(records: Iterable<PropertyRecord>, orderBy: ParsedQuery['orderBy']): PropertyRecord[] {
  const out = [...records];
  if (orderBy.length === 0) return out;
  return out.sort((a, b) => {
    for (const { field, desc } of orderBy) {
      const x = String(a[field]);
      const y = String(b[field]);
      const c = TIMESTAMPS.has(field) ? compareInstants(x, y) : x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  });
}

/** The records of an ordered list the query's filter matches, order kept (equal to filtering, then sorting stably). */
export function filterOrdered(ordered: readonly PropertyRecord[], q: ParsedQuery): PropertyRecord[] {
  return q.filter ? ordered.filter((r) => evaluateFilter(q.filter!, r)) : [...ordered];
}

/** A record as sent: Media expanded or not, URLs made by `mediaUrl`, fields selected. */
export function shape(r: PropertyRecord, q: ParsedQuery, mediaUrl: (path: string) => string): Record<string, unknown> {
  const { Media, ...fields } = r;
  const full: Record<string, unknown> = { ...fields };
  if (q.expandMedia) {
    full.Media = Media.map(({ MediaPath, ...m }) => ({
      ...m,
      ResourceRecordKey: r.ListingKey,
      MediaURL: mediaUrl(MediaPath),
    }));
  }
  if (!q.select) return full;
  const picked: Record<string, unknown> = {};
  for (const f of q.select) if (f in full) picked[f] = full[f];
  if (q.expandMedia) picked.Media = full.Media;
  return picked;
}
