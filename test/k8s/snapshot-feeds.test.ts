/**
 * A file snapshot source in the sources file gives the sources Deployment what its reader needs, derived from the
 * declarations (k8s/assignments.ts assignmentPodNeeds over deploy-needs.ts assignmentsOfFile), never from a name:
 * its feed's folder mounted read-only (from the ConfigMap or PVC it names, else an empty directory an overlay
 * patches), one mount per folder, and ingest's settings (LISTFLOW_INGEST_*, without the file root the reader sets
 * per feed) from listflow-env by key. The shipped file declares no snapshot source, so the committed base has none.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignmentPodNeeds } from '../../k8s/assignments';
import { assignmentsOfFile, shippedAssignments } from '../../k8s/deploy-needs';
import { operators } from '../../operators';
import { ingestConfig } from '../../operators/ingest/config';
import listings from '../../pipelines/listings';
import { knownVariables } from '../../runtime/settings';

const dir = mkdtempSync(join(tmpdir(), 'listflow-k8s-feeds-'));
const step = listings.steps.find((s) => s.operator === 'sources')!;
const fileOf = (sources: unknown[]): string => {
  const file = join(dir, `sources-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, JSON.stringify({ sources }));
  return file;
};
const snap = (name: string, uri: string, extra: Record<string, unknown> = {}) => ({
  name,
  kind: uri.startsWith('file:') ? 'file' : 'http',
  uri,
  pollInterval: '24h',
  ...extra,
});
const needsOf = (sources: unknown[]) => assignmentPodNeeds(assignmentsOfFile(step, fileOf(sources)));
const INGEST_SETTINGS = Object.keys(ingestConfig.fields)
  .filter((f) => f !== 'fileRoot')
  .map((f) => `LISTFLOW_INGEST_${f.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`);

describe('the sources Deployment of file snapshot sources', () => {
  it.each<[string, unknown[], Array<Record<string, unknown>>, string[]]>([
    [
      'a ConfigMap, a PVC and no volume: one read-only mount each at the feed folder',
      [
        snap('nightly', 'file:///var/lib/listflow/feeds/nightly/feed.json', { volume: { configMap: 'nightly-feed' } }),
        snap('weekly', 'file:///mnt/weekly/all.ndjson', { volume: { persistentVolumeClaim: 'weekly-feeds' } }),
        snap('adhoc', 'file:///srv/adhoc/x.csv'),
      ],
      [
        { name: 'feed-nightly', configMap: { name: 'nightly-feed' } },
        { name: 'feed-weekly', persistentVolumeClaim: { claimName: 'weekly-feeds', readOnly: true } },
        { name: 'feed-adhoc', emptyDir: { sizeLimit: '1Gi' } },
      ],
      ['/var/lib/listflow/feeds/nightly', '/mnt/weekly', '/srv/adhoc'],
    ],
    [
      'two sources in one folder with one volume share one mount',
      [
        snap('a', 'file:///feeds/a.json', { volume: { configMap: 'feeds' } }),
        snap('b', 'file:///feeds/b.json', { volume: { configMap: 'feeds' } }),
      ],
      [{ name: 'feed-a', configMap: { name: 'feeds' } }],
      ['/feeds'],
    ],
    ['an http snapshot source mounts nothing', [snap('remote', 'https://feeds.example.com/all.json')], [], []],
  ])('%s', (_n, sources, volumes, paths) => {
    const needs = needsOf(sources);
    expect(needs.volumes).toEqual(volumes);
    expect(needs.mounts.map((m) => [m.name, m.mountPath, m.readOnly])).toEqual(
      paths.map((p, i) => [volumes[i]!.name, p, true]),
    );
    // Ingest's settings, every one but the file root (the reader sets it to each feed's folder), by key.
    expect(needs.env.map((e) => e.name).sort()).toEqual([...INGEST_SETTINGS].sort());
    const known = knownVariables(operators);
    for (const e of needs.env) {
      expect(known.has(e.name)).toBe(true);
      expect(e.valueFrom?.configMapKeyRef).toEqual({ name: 'listflow-env', key: e.name, optional: true });
    }
  });

  it('refuses two sources reading one folder from different volumes, naming both', () => {
    expect(() =>
      needsOf([
        snap('a', 'file:///feeds/a.json', { volume: { configMap: 'one' } }),
        snap('b', 'file:///feeds/b.json', { volume: { persistentVolumeClaim: 'two' } }),
      ]),
    ).toThrow(/sources a and b read the folder \/feeds from different volumes/);
  });

  it('RESO sources alone need neither mounts nor ingest settings, as the shipped file', () => {
    const shipped = assignmentPodNeeds(shippedAssignments(step));
    expect(shipped).toEqual({ env: [], volumes: [], mounts: [] });
  });
});
