/**
 * HEIC (HEVC-coded HEIF, what iPhones upload) decoded by libheif compiled to WebAssembly (libheif-js): the
 * prebuilt libvips inside sharp reads a HEIC's header but has no HEVC decoder, so its decode fails.
 *
 * - Off the event loop: WebAssembly runs synchronously on the thread that calls it, so every decode runs on
 *   a small pool of worker threads (at most one decode per thread at a time). The worker's image limit
 *   (images `concurrency`) already bounds how many photos are decoded at once; the pool is sized to the cores.
 * - Inside the image limits: the fetcher has already refused bytes over maxBytes; the primary image's
 *   dimensions are read from its header and anything over maxPixels is refused before a pixel is decoded, and
 *   a decode that runs past DECODE_TIMEOUT_MS is abandoned (its thread is replaced).
 * - Errors: a HEIF libheif cannot read or decode is IMAGE_UNSUPPORTED with libheif's own reason; it is never
 *   IMAGE_CORRUPT, since a newer decoder may read what this one cannot.
 * - Output: RGBA pixels, oriented (libheif applies the irot/imir transforms that HEIF uses instead of EXIF
 *   orientation), plus the image's ICC profile when it has one (iPhones embed Display P3), so the caller can
 *   convert to sRGB.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PermanentError } from '../../runtime/errors';

export interface HeifPixels {
  readonly width: number;
  readonly height: number;
  /** Interleaved RGBA, 8 bits per channel, width * height * 4 bytes. */
  readonly data: Buffer;
  /** The image's ICC profile, if it embeds one. */
  readonly icc?: Buffer;
}

export const DECODE_TIMEOUT_MS = 30_000;
/**
 * WebAssembly memory only grows: a thread that decoded a photo this large is retired after it, so one 48 MP
 * HEIC does not leave ~200 MB held for the life of the worker.
 */
export const RETIRE_AFTER_PIXELS = 16_000_000;

/**
 * The thread's code, plain CommonJS so that it runs from the TypeScript sources (tests) and from dist alike.
 * libheif-js's HeifDecoder logs to the console on errors, so the thread calls the C API it wraps instead and
 * returns libheif's messages.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const lib = require(workerData.libheif);
const ok = lib.heif_error_code.heif_error_Ok;
parentPort.on('message', async ({ id, bytes, maxPixels }) => {
  const reply = (m, transfer) => parentPort.postMessage({ id, ...m }, transfer);
  let ctx = null;
  const handles = [];
  let image = null;
  try {
    ctx = lib.heif_context_alloc();
    if (!ctx) return reply({ unsupported: 'libheif could not allocate a decoding context' });
    const read = lib.heif_context_read_from_memory(ctx, bytes);
    if (read.code !== ok) return reply({ unsupported: 'libheif cannot read the file: ' + read.message });
    const ids = lib.heif_js_context_get_list_of_top_level_image_IDs(ctx);
    if (!ids || ids.code || ids.length === 0) return reply({ unsupported: 'the HEIF file holds no image' });
    let handle = null;
    for (const imageId of ids) {
      const h = lib.heif_js_context_get_image_handle(ctx, imageId);
      if (!h || h.code) continue;
      handles.push(h);
      if (!handle || lib.heif_image_handle_is_primary_image(h)) handle = h;
    }
    if (!handle) return reply({ unsupported: 'libheif cannot open the HEIF image' });
    const width = lib.heif_image_handle_get_width(handle);
    const height = lib.heif_image_handle_get_height(handle);
    if (!(width > 0 && height > 0)) return reply({ unsupported: 'the HEIF image has no dimensions' });
    if (width * height > maxPixels) return reply({ tooLarge: { width, height } });
    let icc;
    try {
      const size = lib.heif_image_handle_get_raw_color_profile_size(handle);
      if (size > 0 && size < 4 * 1024 * 1024) {
        const ptr = lib._malloc(size);
        try {
          lib.heif_image_handle_get_raw_color_profile(handle, ptr);
          icc = Uint8Array.from(lib.HEAPU8.subarray(ptr, ptr + size));
        } finally {
          lib._free(ptr);
        }
      }
    } catch {
      icc = undefined; // no readable profile: the pixels are taken as sRGB
    }
    const decoded = await lib.heif_js_decode_image2(
      handle,
      lib.heif_colorspace.heif_colorspace_RGB,
      lib.heif_chroma.heif_chroma_interleaved_RGBA,
    );
    if (!decoded || decoded.code) {
      return reply({ unsupported: 'libheif could not decode the image' + (decoded && decoded.message ? ': ' + decoded.message : '') });
    }
    image = decoded.image;
    const plane = (decoded.channels || []).find((c) => c.id == lib.heif_channel.heif_channel_interleaved);
    if (!plane) return reply({ unsupported: 'libheif returned no RGBA plane' });
    const row = plane.width * 4;
    const data = new Uint8Array(row * plane.height);
    if (plane.stride === row) data.set(plane.data.subarray(0, data.length));
    else for (let y = 0; y < plane.height; y++) data.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
    const transfer = icc ? [data.buffer, icc.buffer] : [data.buffer];
    reply({ pixels: { width: plane.width, height: plane.height, data, icc } }, transfer);
  } catch (e) {
    reply({ unsupported: 'libheif failed: ' + String((e && e.message) || e) });
  } finally {
    if (image) lib.heif_image_release(image);
    for (const h of handles) lib.heif_image_handle_release(h);
    if (ctx) lib.heif_context_free(ctx);
  }
});
`;

interface Reply {
  readonly id: number;
  readonly pixels?: { width: number; height: number; data: Uint8Array; icc?: Uint8Array };
  readonly tooLarge?: { width: number; height: number };
  readonly unsupported?: string;
}

interface Job {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly maxPixels: number;
  readonly resolve: (p: HeifPixels) => void;
  readonly reject: (e: unknown) => void;
}

class DecoderThread {
  readonly worker: Worker;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(private readonly pool: HeifDecoderPool) {
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { libheif: require.resolve('libheif-js/wasm-bundle') },
    });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => this.settle(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new Error('the HEIF decoder thread exited')));
  }

  run(job: Job): void {
    this.job = job;
    this.worker.ref();
    this.timer = setTimeout(() => {
      this.fail(
        new PermanentError('IMAGE_UNSUPPORTED', `the HEIF image took longer than ${DECODE_TIMEOUT_MS} ms to decode`),
      );
    }, DECODE_TIMEOUT_MS);
    this.worker.postMessage({ id: job.id, bytes: job.bytes, maxPixels: job.maxPixels });
  }

  private finish(): Job | undefined {
    const job = this.job;
    this.job = undefined;
    clearTimeout(this.timer);
    this.worker.unref();
    return job;
  }

  private settle(m: Reply): void {
    if (!this.job || m.id !== this.job.id) return;
    const job = this.finish()!;
    if (m.pixels) {
      const p = m.pixels;
      const data = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
      job.resolve(
        p.icc
          ? { width: p.width, height: p.height, data, icc: Buffer.from(p.icc) }
          : { width: p.width, height: p.height, data },
      );
    } else if (m.tooLarge) {
      const { width, height } = m.tooLarge;
      job.reject(
        new PermanentError(
          'IMAGE_TOO_LARGE',
          `the image declares ${width}x${height} = ${width * height} pixels, over the limit of ${job.maxPixels}`,
        ),
      );
    } else {
      job.reject(new PermanentError('IMAGE_UNSUPPORTED', `the HEIF image cannot be decoded: ${m.unsupported}`));
    }
    if (m.pixels && m.pixels.width * m.pixels.height > this.pool.retireAfterPixels) this.retire();
    else this.pool.next(this);
  }

  private retire(): void {
    this.pool.replace(this);
    void this.worker.terminate();
  }

  /** The thread is gone or stuck: its job fails, and the pool replaces it. */
  private fail(e: unknown): void {
    const job = this.finish();
    this.pool.replace(this);
    void this.worker.terminate();
    job?.reject(
      e instanceof PermanentError
        ? e
        : new PermanentError('IMAGE_UNSUPPORTED', `the HEIF image cannot be decoded: ${(e as Error).message}`),
    );
  }
}

