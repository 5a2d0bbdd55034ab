/**
 * A real cpuBound operator on a thread: normalize, loaded through the operator registry as a worker hands it
 * to its threads, against normalize on this thread. Here, not beside runtime/operator-threads.ts, because the
 * runtime's own tests use test operators only (the runtime imports no operator; test/unit/import-graph.test.ts).
 * The threads load the build: run `npm run build` first (`npm test` does).
 */
import { join } from 'node:path';
import { sampleRawListings } from '../../bench/fixtures';
import { normalizeConfig } from '../../operators/normalize/config';
import { normalizeListing } from '../../operators/normalize/process';
import { parseConfig } from '../../runtime/config';
import { classifyError, type PermanentError } from '../../runtime/errors';
import type { EncodedEmit } from '../../runtime/operator-threads';
import type { Listing } from '../../schemas/generated/types';
import {
  decodeOut,
  encodeRaw,
  failure,
  later,
  meta,
  never,
  OUT_ID,
  rawWriter,
  threadPools,
} from '../support/thread-harness';

const pool = threadPools();

describe('normalize on a thread', () => {
  test('every outcome equals normalize on the event loop: the same Listing, or the same code, message and detail', async () => {
    const config = parseConfig(normalizeConfig, {}, { where: 'test' });
    const threads = pool({
      operator: 'normalize',
      config,
      // The operator registry, as a worker hands it to its threads (registryModuleOf).
      registry: join(__dirname, '..', '..', 'operators', 'index.ts'),
      outputs: { listings: { schema: 'Listing', schemaId: OUT_ID } },
    });
    const records = sampleRawListings(400);
    const onThread = records.map((r, i) =>
      threads.process(encodeRaw(r.value), rawWriter, meta(i, r.key), 1, later(), never),
    );
    let listings = 0;
    let rejected = 0;
    for (const [i, r] of records.entries()) {
      let expected: Listing | undefined;
      let thrown: unknown;
      try {
        expected = normalizeListing(r.value, config);
      } catch (e) {
        thrown = e;
      }
      if (expected) {
        const emits = await onThread[i]!;
        expect(emits).toHaveLength(1);
        expect((emits[0] as EncodedEmit).key).toBe(expected.id);
        expect(decodeOut<Listing>(emits[0]!, 'Listing')).toEqual(expected);
        listings++;
      } else {
        const c = classifyError(thrown);
        expect(await failure(onThread[i]!)).toEqual({
          code: c.code,
          kind: c.kind,
          message: c.message,
          detail: (thrown as PermanentError).detail,
        });
        rejected++;
      }
    }
    // The sample feed has both kinds, so both paths were compared.
    expect(listings).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(3);
  }, 30_000);
});
