/**
 * The committed manifests are exactly what the pipeline renders to, and the renderer refuses pipelines that
 * cannot be deployed as defined.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import pipeline from '../../pipelines/listings';
import type { PipelineSpec, StepSpec } from '../../runtime/pipeline';
import { loadRenderOptions } from '../../k8s/options';
import {
  checkDeployable,
  lagThreshold,
  maxUsefulReplicas,
  renderFiles,
  renderPipelineJson,
  shutdownGraceMs,
  stepResources,
  terminationGraceSeconds,
} from '../../k8s/render';
import { K8S, ROOT } from './support';

const files = renderFiles(pipeline, loadRenderOptions(ROOT));

describe('committed manifests', () => {
  test.each([...files.keys()])('k8s/%s equals the render of pipelines/listings.ts (fix: npm run k8s:render)', (rel) => {
    const path = join(K8S, rel);
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(files.get(rel));
  });

  test.each(['base', 'components/keda', 'components/blob-store-filesystem', 'components/blob-store-s3'])(
    'k8s/%s holds no file the generator does not write',
    (dir) => {
      const onDisk = readdirSync(join(K8S, dir)).map((f) => `${dir}/${f}`);
      expect(onDisk.filter((f) => !files.has(f))).toEqual([]);
    },
  );

  test('pipeline.json is the pipeline definition', () => {
    expect(JSON.parse(renderPipelineJson(pipeline))).toEqual(JSON.parse(JSON.stringify(pipeline)));
  });
});

const step = (over: Partial<StepSpec>): StepSpec => ({
  id: 'normalize',
  operator: 'normalize',
  input: 'in',
  outputs: { out: 'out' },
  concurrency: 4,
  timeoutMs: 10_000,
  retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
  replicas: 2,
  ...over,
});
const pipe = (...steps: StepSpec[]): PipelineSpec => ({
  name: 'p',
  topics: { in: { partitions: 3, schema: 'Listing' }, out: { partitions: 3, schema: 'Listing' } },
  steps,
});

/** The shipped sources file's source count, read here on its own. */
const SHIPPED_SOURCES = (
  YAML.parse(readFileSync(join(ROOT, 'pipelines', 'sources.yaml'), 'utf8')) as { sources: unknown[] }
).sources.length;
/** The sources step (an owning operator) on an input of `partitions` partitions. */
const owning = (partitions: number, replicas: number): PipelineSpec => ({
  name: 'p',
  topics: {
    in: { partitions, schema: 'SourceDeclaration' },
    raw: { partitions: 3, schema: 'RawListing' },
    state: { partitions: 3, schema: 'SourceState' },
  },
  steps: [step({ id: 'sources', operator: 'sources', outputs: { raw: 'raw', state: 'state' }, replicas })],
});

describe('the replicas of an owning step', () => {
  test('the shipped file declares sources', () => {
    expect(SHIPPED_SOURCES).toBeGreaterThan(1);
  });

  test.each([
    ['more partitions than sources: one replica per source', SHIPPED_SOURCES + 4, SHIPPED_SOURCES],
    ['fewer partitions than sources: one per partition', SHIPPED_SOURCES - 1, SHIPPED_SOURCES - 1],
  ])('%s', (_name, partitions, max) => {
    expect(maxUsefulReplicas(owning(partitions, 1), owning(partitions, 1).steps[0]!)).toBe(max);
  });

  test('a step that consumes jobs may use every partition', () => {
    const p = pipe(step({}));
    expect(maxUsefulReplicas(p, p.steps[0]!)).toBe(3);
  });

  test('replicas past the shipped sources are refused, naming the file and the limit', () => {
    const p = owning(SHIPPED_SOURCES + 4, SHIPPED_SOURCES + 1);
    expect(() => checkDeployable(p)).toThrow(
      new RegExp(
        `^step sources asks for ${SHIPPED_SOURCES + 1} replicas but \\S+/pipelines/sources\\.yaml declares ${SHIPPED_SOURCES}, and a replica past them would own nothing; replicas must be 1\\.\\.${SHIPPED_SOURCES}$`,
      ),
    );
    expect(() => checkDeployable(owning(SHIPPED_SOURCES + 4, SHIPPED_SOURCES))).not.toThrow();
  });
});

describe('checkDeployable', () => {
  test.each([
    [
      'replicas above partitions',
      pipe(step({ replicas: 4 })),
      'step normalize asks for 4 replicas but its input in has 3 partitions; replicas must be 1..3',
    ],
    [
      'zero replicas',
      pipe(step({ replicas: 0 })),
      'step normalize asks for 0 replicas but its input in has 3 partitions; replicas must be 1..3',
    ],
    [
      'unknown input topic',
      pipe(step({ input: 'nope' })),
      'step normalize reads topic nope, which the pipeline does not define',
    ],
    [
      'step id that is not a Kubernetes name',
      pipe(step({ id: 'Normalize_1' })),
      'step id "Normalize_1" is not a valid Kubernetes name part (lowercase, digits, -)',
    ],
    ['duplicate step id', pipe(step({}), step({})), 'step id normalize is used twice'],
  ])('%s', (_name, p, message) => {
    expect(() => checkDeployable(p)).toThrow(message);
  });

  test('the listings pipeline is deployable', () => {
    expect(() => checkDeployable(pipeline)).not.toThrow();
  });
});

describe('derived sizing', () => {
  test.each([
    ['short jobs drain within the runtime default', 10_000, 30_000, 50],
    ['long jobs get their deadline', 120_000, 120_000, 140],
    ['very long jobs are capped', 30 * 60 * 1000, 300_000, 320],
  ])('%s', (_name, timeoutMs, graceMs, terminationSeconds) => {
    const s = step({ timeoutMs });
    expect(shutdownGraceMs(s)).toBe(graceMs);
    expect(terminationGraceSeconds(s)).toBe(terminationSeconds);
  });

  test.each([
    [
      { cpu: '250m', memory: '256Mi' },
      { cpu: '500m', memory: '256Mi' },
    ],
    [
      { cpu: '1', memory: '1Gi', cpuLimit: '2', memoryLimit: '2Gi' },
      { cpu: '2', memory: '2Gi' },
    ],
    [
      { cpu: '500m', memory: '512Mi', memoryLimit: '1Gi' },
      { cpu: '1', memory: '1Gi' },
    ],
  ])('limits of %j are %j', (resources, limits) => {
    expect(stepResources(step({ resources })).limits).toEqual(limits);
  });

  test('limits below requests are refused', () => {
    expect(() => stepResources(step({ resources: { cpu: '1', memory: '1Gi', cpuLimit: '500m' } }))).toThrow(
      'step normalize: resource limits are below the requests',
    );
  });

  test.each([
    [1, 10],
    [4, 40],
    [16, 160],
  ])('concurrency %i aims at a lag of %i per replica', (concurrency, lag) => {
    expect(lagThreshold(step({ concurrency }))).toBe(lag);
  });
});
