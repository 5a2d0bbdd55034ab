/**
 * `listflow dlq list|show|redrive`: the dead letters of the pipeline's steps (`<input-topic>.dlq`).
 *
 * - list: reads every dead-letter topic from the beginning up to its high watermark at start, then stops;
 *   groups letters by step, operator and error code with counts and the oldest/newest failure time.
 * - show: one letter, its value decoded (Avro through the registry, else JSON/UTF-8 text, else hex) and all headers.
 * - redrive: sends selected letters' original key, value and headers (minus what the dead-letter writer added,
 *   plus listflow.redrive.id and listflow.redrive.of) back to the topic they failed on, rate-limited. Each chunk
 *   goes out in one Kafka transaction together with its entries in the compacted ledger topic
 *   listflow.dlq-redrive-ledger (key `<dlq topic>:<partition>:<offset>`), so a letter is recorded exactly when
 *   it was sent, and letters in the ledger are skipped unless --again. The transactional id is per pipeline,
 *   and the producer fences older redrive runs before the ledger is read, so two concurrent runs cannot both
 *   redrive a letter.
 */
import { randomUUID } from 'node:crypto';
import { type Admin, type Kafka, Partitioners } from 'kafkajs';
import { createTopicsAndWait } from '../../runtime/kafka';
import { dlqTopic, type PipelineSpec } from '../../runtime/pipeline';
import {
  type DeadLetter,
  type DeadLetterMessage,
  groupLetters,
  type LedgerEntry,
  type LetterFilter,
  type LetterRef,
  ledgerKey,
  matchesFilter,
  notRedrivable,
  parseInstant,
  parseLetterRef,
  parseRate,
  REDRIVE_LEDGER_TOPIC,
  readDeadLetter,
  redriveHeaders,
} from '../../runtime/dlq-tools';
import type { AvroSerde } from '../../runtime/serde';
import { type Command, intOption, printJson, stringOption, UsageError } from '../command';
import { cliContext } from '../context';

class DlqError extends Error {
  override readonly name = 'DlqError';
}

