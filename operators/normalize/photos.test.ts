/**
 * The media identity normalize carries on each Photo (MediaKey, MediaModificationTimestamp): what the images
 * step decides "unchanged since stored" by. The timestamp is the source's text, microseconds and offset kept.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base, norm, raw } from '../../test/support/normalize-records';
import { photosFrom } from './photos';
import { normalizeListing } from './process';

const URL = 'https://img.example/1.jpg';

describe('photosFrom: MediaKey and MediaModificationTimestamp', () => {
  test.each<[string, Record<string, unknown>, string | null, string | null]>([
    [
      'both, microseconds kept exactly',
      { MediaKey: 'M-1', MediaModificationTimestamp: '2026-01-15T10:30:00.123456Z' },
      'M-1',
      '2026-01-15T10:30:00.123456Z',
    ],
    [
      'an offset and trailing zeros are not normalized away',
      { MediaKey: 'M-1', MediaModificationTimestamp: '2026-01-15T05:30:00.000000-05:00' },
      'M-1',
      '2026-01-15T05:30:00.000000-05:00',
    ],
    [
      'trimmed',
      { MediaKey: '  M-1 ', MediaModificationTimestamp: ' 2026-01-15T10:30:00Z ' },
      'M-1',
      '2026-01-15T10:30:00Z',
    ],
    ['MediaKeyNumeric as text', { MediaKeyNumeric: 12345 }, '12345', null],
    ['MediaKey wins over MediaKeyNumeric', { MediaKey: 'M-1', MediaKeyNumeric: 7 }, 'M-1', null],
    [
      "the Media record's ModificationTimestamp when there is no MediaModificationTimestamp",
      { MediaKey: 'M-1', ModificationTimestamp: '2026-01-15T10:30:00.5Z' },
      'M-1',
      '2026-01-15T10:30:00.5Z',
    ],
    [
      'MediaModificationTimestamp wins over ModificationTimestamp',
      { MediaKey: 'M-1', MediaModificationTimestamp: 'A', ModificationTimestamp: 'B' },
      'M-1',
      'A',
    ],
    ['neither', {}, null, null],
    ['blank strings are absent', { MediaKey: ' ', MediaModificationTimestamp: '' }, null, null],
    ['a key that is an object is no key', { MediaKey: { id: 1 }, MediaModificationTimestamp: 'T' }, null, 'T'],
  ])('%s', (_what, fields, key, stamp) => {
    const [photo] = photosFrom([{ MediaURL: URL, Order: 1, ...fields }]);
    expect([photo?.mediaKey, photo?.mediaModificationTimestamp]).toEqual([key, stamp]);
  });

  test('each photo keeps its own identity through sorting and de-duplication', () => {
    const photos = photosFrom([
      { MediaURL: 'https://img.example/b.jpg', Order: 2, MediaKey: 'B', MediaModificationTimestamp: 'tb' },
      { MediaURL: 'https://img.example/a.jpg', Order: 1, MediaKey: 'A', MediaModificationTimestamp: 'ta' },
      // The same URL again: dropped with its key, the first one's identity stays.
      { MediaURL: 'https://img.example/a.jpg', Order: 3, MediaKey: 'A2', MediaModificationTimestamp: 'ta2' },
    ]);
    expect(photos.map((p) => [p.order, p.mediaKey, p.mediaModificationTimestamp])).toEqual([
      [0, 'A', 'ta'],
      [1, 'B', 'tb'],
    ]);
  });
});

describe('normalize reads the media identity through the source profile', () => {
  const media = [
    { MediaURL: URL, Order: 1, MediaKey: 'M-9', MediaModificationTimestamp: '2026-02-01T00:00:00.000001Z' },
  ];
  const want = [
    { url: URL, order: 0, caption: null, mediaKey: 'M-9', mediaModificationTimestamp: '2026-02-01T00:00:00.000001Z' },
  ];

  test.each([[null], ['mlsgrid'], ['trestle'], ['proptx'], ['bridge'], ['crea-ddf']])('profile %s', (profile) => {
    const over = profile === 'proptx' || profile === 'crea-ddf' ? { StateOrProvince: 'ON', PostalCode: 'M5V 2T6' } : {};
    expect(norm({ Media: media, ...over }, { profile }).photos).toEqual(want);
  });

  test('a profile that renames the feed field holding the media list', () => {
    const dir = mkdtempSync(join(tmpdir(), 'profiles-'));
    writeFileSync(
      join(dir, 'gallery.yaml'),
      'name: gallery\nextends: reso-dd-2.0\ndescription: media under Gallery\nrenames:\n  Gallery: Media\n',
    );
    const listing = normalizeListing(raw({ ...base, Gallery: media }, { profile: 'gallery' }), {
      allowFilePhotoUrls: false,
      profilesDir: dir,
    });
    expect(listing.photos).toEqual(want);
  });
});
