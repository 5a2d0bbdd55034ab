import { describe, expect, it } from '@jest/globals';
import { KeyOwnership, type OwnershipAction } from './ownership';

const b = (s: string) => Buffer.from(s);
/** endedBy as a step of the table: it returns no actions. */
const ended = (o: KeyOwnership, key: string, value: string): OwnershipAction[] => {
  o.endedBy(key, b(value));
  return [];
};
const summary = (as: OwnershipAction[]) =>
  as.map((a) => (a.kind === 'start' ? `start ${a.record.key}` : `stop ${a.key}`));

describe('KeyOwnership', () => {
  it.each([
    {
      name: 'records of unassigned partitions are ignored',
      steps: (o: KeyOwnership) => [o.assign([0]), o.record(1, '0', 'a', b('x'))],
      expected: [[], []],
    },
    {
      name: 'a record of an assigned partition starts its key once; the same bytes again change nothing',
      steps: (o: KeyOwnership) => [o.assign([0]), o.record(0, '0', 'a', b('x')), o.record(0, '0', 'a', b('x'))],
      expected: [[], ['start a'], []],
    },
    {
      name: 'changed bytes restart the key',
      steps: (o: KeyOwnership) => [o.assign([0]), o.record(0, '0', 'a', b('x')), o.record(0, '1', 'a', b('y'))],
      expected: [[], ['start a'], ['stop a', 'start a']],
    },
    {
      name: 'a tombstone stops the key',
      steps: (o: KeyOwnership) => [o.assign([0]), o.record(0, '0', 'a', b('x')), o.record(0, '1', 'a', null)],
      expected: [[], ['start a'], ['stop a']],
    },
    {
      name: 'a partition moving away stops its keys, and only those',
      steps: (o: KeyOwnership) => [
        o.assign([0, 1]),
        o.record(0, '0', 'a', b('x')),
        o.record(1, '0', 'b', b('x')),
        o.assign([1]),
      ],
      expected: [[], ['start a'], ['start b'], ['stop a']],
    },
    {
      name: 'a key that ended by itself is not restarted for the same bytes, but is for new ones',
      steps: (o: KeyOwnership) => [
        o.assign([0]),
        o.record(0, '0', 'a', b('x')),
        ended(o, 'a', 'x'),
        o.record(0, '0', 'a', b('x')),
        o.record(0, '1', 'a', b('y')),
      ],
      expected: [[], ['start a'], [], [], ['start a']],
    },
    {
      name: 'an ended key whose partition went away and came back is tried again',
      steps: (o: KeyOwnership) => [
        o.assign([0]),
        o.record(0, '0', 'a', b('x')),
        ended(o, 'a', 'x'),
        o.assign([]),
        o.assign([0]),
        o.record(0, '0', 'a', b('x')),
      ],
      expected: [[], ['start a'], [], [], [], ['start a']],
    },
    {
      name: 'the end of an owner that was restarted since is not the running one',
      steps: (o: KeyOwnership) => [
        o.assign([0]),
        o.record(0, '0', 'a', b('x')),
        o.record(0, '1', 'a', b('y')),
        ended(o, 'a', 'x'),
        o.record(0, '1', 'a', b('y')),
      ],
      expected: [[], ['start a'], ['stop a', 'start a'], [], []],
    },
  ])('$name', ({ steps, expected }) => {
    const o = new KeyOwnership();
    expect(steps(o).map(summary)).toEqual(expected);
  });

  it('stopAll stops every owned key', () => {
    const o = new KeyOwnership();
    o.assign([0, 1]);
    o.record(0, '0', 'a', b('x'));
    o.record(1, '0', 'b', b('x'));
    expect(summary(o.stopAll('shutdown')).sort()).toEqual(['stop a', 'stop b']);
    expect(o.owned).toEqual([]);
  });
});
