/**
 * `listflow config check` of the listings pipeline's workers with the real operators' config specs. Here, not
 * beside runtime/config-check.ts, because the runtime's own tests name no operator (test/unit/import-graph.test.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { operators } from '../../operators';
import listings from '../../pipelines/listings';
import { checkWorkerConfig, formatWorkerConfigCheck } from '../../runtime/config-check';
import { prepareWorker } from '../../runtime/run';

const DB = 'postgres://listflow:hunter2@db.internal:5432/listflow';
const check = (step: string, env: NodeJS.ProcessEnv) => checkWorkerConfig(listings, operators, step, env);
const entry = (c: ReturnType<typeof check>, variable: string) =>
  c.groups.flatMap((g) => g.values).find((v) => v.variable === variable);

describe('a valid configuration', () => {
  test('publish: every group, each value with its source, the database URL redacted', () => {
    const c = check('publish', {
      LISTFLOW_POSTGRES_URL: DB,
      LISTFLOW_KAFKA_BROKERS: 'kafka:9092',
      LISTFLOW_PUBLISH_POOL_SIZE: '8',
    });
    expect(c.problems).toEqual([]);
    expect(c.ok).toBe(true);
    expect(c.groups.map((g) => g.title)).toEqual([
      'worker settings',
      'step publish (built-in pipeline)',
      'publish config',
    ]);
    expect(entry(c, 'LISTFLOW_KAFKA_BROKERS')).toMatchObject({ shown: 'kafka:9092', source: 'environment' });
    expect(entry(c, 'LISTFLOW_HTTP_PORT')).toMatchObject({ shown: '9400', source: 'default' });
    expect(entry(c, 'LISTFLOW_KAFKA_SASL_PASSWORD')).toMatchObject({ source: 'unset' });
    expect(entry(c, 'LISTFLOW_PUBLISH_POOL_SIZE')).toMatchObject({ shown: '8', source: 'environment' });
    expect(entry(c, 'LISTFLOW_POSTGRES_URL')).toMatchObject({ shown: '(secret, set)', source: 'environment' });
    expect(entry(c, 'concurrency')).toMatchObject({ source: 'default' });
    // Neither the report nor its text carries a secret.
    expect(JSON.stringify(c)).not.toContain('hunter2');
    expect(formatWorkerConfigCheck(c).join('\n')).not.toContain('hunter2');
  });

  test('values from the pipeline file are marked file; LISTFLOW_CONCURRENCY overrides the step', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-check-'));
    const file = join(dir, 'pipeline.json');
    const pipeline = {
      ...listings,
      steps: listings.steps.map((s) => (s.id === 'images' ? { ...s, timeoutMs: 90_000 } : s)),
    };
    writeFileSync(file, JSON.stringify(pipeline));
    const c = check('images', { LISTFLOW_PIPELINE_FILE: file, LISTFLOW_CONCURRENCY: '3' });
    expect(c.problems).toEqual([]);
    expect(c.pipeline).toBe(file);
    expect(entry(c, 'timeoutMs')).toMatchObject({ shown: '90000', source: 'file' });
    expect(entry(c, 'concurrency (LISTFLOW_CONCURRENCY)')).toMatchObject({ shown: '3', source: 'environment' });
    expect(entry(c, 'LISTFLOW_PIPELINE_FILE')).toMatchObject({ shown: file, source: 'environment' });
  });

  test('a password in a non-secret URL is masked', () => {
    const c = check('normalize', { LISTFLOW_REGISTRY_URL: 'https://reg:s3cret@registry.example.com/apis/ccompat/v7' });
    expect(c.ok).toBe(true);
    expect(entry(c, 'LISTFLOW_REGISTRY_URL')?.shown).toBe('https://reg:***@registry.example.com/apis/ccompat/v7');
  });

  test('a step id or an operator name both select the step', () => {
    expect(check('price-changes', {}).step).toBe('price-changes');
  });
});

describe('a bad configuration lists every problem, each naming the variable, the value and the fix', () => {
  test.each([
    {
      name: 'publish without its database URL (the missing Secret of a deploy)',
      step: 'publish',
      env: {},
      problems: [/^Missing required LISTFLOW_POSTGRES_URL .*Fix: set it, e\.g\. LISTFLOW_POSTGRES_URL=postgres:/],
    },
    {
      name: 'the old publish variable',
      step: 'publish',
      env: { LISTFLOW_PUBLISH_POSTGRES_URL: DB },
      problems: [
        /^Unknown option LISTFLOW_PUBLISH_POSTGRES_URL\. Fix: remove it or use one of: LISTFLOW_POSTGRES_URL,/,
        /^Missing required LISTFLOW_POSTGRES_URL/,
      ],
    },
    {
      name: 'bad values in worker settings and in the operator config at once',
      step: 'ingest',
      env: { LISTFLOW_MAX_IN_FLIGHT: 'lots', LISTFLOW_INGEST_FILE_ROOT: 'feeds', LISTFLOW_KAFKA_BROKERS: 'k:9092' },
      problems: [
        /^Expected integer between 1 and 100000 for LISTFLOW_MAX_IN_FLIGHT but received "lots".*Fix: set LISTFLOW_MAX_IN_FLIGHT/,
        /^Expected absolute path for LISTFLOW_INGEST_FILE_ROOT but received "feeds".*Fix: set LISTFLOW_INGEST_FILE_ROOT/,
      ],
    },
    {
      name: 'a typo in a worker setting',
      step: 'normalize',
      env: { LISTFLOW_KAFKA_BROKER: 'k:9092' },
      problems: [/^Unknown option LISTFLOW_KAFKA_BROKER\. Fix: remove it or use one of: LISTFLOW_KAFKA_BROKERS,/],
    },
    {
      name: 'a cross-field rule',
      step: 'normalize',
      env: { LISTFLOW_HEARTBEAT_INTERVAL_MS: '20000' },
      problems: [/^LISTFLOW_HEARTBEAT_INTERVAL_MS \(20000\) must be at most a third of LISTFLOW_SESSION_TIMEOUT_MS/],
    },
    {
      name: 'a pipeline file that is not there, and the operator config still checked',
      step: 'publish',
      env: { LISTFLOW_PIPELINE_FILE: '/nonexistent/pipeline.json', LISTFLOW_PUBLISH_POOL_SIZE: '0' },
      problems: [
        /^cannot read pipeline file \/nonexistent\/pipeline\.json \(LISTFLOW_PIPELINE_FILE\): ENOENT.*Fix: mount the pipeline/,
        /^Missing required LISTFLOW_POSTGRES_URL/,
        /^Expected integer between 1 and 64 for LISTFLOW_PUBLISH_POOL_SIZE but received "0"/,
      ],
    },
    {
      name: 'a Kafka CA file that is not mounted (startup reads it before connecting)',
      step: 'normalize',
      env: { LISTFLOW_KAFKA_SSL: 'true', LISTFLOW_KAFKA_SSL_CA_FILE: '/nonexistent/ca.crt' },
      problems: [/^Cannot read LISTFLOW_KAFKA_SSL_CA_FILE "\/nonexistent\/ca\.crt": ENOENT\. Fix: mount the CA/],
    },
    {
      name: 'a step that does not exist',
      step: 'geocode',
      env: {},
      problems: [/^Unknown operator or step "geocode"\. Fix: use one of sources, ingest, normalize/],
    },
  ])('$name', ({ step, env, problems }) => {
    const c = check(step, env);
    expect(c.ok).toBe(false);
    expect(c.problems).toHaveLength(problems.length);
    problems.forEach((p, i) => {
      expect(c.problems[i]).toMatch(p);
    });
    const text = formatWorkerConfigCheck(c).join('\n');
    expect(text).toContain(`${problems.length} configuration problem(s)`);
    expect(text).not.toContain('hunter2');
  });

  test('what the check accepts, startup accepts, and what it refuses, startup refuses', () => {
    const good = { LISTFLOW_POSTGRES_URL: DB };
    expect(check('publish', good).ok).toBe(true);
    expect(() => prepareWorker(listings, operators, 'publish', good)).not.toThrow();
    expect(check('publish', {}).ok).toBe(false);
    expect(() => prepareWorker(listings, operators, 'publish', {})).toThrow(/Missing required LISTFLOW_POSTGRES_URL/);
  });
});
