import type { SourceStateView } from '../../operators/tools';
import { toolOf } from '../../operators/tools';
import { invoke } from '../../test/support/cli-invoke';
import { replayCommands } from './replay';
import type { SourceDeclaration } from '../../schemas/generated/types';
import { UsageError } from '../command';
import {
  applyPlan,
  applyWrites,
  membersRefusal,
  parseResetTo,
  parseSyncFrom,
  resetPlan,
  sourceLag,
  sourceLagText,
  sourceLine,
  sourceLineText,
  sourceName,
} from './sources-plan';

const decl = (name: string, digest: string): SourceDeclaration => ({
  name,
  kind: 'reso-web-api',
  declaration: '{}',
  digest,
  appliedAt: new Date(0),
});
const isInstant = (s: string) => toolOf('sourceReplication').stateFrom('x', s, undefined) !== undefined;

describe('applyPlan', () => {
  it.each([
    ['an empty topic: every source added', [], [decl('a', '1'), decl('b', '2')], ['a:add', 'b:add'], ['a', 'b']],
    ['same digests: nothing written', [decl('a', '1')], [decl('a', '1')], ['a:unchanged'], []],
    ['a digest differs: changed', [decl('a', '1')], [decl('a', '9')], ['a:change'], ['a']],
    [
      'only in the topic: retired (tombstone)',
      [decl('a', '1'), decl('z', '3')],
      [decl('a', '1')],
      ['a:unchanged', 'z:retire'],
      ['z=null'],
    ],
    [
      'all four at once, sorted',
      [decl('c', '1'), decl('d', '1'), decl('b', '1')],
      [decl('a', '1'), decl('b', '2'), decl('c', '1')],
      ['a:add', 'b:change', 'c:unchanged', 'd:retire'],
      ['a', 'b', 'd=null'],
    ],
  ])('%s', (_, current, next, expected, writes) => {
    const plan = applyPlan(new Map(current.map((d) => [d.name, d])), next);
    expect(plan.map((e) => `${e.name}:${e.action}`)).toEqual(expected);
    expect(applyWrites(plan).map((w) => (w.value === null ? `${w.name}=null` : w.name))).toEqual(writes);
  });
});

describe('arguments', () => {
  it.each([
    ['beginning', { kind: 'beginning' }],
    ['2026-01-31T12:00:00Z', { kind: 'time', at: '2026-01-31T12:00:00Z' }],
    ['2026-01-31T12:00:00.123456+02:00', { kind: 'time', at: '2026-01-31T12:00:00.123456+02:00' }],
  ])('--to %s', (v, expected) => expect(parseResetTo(v, isInstant)).toEqual(expected));

  it.each([
    [undefined, /needs --to/],
    ['yesterday', /for --to but received "yesterday"/],
    ['2026-01-31', /for --to but received "2026-01-31"/],
  ])('--to %s is a usage error', (v, message) => {
    expect(() => parseResetTo(v, isInstant)).toThrow(UsageError);
    expect(() => parseResetTo(v, isInstant)).toThrow(message);
  });

  it.each([
    ['2026-01-31T12:00:00Z', '2026-01-31T12:00:00Z'],
    [undefined, undefined],
  ])('--from %s', (v, expected) => expect(parseSyncFrom(v, isInstant)).toBe(expected));

  it.each([['now'], ['2026-13-40T00:00:00Z'], ['1700000000']])('--from %s is a usage error naming it', (v) => {
    expect(() => parseSyncFrom(v, isInstant)).toThrow(new RegExp(`for --from but received "${v}"`));
  });

  it.each([
    [[], ['a'], /needs a source NAME/],
    [['b'], ['a'], /Expected one of a for NAME but received "b"/],
    [['b'], [], /no sources applied: run listflow sources apply/],
  ])('NAME %j among %j', (pos, known, message) => {
    expect(() => sourceName(pos, known, 'sync')).toThrow(message);
  });
});

