import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ListflowError } from '../../runtime/errors';
import { LOCAL_READINGS, LOCAL_RESO_ENV, LOCAL_RESO_PORT } from '../../test/support/reso-server';
import { profileRegistry } from '../normalize/profiles/registry';
import {
  loadSourcesFile,
  parseDuration,
  type ResoSource,
  replicationSpecs,
  resolveSourceSecrets,
  validateSources,
} from './sources-file';

const SHIPPED = join(__dirname, '..', '..', 'pipelines', 'sources.yaml');
const profiles = profileRegistry().profiles;

const valid = () => ({
  sources: [
    {
      name: 'mred',
      kind: 'reso-web-api',
      resource: 'https://api.mlsgrid.com/v2/Property',
      auth: {
        kind: 'oauth2',
        tokenUrl: 'https://api.mlsgrid.com/oauth2/token',
        clientIdEnv: 'MRED_ID',
        clientSecretEnv: 'MRED_SECRET',
      },
      filter: "OriginatingSystemName eq 'mred'",
      initialFilter: 'MlgCanView eq true',
      tieBreak: 'timestamp',
      nextLinkEncoding: 'double',
      pageSize: 1000,
      pollInterval: '1m',
      rateLimits: { perSecond: 2, perHour: 7200, perDay: 40000 },
      deletes: { kind: 'flag', field: 'MlgCanView' },
      media: { mode: 'expand', changeTimestamp: 'PhotosChangeTimestamp' },
      country: 'US',
      currency: 'USD',
      profile: 'mlsgrid',
    },
    { name: 'nightly', kind: 'file', uri: 'file:///data/feed.json', pollInterval: '24h', profile: 'reso-dd-2.0' },
  ],
});

type Doc = ReturnType<typeof valid>;
const reso = (d: Doc) => d.sources[0] as Record<string, unknown> & { auth: Record<string, unknown> };

describe('the shipped sources file', () => {
  test('loads, and points at the local RESO server with the credentials it accepts', () => {
    const { sources } = loadSourcesFile(SHIPPED, { profiles });
    expect(sources.map((s) => s.name)).toEqual(['local-mlsgrid', 'local-trestle', 'local-spark', 'local-proptx']);
    for (const s of sources as ResoSource[]) {
      expect(new URL(s.resource).port).toBe(String(LOCAL_RESO_PORT));
      expect(new URL(s.resource).pathname).toBe(`/${s.name}/Property`);
      expect(() => resolveSourceSecrets(s, LOCAL_RESO_ENV)).not.toThrow();
    }
    // The replica check of the local run reads each source as the file declares it.
    expect(
      sources.map((s) => ({ name: s.name, profile: s.profile, country: s.country, currency: s.currency })),
    ).toEqual(LOCAL_READINGS);
  });
});

