/** Small JPEG and PNG photos for sample feeds, made with sharp: distinct colours, a few KB each. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { prng } from './generator';

/** Writes `count` photos into `dir` (alternating JPEG and PNG) and returns their file:// URLs. */
export async function writeSamplePhotos(dir: string, count: number, seed: number): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const rnd = prng(seed ^ 0x5eed);
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const background = { r: Math.floor(rnd() * 256), g: Math.floor(rnd() * 256), b: Math.floor(rnd() * 256) };
    const png = i % 2 === 1;
    const img = sharp({ create: { width: 160, height: 120, channels: 3, background } });
    // A lighter band so that photos are not flat (perceptual hashes of flat images all look alike).
    const band = await sharp({
      create: {
        width: 160,
        height: 30,
        channels: 3,
        background: { r: 255 - background.r, g: 255 - background.g, b: 255 - background.b },
      },
    })
      .png()
      .toBuffer();
    const composed = img.composite([{ input: band, top: 10 + (i % 5) * 15, left: 0 }]);
    const bytes = png ? await composed.png().toBuffer() : await composed.jpeg({ quality: 80 }).toBuffer();
    const path = join(dir, `photo-${i}.${png ? 'png' : 'jpg'}`);
    await writeFile(path, bytes);
    urls.push(pathToFileURL(path).href);
  }
  return urls;
}
