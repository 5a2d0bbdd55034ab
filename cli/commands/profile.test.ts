/** `listflow profile check` end to end in-process: a feed file, the ingest reader, normalize's rules, no broker. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain as run } from '../../test/support/cli-main';
import { OLDER_DDF_RECORD } from '../../test/support/listings';

const base = {
  StandardStatus: 'Active',
  PropertyType: 'Residential Freehold',
  ListPrice: 899000,
  StreetNumber: '12',
  StreetName: 'King',
  City: 'Toronto',
  StateOrProvince: 'ON',
  PostalCode: 'M5V 2T6',
  ModificationTimestamp: '2026-01-15T10:30:00Z',
  ContractStatus: 'Available',
};

function feed(records: Record<string, unknown>[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'listflow-profile-check-'));
  const file = join(dir, 'feed.ndjson');
  writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return file;
}

test('a feed with three unmapped values prints exactly those three, with counts, an example key and the lines to add', async () => {
  const file = feed([
    { ...base, ListingKey: 'A1' },
    { ...base, ListingKey: 'A2', PropertyType: 'Cottage' },
    { ...base, ListingKey: 'A3', PropertyType: 'Cottage', XYZ_Dock: 'yes' },
    { ...base, ListingKey: 'A4', StandardStatus: 'Foreclosed' },
    { ...base, ListingKey: 'A5', StandardStatus: undefined, MlsStatus: 'Draft' },
    { ...base, ListingKey: 'A6', StandardStatus: 'Foreclosed', XYZ_Dock: 'no' },
    { ...base, ListingKey: 'A7', MlsStatus: 'Sold Conditional' },
  ]);
  const r = await run(['profile', 'check', file, '--profile', 'proptx']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(1);
  const lines = r.stdout.split('\n');
  const section = (title: string) => {
    const start = lines.findIndex((l) => l.startsWith(title));
    const end = lines.indexOf('', start);
    return lines.slice(start + 1, end === -1 ? undefined : end).map((l) => l.trim().replace(/\s+/g, ' '));
  };
  expect(lines[0]).toBe(`Profile proptx (pipelines/profiles/proptx.yaml) on ${file}: 7 records, 2 normalized.`);
  expect(section('Unmapped lookup values (3):')).toEqual([
    'PropertyType "Cottage" 2 records e.g. A2',
    'StandardStatus "Foreclosed" 2 records e.g. A4',
    'MlsStatus "Draft" 1 record e.g. A5',
  ]);
  expect(section('Unknown fields (1):')).toEqual(['XYZ_Dock 2 records e.g. A3']);
  expect(section('Add to pipelines/profiles/proptx.yaml:')).toEqual([
    'lookups:',
    'PropertyType: # each value one of BusinessOpportunity, CommercialLease, CommercialSale, Farm, Land, ManufacturedInPark, Residential, ResidentialIncome, ResidentialLease, Other',
    'Cottage: <RESO value>',
    'StandardStatus: # each value one of Active, ActiveUnderContract, Canceled, Closed, ComingSoon, Delete, Expired, Hold, Incomplete, Pending, Withdrawn',
    'Foreclosed: <RESO value>',
    'MlsStatus: # each value one of Active, ActiveUnderContract, Canceled, Closed, ComingSoon, Delete, Expired, Hold, Incomplete, Pending, Withdrawn',
    'Draft: <RESO value>',
    'localFields: # or list them under ignore:',
    'keep: [XYZ_Dock]',
  ]);
});

test('the older DDF shape (keyed by ID, no ListingKey) checks clean under crea-ddf; --json gives the report', async () => {
  const file = feed([OLDER_DDF_RECORD]);
  const r = await run(['profile', 'check', file, '--profile', 'crea-ddf', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    profile: 'crea-ddf',
    profileFile: 'pipelines/profiles/crea-ddf.yaml',
    records: 1,
    normalized: 1,
    unmapped: [],
    unknownFields: [],
    otherRejections: [],
  });
});

test('an unknown --profile is a usage error listing the profiles there are', async () => {
  const r = await run(['profile', 'check', feed([base]), '--profile', 'nope']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(
    'Expected one of bridge, crea-ddf, mlsgrid, proptx, reso-dd-2.0, trestle for --profile but received "nope".',
  );
});

describe('--source: a source of pipelines/sources.yaml brings its profile (as ingest --source does)', () => {
  test.each<[string, string[], string, number]>([
    ['local-proptx names proptx', ['--source', 'local-proptx'], 'proptx', 0],
    ['--profile overrides the source', ['--source', 'local-proptx', '--profile', 'reso-dd-2.0'], 'reso-dd-2.0', 1],
    ['an undeclared source is a plain id: the default profile', ['--source', 'some-board'], 'reso-dd-2.0', 1],
  ])('%s', async (_name, options, profile, code) => {
    const r = await run(['profile', 'check', feed([{ ...base, ListingKey: 'S1' }]), ...options, '--json']);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as { profile: string; normalized: number; unmapped: { value: string }[] };
    expect([r.code, report.profile, report.normalized]).toEqual([code, profile, code === 0 ? 1 : 0]);
    expect(report.unmapped.map((u) => u.value)).toEqual(code === 0 ? [] : ['Residential Freehold']);
  });
});
