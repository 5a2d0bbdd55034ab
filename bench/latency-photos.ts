/**
 * bench:latency's photo server, run as a child process (so serving photos is not charged to the bench's own
 * event loop, which timestamps the PostgreSQL rows): `node latency-photos.js <width> <height>` prints
 * `{"port":N}` on its first stdout line and serves GET /<anything>.jpg on 127.0.0.1 until killed.
 *
 * Every path gets a photo-like JPEG of the given size whose bytes differ (the path in a COM segment), so each
 * photo has its own sha256 and the images operator does all of its work for every one: nothing in the blob
 * store matches, while generating a single image keeps the server cheap.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { photoJpeg } from '../test/fixtures/images/fixtures';

/** The JPEG with a comment segment (FF FE, big-endian length including itself) right after its SOI marker. */
export function withComment(jpeg: Buffer, text: string): Buffer {
  const body = Buffer.from(text, 'utf8').subarray(0, 65_000);
  const head = Buffer.from([0xff, 0xfe, (body.length + 2) >> 8, (body.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), head, body, jpeg.subarray(2)]);
}

async function serve(width: number, height: number): Promise<void> {
  const base = await photoJpeg(width, height, { seed: 7, quality: 88 });
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || !req.url?.endsWith('.jpg')) {
      res.writeHead(404).end();
      return;
    }
    const body = withComment(base, req.url);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ port, bytes: base.length })}\n`);
  });
}

export interface PhotoServer {
  readonly port: number;
  /** Size of one photo. */
  readonly bytes: number;
  stop(): void;
}

/** Starts the server in a child process and resolves once it listens. */
export function startPhotoServer(width: number, height: number): Promise<PhotoServer> {
  const child = spawn(process.execPath, [__filename, String(width), String(height)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`photo server exited ${code} before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const { port, bytes } = JSON.parse(line) as { port: number; bytes: number };
      resolve({ port, bytes, stop: () => child.kill('SIGTERM') });
    });
  });
}

if (require.main === module) {
  const [width, height] = process.argv.slice(2).map(Number);
  serve(width ?? 2048, height ?? 1536).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
