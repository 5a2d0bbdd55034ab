/** Delete rules (deletes.ts). Photo reuse is the images step's (operators/images/reuse.ts, tested there). */
import { type DeleteRule, isDeletedRecord, purgeDue, purgedKeys } from './deletes';

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
