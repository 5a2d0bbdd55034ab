/**
 * Issue 12 end to end: a feed file whose OData page carries `@odata.nextLink` to a loopback "metadata"
 * server. `listflow dry-run page.json --through ingest` and the ingest worker on the real broker must both
 * refuse it with INGEST_BLOCKED_URL without sending a request; once the host:port is allow-listed
 * (--set ingest.allowHosts / LISTFLOW_INGEST_ALLOW_HOSTS), the same page is followed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dryRunCommands } from '../../cli/commands/dry-run';
import { DLQ_HEADER } from '../../runtime/dead-letters/build';
import type { IngestJob, IngestJobStatus } from '../../schemas/generated/types';
import { invoke } from '../support/cli-invoke';
import { connectedKafka } from '../support/kafka-suite';
import {
  allCommitted,
  createPipelineTopics,
  startStepWorker,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import { produceRecords, startReader, uniqueName, waitFor } from '../support/streams';

/** A loopback server standing in for a cloud metadata endpoint (or any internal service); counts requests. */
async function listen(): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '/');
    res.end(JSON.stringify({ value: [{ ListingKey: 'FROM-LOOPBACK' }] }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

let dir: string;
let blocked: Awaited<ReturnType<typeof listen>>;
let allowed: Awaited<ReturnType<typeof listen>>;
/** page-<name>.json: one listing and a nextLink to `port`'s /latest/meta-data/iam. */
const writePage = (name: string, port: number): string => {
  const file = join(dir, `page-${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      value: [{ ListingKey: `${name}-1` }],
      '@odata.nextLink': `http://127.0.0.1:${port}/latest/meta-data/iam`,
    }),
  );
  return file;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'itest-guarded-http-'));
  [blocked, allowed] = await Promise.all([listen(), listen()]);
});
afterAll(async () => {
  for (const s of [blocked, allowed]) {
    s.server.closeAllConnections();
    await new Promise((ok) => s.server.close(ok));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('listflow dry-run page.json --through ingest', () => {
  test('refuses the nextLink to loopback with INGEST_BLOCKED_URL', async () => {
    const r = await invoke(dryRunCommands, ['dry-run', writePage('dry', blocked.port), '--through', 'ingest']);
    expect(r.error).toBeUndefined();
    const doc = JSON.parse(r.stdout);
    expect(doc.rejects).toEqual([
      expect.objectContaining({ step: 'ingest', code: 'INGEST_BLOCKED_URL', kind: 'permanent' }),
    ]);
    expect(doc.rejects[0].message).toContain(`add 127.0.0.1:${blocked.port} to LISTFLOW_INGEST_ALLOW_HOSTS`);
    expect(blocked.hits).toEqual([]);
  });

  test('follows it once the host:port is allow-listed', async () => {
    const r = await invoke(dryRunCommands, [
      'dry-run',
      writePage('dry-allowed', allowed.port),
      '--through',
      'ingest',
      '--set',
      `ingest.allowHosts=127.0.0.1:${allowed.port}`,
    ]);
    expect(r.error).toBeUndefined();
    const doc = JSON.parse(r.stdout);
    expect(doc.rejects).toEqual([]);
    expect(doc.outputs.filter((o: { topic: string }) => o.topic === 'listings.raw')).toHaveLength(2);
    // Followed (a redelivered job may fetch it again: at-least-once, and the fetch has no effect to repeat).
    expect([...new Set(allowed.hits)]).toEqual(['/latest/meta-data/iam']);
  });
});

describe('the ingest worker on the real broker', () => {
  const broker = connectedKafka();

  test('refuses the nextLink to loopback (FAILED, dead letter INGEST_BLOCKED_URL); an allow-listed one is followed', async () => {
    blocked.hits.length = 0;
    allowed.hits.length = 0;
    const p = testListingsPipeline(dir);
    await createPipelineTopics(broker.admin, p);
    const status = await startReader<IngestJobStatus>(broker.kafka, p.topics.ingestStatus, 'IngestJobStatus');
    const jobDlq = await startReader<never>(broker.kafka, p.dlq('ingest'));
    const job = (name: string, port: number): IngestJob => ({
      jobId: uniqueName(name),
      source: 'itest',
      uri: pathToFileURL(writePage(name, port)).href,
      format: 'auto',
      submittedAt: new Date(),
      defaultCountry: null,
      defaultCurrency: null,
    });
    const refused = job('refused', blocked.port);
    const followed = job('followed', allowed.port);
    await produceRecords(broker.kafka, p.topics.ingestJobs, 'IngestJob', [
      { key: refused.jobId, value: refused },
      { key: followed.jobId, value: followed },
    ]);
    const final = (jobId: string) =>
      status.records.filter((r) => r.key === jobId && r.value?.state !== 'RUNNING').at(-1)?.value;
    const worker = startStepWorker(p, 'ingest', {
      LISTFLOW_INGEST_FILE_ROOT: dir,
      LISTFLOW_INGEST_ALLOW_HOSTS: `127.0.0.1:${allowed.port}`,
    });
    try {
      await whileWorkersRun([worker], async () => {
        const done = await waitFor(
          async () =>
            final(refused.jobId) !== undefined &&
            final(followed.jobId) !== undefined &&
            jobDlq.records.length >= 1 &&
            (await allCommitted(broker.admin, p, 'ingest', p.topics.ingestJobs)),
          120_000,
          300,
        );
        if (!done) console.log(worker.output().slice(-3000));
        expect(done).toBe(true);
      });
    } finally {
      await Promise.all([status.stop(), jobDlq.stop()]);
    }
    expect(final(refused.jobId)).toMatchObject({ state: 'FAILED', errorCode: 'INGEST_BLOCKED_URL', records: 1 });
    expect(final(followed.jobId)).toMatchObject({ state: 'COMPLETED', records: 2, errorCode: null });
    const letter = jobDlq.records.find((r) => r.key === refused.jobId);
    expect(letter?.headers).toMatchObject({
      [DLQ_HEADER.code]: 'INGEST_BLOCKED_URL',
      [DLQ_HEADER.kind]: 'permanent',
      [`${DLQ_HEADER.detailPrefix}host`]: '127.0.0.1',
      [`${DLQ_HEADER.detailPrefix}address`]: '127.0.0.1',
      [`${DLQ_HEADER.detailPrefix}rule`]: 'loopback',
    });
    expect(jobDlq.records.filter((r) => r.key === followed.jobId)).toEqual([]);
    expect(blocked.hits).toEqual([]);
    // Followed (a redelivered job may fetch it again: at-least-once, and the fetch has no effect to repeat).
    expect([...new Set(allowed.hits)]).toEqual(['/latest/meta-data/iam']);
  });
});
