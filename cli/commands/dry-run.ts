/**
 * `listflow dry-run <feed-file>`: the pipeline's operators over one feed, in-process, with no Kafka, no
 * registry and no database (operators declare in-memory stand-ins). The input is the IngestJob `listflow
 * ingest` would submit for the feed. See runtime/dry-run.ts for what is faithful to a real run and how
 * configs are built.
 *
 * Output: one JSON document (to --out, or stdout):
 *   { feed, source, through, steps, summary: [per step counts], outputs: [what the last step wrote],
 *     rejects: [every reject / would-be dead letter with step, operator, code, kind, message, input, detail] }
 * Outputs are { topic, key, value, headers }; values are the decoded Avro records (dates as ISO strings).
 */
import { stat, writeFile, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { operators } from '../../operators';
import { dryRun, type DryRunResult } from '../../runtime/dry-run';
import type { Clock } from '../../runtime/operator';
import type { FeedFormat, IngestJob } from '../../schemas/generated/types';
import { type Command, type Io, printJson, stringOption, UsageError } from '../command';
import { cliContext } from '../context';
import { FEED_FORMATS, formatOption, sourceOption } from '../feed-options';

/** A user-facing failure that is not a usage error: one line, exit 1. */
class DryRunError extends Error {
  override readonly name = 'DryRunError';
}

/** The dry run also takes the job's own spelling of the OData format. */
const FORMATS: Readonly<Record<string, FeedFormat>> = { ...FEED_FORMATS, reso_odata: 'reso_odata' };

/** `normalize.allowFilePhotoUrls=true` -> { normalize: { allowFilePhotoUrls: 'true' } } */
export function parseSets(items: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const item of items) {
    const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)=(.*)$/s.exec(item);
    if (!m) {
      throw new UsageError(
        `Expected --set <operator>.<setting>=<value> (e.g. normalize.allowFilePhotoUrls=true) but received ${JSON.stringify(item)}.`,
      );
    }
    out[m[1]!] ??= {};
    out[m[1]!]![m[2]!] = m[3]!;
  }
  return out;
}

export interface FeedJobOptions {
  readonly source?: string;
  readonly format?: FeedFormat;
  readonly jobId?: string;
  readonly clock?: Clock;
}

/** The dry run's one input for a feed file: the IngestJob `listflow ingest` would submit for it. */
export function feedJob(feed: string, opts: FeedJobOptions = {}): { key: string; value: IngestJob } {
  const clock = opts.clock ?? { now: () => new Date() };
  const jobId = opts.jobId ?? `dry-run-${clock.now().getTime()}`;
  const value: IngestJob = {
    jobId,
    source: opts.source ?? 'dry-run',
    uri: pathToFileURL(resolve(feed)).href,
    format: opts.format ?? 'auto',
    submittedAt: clock.now(),
    defaultCountry: null,
    defaultCurrency: null,
  };
  return { key: jobId, value };
}

/** The document written to --out or stdout. */
export function dryRunDocument(feed: string, source: string, r: DryRunResult) {
  return {
    feed,
    source,
    through: r.through,
    steps: r.steps,
    summary: r.summary,
    outputs: r.outputs.map((o) => ({ topic: o.topic, key: o.key, value: o.value, headers: o.headers })),
    rejects: r.rejects,
  };
}

function printSummary(io: Io, line: (s: string) => void, r: DryRunResult): void {
  void io;
  for (const s of r.summary) {
    const outs = Object.entries(s.outputs)
      .map(([t, n]) => `${t}=${n}`)
      .join(' ');
    const codes = Object.entries(s.rejectsByCode)
      .map(([c, n]) => `${c}=${n}`)
      .join(' ');
    line(
      `${s.step.padEnd(14)} in ${String(s.records).padStart(6)}  out ${outs || '-'}  rejects ${s.rejects}${codes ? ` (${codes})` : ''}`,
    );
  }
}

