import sharp from 'sharp';
import { photoJpeg } from '../../test/fixtures/images/fixtures';
import { parseVariants } from './config';
import { dhashFromGrey, hammingDistance } from './dhash';
import { renderVariants } from './variants';

const rows = (f: (x: number, y: number) => number) =>
  Uint8Array.from({ length: 72 }, (_, i) => f(i % 9, Math.floor(i / 9)));

describe('dhashFromGrey', () => {
  test.each([
    ['flat', rows(() => 100), '0000000000000000'],
    ['darkening to the right', rows((x) => 200 - x * 10), 'ffffffffffffffff'],
    ['brightening to the right', rows((x) => x * 10), '0000000000000000'],
    ['first row only darkening', rows((x, y) => (y === 0 ? 200 - x : 0)), 'ff00000000000000'],
    ['last pixel pair of last row', rows((x, y) => (y === 7 && x === 7 ? 9 : 0)), '0000000000000001'],
  ])('%s -> %s', (_name, px, hex) => {
    expect(dhashFromGrey(px)).toBe(hex);
  });

  test('refuses anything but 9x8 pixels', () => {
    expect(() => dhashFromGrey(new Uint8Array(64))).toThrow('dhash needs 72 grey pixels, received 64');
  });
});

describe('hammingDistance', () => {
  test.each([
    ['0000000000000000', '0000000000000000', 0],
    ['0000000000000000', 'ffffffffffffffff', 64],
    ['8000000000000001', '0000000000000000', 2],
    ['00000000000000f0', '000000000000000f', 8],
  ])('%s vs %s = %i', (a, b, d) => {
    expect(hammingDistance(a, b)).toBe(d);
  });
});

describe('dHash of real photos', () => {
  const opts = { variants: parseVariants(['t:320']), format: 'webp' as const, quality: 80, effort: 2, maxPixels: 1e8 };

  test('a re-encoded, resized copy is a near-duplicate; another photo is not', async () => {
    const original = await photoJpeg(1200, 900, { seed: 7 });
    const copy = await sharp(original).resize(700).jpeg({ quality: 40 }).toBuffer();
    const other = await photoJpeg(1200, 900, { seed: 99 });
    const [a, b, c] = await Promise.all([original, copy, other].map((x) => renderVariants(x, opts)));
    expect(hammingDistance(a!.dhash, b!.dhash)).toBeLessThanOrEqual(6);
    expect(hammingDistance(a!.dhash, c!.dhash)).toBeGreaterThan(10);
  });
});
