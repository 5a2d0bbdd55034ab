#!/usr/bin/env node
/**
 * The `listflow` CLI. Commands live in cli/commands/, one file per area; this file only routes argv to
 * them and turns errors into exit codes (0 ok, 1 failure, 2 bad usage) without stack traces for user errors.
 */
import { availableParallelism } from 'node:os';
import { ListflowError } from '../runtime/errors';
import { type Command, helpFor, type Io, parseCommandArgs, UsageError } from './command';
import { completionCommand } from './completion';
import { versionCommand } from './version';
import { infraCommands } from './commands/infra';
import { topicsCommands } from './commands/topics';
import { schemasCommands } from './commands/schemas';
import { runCommands } from './commands/run';
import { ingestCommands } from './commands/ingest';
import { statusCommands } from './commands/status';
import { dryRunCommands } from './commands/dry-run';
import { dlqCommands } from './commands/dlq';
import { listingsCommands } from './commands/listings';
import { blobsCommands } from './commands/blobs';
import { k8sCommands } from './commands/k8s';
import { profileCommands } from './commands/profile';
import { replayCommands } from './commands/replay';
import { sourcesCommands } from './commands/sources';
import { webCommand } from './web/command';

// libuv's thread pool (default 4) runs sharp's work and async fs; a photo step keeps `concurrency` photos in
// flight, so give the pool at least one thread per core plus headroom. libuv reads this when the pool first
// starts, which is after this line: module loading above does no async I/O. An explicit setting wins.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));

/** `listflow help <command>`: exactly what `<command> --help` prints (the top-level help without one). */
const helpCommand: Command = {
  path: ['help'],
  summary: 'Show the help of a command (the same as `listflow <command> --help`), or the list of commands.',
  args: '[command]',
  async run(args) {
    if (args.positionals.length === 0) {
      process.stdout.write(`${topLevelHelp()}\n`);
      return 0;
    }
    const found = findCommand(args.positionals);
    if (!found || found.rest.length > 0) return unknownCommand(args.positionals);
    process.stdout.write(`${helpFor(found.cmd)}\n`);
    return 0;
  },
};

/** Every command: the README's CLI section, `--help` and shell completion are generated from this table. */
export const commands: Command[] = [
  ...infraCommands,
  ...topicsCommands,
  ...schemasCommands,
  ...runCommands,
  ...ingestCommands,
  ...profileCommands,
  ...statusCommands,
  ...dryRunCommands,
  ...dlqCommands,
  ...replayCommands,
  ...sourcesCommands,
  webCommand,
  ...listingsCommands,
  ...blobsCommands,
  ...k8sCommands,
  versionCommand,
  helpCommand,
  completionCommand(() => commands),
];

function topLevelHelp(): string {
  const lines = ['Usage: listflow <command> [options]', '', 'Commands:'];
  for (const c of commands) lines.push(`  ${c.path.join(' ').padEnd(22)} ${c.summary}`);
  lines.push(
    '',
    'Options: --help (this list), --version (version, pipeline, schemas, Kafka client).',
    'Run `listflow help <command>` or `listflow <command> --help` for the options of one command.',
  );
  return lines.join('\n');
}

/** Longest match of argv's leading words against command paths. */
export function findCommand(argv: readonly string[]): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { cmd: best, rest: argv.slice(best.path.length) } : undefined;
}

export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const io: Io = {
    out: (line) => {
      if (!json) process.stdout.write(`${line}\n`);
    },
    err: (line) => process.stderr.write(`${line}\n`),
    json,
    isTty: Boolean(process.stderr.isTTY),
  };
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${topLevelHelp()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') return main(['version', ...argv.slice(1)]);
  const found = findCommand(argv);
  if (!found) return unknownCommand(argv);
  try {
    const args = parseCommandArgs(found.cmd, found.rest);
    if (args.values.help) {
      process.stdout.write(`${helpFor(found.cmd)}\n`);
      return 0;
    }
    return await found.cmd.run(args, io);
  } catch (err) {
    return reportError(err, found.cmd, json);
  }
}

function unknownCommand(argv: readonly string[]): number {
  const group = commands.filter((c) => c.path[0] === argv[0]);
  const hint = group.length > 0 ? `\nDid you mean one of: ${group.map((c) => c.path.join(' ')).join(', ')}?` : '';
  process.stderr.write(
    `listflow: unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith('-')).join(' '))}.${hint}\nRun \`listflow --help\` for the list of commands.\n`,
  );
  return 2;
}

function reportError(err: unknown, cmd: Command, json: boolean): number {
  const usage = err instanceof UsageError;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = e instanceof ListflowError ? e.code : usage ? 'USAGE' : undefined;
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: { code: code ?? 'ERROR', message: e.message } }, null, 2)}\n`);
  } else {
    process.stderr.write(`listflow ${cmd.path.join(' ')}: ${code && !usage ? `[${code}] ` : ''}${e.message}\n`);
    if (usage) process.stderr.write(`Run \`listflow ${cmd.path.join(' ')} --help\` for usage.\n`);
    // Bugs (not ListflowError, not usage) keep their stack for the bug report; user errors do not.
    const isBug = e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError;
    if ((isBug || process.env.LISTFLOW_DEBUG) && e.stack) process.stderr.write(`${e.stack}\n`);
  }
  return usage ? 2 : 1;
}

if (require.main === module) {
  // A reader that stops early (`listflow dlq list | head`) closes the pipe: stop quietly, as Unix tools do,
  // instead of an unhandled EPIPE with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`listflow: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
