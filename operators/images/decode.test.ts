/**
 * The photos agents really upload: HEIC from iPhones, photos with broken metadata, animated GIF and WebP,
 * Display-P3 colour. Fixtures are built here with sharp, except the two HEIC files (see
 * test/fixtures/images/heif/README.md for their source and licence).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { PermanentError } from '../../runtime/errors';
import * as fx from '../../test/fixtures/images/fixtures';
import { parseVariants } from './config';
import { heifAsPng, stripMetadata, withIccProfile } from './decode';
import { HeifDecoderPool } from './heif';
import { decodeOnce, type RenderOptions, renderVariants } from './variants';

const heif = (name: string) => readFileSync(join(__dirname, '../../test/fixtures/images/heif', name));

const opts: RenderOptions = {
  variants: parseVariants(['thumb:16', 'card:800']),
  format: 'webp',
  quality: 90,
  effort: 2,
  maxPixels: 100_000_000,
};

async function rejection(p: Promise<unknown>): Promise<PermanentError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    return e as PermanentError;
  }
  throw new Error('expected a rejection');
}

/** Every variant: the expected size, and nothing of the source's metadata. */
async function expectCleanVariants(variants: readonly { data: Buffer }[], sizes: [number, number][]) {
  const got = await Promise.all(
    variants.map(async (v) => {
      const m = await sharp(v.data).metadata();
      expect([m.exif, m.icc, m.xmp, m.iptc, m.orientation]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      return [m.width, m.height];
    }),
  );
  expect(got).toEqual(sizes);
}

describe('HEIC (HEVC HEIF), which the prebuilt libvips cannot decode', () => {
  test('the premise: sharp reads the header of the fixture but cannot decode it', async () => {
    expect((await sharp(heif('hevc32.heif')).metadata()).compression).toBe('hevc');
    await expect(sharp(heif('hevc32.heif')).raw().toBuffer()).rejects.toThrow();
  });

  test.each([
    ['hevc32.heif', 32, 32],
    ['colors-no-alpha.heic', 64, 64],
  ])('%s gives variants of its %ix%i pixels, with no metadata', async (file, w, h) => {
    const r = await renderVariants(heif(file), opts);
    expect([r.width, r.height]).toEqual([w, h]);
    await expectCleanVariants(r.variants, [
      [16, Math.round((16 * h) / w)],
      [w, h],
    ]);
    expect(r.dhash).toMatch(/^[0-9a-f]{16}$/);
  });

  test('the decoded pixels are the image: colour bars, not a flat or grey frame', async () => {
    const raw = await decodeOnce(await heifAsPng(heif('colors-no-alpha.heic'), 1e8), 64, 1e8);
    const px = (x: number, y: number) => [
      ...raw.data.subarray((y * 64 + x) * raw.channels, (y * 64 + x) * raw.channels + 3),
    ];
    expect(new Set([px(2, 2), px(62, 2), px(2, 62), px(62, 62)].map((p) => p.join(','))).size).toBeGreaterThan(1);
  });

  test.each([
    ['truncated before its meta box', (b: Buffer) => b.subarray(0, 40)],
    ['truncated after its header', (b: Buffer) => b.subarray(0, 300)],
  ])('a HEIF %s is IMAGE_UNSUPPORTED saying why, never IMAGE_CORRUPT', async (_, cut) => {
    const e = await rejection(renderVariants(cut(heif('hevc32.heif')), opts));
    expect(e.code).toBe('IMAGE_UNSUPPORTED');
    expect(e.message).toMatch(/^the HEIF image cannot be decoded: libheif cannot read the file: \S/);
  });

  test('a HEIC over the pixel limit is refused before it is decoded', async () => {
    const e = await rejection(renderVariants(heif('colors-no-alpha.heic'), { ...opts, maxPixels: 4000 }));
    expect(e.code).toBe('IMAGE_TOO_LARGE');
    expect(e.message).toContain('64x64 = 4096 pixels, over the limit of 4000');
  });

  test('decodes run on the pool threads, several at once, and the event loop keeps turning meanwhile', async () => {
    const pool = new HeifDecoderPool(2);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const out = await Promise.all(Array.from({ length: 12 }, () => pool.decode(heif('colors-no-alpha.heic'), 1e8)));
      expect(out.map((p) => [p.width, p.height, p.data.length])).toEqual(Array(12).fill([64, 64, 64 * 64 * 4]));
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
      await pool.close();
    }
  });
});

