/** Delete rules (deletes.ts) and photo change plans (media.ts). */
import { type DeleteRule, isDeletedRecord, purgeDue, purgedKeys } from './deletes';
import { type MediaItem, photosMayHaveChanged, planMedia, type StoredPhoto } from './media';

const flag: DeleteRule = { kind: 'flag', field: 'MlgCanView' };
const status: DeleteRule = { kind: 'status', field: 'StandardStatus', values: ['Delete', 'Withdrawn'] };
const purge: DeleteRule = { kind: 'purge', everyMinutes: 60 };

test.each<[string, DeleteRule, Record<string, unknown>, boolean]>([
  ['flag false', flag, { MlgCanView: false }, true],
  ['flag true', flag, { MlgCanView: true }, false],
  ['flag missing is not a delete', flag, {}, false],
  ['flag "false" as a string is not a delete', flag, { MlgCanView: 'false' }, false],
  ['status Delete', status, { StandardStatus: 'Delete' }, true],
  ['status Withdrawn (declared)', status, { StandardStatus: 'Withdrawn' }, true],
  ['status Active', status, { StandardStatus: 'Active' }, false],
  ['purge never announces', purge, { MlgCanView: false, StandardStatus: 'Delete' }, false],
])('isDeletedRecord: %s', (_what, rule, record, deleted) => {
  expect(isDeletedRecord(record, rule)).toBe(deleted);
});

test.each<[string, string[], string[], string[]]>([
  ['nothing gone', ['a', 'b'], ['b', 'a', 'c'], []],
  ['the missing keys, sorted', ['c', 'a', 'b', 'd'], ['b'], ['a', 'c', 'd']],
  ['the server lists nothing', ['a'], [], ['a']],
])('purgedKeys: %s', (_what, held, listed, gone) => {
  expect(purgedKeys(held, listed)).toEqual(gone);
});

test.each<[DeleteRule, number | undefined, number, boolean]>([
  [purge, undefined, 0, true],
  [purge, 0, 59 * 60_000, false],
  [purge, 0, 60 * 60_000, true],
  [flag, undefined, 0, false],
])('purgeDue(%o, %p, %p) = %p', (rule, last, now, due) => {
  expect(purgeDue(rule, last, now)).toBe(due);
});

describe('planMedia: an unchanged photo is not downloaded again', () => {
  const stored: StoredPhoto[] = [
    { id: 'M1', stamp: '2026-01-01T00:00:00.000001Z' },
    { id: 'M2', stamp: '2026-01-01T00:00:00.000001Z' },
    { id: 'url:https://cdn/x.jpg', stamp: '' },
  ];
  const m = (
    MediaKey: string | null,
    stamp: string | null,
    url = `https://cdn/${MediaKey}.jpg?sig=${Math.random()}`,
  ): MediaItem => ({
    MediaKey,
    MediaModificationTimestamp: stamp,
    MediaURL: url,
  });
  test.each<[string, MediaItem[], string[], string[], string[]]>([
    [
      'same keys and stamps; signed URLs changed: nothing to download',
      [
        m('M1', '2026-01-01T00:00:00.000001Z'),
        m('M2', '2026-01-01T00:00:00.000001Z'),
        m(null, null, 'https://cdn/x.jpg'),
      ],
      [],
      ['M1', 'M2', 'url:https://cdn/x.jpg'],
      [],
    ],
    [
      'a new stamp is downloaded; a missing key is removed',
      [m('M1', '2026-01-02T00:00:00.000001Z'), m(null, null, 'https://cdn/x.jpg')],
      ['M1'],
      ['url:https://cdn/x.jpg'],
      ['M2'],
    ],
    [
      'a keyless photo changes by its URL',
      [m(null, null, 'https://cdn/y.jpg')],
      ['url:https://cdn/y.jpg'],
      [],
      ['M1', 'M2', 'url:https://cdn/x.jpg'],
    ],
    [
      'a new key is downloaded once, even if listed twice',
      [m('M9', 'x'), m('M9', 'x')],
      ['M9'],
      [],
      ['M1', 'M2', 'url:https://cdn/x.jpg'],
    ],
  ])('%s', (_what, current, download, keep, removed) => {
    const plan = planMedia(stored, current);
    const ids = (xs: readonly MediaItem[]) => xs.map((x) => x.MediaKey ?? `url:${x.MediaURL}`);
    expect(ids(plan.download)).toEqual(download);
    expect(ids(plan.keep)).toEqual(keep);
    expect(plan.removed).toEqual(removed);
  });
});

test.each<[string | undefined, Record<string, unknown>, string | undefined, boolean]>([
  ['t1', { PhotosChangeTimestamp: 't1' }, 'PhotosChangeTimestamp', false],
  ['t1', { PhotosChangeTimestamp: 't2' }, 'PhotosChangeTimestamp', true],
  [undefined, { PhotosChangeTimestamp: 't1' }, 'PhotosChangeTimestamp', true],
  ['t1', {}, 'PhotosChangeTimestamp', true],
  ['t1', { PhotosChangeTimestamp: 't1' }, undefined, true],
])('photosMayHaveChanged(%p, %o, %p) = %p', (stored, record, field, changed) => {
  expect(photosMayHaveChanged(stored, record, field)).toBe(changed);
});