describe('resetPlan', () => {
  const state = {
    cursor: { timestamp: '2026-01-02T00:00:00.000001Z', key: 'K9' },
    initialDone: true,
    lastPoll: '2026-01-03T00:00:00.000Z',
    counts: { records: 5, deletes: 1, pages: 2, requests: 3 },
  };
  it.each([
    [
      'to the beginning: a tombstone',
      state,
      { kind: 'beginning' } as const,
      '2026-01-02T00:00:00.000001Z K9',
      'beginning (full reload: no state)',
      true,
    ],
    [
      'to a time',
      state,
      { kind: 'time', at: '2026-01-01T00:00:00Z' } as const,
      '2026-01-02T00:00:00.000001Z K9',
      "2026-01-01T00:00:00Z ''",
      false,
    ],
    [
      'with no state yet',
      undefined,
      { kind: 'time', at: '2026-01-01T00:00:00Z' } as const,
      'beginning',
      "2026-01-01T00:00:00Z ''",
      false,
    ],
  ])('%s', (_, current, to, from, toText, tombstone) => {
    expect(resetPlan('s', current, to)).toEqual({ source: 's', from, to: toText, tombstone });
  });

  it('a reset to a time keeps the counts and starts before every record at that instant', () => {
    const t = toolOf('sourceReplication');
    const rec = t.stateFrom('s', '2026-01-01T00:00:00Z', undefined)!;
    const withCounts = t.stateFrom('s', '2026-01-05T00:00:00Z', {
      ...rec,
      counts: { records: 7, deletes: 0, pages: 1, requests: 2 },
    })!;
    expect(t.stateOf(withCounts)).toMatchObject({
      cursor: { timestamp: '2026-01-05T00:00:00Z', key: '' },
      initialDone: true,
      counts: { records: 7 },
    });
  });
});

describe('sourceLine', () => {
  const declared = { name: 's', kind: 'reso-web-api', pollIntervalMs: 60_000 };
  const state = {
    cursor: { timestamp: '2026-01-02T00:00:00Z', key: 'K9' },
    initialDone: true,
    lastPoll: '2026-01-03T00:00:00.000Z',
    counts: { records: 5, deletes: 1, pages: 2, requests: 3 },
  };
  it.each([
    [
      'polled: next poll = last poll + interval',
      declared,
      state,
      { count: 4 },
      true,
      [
        's',
        '(reso-web-api)',
        'cursor 2026-01-02T00:00:00Z K9',
        'last poll 2026-01-03T00:00:00.000Z',
        'records 5 deletes 1 pages 2 requests 3',
        'next poll 2026-01-03T00:01:00.000Z',
        'remaining 4',
      ],
    ],
    [
      'never polled',
      declared,
      undefined,
      { count: 40 },
      true,
      [
        's',
        '(reso-web-api)',
        'cursor beginning',
        'last poll never',
        'no state',
        'next poll at the next owner start',
        'remaining 40',
      ],
    ],
    [
      'retired, --no-remote',
      undefined,
      state,
      undefined,
      false,
      [
        's',
        '(retired: not in listings.sources)',
        'cursor 2026-01-02T00:00:00Z K9',
        'last poll 2026-01-03T00:00:00.000Z',
        'records 5 deletes 1 pages 2 requests 3',
        'next poll -',
      ],
    ],
    [
      'count failed',
      declared,
      state,
      { error: 'refused' },
      true,
      [
        's',
        '(reso-web-api)',
        'cursor 2026-01-02T00:00:00Z K9',
        'last poll 2026-01-03T00:00:00.000Z',
        'records 5 deletes 1 pages 2 requests 3',
        'next poll 2026-01-03T00:01:00.000Z',
        'remaining ? (refused)',
      ],
    ],
  ])('%s', (_, d, s, remaining, remote, parts) => {
    expect(sourceLineText(sourceLine('s', d, s, remaining), remote)).toBe(parts.join('  '));
  });
});