test('a thread that decoded a large image is replaced (WebAssembly memory only grows); the next decode works', async () => {
  const pool = new HeifDecoderPool(1, 1000);
  try {
    await pool.decode(heif('hevc32.heif'), 1e8); // 1024 pixels: over 1000, retired
    await pool.decode(heif('hevc32.heif'), 1e8);
    expect(pool.started).toBe(2);
    const small = new HeifDecoderPool(1);
    await small.decode(heif('hevc32.heif'), 1e8);
    await small.decode(heif('hevc32.heif'), 1e8);
    expect(small.started).toBe(1);
    await small.close();
  } finally {
    await pool.close();
  }
});

describe('broken metadata, decodable pixels', () => {
  /** A WebP whose EXIF chunk claims more bytes than the file has: libwebp refuses the whole file. */
  async function webpWithBrokenExif(): Promise<Buffer> {
    const webp = await sharp(await fx.photoJpeg(120, 80))
      .withExif({ IFD0: { Copyright: 'agent' } })
      .webp()
      .toBuffer();
    const at = webp.indexOf('EXIF');
    expect(at).toBeGreaterThan(0);
    const broken = Buffer.from(webp);
    broken.writeUInt32LE(0x7fffffff, at + 4);
    return broken;
  }

  test('the premise: sharp refuses the WebP as a whole', async () => {
    await expect(sharp(await webpWithBrokenExif()).metadata()).rejects.toThrow(/corrupt header/);
  });

  test('it produces variants, without metadata', async () => {
    const r = await renderVariants(await webpWithBrokenExif(), opts);
    expect([r.width, r.height]).toEqual([120, 80]);
    await expectCleanVariants(r.variants, [
      [16, 11],
      [120, 80],
    ]);
  });

  const seg = (marker: number, payload: Buffer) =>
    Buffer.concat([Buffer.from([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 255]), payload]);

  test('a JPEG whose only EXIF block is garbage produces variants', async () => {
    const jpg = await fx.photoJpeg(120, 80);
    const broken = Buffer.concat([
      jpg.subarray(0, 2),
      seg(0xe1, Buffer.concat([Buffer.from('Exif\0\0XX*\0'), Buffer.alloc(40, 0xab)])),
      jpg.subarray(2),
    ]);
    const r = await renderVariants(broken, opts);
    expect([r.width, r.height]).toEqual([120, 80]);
    await expectCleanVariants(r.variants, [
      [16, 11],
      [120, 80],
    ]);
  });

  test('a JPEG with orientation 6 and a garbage ICC block produces oriented variants', async () => {
    const jpg = await fx.photoJpeg(120, 80, { orientation: 6 });
    const broken = Buffer.concat([
      jpg.subarray(0, 2),
      seg(0xe2, Buffer.concat([Buffer.from('ICC_PROFILE\0\x01\x01'), Buffer.alloc(200, 7)])),
      jpg.subarray(2),
    ]);
    const r = await renderVariants(broken, opts);
    expect([r.width, r.height]).toEqual([80, 120]);
    await expectCleanVariants(r.variants, [
      [16, 24],
      [80, 120],
    ]);
  });

  test('stripMetadata drops EXIF/XMP/ICC blocks and keeps the pixels, in JPEG, PNG and WebP', async () => {
    const src = await fx.photoJpeg(40, 30, { orientation: 6 });
    for (const input of [
      src,
      await sharp(src).keepMetadata().png().toBuffer(),
      await sharp(src).keepMetadata().webp({ lossless: true }).toBuffer(),
    ]) {
      const stripped = stripMetadata(input)!;
      expect(stripped.length).toBeLessThan(input.length);
      const m = await sharp(stripped).metadata();
      expect([m.exif, m.icc, m.orientation]).toEqual([undefined, undefined, undefined]);
      const a = await sharp(input).raw().toBuffer();
      const b = await sharp(stripped).raw().toBuffer();
      expect(b.equals(a)).toBe(true);
    }
    // Nothing to remove, or not an image: nothing to retry with.
    expect(stripMetadata(await sharp(src).png().toBuffer())).toBeUndefined();
    expect(stripMetadata(Buffer.from('not an image at all'))).toBeUndefined();
  });

  test('a photo whose pixels are broken too stays IMAGE_CORRUPT', async () => {
    const jpg = await fx.photoJpeg(120, 80, { exif: { IFD0: { Copyright: 'x' } } });
    const e = await rejection(renderVariants(jpg.subarray(0, jpg.length / 2), opts));
    expect(e.code).toBe('IMAGE_CORRUPT');
  });
});