/** A fixed number of decoder threads, started on first use, and a queue in front of them. */
export class HeifDecoderPool {
  private readonly threads: DecoderThread[] = [];
  private readonly idle: DecoderThread[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  /** Threads started so far (replacements included). */
  started = 0;

  constructor(
    private readonly size: number = Math.max(1, Math.min(4, availableParallelism())),
    readonly retireAfterPixels: number = RETIRE_AFTER_PIXELS,
  ) {}

  decode(bytes: Uint8Array, maxPixels: number): Promise<HeifPixels> {
    return new Promise((resolve, reject) => {
      // A copy: the caller's buffer may be a slice of a pooled allocation, and the thread takes ownership.
      this.queue.push({ id: this.nextId++, bytes: Uint8Array.from(bytes), maxPixels, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every thread (tests; a worker's threads are unref'd and never keep it alive). */
  async close(): Promise<void> {
    const all = this.threads.splice(0);
    this.idle.length = 0;
    await Promise.all(all.map((t) => t.worker.terminate()));
  }

  next(t: DecoderThread): void {
    this.idle.push(t);
    this.dispatch();
  }

  replace(t: DecoderThread): void {
    const i = this.threads.indexOf(t);
    if (i >= 0) this.threads.splice(i, 1);
    const j = this.idle.indexOf(t);
    if (j >= 0) this.idle.splice(j, 1);
    queueMicrotask(() => this.dispatch());
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let t = this.idle.pop();
      if (!t && this.threads.length < this.size) {
        t = new DecoderThread(this);
        this.threads.push(t);
        this.started++;
      }
      if (!t) return;
      t.run(this.queue.shift()!);
    }
  }
}

let shared: HeifDecoderPool | undefined;

/** Decodes the primary image of a HEIF file on the process's decoder threads. */
export function decodeHeif(bytes: Uint8Array, maxPixels: number): Promise<HeifPixels> {
  shared ??= new HeifDecoderPool();
  return shared.decode(bytes, maxPixels);
}
