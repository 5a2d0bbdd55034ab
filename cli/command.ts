/**
 * The CLI's conventions in one place: every command declares its options (parsed strictly by
 * node:util parseArgs, so an unknown flag is a usage error), gets `--help` and `--json` for free, and returns
 * an exit code: 0 ok, 1 failure, 2 bad usage. User errors print a message, never a stack trace.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Io {
  /** Human output (stdout). Suppressed for --json commands that print their own JSON. */
  out(line: string): void;
  /** Progress and warnings (stderr), so stdout stays parseable. */
  err(line: string): void;
  readonly json: boolean;
  readonly isTty: boolean;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

export interface Command {
  /** Words that select the command, e.g. ['infra', 'up']. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Positional arguments, e.g. '<uri>'; shown in --help. */
  readonly args?: string;
  readonly options?: ParseArgsOptionsConfig;
  /** Help text for each option, by name. */
  readonly optionHelp?: Readonly<Record<string, string>>;
  /** The values the positional arguments may take, when there is a fixed set; checked, and offered by completion. */
  readonly choices?: readonly string[];
  readonly minPositionals?: number;
  readonly maxPositionals?: number;
  readonly details?: string;
  run(args: ParsedArgs, io: Io): Promise<number>;
}

export const commonOptions: ParseArgsOptionsConfig = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
};

export function helpFor(cmd: Command): string {
  const lines = [`Usage: listflow ${cmd.path.join(' ')}${cmd.args ? ` ${cmd.args}` : ''} [options]`, '', cmd.summary];
  if (cmd.details) lines.push('', cmd.details);
  lines.push('', 'Options:');
  const all = { ...(cmd.options ?? {}), ...commonOptions };
  const help: Record<string, string> = {
    help: 'Show this help.',
    json: 'Print machine-readable JSON instead of text.',
    ...(cmd.optionHelp ?? {}),
  };
  for (const [name, spec] of Object.entries(all)) {
    const flag = `--${name}${spec.type === 'string' ? ` <${name}>` : ''}${spec.short ? `, -${spec.short}` : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${help[name] ?? ''}`);
  }
  return lines.join('\n');
}

export function parseCommandArgs(cmd: Command, argv: readonly string[]): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...(cmd.options ?? {}), ...commonOptions },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify.*$/s, '.')}`);
  }
  const values = parsed.values as ParsedArgs['values'];
  if (values.help) return { positionals: parsed.positionals, values };
  const n = parsed.positionals.length;
  if (cmd.minPositionals !== undefined && n < cmd.minPositionals) {
    throw new UsageError(
      `listflow ${cmd.path.join(' ')} expects ${cmd.args ?? 'arguments'}; received ${n} argument(s).`,
    );
  }
  if (cmd.maxPositionals !== undefined && n > cmd.maxPositionals) {
    throw new UsageError(
      `listflow ${cmd.path.join(' ')} takes at most ${cmd.maxPositionals} argument(s); received ${JSON.stringify(parsed.positionals)}.`,
    );
  }
  const { choices } = cmd;
  const wrong = choices ? parsed.positionals.find((p) => !choices.includes(p)) : undefined;
  if (wrong !== undefined) {
    throw new UsageError(
      `Expected one of ${choices?.join(', ')} for ${cmd.args ?? 'the argument'} but received ${JSON.stringify(wrong)}.`,
    );
  }
  return { positionals: parsed.positionals, values };
}

/** Reads a string option, or throws a usage error naming the flag. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} expects a value.`);
  return v;
}

export function intOption(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `Expected an integer between ${min} and ${max} for --${name} but received ${JSON.stringify(raw)}.`,
    );
  }
  return n;
}

export function printJson(io: Io, value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  void io;
}