/** The dead-letter topics of a pipeline, one per distinct step input. */
export const dlqTopicsOf = (pipeline: PipelineSpec): string[] => [
  ...new Set(pipeline.steps.map((s) => dlqTopic(s.input))),
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads `topics` (those that exist) from the beginning to their high watermarks at the time of the call, then
 * stops. Progress is tracked from kafkajs's END_BATCH_PROCESS events too, so batches made only of transaction
 * markers (the ledger is written transactionally) still count as read. A throwaway group, deleted afterwards.
 */
export async function readToEnd(
  kafka: Kafka,
  topics: readonly string[],
  opts: { stallMs?: number } = {},
): Promise<DeadLetterMessage[]> {
  const targets = new Map<string, bigint>(); // `${topic}/${partition}` -> high watermark
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics.filter((t) => existing.has(t))) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(p.high) > BigInt(p.low)) targets.set(`${topic}/${p.partition}`, BigInt(p.high));
      }
    }
  });
  if (targets.size === 0) return [];
  const groupId = `listflow.cli.read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  const out: DeadLetterMessage[] = [];
  const pending = new Set(targets.keys());
  let lastProgress = Date.now();
  const advance = (topic: string, partition: number, lastOffset: string | null | undefined) => {
    const k = `${topic}/${partition}`;
    const high = targets.get(k);
    lastProgress = Date.now();
    if (high !== undefined && lastOffset != null && BigInt(lastOffset) >= high - 1n) pending.delete(k);
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) =>
    advance(e.payload.topic, e.payload.partition, e.payload.lastOffset),
  );
  await consumer.connect();
  try {
    const names = [...new Set([...targets.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))))];
    await consumer.subscribe({ topics: names, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const high = targets.get(`${batch.topic}/${batch.partition}`);
        for (const m of batch.messages) {
          if (high === undefined || BigInt(m.offset) >= high) continue;
          out.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers: m.headers,
            timestamp: m.timestamp,
          });
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last) advance(batch.topic, batch.partition, last.offset);
      },
    });
    const stallMs = opts.stallMs ?? 30_000;
    while (pending.size > 0) {
      if (Date.now() - lastProgress > stallMs) {
        throw new DlqError(
          `Reading ${[...pending].join(', ')} made no progress for ${stallMs / 1000}s (an open transaction?).`,
        );
      }
      await sleep(50);
    }
  } finally {
    await consumer.disconnect();
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  const order = (m: DeadLetterMessage) => `${m.topic}\u0000${String(m.partition).padStart(6, '0')}`;
  return out.sort((a, b) =>
    order(a) === order(b) ? (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1) : order(a) < order(b) ? -1 : 1,
  );
}

export async function listDeadLetters(kafka: Kafka, pipeline: PipelineSpec): Promise<DeadLetter[]> {
  return (await readToEnd(kafka, dlqTopicsOf(pipeline))).map(readDeadLetter);
}

/** Control characters other than tab, newline and carriage return: binary, not text. */
const hasControlChars = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 9 || (c > 13 && c < 32)) return true;
  }
  return false;
};

/** The value of a letter for humans: decoded Avro of its source topic's schema, else JSON/text, else hex. */
export async function describeValue(
  value: Buffer | null,
  sourceTopic: string | undefined,
  pipeline: PipelineSpec,
  serde: Pick<AvroSerde, 'decode'> | undefined,
): Promise<{ encoding: 'avro' | 'json' | 'text' | 'hex' | 'null'; schema?: string; value: unknown; error?: string }> {
  if (value === null) return { encoding: 'null', value: null };
  let error: string | undefined;
  const schema = sourceTopic ? pipeline.topics[sourceTopic]?.schema : undefined;
  if (schema && serde && value.length >= 5 && value[0] === 0) {
    const d = await serde.decode(value, schema);
    if (d.ok) return { encoding: 'avro', schema, value: d.value };
    error = `${d.error.code}: ${d.error.message}`;
  }
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !hasControlChars(text)) {
    try {
      return { encoding: 'json', value: JSON.parse(text), ...(error ? { error } : {}) };
    } catch {
      return { encoding: 'text', value: text, ...(error ? { error } : {}) };
    }
  }
  return { encoding: 'hex', value: value.toString('hex'), ...(error ? { error } : {}) };
}

/** Reads the one message at `ref` (a throwaway group seeks straight to it). */
export async function readOne(kafka: Kafka, ref: LetterRef, timeoutMs = 30_000): Promise<DeadLetterMessage> {
  await withAdmin(kafka, async (admin) => {
    if (!(await admin.listTopics()).includes(ref.topic)) throw new DlqError(`Topic ${ref.topic} does not exist.`);
    const p = (await admin.fetchTopicOffsets(ref.topic)).find((x) => x.partition === ref.partition);
    if (!p) throw new DlqError(`Topic ${ref.topic} has no partition ${ref.partition}.`);
    const o = BigInt(ref.offset);
    if (o < BigInt(p.low) || o >= BigInt(p.high)) {
      throw new DlqError(
        `No message at ${ledgerKey(ref)}: partition ${ref.partition} holds offsets ${p.low} to ${BigInt(p.high) - 1n}.`,
      );
    }
  });
  const groupId = `listflow.cli.show-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  let found: DeadLetterMessage | undefined;
  let passed = false;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [ref.topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.partition !== ref.partition) return;
        for (const m of batch.messages) {
          if (m.offset === ref.offset) {
            found = {
              topic: ref.topic,
              partition: ref.partition,
              offset: m.offset,
              key: m.key,
              value: m.value,
              headers: m.headers,
              timestamp: m.timestamp,
            };
          }
          if (BigInt(m.offset) >= BigInt(ref.offset)) passed = true;
        }
      },
    });
    consumer.seek({ topic: ref.topic, partition: ref.partition, offset: ref.offset });
    const end = Date.now() + timeoutMs;
    while (!found && !passed && Date.now() < end) await sleep(50);
  } finally {
    await consumer.disconnect();
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  if (!found) throw new DlqError(`No message at ${ledgerKey(ref)} (removed by retention or compaction?).`);
  return found;
}

export interface RedriveOptions extends LetterFilter {
  /** Messages per second. */
  readonly rate: number;
  readonly dry: boolean;
  readonly again: boolean;
  readonly ledgerTopic?: string;
  /** Called after each chunk is committed. */
  readonly onProgress?: (sent: number, total: number) => void;
}

export interface RedriveResult {
  readonly redriveId: string;
  /** Letters on the dead-letter topics. */
  readonly letters: number;
  /** Letters matching the filter. */
  readonly selected: number;
  /** Sent (or, with --dry, that would be sent). */
  readonly redriven: number;
  readonly skippedInLedger: number;
  readonly skippedNotRedrivable: number;
  /** Redriven per target topic. */
  readonly byTopic: Readonly<Record<string, number>>;
  /** Why letters could not be redriven, with counts. */
  readonly notRedrivableReasons: Readonly<Record<string, number>>;
  /** The letters redriven (ledger keys). */
  readonly refs: readonly string[];
  readonly dry: boolean;
}

