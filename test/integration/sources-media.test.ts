/**
 * `media: { mode: separate }` in a sources worker process on the real broker and registry, against the
 * project's RESO test server with the `ddf` quirks (Media only as its own resource, `$expand=Media` refused)
 * and faults on every resource request, Media queries included (503s, resets, 429s with Retry-After).
 * listings.raw, read_committed, folds into a replica equal to the server's truth, photos included, through
 * the initial load and a round of photo, price, listing and delete changes, with no version twice.
 */
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import { stopWorker } from '../support/pipeline-workers';
import { PRESETS, ResoDataset, type ResoServer, startResoServer } from '../support/reso-server';
import { everyFault, readRaw, replicaOf, startSourcesStep, versionOf } from '../support/sources-run';
import { type WorkerProcess, waitFor } from '../support/streams';

jest.setTimeout(180_000);

const k = connectedKafka('itest-sources-media');
const scratch = scratchDir('itest-sources-media-');
let server: ResoServer | undefined;
const workers: WorkerProcess[] = [];
afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  await server?.close();
});

test('separate Media: every listing with its photos, through faults and a round of changes', async () => {
  const dataset = new ResoDataset({ seed: 900, count: 30, tieSize: 4, deletes: 'status', keyPrefix: 'DDF-' });
  server = await startResoServer({
    sources: [{ name: 'local-ddf', quirks: { ...PRESETS.ddf, faults: everyFault }, dataset }],
  });
  const s = server;
  const step = await startSourcesStep(
    k.admin,
    k.kafka,
    scratch.path,
    `sources:
  - name: local-ddf
    kind: reso-web-api
    resource: "${s.url}/local-ddf/Property"
    auth: { kind: bearer, tokenEnv: SOURCE_DDF_TOKEN }
    tieBreak: key
    paging: cursor
    pageSize: 5
    pollInterval: 1s
    deletes: { kind: status, field: StandardStatus, values: [Delete] }
    media: { mode: separate, changeTimestamp: PhotosChangeTimestamp }
    country: CA
    currency: CAD
`,
    { SOURCE_DDF_TOKEN: PRESETS.ddf.auth.token, LISTFLOW_SOURCES_ALLOW_HOSTS: new URL(s.url).host },
  );
  const w = step.startWorker();
  workers.push(w);
  const equal = async () =>
    JSON.stringify([...replicaOf(await readRaw(k.kafka, step.topics.raw), 'local-ddf')].sort()) ===
    JSON.stringify([...dataset.truth()].sort());
  const caughtUp = async () => {
    const ok = await waitFor(equal, 90_000, 1000);
    if (!ok) console.log(w.output().slice(-6000));
    expect(ok).toBe(true);
  };
  await caughtUp();

  const keys = dataset.liveKeys();
  dataset.changePhotos(keys[0]!, { replace: true });
  dataset.changePhotos(keys[1]!, { removeLast: true, add: 2 });
  dataset.changePrice(keys[2]!, 123_456);
  dataset.remove(keys[3]!);
  dataset.addListing();
  await caughtUp();

  const seen = await readRaw(k.kafka, step.topics.raw);
  const versions = seen.map(versionOf);
  expect(versions.length - new Set(versions).size).toBe(0);
  const photosOf = (key: string) =>
    ((seen.filter((r) => r.key === key).at(-1)?.record.Media ?? []) as Array<{ MediaKey: string }>).map(
      (m) => m.MediaKey,
    );
  expect(photosOf(keys[1]!)).toEqual(
    dataset
      .truth()
      .get(keys[1]!)!
      .photos.map((p) => p.MediaKey),
  );
  // The Media resource was queried, faults and all, and no Property query asked to expand.
  const media = s.log.filter((e) => e.target.startsWith('/local-ddf/Media'));
  expect(media.some((e) => e.status === 200)).toBe(true);
  expect(new Set(s.log.filter((e) => e.kind === 'resource').map((e) => e.status))).toEqual(
    new Set([200, 429, 503, 'reset']),
  );
  expect(s.log.some((e) => e.target.includes('%24expand') || e.target.includes('$expand'))).toBe(false);
  expect(await stopWorker(w)).toBe(0);
});