describe('animated GIF and WebP', () => {
  async function animated(format: 'gif' | 'webp'): Promise<Buffer> {
    const frame = (background: string) =>
      sharp({ create: { width: 40, height: 30, channels: 4, background } })
        .png()
        .toBuffer();
    const p = sharp([await frame('#ff0000'), await frame('#00ff00'), await frame('#0000ff')], {
      join: { animated: true },
    });
    return format === 'gif' ? p.gif().toBuffer() : p.webp({ lossless: true }).toBuffer();
  }

  test.each(['gif', 'webp'] as const)('%s: the variants are the first frame', async (format) => {
    const input = await animated(format);
    expect((await sharp(input).metadata()).pages).toBe(3);
    const r = await renderVariants(input, { ...opts, format: 'jpeg' });
    expect([r.width, r.height]).toEqual([40, 30]);
    await expectCleanVariants(r.variants, [
      [16, 12],
      [40, 30],
    ]);
    const { data } = await sharp(r.variants[1]!.data).raw().toBuffer({ resolveWithObject: true });
    const [red, green, blue] = [data[0]!, data[1]!, data[2]!];
    expect(red).toBeGreaterThan(200);
    expect(Math.max(green, blue)).toBeLessThan(60);
  });
});

/**
 * An ICC v2 display profile with Adobe RGB (1998)'s D50-adapted colorants and its 563/256 gamma, built here
 * (no profile file is checked in): header, tag table, then XYZ, curv, desc and text tags.
 */