describe('a valid file', () => {
  test('is read into specs with defaults', () => {
    const { sources, problems } = validateSources(valid(), { profiles });
    expect(problems).toEqual([]);
    expect(sources[0]).toMatchObject({
      kind: 'reso-web-api',
      pollIntervalMs: 60_000,
      paging: 'next-link',
      tieBreak: 'timestamp',
    });
    expect(sources[1]).toEqual({
      name: 'nightly',
      kind: 'file',
      uri: 'file:///data/feed.json',
      format: 'auto',
      pageSize: 1000,
      maxDeleteFraction: 0.5,
      pollIntervalMs: 86_400_000,
      profile: 'reso-dd-2.0',
    });
  });

  test.each<[unknown, number]>([
    [0, 0],
    [0.1, 0.1],
    [1, 1],
  ])('a snapshot source keeps maxDeleteFraction %p', (given, kept) => {
    const d = valid();
    (d.sources[1] as Record<string, unknown>).maxDeleteFraction = given;
    const { sources, problems } = validateSources(d, { profiles });
    expect(problems).toEqual([]);
    expect(sources[1]).toMatchObject({ maxDeleteFraction: kept });
  });

  test.each<[unknown]>([[{ configMap: 'nightly-feed' }], [{ persistentVolumeClaim: 'feeds.v1' }]])(
    'a file source keeps its feed volume %p',
    (volume) => {
      const d = valid();
      (d.sources[1] as Record<string, unknown>).volume = volume;
      const { sources, problems } = validateSources(d, { profiles });
      expect(problems).toEqual([]);
      expect(sources[1]).toMatchObject({ volume });
    },
  );

  test('replicationSpecs: ge ties for a timestamp-only server; photos on their own cursor when they do not bump', () => {
    const d = valid();
    const { sources } = validateSources(d, { profiles });
    const { main, photos } = replicationSpecs(sources[0] as ResoSource);
    expect(main).toMatchObject({
      tieMode: 'ge',
      initialFilter: 'MlgCanView eq true',
      expandMedia: true,
      nextLinkEncoding: 'double',
    });
    expect(photos).toBeUndefined();
    // A declaration that names no capabilities gets both (the quiet-poll probe of ge ties uses them).
    expect(main.capabilities).toEqual({ count: true, orderDescending: true });
    reso(d).capabilities = { orderDescending: false };
    expect(replicationSpecs(validateSources(d, { profiles }).sources[0] as ResoSource).main.capabilities).toEqual({
      count: true,
      orderDescending: false,
    });
    (reso(d).media as Record<string, unknown>).bumpsModification = false;
    const again = replicationSpecs(validateSources(d, { profiles }).sources[0] as ResoSource);
    expect(again.photos?.timestampField).toBe('PhotosChangeTimestamp');
  });
});

