import { defineConfig, envName, explainConfig, field, fromEnv, parseConfig } from './config';
import { ConfigError } from './errors';

const spec = defineConfig(
  {
    concurrency: field.int({ description: 'Jobs in flight.', min: 1, max: 256, default: 8 }),
    format: field.enum(['webp', 'avif'] as const, { description: 'Output format.', default: 'webp' }),
    root: field.string({ description: 'Root folder.', example: '/data' }),
    hosts: field.list({ description: 'Allowed hosts.', default: [], allowEmpty: true }),
    url: field.url({ description: 'Registry.', protocols: ['http:', 'https:'], default: 'http://x' }),
    password: field.optional(field.string({ description: 'Secret.', secret: true })),
  },
  [(c) => (c.format === 'avif' && c.concurrency > 4 ? 'avif needs concurrency <= 4' : undefined)],
);

describe('parseConfig', () => {
  test('applies defaults and parses env strings', () => {
    const c = parseConfig(spec, { root: '/r', concurrency: '16', hosts: 'a, b' }, { where: 'x' });
    expect(c).toEqual({
      concurrency: 16,
      format: 'webp',
      root: '/r',
      hosts: ['a', 'b'],
      url: 'http://x',
      password: undefined,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test.each([
    {
      raw: { root: '/r', concurrency: 'lots' },
      message:
        'Expected integer between 1 and 256 for LISTFLOW_RESIZE_CONCURRENCY but received "lots" of type string. Fix: set LISTFLOW_RESIZE_CONCURRENCY to e.g. 8.',
    },
    {
      raw: { root: '/r', format: 'gif' },
      message:
        'Expected one of webp, avif for LISTFLOW_RESIZE_FORMAT but received "gif" of type string. Fix: set LISTFLOW_RESIZE_FORMAT to e.g. webp.',
    },
    {
      raw: {},
      message: 'Missing required LISTFLOW_RESIZE_ROOT (Root folder.). Fix: set it, e.g. LISTFLOW_RESIZE_ROOT=/data.',
    },
    { raw: { root: '/r', colour: 'red' }, message: 'Unknown option LISTFLOW_RESIZE_COLOUR.' },
    {
      raw: { root: '/r', url: 'ftp://x' },
      message: 'Expected URL with protocol http: or https: for LISTFLOW_RESIZE_URL',
    },
    { raw: { root: '/r', password: 'hunter2', concurrency: 0 }, message: 'received 0 of type number' },
    { raw: { root: '/r', format: 'avif', concurrency: 8 }, message: 'avif needs concurrency <= 4' },
  ])('rejects $raw', ({ raw, message }) => {
    let err: unknown;
    try {
      parseConfig(spec, raw, { where: 'resize config', envPrefix: 'LISTFLOW_RESIZE_' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).message).toContain(message);
    expect((err as ConfigError).message).not.toContain('hunter2');
  });

  test('reports every problem at once', () => {
    expect(() => parseConfig(spec, { concurrency: '-1', format: 'x' }, { where: 'w' })).toThrow(
      /concurrency[\s\S]*format[\s\S]*root/,
    );
  });
});

describe('fromEnv', () => {
  test('maps variables and keeps unknown ones under the prefix so they are rejected', () => {
    const raw = fromEnv(
      spec,
      { LISTFLOW_RESIZE_CONCURRENCY: '4', LISTFLOW_RESIZE_CONCURENCY: '5', OTHER: 'x' },
      'LISTFLOW_RESIZE_',
    );
    expect(raw).toEqual({ concurrency: '4', CONCURENCY: '5' });
  });
  test('envName', () => {
    expect(envName('LISTFLOW_', 'maxBytesPerPartition')).toBe('LISTFLOW_MAX_BYTES_PER_PARTITION');
  });
});

describe('a field read under a name of its own', () => {
  const shared = defineConfig({
    url: field.url({ description: 'Database.', protocols: ['postgres:'], secret: true, env: 'LISTFLOW_POSTGRES_URL' }),
    poolSize: field.int({ description: 'Pool.', min: 1, default: 4 }),
  });
  const prefix = 'LISTFLOW_PUBLISH_';

  test.each([
    { env: { LISTFLOW_POSTGRES_URL: 'postgres://db/x' }, raw: { url: 'postgres://db/x' } },
    // Under the prefix it is no field: kept by its own name, so parseConfig refuses it.
    { env: { LISTFLOW_PUBLISH_URL: 'postgres://db/x' }, raw: { URL: 'postgres://db/x' } },
    { env: { LISTFLOW_PUBLISH_POOL_SIZE: '2', OTHER: 'x' }, raw: { poolSize: '2' } },
  ])('fromEnv($env)', ({ env, raw }) => {
    expect(fromEnv(shared, env, prefix)).toEqual(raw);
  });

  test('messages name the variable a user sets', () => {
    expect(() => parseConfig(shared, { URL: 'x' }, { where: 'sink config', envPrefix: prefix })).toThrow(
      /Unknown option LISTFLOW_PUBLISH_URL\. Fix: remove it or use one of: LISTFLOW_POSTGRES_URL, LISTFLOW_PUBLISH_POOL_SIZE\.[\s\S]*Missing required LISTFLOW_POSTGRES_URL/,
    );
  });

  test('explainConfig: variable, display value and source of each field; secrets never shown', () => {
    const raw = fromEnv(shared, { LISTFLOW_POSTGRES_URL: 'postgres://u:pw@db/x' }, prefix);
    const parsed = parseConfig(shared, raw, { where: 'w', envPrefix: prefix });
    expect(explainConfig(shared, raw, parsed, prefix)).toEqual([
      { key: 'url', variable: 'LISTFLOW_POSTGRES_URL', shown: '(secret, set)', source: 'environment', secret: true },
      { key: 'poolSize', variable: 'LISTFLOW_PUBLISH_POOL_SIZE', shown: '4', source: 'default', secret: false },
    ]);
  });
});
