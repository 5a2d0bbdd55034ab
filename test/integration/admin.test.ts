/**
 * The admin commands against the real platform: `topics apply` (create, re-run, grow, refuse to shrink) and
 * `schemas register` / `schemas check` (links and registry compatibility). Every test uses a copy of the
 * listings pipeline whose topics (hence subjects) are unique to the run, so nothing depends on leftovers.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSchemasDir } from '../../cli/commands/schema-set';
import { checkSchemas, registerSchemas, schemasCommands } from '../../cli/commands/schemas';
import { applyTopics, topicsCommands } from '../../cli/commands/topics';
import { type Command, type Io, parseCommandArgs } from '../../cli/command';
import type { KafkaAdmin, KafkaClient } from '../../runtime/kafka-client';
import type { PipelineSpec, TopicSpec } from '../../runtime/pipeline';
import { renamedListings } from '../support/pipeline-workers';
import { endpoints, testKafka, uniqueName } from '../support/streams';

const ROOT = join(__dirname, '..', '..');
const registry = { url: endpoints.registryUrl };

let kafka: KafkaClient;
let admin: KafkaAdmin;
let dir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  kafka = testKafka('admin-itest');
  admin = kafka.admin();
  await admin.connect();
  dir = mkdtempSync(join(tmpdir(), 'listflow-admin-'));
});
afterAll(async () => {
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  process.env = { ...savedEnv };
});

/** The listings pipeline with every topic renamed `<run>.<name>`; `topics` overrides topic specs by short name. */
function uniquePipeline(topics: Record<string, Partial<TopicSpec>> = {}): PipelineSpec & { run: string } {
  const run = uniqueName('admin');
  return { run, ...renamedListings(run, { topics }) };
}

/** Writes the pipeline as LISTFLOW_PIPELINE_FILE for the commands (cliContext reads process.env). */
function usePipelineFile(p: PipelineSpec): void {
  const file = join(dir, `${p.name}.json`);
  writeFileSync(file, JSON.stringify(p));
  process.env.LISTFLOW_PIPELINE_FILE = file;
  process.env.LISTFLOW_KAFKA_BROKERS = endpoints.kafkaBrokers.join(',');
  process.env.LISTFLOW_REGISTRY_URL = endpoints.registryUrl;
}

/** Runs a command in-process as cli/main.ts does and captures its output. */
async function run(commands: readonly Command[], argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const cmd = commands.find((c) => c.path.every((w, i) => argv[i] === w));
  if (!cmd) throw new Error(`no command ${argv.join(' ')}`);
  let out = '';
  let err = '';
  const io: Io = {
    out: (l) => {
      out += `${l}\n`;
    },
    err: (l) => {
      err += `${l}\n`;
    },
    json: false,
    isTty: false,
  };
  const code = await cmd.run(parseCommandArgs(cmd, argv.slice(cmd.path.length)), io);
  return { code, out, err };
}

async function partitionsOf(topic: string): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0]!.partitions.length;
}

async function configOf(topic: string, name: string): Promise<{ value: string; override: boolean }> {
  const entries = (await admin.describeTopicConfigs([topic], [name])).get(topic) ?? [];
  const e = entries.find((c) => c.name === name)!;
  return { value: e.value ?? '', override: e.isTopicOverride };
}

/** A copy of schemas/<Name>.avsc changed by `edit`, in a fresh directory. */
function schemasDirWith(name: string, edit: (schema: { fields: { name: string }[] }) => void): string {
  const d = join(dir, uniqueName('schemas'));
  mkdirSync(d);
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', `${name}.avsc`), 'utf8'));
  edit(schema);
  writeFileSync(join(d, `${name}.avsc`), JSON.stringify(schema, null, 2));
  return d;
}