function adobeRgbProfile(): Buffer {
  const s15 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(Math.round(v * 65536));
    return b;
  };
  const xyz = (x: number, y: number, z: number) =>
    Buffer.concat([Buffer.from('XYZ \0\0\0\0', 'latin1'), s15(x), s15(y), s15(z)]);
  const curv = Buffer.concat([
    Buffer.from('curv\0\0\0\0', 'latin1'),
    Buffer.from([0, 0, 0, 1, 563 >> 8, 563 & 255, 0, 0]),
  ]);
  const ascii = Buffer.from('Adobe RGB (1998) compatible, test\0', 'latin1');
  const count = Buffer.alloc(4);
  count.writeUInt32BE(ascii.length);
  const desc = Buffer.concat([Buffer.from('desc\0\0\0\0', 'latin1'), count, ascii, Buffer.alloc(4 + 4 + 2 + 1 + 67)]);
  const cprt = Buffer.concat([
    Buffer.from('text\0\0\0\0', 'latin1'),
    Buffer.from('no copyright, test data\0', 'latin1'),
  ]);
  const tags: [string, Buffer][] = [
    ['desc', desc],
    ['cprt', cprt],
    ['wtpt', xyz(0.9642, 1, 0.82491)],
    ['rXYZ', xyz(0.60974, 0.31111, 0.01947)],
    ['gXYZ', xyz(0.20528, 0.62567, 0.06087)],
    ['bXYZ', xyz(0.14919, 0.06322, 0.74457)],
    ['rTRC', curv],
    ['gTRC', curv],
    ['bTRC', curv],
  ];
  const table = Buffer.alloc(4 + tags.length * 12);
  table.writeUInt32BE(tags.length, 0);
  let offset = 128 + table.length;
  const data: Buffer[] = [];
  tags.forEach(([sig, body], i) => {
    table.write(sig, 4 + i * 12, 'latin1');
    table.writeUInt32BE(offset, 8 + i * 12);
    table.writeUInt32BE(body.length, 12 + i * 12);
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    data.push(padded);
    offset += padded.length;
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write('mntrRGB XYZ ', 12, 'latin1');
  header.write('acsp', 36, 'latin1');
  s15(0.9642).copy(header, 68);
  s15(1).copy(header, 72);
  s15(0.8249).copy(header, 76);
  return Buffer.concat([header, table, ...data]);
}

describe('Display P3 and Adobe RGB photos are converted to sRGB', () => {
  /** sRGB of a Display P3 colour (P3-D65 primaries, sRGB transfer), rounded to 8 bits. */
  function p3ToSrgb([r, g, b]: readonly number[]): number[] {
    const lin = (v8: number) => {
      const v = v8 / 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    const enc = (v: number) => {
      const c = Math.min(1, Math.max(0, v));
      return Math.round(255 * (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055));
    };
    const [R, G, B] = [lin(r!), lin(g!), lin(b!)];
    return [enc(1.2249 * R - 0.2247 * G), enc(-0.042 * R + 1.0419 * G), enc(-0.0197 * R - 0.0786 * G + 1.0979 * B)];
  }

  const P3 = [200, 60, 40];

  /** The Display P3 profile sharp ships, as bytes: sharp tags (and converts) with it, its metadata returns it. */
  async function p3Profile(): Promise<Buffer> {
    const tagged = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .withIccProfile('p3')
      .png()
      .toBuffer();
    return (await sharp(tagged).metadata()).icc!;
  }

  /** A flat image whose stored values are P3 (200, 60, 40), tagged Display P3 (not converted to it). */
  async function p3Image(format: 'png' | 'jpeg'): Promise<Buffer> {
    const raw = Buffer.alloc(32 * 24 * 3);
    for (let i = 0; i < raw.length; i += 3) raw.set(P3, i);
    const plain = sharp(raw, { raw: { width: 32, height: 24, channels: 3 } });
    const icc = await p3Profile();
    if (format === 'png') return withIccProfile(await plain.png().toBuffer(), icc);
    const jpg = await plain.jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    const payload = Buffer.concat([Buffer.from('ICC_PROFILE\0\x01\x01', 'latin1'), icc]);
    const app2 = Buffer.concat([
      Buffer.from([0xff, 0xe2, (payload.length + 2) >> 8, (payload.length + 2) & 255]),
      payload,
    ]);
    return Buffer.concat([jpg.subarray(0, 2), app2, jpg.subarray(2)]);
  }

  /** sRGB of an Adobe RGB (1998) colour (gamma 563/256; Adobe RGB's D65 primaries to sRGB's), 8 bits. */
  function adobeToSrgb([r, g, b]: readonly number[]): number[] {
    const lin = (v8: number) => (v8 / 255) ** (563 / 256);
    const enc = (v: number) => {
      const c = Math.min(1, Math.max(0, v));
      return Math.round(255 * (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055));
    };
    const [R, G, B] = [lin(r!), lin(g!), lin(b!)];
    return [enc(1.39836 * R - 0.39836 * G), enc(G), enc(-0.04293 * G + 1.04293 * B)];
  }

  test('png tagged Adobe RGB (profile built here): the decoded pixels are the sRGB colour', async () => {
    const raw = Buffer.alloc(32 * 24 * 3);
    for (let i = 0; i < raw.length; i += 3) raw.set(P3, i);
    const png = await sharp(raw, { raw: { width: 32, height: 24, channels: 3 } })
      .png()
      .toBuffer();
    const input = withIccProfile(png, adobeRgbProfile());
    expect((await sharp(input).metadata()).icc).toBeDefined();
    const got = [...(await decodeOnce(input, 32, 1e8)).data.subarray(0, 3)];
    const want = adobeToSrgb(P3);
    expect(want).not.toEqual(P3);
    for (const [i, v] of got.entries()) expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(4);
  });

  test.each(['png', 'jpeg'] as const)(
    '%s tagged Display P3: the decoded pixels are the sRGB colour',
    async (format) => {
      const input = await p3Image(format);
      expect((await sharp(input).metadata()).icc).toBeDefined();
      const raw = await decodeOnce(input, 32, 1e8);
      const got = [...raw.data.subarray(0, 3)];
      const want = p3ToSrgb(P3);
      expect(want).not.toEqual(P3);
      for (const [i, v] of got.entries()) expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(4);
    },
  );
});