describe('problems name the path, the value and a fix', () => {
  test.each<[string, (d: Doc) => void, string, string]>([
    [
      'bad name',
      (d) => {
        reso(d).name = 'MRED Grid';
      },
      'sources[0].name',
      'lowercase letters',
    ],
    [
      'duplicate name',
      (d) => {
        d.sources[1]!.name = 'mred';
      },
      'sources[1].name',
      'a name no other source has',
    ],
    [
      'unknown kind',
      (d) => {
        reso(d).kind = 'ftp';
      },
      'sources[0].kind',
      'one of reso-web-api, file, http',
    ],
    [
      'secret variable in the settings namespace',
      (d) => {
        reso(d).auth.clientSecretEnv = 'LISTFLOW_MRED_SECRET';
      },
      'sources[0].auth.clientSecretEnv',
      'outside the LISTFLOW_ prefix',
    ],
    [
      'unknown key',
      (d) => {
        reso(d).pagesize = 10;
      },
      'sources[0].pagesize',
      'one of the keys',
    ],
    [
      'page size',
      (d) => {
        reso(d).pageSize = 0;
      },
      'sources[0].pageSize',
      'between 1 and 10000',
    ],
    [
      'poll interval',
      (d) => {
        reso(d).pollInterval = 60;
      },
      'sources[0].pollInterval',
      'e.g. 1m',
    ],
    [
      'filter syntax',
      (d) => {
        reso(d).filter = 'OriginatingSystemName == mred';
      },
      'sources[0].filter',
      'supported subset',
    ],
    [
      'rate limit',
      (d) => {
        reso(d).rateLimits = { perSecond: -1 };
      },
      'sources[0].rateLimits.perSecond',
      'between 1 and 1000',
    ],
    [
      'delete kind',
      (d) => {
        reso(d).deletes = { kind: 'tombstone' };
      },
      'sources[0].deletes.kind',
      'flag, status, purge',
    ],
    [
      'purge every',
      (d) => {
        reso(d).deletes = { kind: 'purge', every: 'daily' };
      },
      'sources[0].deletes.every',
      '24h',
    ],
    [
      'country',
      (d) => {
        reso(d).country = 'MX';
      },
      'sources[0].country',
      'one of US, CA',
    ],
    [
      'profile',
      (d) => {
        reso(d).profile = 'nope';
      },
      'sources[0].profile',
      'one of the source profiles',
    ],
    [
      'a delete flag the profile does not read as a deletion',
      (d) => {
        reso(d).profile = 'trestle';
      },
      'sources[0].deletes.field',
      'add `deletedWhen: { MlgCanView: false }` to profile trestle',
    ],
    [
      'a delete status the profile does not map to DELETE',
      (d) => {
        reso(d).deletes = { kind: 'status', field: 'StandardStatus', values: ['Delete', 'Gone'] };
      },
      'sources[0].deletes.values',
      'but received ["Gone"] of type array',
    ],
    [
      'a $select without the fields replication reads',
      (d) => {
        reso(d).select = ['ListingKey', 'ListPrice'];
      },
      'sources[0].select',
      'includes ModificationTimestamp, MlgCanView, PhotosChangeTimestamp',
    ],
    [
      'photos cursor needs a field',
      (d) => {
        reso(d).media = { bumpsModification: false };
      },
      'sources[0].media.changeTimestamp',
      'own cursor',
    ],
    [
      'resource scheme',
      (d) => {
        reso(d).resource = 'ftp://x/Property';
      },
      'sources[0].resource',
      'http:// or https://',
    ],
    [
      'file uri',
      (d) => {
        d.sources[1]!.uri = 'https://x/feed.json';
      },
      'sources[1].uri',
      'file://',
    ],
    [
      'snapshot delete fraction above 1',
      (d) => {
        (d.sources[1] as Record<string, unknown>).maxDeleteFraction = 1.5;
      },
      'sources[1].maxDeleteFraction',
      'a number between 0 and 1',
    ],
    [
      'snapshot delete fraction as a percentage string',
      (d) => {
        (d.sources[1] as Record<string, unknown>).maxDeleteFraction = '50%';
      },
      'sources[1].maxDeleteFraction',
      'fraction such as 0.5',
    ],
    [
      'delete fraction on a RESO source (its deletes are signalled, not inferred)',
      (d) => {
        reso(d).maxDeleteFraction = 0.2;
      },
      'sources[0].maxDeleteFraction',
      'one of the keys',
    ],
    [
      'feed volume of two kinds',
      (d) => {
        (d.sources[1] as Record<string, unknown>).volume = { configMap: 'a', persistentVolumeClaim: 'b' };
      },
      'sources[1].volume',
      'exactly one of configMap, persistentVolumeClaim',
    ],
    [
      'feed volume name',
      (d) => {
        (d.sources[1] as Record<string, unknown>).volume = { persistentVolumeClaim: 'Nightly_Feeds' };
      },
      'sources[1].volume.persistentVolumeClaim',
      'a Kubernetes object name',
    ],
    [
      'auth kind',
      (d) => {
        reso(d).auth = { kind: 'basic' };
      },
      'sources[0].auth.kind',
      'oauth2, bearer, none',
    ],
    [
      'env name',
      (d) => {
        reso(d).auth.clientIdEnv = 'mred id';
      },
      'sources[0].auth.clientIdEnv',
      'name of an environment variable',
    ],
    [
      'capabilities not an object',
      (d) => {
        reso(d).capabilities = 'all';
      },
      'sources[0].capabilities',
      'an object',
    ],
    [
      'a capability not a boolean',
      (d) => {
        reso(d).capabilities = { count: 'yes' };
      },
      'sources[0].capabilities.count',
      'true or false',
    ],
    [
      'an unknown capability',
      (d) => {
        reso(d).capabilities = { count: true, skipToken: true };
      },
      'sources[0].capabilities.skipToken',
      'one of the keys count, orderDescending',
    ],
  ])('%s', (_what, mutate, path, text) => {
    const d = valid();
    mutate(d);
    const { problems } = validateSources(d, { profiles });
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(problems[0]!.message).toContain(text);
    expect(problems[0]!.message).toMatch(/^Expected .+ for .+ but received .+\. Fix: .+/);
  });

  test('every problem at once', () => {
    const d = valid();
    reso(d).pageSize = 'big';
    reso(d).country = 'MX';
    d.sources[1]!.uri = 'x';
    expect(validateSources(d, { profiles }).problems.map((p) => p.path)).toEqual([
      'sources[0].country',
      'sources[0].pageSize',
      'sources[1].uri',
    ]);
  });
});

