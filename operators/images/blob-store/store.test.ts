import { blobKey, contentTypeOf, readManifest } from './store';
import { storedImage as image, sha } from '../../../test/fixtures/images/stored-image';

describe('blobKey', () => {
  test.each([
    [sha, 'card.webp', `ab/${sha}/card.webp`],
    ['0'.repeat(64), 'manifest.json', `00/${'0'.repeat(64)}/manifest.json`],
  ])('%s %s -> %s', (s, f, key) => {
    expect(blobKey(s, f)).toBe(key);
  });
  test.each([
    ['short hash', 'abc', 'card.webp'],
    ['upper-case hash', 'AB'.padEnd(64, 'C'), 'card.webp'],
    ['path in the hash', `../${'a'.repeat(61)}`, 'card.webp'],
  ])('refuses a %s', (_n, s, f) => {
    expect(() => blobKey(s, f)).toThrow('not a sha256');
  });
  test.each([['../x'], ['a/b'], ['']])('refuses the file name %j', (f) => {
    expect(() => blobKey(sha, f)).toThrow('bad blob file name');
  });
});

describe('contentTypeOf', () => {
  test.each([
    ['card.webp', 'image/webp'],
    ['card.avif', 'image/avif'],
    ['card.jpg', 'image/jpeg'],
    ['manifest.json', 'application/json'],
    ['odd.bin', 'application/octet-stream'],
  ])('%s -> %s', (name, type) => {
    expect(contentTypeOf(name)).toBe(type);
  });
});

describe('readManifest', () => {
  const uriOf = (s: string, f: string) => `https://new/${s}/${f}`;

  test('rebuilds the variant uris with the current settings', () => {
    expect(readManifest(JSON.stringify(image), sha, uriOf)!.variants[0]!.uri).toBe(`https://new/${sha}/card.webp`);
  });
  test.each([
    ['damaged JSON', '{"sha256": "ab'],
    ['another image', JSON.stringify({ ...image, sha256: 'cd'.padEnd(64, 'e') })],
    ['no variants', JSON.stringify({ ...image, variants: 'x' })],
  ])('%s reads as not stored', (_n, text) => {
    expect(readManifest(text, sha, uriOf)).toBeNull();
  });
});