export const dryRunCommands: Command[] = [
  {
    path: ['dry-run'],
    summary: 'Run the pipeline over a feed file in-process (no Kafka, no PostgreSQL) and print what it would publish.',
    args: '<feed-file>',
    minPositionals: 1,
    maxPositionals: 1,
    options: {
      source: { type: 'string' },
      format: { type: 'string' },
      through: { type: 'string' },
      out: { type: 'string', short: 'o' },
      'images-dir': { type: 'string' },
      set: { type: 'string', multiple: true },
    },
    optionHelp: {
      source: 'Source id, the prefix of every listing id (default dry-run).',
      format: 'Feed format: auto, json, ndjson, csv, reso-odata (default auto).',
      through: 'Stop after this step (id or operator name), e.g. normalize. Default: the whole pipeline.',
      out: 'Write the JSON document to this file instead of stdout (the summary goes to stdout).',
      'images-dir':
        'Scratch directory for what operators write, e.g. rendered photos (kept). Default: a new one, removed at the end.',
      set: 'Operator setting, <operator>.<setting>=<value>; repeatable (e.g. normalize.allowFilePhotoUrls=true).',
    },
    details: [
      "Runs the pipeline's steps in order through the worker's own step executor, handing each step its inputs",
      'through their Avro schemas. Operator settings come from LISTFLOW_<OPERATOR>_* as for a worker; over them,',
      "what each operator declares for a dry run (files read from the feed's directory, files written to a",
      'scratch directory, a database replaced by an in-memory stand-in); --set wins over all.',
      '',
      'Writes one JSON document: { feed, source, through, steps, summary, outputs, rejects }. `outputs` is what',
      'the last step wrote ({ topic, key, value, headers }); `rejects` lists every record a real run would',
      'dead-letter, with its step, operator, code, kind and message. Rejects do not change the exit code.',
    ].join('\n'),
    async run(args, io) {
      const feed = resolve(args.positionals[0]!);
      const format = formatOption(args, FORMATS);
      const source = sourceOption(args, 'source') ?? 'dry-run';
      const set = parseSets((args.values.set as string[] | undefined) ?? []);
      const ctx = cliContext();
      const through = stringOption(args, 'through');
      // Steps that own standing assignments (a source's poller) have no jobs for a dry run to run.
      const runnable = ctx.pipeline.steps.filter((s) => operators[s.operator]?.own === undefined);
      if (through !== undefined && !runnable.some((s) => s.id === through || s.operator === through)) {
        throw new UsageError(
          `Unknown step ${JSON.stringify(through)} for --through; expected one of ${runnable.map((s) => s.id).join(', ')}.`,
        );
      }
      try {
        const st = await stat(feed);
        if (!st.isFile()) throw new DryRunError(`${feed} is not a file.`);
      } catch (e) {
        if (e instanceof DryRunError) throw e;
        throw new DryRunError(`Feed file ${feed} does not exist or cannot be read.`);
      }
      const imagesDir = stringOption(args, 'images-dir');
      const out = stringOption(args, 'out');
      const result = await dryRun({
        pipeline: ctx.pipeline,
        operators,
        inputs: [feedJob(feed, { source, format })],
        filesDir: dirname(feed),
        set,
        env: process.env,
        ...(through !== undefined ? { through } : {}),
        ...(imagesDir !== undefined ? { scratchDir: imagesDir } : {}),
      });
      try {
        const doc = `${JSON.stringify(dryRunDocument(feed, source, result), null, 2)}\n`;
        if (out) {
          await writeFile(out, doc);
          if (io.json) printJson(io, { out: resolve(out), through: result.through, summary: result.summary });
          else {
            printSummary(io, io.out, result);
            io.out(`\n${result.outputs.length} outputs and ${result.rejects.length} rejects written to ${out}`);
          }
        } else {
          process.stdout.write(doc);
          if (!io.json) printSummary(io, io.err, result);
        }
      } finally {
        if (imagesDir === undefined && result.scratchDir) await rm(result.scratchDir, { recursive: true, force: true });
      }
      return 0;
    },
  },
];