describe('inline secrets are refused, and never shown', () => {
  const SECRET = 'c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw';
  test.each<[string, (d: Doc) => void, string]>([
    [
      'a clientSecret key',
      (d) => {
        reso(d).auth.clientSecret = SECRET;
      },
      'sources[0].auth.clientSecret',
    ],
    [
      'a token key on a bearer auth',
      (d) => {
        reso(d).auth = { kind: 'bearer', tokenEnv: 'T', token: SECRET };
      },
      'sources[0].auth.token',
    ],
    [
      'a secret where a variable name belongs',
      (d) => {
        reso(d).auth.clientSecretEnv = SECRET;
      },
      'sources[0].auth.clientSecretEnv',
    ],
    [
      'credentials in the resource URL',
      (d) => {
        reso(d).resource = `https://u:${SECRET}@api.example/Property`;
      },
      'sources[0].resource',
    ],
    [
      'an access token in the token URL',
      (d) => {
        reso(d).auth.tokenUrl = `https://api.example/token?access_token=${SECRET}`;
      },
      'sources[0].auth.tokenUrl',
    ],
    [
      'a password at the source level',
      (d) => {
        reso(d).password = SECRET;
      },
      'sources[0].password',
    ],
  ])('%s', (_what, mutate, path) => {
    const d = valid();
    mutate(d);
    const { problems } = validateSources(d, { profiles });
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(problems[0]!.message).not.toContain(SECRET);
    expect(problems[0]!.message).toMatch(/environment variable|name environment variables/);
  });
});

describe('loading and secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'listflow-sources-'));
  test('a bad file is SOURCES_INVALID naming the file, the path, the value and the fix', () => {
    const d = valid();
    reso(d).pageSize = 0;
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, YAML.stringify(d));
    const e = (() => {
      try {
        loadSourcesFile(file, { profiles });
      } catch (x) {
        return x as ListflowError;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ListflowError);
    expect(e!.code).toBe('SOURCES_INVALID');
    expect(e!.message).toBe(
      `1 problem(s) in the sources file ${file}:\n  - ${file}: Expected an integer between 1 and 10000 for sources[0].pageSize but received 0 of type number. Fix: give pageSize as a whole number in that range.`,
    );
  });

  test('YAML that does not parse is SOURCES_INVALID', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'sources: [\n');
    expect(() => loadSourcesFile(file)).toThrow(expect.objectContaining({ code: 'SOURCES_INVALID' }));
  });

  test('resolveSourceSecrets reads the named variables, and names the missing ones', () => {
    const s = validateSources(valid(), { profiles }).sources[0] as ResoSource;
    expect(resolveSourceSecrets(s, { MRED_ID: 'id', MRED_SECRET: 'sec' })).toEqual({
      kind: 'oauth2',
      tokenUrl: 'https://api.mlsgrid.com/oauth2/token',
      clientId: 'id',
      clientSecret: 'sec',
    });
    expect(() => resolveSourceSecrets(s, { MRED_ID: 'id' })).toThrow(/needs the environment variable\(s\) MRED_SECRET/);
  });

  test.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['250ms', 250],
    ['1.5h', undefined],
    ['10', undefined],
    [10, undefined],
  ])('parseDuration(%p) = %p', (v, ms) => {
    expect(parseDuration(v)).toBe(ms);
  });
});
