/**
 * Truncated and empty feeds read with ingest's real reader (readSnapshot, files on disk), then synced: none of
 * them may delete what the source holds. A broken frame (truncated JSON or gzip) fails the read as ingest fails
 * it; a feed cut at a record boundary, or emptied, is refused by the mass-delete guard; a feed cut mid-record
 * loses that one record (skipped as unreadable), which the guard bounds like any deletion.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ListflowError } from '../../runtime/errors';
import { readSnapshot } from '../ingest/tools';
import type { RawListingRecord } from './raw-listings';
import { syncSnapshot } from './snapshot';
import type { SnapshotSource } from './source-spec';
import type { SourceState } from './state';

const dir = mkdtempSync(join(tmpdir(), 'listflow-snapshot-truncated-'));
const listings = [1, 2, 3, 4, 5, 6].map((n) => ({
  ListingKey: `K${n}`,
  ListPrice: 100 * n,
  StandardStatus: 'Active',
  ModificationTimestamp: '2026-12-01T00:00:00Z',
}));
const json = JSON.stringify(listings);
const ndjson = `${listings.map((l) => JSON.stringify(l)).join('\n')}\n`;

function feed(name: string, body: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, body);
  return file;
}

async function syncFile(
  file: string,
  format: SnapshotSource['format'],
  start: SourceState | undefined,
  held: Map<string, string | null>,
) {
  const source: SnapshotSource = {
    name: 'trunc',
    kind: 'file',
    uri: `file://${file}`,
    format,
    pageSize: 100,
    maxDeleteFraction: 0.5,
    pollIntervalMs: 1000,
  };
  const commits: RawListingRecord[][] = [];
  let state = start;
  const r = await syncSnapshot({
    source,
    read: () => readSnapshot({ uri: source.uri, format, profile: null }, {}, new AbortController().signal),
    held: async () => held,
    start,
    sink: {
      commit: async (records, s) => {
        commits.push([...records]);
        state = s;
        for (const x of records) {
          if (x.deleted) held.delete(x.value.listingKey);
          else held.set(x.value.listingKey, x.digest ?? null);
        }
      },
    },
    retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1 },
    signal: new AbortController().signal,
    sleep: async () => undefined,
  }).catch((e: unknown) => e);
  return { r, commits, state: () => state };
}

/** The source after a first load of the whole feed. */
async function loaded(format: SnapshotSource['format'], body: string) {
  const held = new Map<string, string | null>();
  const first = await syncFile(feed(`full-${format}-${Math.random()}`, body), format, undefined, held);
  expect(first.state()?.snapshot?.done).toBe(true);
  expect(held.size).toBe(6);
  return { held, state: first.state()! };
}

describe('a truncated or emptied snapshot deletes nothing past the guard', () => {
  it.each<[string, SnapshotSource['format'], string, string | Buffer, string, number]>([
    [
      'JSON cut mid-array: the read fails (broken frame)',
      'json',
      json,
      json.slice(0, json.length / 2),
      'INGEST_FEED_FORMAT_INVALID',
      0,
    ],
    ['an empty JSON array: refused', 'json', json, '[]', 'SOURCE_SNAPSHOT_REFUSED', 0],
    ['an empty NDJSON file: refused', 'ndjson', ndjson, '', 'SOURCE_SNAPSHOT_REFUSED', 0],
    [
      'NDJSON cut at a line boundary, 4 of 6 gone: refused',
      'ndjson',
      ndjson,
      `${ndjson.split('\n').slice(0, 2).join('\n')}\n`,
      'SOURCE_SNAPSHOT_REFUSED',
      0,
    ],
    [
      'gzip cut short: the read fails',
      'json',
      json,
      gzipSync(Buffer.from(json)).subarray(0, 20),
      'INGEST_FEED_FORMAT_INVALID',
      0,
    ],
  ])('%s', async (_n, format, full, cut, code, deletes) => {
    const { held, state } = await loaded(format, full);
    const name = `cut-${Math.random()}${Buffer.isBuffer(cut) ? '.json.gz' : ''}`;
    const again = await syncFile(feed(name, cut), format, state, held);
    expect(again.r).toBeInstanceOf(ListflowError);
    const e = again.r as ListflowError;
    expect(e.code).toBe(code);
    expect(again.commits.flat().filter((x) => x.deleted)).toHaveLength(deletes);
    expect(held.size).toBe(6);
  });

  it('NDJSON cut mid-line loses only the cut record: one delete, within the bound', async () => {
    const { held, state } = await loaded('ndjson', ndjson);
    const cut = ndjson.slice(0, ndjson.length - 20);
    const again = await syncFile(feed(`mid-${Math.random()}`, cut), 'ndjson', state, held);
    expect(again.r).toMatchObject({ deletes: 1, records: 0 });
    expect([...held.keys()].sort()).toEqual(['K1', 'K2', 'K3', 'K4', 'K5']);
  });
});
