/**
 * `listflow dlq list|show|redrive`: the dead letters of the pipeline's steps (`<input-topic>.dlq`), presented.
 * Reading and redriving are the runtime's dead-letter module (runtime/dead-letters/).
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
import { describeValue, listDeadLetters, readOne } from '../../runtime/dead-letters/read';
import { redrive } from '../../runtime/dead-letters/redrive';
import {
  groupLetters,
  type LetterRef,
  ledgerKey,
  matchesFilter,
  type LetterFilter,
  parseInstant,
  parseLetterRef,
  parseRate,
  REDRIVE_LEDGER_TOPIC,
  readDeadLetter,
} from '../../runtime/dead-letters/letters';
import { dlqTopicsOf } from '../../runtime/pipeline';
import { type Command, intOption, printJson, stringOption, UsageError } from '../command';
import { cliContext } from '../context';

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