async function ensureLedgerTopic(kafka: Kafka, topic: string): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    if ((await admin.listTopics()).includes(topic)) return;
    try {
      await createTopicsAndWait(admin, [
        { topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ]);
    } catch (e) {
      // Another run may have created it in the meantime.
      if (!(await admin.listTopics()).includes(topic)) throw e;
    }
  });
}

/** Letters already redriven, by ledger key (a null value, a tombstone, forgets one). */
export async function readLedger(kafka: Kafka, topic: string): Promise<Set<string>> {
  const done = new Set<string>();
  for (const m of await readToEnd(kafka, [topic])) {
    const k = m.key?.toString('utf8');
    if (!k) continue;
    if (m.value === null) done.delete(k);
    else done.add(k);
  }
  return done;
}

export async function redrive(kafka: Kafka, pipeline: PipelineSpec, opts: RedriveOptions): Promise<RedriveResult> {
  const ledgerTopic = opts.ledgerTopic ?? REDRIVE_LEDGER_TOPIC;
  const redriveId = randomUUID();
  const letters = await listDeadLetters(kafka, pipeline);
  const selected = letters.filter((l) => matchesFilter(l, opts));
  const existing = new Set(await withAdmin(kafka, (admin) => admin.listTopics()));

  // Fence earlier runs (InitProducerId with our transactional id) before reading the ledger.
  const producer = opts.dry
    ? undefined
    : kafka.producer({
        transactionalId: `listflow.dlq-redrive.${pipeline.name}`,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
  try {
    if (producer) {
      await ensureLedgerTopic(kafka, ledgerTopic);
      await producer.connect();
    }
    let tx = producer ? await producer.transaction() : undefined;
    const inLedger =
      opts.again || !existing.has(ledgerTopic) ? new Set<string>() : await readLedger(kafka, ledgerTopic);

    const reasons: Record<string, number> = {};
    let skippedInLedger = 0;
    const todo: DeadLetter[] = [];
    for (const l of selected) {
      const why =
        notRedrivable(l) ??
        (l.sourceTopic && !existing.has(l.sourceTopic) ? `topic ${l.sourceTopic} does not exist` : undefined);
      if (why) reasons[why] = (reasons[why] ?? 0) + 1;
      else if (!opts.again && inLedger.has(ledgerKey(l.ref))) skippedInLedger++;
      else todo.push(l);
    }
    const byTopic: Record<string, number> = {};
    for (const l of todo) byTopic[l.sourceTopic!] = (byTopic[l.sourceTopic!] ?? 0) + 1;

    if (tx) {
      const chunk = Math.max(1, Math.min(100, Math.floor(opts.rate)));
      const started = Date.now();
      for (let i = 0; i < todo.length; i += chunk) {
        const due = started + (i / opts.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        tx ??= await producer!.transaction();
        const part = todo.slice(i, i + chunk);
        const byTarget = new Map<string, DeadLetter[]>();
        for (const l of part) byTarget.set(l.sourceTopic!, [...(byTarget.get(l.sourceTopic!) ?? []), l]);
        const now = new Date().toISOString();
        try {
          await tx.sendBatch({
            acks: -1,
            topicMessages: [
              ...[...byTarget].map(([topic, ls]) => ({
                topic,
                messages: ls.map((l) => ({
                  key: l.raw.key,
                  value: l.raw.value,
                  headers: redriveHeaders(l, redriveId),
                })),
              })),
              {
                topic: ledgerTopic,
                messages: part.map((l) => {
                  const entry: LedgerEntry = {
                    redriveId,
                    letter: ledgerKey(l.ref),
                    targetTopic: l.sourceTopic!,
                    step: l.step,
                    code: l.code,
                    redrivenAt: now,
                  };
                  return { key: ledgerKey(l.ref), value: JSON.stringify(entry) };
                }),
              },
            ],
          });
          await tx.commit();
        } catch (e) {
          await tx.abort().catch(() => undefined);
          throw e;
        }
        tx = undefined;
        opts.onProgress?.(Math.min(i + chunk, todo.length), todo.length);
      }
      if (tx) await tx.abort();
    }
    return {
      redriveId,
      letters: letters.length,
      selected: selected.length,
      redriven: todo.length,
      skippedInLedger,
      skippedNotRedrivable: Object.values(reasons).reduce((a, b) => a + b, 0),
      byTopic,
      notRedrivableReasons: reasons,
      refs: todo.map((l) => ledgerKey(l.ref)),
      dry: opts.dry,
    };
  } finally {
    await producer?.disconnect();
  }
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function filterFrom(args: Parameters<Command['run']>[0]): LetterFilter {
  const since = stringOption(args, 'since');
  const until = stringOption(args, 'until');
  const s = since === undefined ? undefined : parseInstant('since', since);
  const u = until === undefined ? undefined : parseInstant('until', until);
  if (typeof s === 'string') throw new UsageError(s);
  if (typeof u === 'string') throw new UsageError(u);
  return { step: stringOption(args, 'step'), code: stringOption(args, 'code'), since: s, until: u };
}

const filterOptions = {
  step: { type: 'string' },
  code: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
} as const;
const filterHelp = {
  step: 'Only letters of this step (id or operator name).',
  code: 'Only letters with this error code, e.g. NORMALIZE_PRICE_INVALID.',
  since: 'Only letters that failed at or after this ISO 8601 time.',
  until: 'Only letters that failed before this ISO 8601 time.',
};

export const dlqCommands: Command[] = [
  {
    path: ['dlq', 'list'],
    summary: 'Count dead letters by step, operator and error code, with the oldest and newest failure.',
    maxPositionals: 0,
    options: filterOptions,
    optionHelp: filterHelp,
    details:
      'Reads every `<input>.dlq` topic of the pipeline from the beginning to its end at the time of the call, then stops.',
    async run(args, io) {
      const filter = filterFrom(args);
      const ctx = cliContext();
      const letters = (await listDeadLetters(ctx.kafka(), ctx.pipeline)).filter((l) => matchesFilter(l, filter));
      const groups = groupLetters(letters);
      const topics = dlqTopicsOf(ctx.pipeline).map((t) => ({
        topic: t,
        count: letters.filter((l) => l.ref.topic === t).length,
      }));
      if (io.json) {
        printJson(io, {
          total: letters.length,
          topics,
          groups: groups.map((g) => ({ ...g, oldest: g.oldest.toISOString(), newest: g.newest.toISOString() })),
        });
        return 0;
      }
      if (letters.length === 0) {
        io.out(`No dead letters in ${topics.map((t) => t.topic).join(', ')}.`);
        return 0;
      }
      const rows = [
        ['STEP', 'OPERATOR', 'CODE', 'COUNT', 'OLDEST', 'NEWEST'],
        ...groups.map((g) => [g.step, g.operator, g.code, String(g.count), iso(g.oldest), iso(g.newest)]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows)
        io.out(
          r
            .map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
            .join('  ')
            .trimEnd(),
        );
      io.out(`\n${letters.length} dead letters in ${topics.filter((t) => t.count > 0).length} topic(s).`);
      return 0;
    },
  },
  {
    path: ['dlq', 'show'],
    summary: 'Print one dead letter, its value decoded, with all its headers.',
    args: '[<topic>:<partition>:<offset>]',
    maxPositionals: 1,
    options: { topic: { type: 'string' }, partition: { type: 'string' }, offset: { type: 'string' } },
    optionHelp: {
      topic: 'Dead-letter topic (instead of the positional form).',
      partition: 'Partition (with --topic).',
      offset: 'Offset (with --topic).',
    },
    async run(args, io) {
      let ref: LetterRef;
      const pos = args.positionals[0];
      const topic = stringOption(args, 'topic');
      if (pos !== undefined) {
        if (topic !== undefined) throw new UsageError('Give either <topic>:<partition>:<offset> or --topic, not both.');
        const r = parseLetterRef(pos);
        if (typeof r === 'string') throw new UsageError(r);
        ref = r;
      } else {
        const partition = intOption(args, 'partition', 0, 1_000_000);
        const offset = stringOption(args, 'offset');
        if (topic === undefined || partition === undefined || offset === undefined) {
          throw new UsageError('Expected <topic>:<partition>:<offset>, or --topic, --partition and --offset.');
        }
        const r = parseLetterRef(`${topic}:${partition}:${offset}`);
        if (typeof r === 'string') throw new UsageError(r);
        ref = r;
      }
      const ctx = cliContext();
      const letter = readDeadLetter(await readOne(ctx.kafka(), ref));
      const value = await describeValue(letter.raw.value, letter.sourceTopic, ctx.pipeline, ctx.serde());
      const key = letter.raw.key?.toString('utf8') ?? null;
      const doc = {
        ref: ledgerKey(ref),
        step: letter.step,
        operator: letter.operator,
        code: letter.code,
        kind: letter.kind,
        message: letter.message,
        failedAt: letter.failedAt.toISOString(),
        source: { topic: letter.sourceTopic, partition: letter.sourcePartition, offset: letter.sourceOffset },
        key,
        value,
        headers: letter.headers,
      };
      if (io.json) {
        printJson(io, doc);
        return 0;
      }
      io.out(`${doc.ref}  ${doc.step} (${doc.operator})  ${doc.code} [${doc.kind}]  failed ${doc.failedAt}`);
      io.out(`  ${doc.message}`);
      io.out(`source  ${doc.source.topic ?? '?'}:${doc.source.partition ?? '?'}:${doc.source.offset ?? '?'}`);
      io.out(`key     ${key === null ? '(null)' : key}`);
      io.out(
        `value   (${value.encoding}${value.schema ? ` ${value.schema}` : ''}${value.error ? `; not decodable: ${value.error}` : ''})`,
      );
      const shown = typeof value.value === 'string' ? value.value : JSON.stringify(value.value, null, 2);
      for (const line of String(shown).split('\n')) io.out(`  ${line}`);
      io.out('headers');
      const width = Math.max(...Object.keys(letter.headers).map((k) => k.length));
      for (const [k, v] of Object.entries(letter.headers).sort(([a], [b]) => a.localeCompare(b))) {
        io.out(`  ${k.padEnd(width)}  ${v.includes('\n') ? `${v.split('\n')[0]} ...` : v}`);
      }
      return 0;
    },
  },
  {
    path: ['dlq', 'redrive'],
    summary: 'Send selected dead letters back to the topic they failed on, once each (recorded in a ledger topic).',
    maxPositionals: 0,
    options: {
      ...filterOptions,
      rate: { type: 'string' },
      dry: { type: 'boolean' },
      again: { type: 'boolean' },
    },
    optionHelp: {
      ...filterHelp,
      rate: 'Most messages per second, N/s or N/m (default 100/s).',
      dry: 'Only count what would be redriven; write nothing.',
      again: `Also redrive letters already recorded in ${REDRIVE_LEDGER_TOPIC}.`,
    },
    details: [
      "Sends each letter's original key, value and headers (without the listflow.error.*, source, step and",
      'failure headers the dead-letter writer added; with listflow.redrive.id and listflow.redrive.of) to its',
      `listflow.source.topic. Each chunk is one Kafka transaction with its ledger entries in ${REDRIVE_LEDGER_TOPIC}`,
      '(compacted, created if missing, key <dlq topic>:<partition>:<offset>); letters in the ledger are skipped',
      'unless --again. Letters whose value is not the original message (rejected feed lines)',
      'are skipped and counted.',
    ].join('\n'),
    async run(args, io) {
      const filter = filterFrom(args);
      const rateRaw = stringOption(args, 'rate') ?? '100/s';
      const rate = parseRate(rateRaw);
      if (typeof rate === 'string') throw new UsageError(rate);
      const ctx = cliContext();
      const result = await redrive(ctx.kafka(), ctx.pipeline, {
        ...filter,
        rate,
        dry: Boolean(args.values.dry),
        again: Boolean(args.values.again),
        onProgress: (n, total) => (io.json ? undefined : io.err(`redrive: ${n}/${total} sent`)),
      });
      if (io.json) {
        printJson(io, result);
        return 0;
      }
      io.out(
        `${result.dry ? 'would redrive' : 'redriven'} ${result.redriven} of ${result.selected} selected (of ${result.letters} dead letters)`,
      );
      for (const [t, n] of Object.entries(result.byTopic)) io.out(`  -> ${t}: ${n}`);
      io.out(
        `skipped: ${result.skippedInLedger} already redriven (use --again), ${result.skippedNotRedrivable} not redrivable`,
      );
      for (const [why, n] of Object.entries(result.notRedrivableReasons)) io.out(`  ${n}: ${why}`);
      if (!result.dry && result.redriven > 0) io.out(`redrive id ${result.redriveId}`);
      return 0;
    },
  },
];