describe('sourceLine of a snapshot source', () => {
  const declared = { name: 'nightly', kind: 'file', pollIntervalMs: 86_400_000 };
  const id = 'ab12cd34ef56'.padEnd(64, '0');
  const base = {
    initialDone: true,
    lastPoll: '2026-01-03T00:00:00.000Z',
    counts: { records: 40, deletes: 0, pages: 2, requests: 4 },
  };
  const snapshot = (position: number, total: number | null, done: boolean) => ({
    id,
    position,
    total,
    done,
    takenAt: '2026-01-02T23:59:00.000Z',
  });
  const refused = {
    snapshot: '99ff'.padEnd(64, '1'),
    at: '2026-01-04T00:00:00.000Z',
    code: 'SOURCE_SNAPSHOT_REFUSED',
    message: 'Source nightly: snapshot 99ff11111111 lists no listing while the source holds 40. Fix: ...',
    known: 40,
    listed: 0,
    deletes: 40,
  };
  const common = [
    'last poll 2026-01-03T00:00:00.000Z',
    'records 40 deletes 0 pages 2 requests 4',
    'next poll 2026-01-04T00:00:00.000Z',
  ];
  it.each<[string, SourceStateView | undefined, boolean, string, { remaining: number | null }]>([
    [
      'mid-snapshot: position of total and what is left, without a request',
      { ...base, snapshot: snapshot(40, 120, false) },
      false,
      [
        'nightly',
        '(file)',
        'snapshot ab12cd34ef56 40/120 in progress, taken 2026-01-02T23:59:00.000Z',
        ...common,
        'remaining 80',
      ].join('  '),
      { remaining: 80 },
    ],
    [
      'done',
      { ...base, snapshot: snapshot(120, 120, true) },
      true,
      [
        'nightly',
        '(file)',
        'snapshot ab12cd34ef56 120/120 done, taken 2026-01-02T23:59:00.000Z',
        ...common,
        'remaining 0',
      ].join('  '),
      { remaining: 0 },
    ],
    [
      'a state from before the total was kept',
      { ...base, snapshot: { ...snapshot(10, null, false), takenAt: null } },
      false,
      ['nightly', '(file)', 'snapshot ab12cd34ef56 10/? in progress, taken unknown', ...common].join('  '),
      { remaining: null },
    ],
    [
      'a refused snapshot: the refusal under the line, with its counts and message',
      { ...base, snapshot: snapshot(120, 120, true), refused },
      false,
      `${['nightly', '(file)', 'snapshot ab12cd34ef56 120/120 done, taken 2026-01-02T23:59:00.000Z', ...common, 'remaining 0'].join('  ')}\n    refused 99ff11111111 at 2026-01-04T00:00:00.000Z (SOURCE_SNAPSHOT_REFUSED: would delete 40 of 40 known, lists 0): ${refused.message}`,
      { remaining: 0 },
    ],
    [
      'never read',
      undefined,
      false,
      [
        'nightly',
        '(file)',
        'snapshot none yet',
        'last poll never',
        'no state',
        'next poll at the next owner start',
      ].join('  '),
      { remaining: null },
    ],
  ])('%s', (_, s, remote, text, json) => {
    const line = sourceLine('nightly', declared, s, undefined);
    expect(sourceLineText(line, remote)).toBe(text);
    expect(line).toMatchObject(json);
    expect(line.snapshot?.shortId ?? null).toBe(s?.snapshot ? 'ab12cd34ef56' : null);
    expect(line.refused).toEqual(s?.refused ?? null);
  });
});

describe('membersRefusal', () => {
  it('passes an empty group and names members, the deployment and how to stop them otherwise', () => {
    expect(membersRefusal('g', 'sources', 'listflow-sources', { state: 'Empty', members: [] }, 'x')).toBeUndefined();
    const why = membersRefusal(
      'listflow.p.sources',
      'sources',
      'listflow-sources',
      { state: 'Stable', members: [{ clientId: 'sources-1', clientHost: '/10.0.0.1' }] },
      'a sync from the CLI',
    );
    expect(why).toMatch(/listflow\.p\.sources has 1 active member\(s\) \(state Stable: sources-1@10\.0\.0\.1\)/);
    expect(why).toMatch(/kubectl scale deployment listflow-sources --replicas=0/);
    expect(why).toMatch(/stop `listflow run --all`/);
  });
});

describe('sourceLag', () => {
  const now = Date.parse('2026-01-03T01:00:00Z');
  const declared = { name: 's', kind: 'reso-web-api', pollIntervalMs: 60_000 };
  const state = (lastPoll: string, timestamp?: string) => ({
    ...(timestamp ? { cursor: { timestamp, key: 'K' } } : {}),
    initialDone: true,
    lastPoll,
    counts: { records: 1, deletes: 0, pages: 1, requests: 1 },
  });
  it.each([
    ['polled 30 s ago: not overdue', state('2026-01-03T00:59:30Z', '2026-01-03T00:30:00Z'), 30, 1800, 0],
    [
      'polled an hour ago, every minute: 59 min overdue',
      state('2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z'),
      3600,
      90000,
      3540,
    ],
    ['never polled', undefined, null, null, null],
    ['microsecond cursor', state('2026-01-03T00:59:59Z', '2026-01-03T00:59:59.999999Z'), 1, 0, 0],
  ])('%s', (_, s, lastPage, cursorAge, overdue) => {
    expect(sourceLag('s', declared, s, now)).toMatchObject({
      lastPageAgeSeconds: lastPage,
      cursorAgeSeconds: cursorAge,
      overdueSeconds: overdue,
      remaining: null,
    });
  });
  it('text: ages in s/m/h, remaining only when asked', () => {
    const l = sourceLag('s', declared, state('2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z'), now, 7);
    expect(sourceLagText(l, true)).toMatch(
      /last page 60m ago +newest change 25h old +remaining 7 cursor 2026-01-02T00:00:00Z K/,
    );
    expect(sourceLagText(l, false)).not.toContain('remaining');
  });
});

test('replay of an owning step (sources) is refused before any Kafka call, naming what to use instead', async () => {
  const r = await invoke(replayCommands, ['replay', '--step', 'sources', '--from', 'earliest', '--yes']);
  expect(r.error).toBeInstanceOf(UsageError);
  expect(r.error?.message).toMatch(/Step sources owns keys.*listflow sources reset NAME --to TIME/s);
});
