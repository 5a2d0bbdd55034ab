/**
 * `listflow web`: the status page, on the local platform or next to a cluster. Read-only by default, bound to
 * 127.0.0.1 (it shows listing data and dead letters' contents: --host opens it to a network on purpose).
 * `--admin` adds the redrive action, which needs a token: the one in --token-file, else a random one printed
 * once at start.
 *
 * Data: the pipeline's steps as `listflow status` measures them (lag, rate over 1 s, dead letters), the dead
 * letters as `listflow dlq list` reads them (kept for a few seconds: each read goes through every dead-letter
 * topic), the newest rows of PostgreSQL's listings with the smallest variant of their first photo, and the
 * replay ledger.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toolOf } from '../../operators/tools';
import { type DeadLetter, ledgerKey, parseLetterRef, readDeadLetter } from '../../runtime/dead-letters/letters';
import { describeValue, listDeadLetters, readOne } from '../../runtime/dead-letters/read';
import { redrive } from '../../runtime/dead-letters/redrive';
import { type Command, intOption, stringOption, UsageError } from '../command';
import { readReplayLedger } from '../commands/replay';
import { pipelineStatus } from '../commands/status';
import { type CliContext, cliContext } from '../context';
import { connectAdmin, withKafka } from '../kafka-io';
import type { WebData } from './panels';
import type { AdminActions, LetterSource } from './server';
import { createWebServer, listen } from './server';
import { sourcesOverview } from '../commands/sources';
import type { KafkaAdmin } from '../../runtime/kafka-client';

export const DEFAULT_WEB_PORT = 8480;
const LETTERS_TTL_MS = 5000;
const SAMPLE_MS = 1000;

export function liveData(ctx: CliContext, admin: KafkaAdmin): WebData & LetterSource {
  let cached: { at: number; letters: Promise<DeadLetter[]> } | undefined;
  const letters = (): Promise<DeadLetter[]> => {
    if (!cached || Date.now() - cached.at > LETTERS_TTL_MS) {
      cached = { at: Date.now(), letters: withKafka(ctx, () => listDeadLetters(ctx.kafka(), ctx.pipeline)) };
      // A failed read is not kept: the next page load asks again.
      cached.letters.catch(() => {
        cached = undefined;
      });
    }
    return cached.letters;
  };
  return {
    pipeline: ctx.pipeline,
    steps: () => withKafka(ctx, () => pipelineStatus(ctx, admin, SAMPLE_MS)),
    letters,
    replays: () => withKafka(ctx, () => readReplayLedger(ctx.kafka(), ctx.pipeline)),
    // A pipeline with no replication step, or before `topics apply`, has no sources to show.
    sources: () => withKafka(ctx, () => sourcesOverview(ctx)).catch(() => []),
    async listings({ limit, sourcePrefix }) {
      return toolOf('publishedListings').newest(ctx.pg(), { limit, sourcePrefix });
    },
    async letter(refText) {
      const ref = parseLetterRef(refText);
      if (typeof ref === 'string') return undefined;
      const letter =
        (await letters()).find((l) => ledgerKey(l.ref) === refText) ??
        (await readOne(ctx.kafka(), ref).then(readDeadLetter, () => undefined));
      if (!letter) return undefined;
      const value = await describeValue(letter.raw.value, letter.sourceTopic, ctx.pipeline, ctx.serde());
      return { letter, value };
    },
  };
}

const urlOf = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;

export const webCommand: Command = {
  path: ['web'],
  summary: 'Serve the status page: the pipeline as a picture, the newest listings with photos, dead letters by code.',
  maxPositionals: 0,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    admin: { type: 'boolean' },
    'token-file': { type: 'string' },
    refresh: { type: 'string' },
  },
  optionHelp: {
    host: 'Address to listen on (default 127.0.0.1; the page shows listing data and letter contents).',
    port: `Port (default ${DEFAULT_WEB_PORT}; 0 picks a free one).`,
    admin: 'Enable admin actions (redrive a step and code from the dead-letters panel); they need the token.',
    'token-file': 'With --admin: file holding the token (default: a random token, printed once at start).',
    refresh: 'Seconds between page reloads (default 10; 0: never).',
  },
  details:
    'Prints the URL on stdout once it listens, then serves until Ctrl-C. The page is server-rendered HTML with an\n' +
    'inline SVG and no script; photos load from where the pipeline stored them (http(s) URIs: S3 or a CDN).',
  async run(args, io) {
    const host = stringOption(args, 'host') ?? '127.0.0.1';
    const port = intOption(args, 'port', 0, 65535) ?? DEFAULT_WEB_PORT;
    const refreshSeconds = intOption(args, 'refresh', 0, 3600) ?? 10;
    const tokenFile = stringOption(args, 'token-file');
    if (tokenFile !== undefined && !args.values.admin) throw new UsageError('--token-file is only used with --admin.');
    const ctx = cliContext(process.env, 'web');
    const admin = await connectAdmin(ctx);
    let actions: AdminActions | undefined;
    if (args.values.admin) {
      const token =
        tokenFile === undefined ? randomBytes(24).toString('base64url') : readFileSync(tokenFile, 'utf8').trim();
      if (token.length < 16) throw new UsageError(`The token in ${tokenFile} is shorter than 16 characters.`);
      if (tokenFile === undefined) io.err(`listflow web: admin token (give it to redrive): ${token}`);
      actions = {
        token,
        redrive: (step, code) =>
          redrive(ctx.kafka(), ctx.pipeline, { step, code, rate: 100, dry: false, again: false }),
      };
    }
    const server = createWebServer({
      data: liveData(ctx, admin),
      ...(actions ? { admin: actions } : {}),
      refreshSeconds,
      onError: (e) => io.err(`listflow web: ${(e as Error).message ?? e}`),
    });
    const bound = await listen(server, host, port);
    const url = urlOf(host, bound);
    if (io.json) process.stdout.write(`${JSON.stringify({ url, admin: actions !== undefined })}\n`);
    else io.out(`listflow web: ${url}`);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await admin.disconnect().catch(() => undefined);
    await ctx.close();
    return 0;
  },
};