describe('topics apply', () => {
  test('creates every topic and dead-letter topic with partitions and configs; a second run changes nothing', async () => {
    const p = uniquePipeline();
    const first = await applyTopics(admin, p, { replicationFactor: 1 });
    expect(first.refused).toEqual([]);
    const dlqs = p.steps.map((s) => `${s.input}.dlq`);
    expect(first.topics.map((t) => t.topic).sort()).toEqual(
      [...Object.keys(p.topics), ...dlqs, `listflow.${p.name}.replay-ledger`].sort(),
    );
    expect(first.topics.every((t) => t.action === 'created')).toBe(true);

    const existing = new Set(await admin.listTopics());
    for (const [topic, spec] of Object.entries(p.topics)) {
      expect(existing.has(topic)).toBe(true);
      expect(await partitionsOf(topic)).toBe(spec.partitions);
    }
    // Dead-letter topics get their input's partitions and the delete policy, even for a compacted input.
    expect(await partitionsOf(`${p.run}.raw.dlq`)).toBe(6);
    expect(await partitionsOf(`${p.run}.ingest-jobs.dlq`)).toBe(3);
    expect((await configOf(`${p.run}.published.dlq`, 'cleanup.policy')).value).toBe('delete');
    expect((await configOf(`${p.run}.published`, 'cleanup.policy')).value).toBe('compact');
    expect((await configOf(`${p.run}.ingest-status`, 'cleanup.policy')).value).toBe('compact');
    expect(await configOf(`${p.run}.price-changes`, 'retention.ms')).toEqual({
      value: String(30 * 24 * 3600 * 1000),
      override: true,
    });

    const second = await applyTopics(admin, p, { replicationFactor: 1 });
    expect(second.refused).toEqual([]);
    expect(second.topics.filter((t) => t.action !== 'unchanged')).toEqual([]);
    expect(await partitionsOf(`${p.run}.raw`)).toBe(6);
  });

  test('a re-run raises partitions (topic and its dead-letter topic) and updates or removes retention.ms', async () => {
    const p = uniquePipeline();
    await applyTopics(admin, p, { replicationFactor: 1 });
    const grown = {
      ...p,
      topics: {
        ...p.topics,
        [`${p.run}.raw`]: { partitions: 8, schema: 'RawListing', retentionMs: 3_600_000 },
        [`${p.run}.enriched`]: { partitions: 6, schema: 'EnrichedListing' },
      },
    } satisfies PipelineSpec;
    const result = await applyTopics(admin, grown, { replicationFactor: 1 });
    expect(result.refused).toEqual([]);
    const byTopic = new Map(result.topics.map((t) => [t.topic, t]));
    expect(byTopic.get(`${p.run}.raw`)).toMatchObject({
      action: 'updated',
      partitions: 8,
      changes: ['partitions 6 -> 8', 'retention.ms 604800000 -> 3600000'],
    });
    expect(byTopic.get(`${p.run}.raw.dlq`)).toMatchObject({ action: 'updated', changes: ['partitions 6 -> 8'] });
    expect(byTopic.get(`${p.run}.enriched`)).toMatchObject({
      action: 'updated',
      changes: ['retention.ms 604800000 -> broker default'],
    });
    expect(byTopic.get(`${p.run}.normalized`)?.action).toBe('unchanged');

    expect(await partitionsOf(`${p.run}.raw`)).toBe(8);
    expect(await partitionsOf(`${p.run}.raw.dlq`)).toBe(8);
    expect(await configOf(`${p.run}.raw`, 'retention.ms')).toEqual({ value: '3600000', override: true });
    expect((await configOf(`${p.run}.enriched`, 'retention.ms')).override).toBe(false);
    // Other configs of a topic survive: the cleanup policy override is still there.
    expect((await configOf(`${p.run}.raw`, 'cleanup.policy')).value).toBe('delete');
  });

  test('refuses to shrink partitions: exit 1, names topic and counts, and changes nothing', async () => {
    const p = uniquePipeline();
    await applyTopics(admin, p, { replicationFactor: 1 });
    const shrunk = uniquePipelineLike(p, { raw: { partitions: 4 }, normalized: { retentionMs: 1000 } });
    usePipelineFile(shrunk);
    const res = await run(topicsCommands, ['topics', 'apply']);
    expect(res.code).toBe(1);
    // The dead-letter topic follows its input, so it is refused too.
    expect(res.err).toBe(
      [
        `listflow topics apply: Topic ${p.run}.raw has 6 partitions but the pipeline asks for 4; Kafka cannot remove partitions. Fix: set topics["${p.run}.raw"].partitions to at least 6, or migrate to a new topic.`,
        `listflow topics apply: Topic ${p.run}.raw.dlq has 6 partitions but the pipeline asks for 4; Kafka cannot remove partitions. Fix: set the partitions of the step's input topic to at least 6, or migrate to a new topic.`,
        '',
      ].join('\n'),
    );
    expect(res.out).toContain('2 refused (nothing was changed)');
    expect(await partitionsOf(`${p.run}.raw`)).toBe(6);
    // The retention change in the same run was not applied either.
    expect((await configOf(`${p.run}.normalized`, 'retention.ms')).value).toBe('604800000');
  });

  test('the command prints the table and exits 0 on the second run', async () => {
    const p = uniquePipeline();
    usePipelineFile(p);
    expect((await run(topicsCommands, ['topics', 'apply'])).code).toBe(0);
    const again = await run(topicsCommands, ['topics', 'apply']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(
      new RegExp(`^${p.run.replace(/[-.]/g, '\\$&')}\\.published\\s+6\\s+compact\\s+unchanged$`, 'm'),
    );
    expect(again.out).toContain('0 created, 0 updated, 17 unchanged');
  });
});

/** `p` with topic specs overridden by short name. */
function uniquePipelineLike(p: PipelineSpec & { run: string }, over: Record<string, Partial<TopicSpec>>): PipelineSpec {
  const topics = { ...p.topics };
  for (const [short, o] of Object.entries(over)) {
    const name = `${p.run}.${short}`;
    topics[name] = { ...topics[name]!, ...o };
  }
  return { ...p, topics };
}

describe('schemas register and check', () => {
  test('register is idempotent, and check passes on the real schemas', async () => {
    const p = uniquePipeline();
    const builtIn = loadSchemasDir(join(ROOT, 'schemas'));
    expect([...builtIn.changed]).toEqual([]);
    const first = await registerSchemas(p, builtIn, registry);
    expect(first.map((r) => r.subject).sort()).toEqual(
      Object.keys(p.topics)
        .map((t) => `${t}-value`)
        .sort(),
    );
    expect(first.every((r) => r.action === 'registered')).toBe(true);
    const second = await registerSchemas(p, builtIn, registry);
    expect(second.every((r) => r.action === 'unchanged')).toBe(true);
    expect(second.map((r) => r.id)).toEqual(first.map((r) => r.id));

    const check = await checkSchemas(p, builtIn, registry);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
    expect(check.links).toHaveLength(5);
    expect(check.subjects.every((s) => s.state === 'compatible')).toBe(true);
  });

  test('a new required field without default: registry and link checks fail with precise reasons', async () => {
    const p = uniquePipeline();
    await registerSchemas(p, loadSchemasDir(join(ROOT, 'schemas')), registry);
    const bad = loadSchemasDir(
      schemasDirWith('Listing', (s) => void s.fields.push({ name: 'energyRating', type: 'string' } as never)),
    );
    const check = await checkSchemas(p, bad, registry);
    expect(check.ok).toBe(false);
    const reason = 'no matching field for default-less listflow.Listing.energyRating';
    expect(check.problems).toContain(
      `broken link: step normalize port listings -> topic ${p.run}.normalized -> step images: writer Listing (built-in) cannot be read by reader Listing (schemas-dir ${bad.source.slice('schemas-dir '.length)}): ${reason}`,
    );
    expect(check.problems).toContain(
      `incompatible schema: topic ${p.run}.normalized: Listing is not BACKWARD-compatible with ${p.run}.normalized-value version 1 in the registry: the new schema cannot read data written with the registered one: ${reason}`,
    );
    // EnrichedListing and PublishedListing embed Listing, so their subjects break too; RawListing does not.
    expect(check.subjects.filter((s) => s.state === 'incompatible').map((s) => s.schema)).toEqual([
      'Listing',
      'EnrichedListing',
      'PublishedListing',
    ]);
  });

  test('a field removed that the consumer needs breaks the link from the new producer to the old consumer', async () => {
    const p = uniquePipeline();
    const removed = loadSchemasDir(
      schemasDirWith('Listing', (s) => {
        s.fields = s.fields.filter((f) => f.name !== 'listingKey');
      }),
    );
    // Nothing registered for these subjects yet: the registry has nothing to object to, the links do.
    const check = await checkSchemas(p, removed, registry);
    expect(check.subjects.every((s) => s.state !== 'incompatible')).toBe(true);
    expect(check.problems).toContain(
      `broken link: step normalize port listings -> topic ${p.run}.normalized -> step images: writer Listing (${removed.source}) cannot be read by reader Listing (built-in): no matching field for default-less listflow.Listing.listingKey`,
    );
  });

  test('the check command exits 1 on an incompatible schema and 0 on the real ones', async () => {
    const p = uniquePipeline();
    usePipelineFile(p);
    expect((await run(schemasCommands, ['schemas', 'register'])).code).toBe(0);
    const ok = await run(schemasCommands, ['schemas', 'check']);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('all 5 links and 10 subjects are compatible');
    const badDir = schemasDirWith('RawListing', (s) => {
      s.fields = s.fields.map((f) => (f.name === 'payload' ? { ...f, type: 'int' } : f));
    });
    const bad = await run(schemasCommands, ['schemas', 'check', '--schemas-dir', badDir]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(
      `listflow schemas check: broken link: step ingest port raw -> topic ${p.run}.raw -> step normalize: writer RawListing (built-in) cannot be read by reader RawListing (schemas-dir ${badDir}): cannot read "string" as "int"`,
    );
    expect(bad.err).toContain(
      `listflow schemas check: incompatible schema: topic ${p.run}.raw: RawListing is not BACKWARD-compatible`,
    );
  });
});
