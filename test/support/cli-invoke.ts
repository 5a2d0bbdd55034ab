/**
 * Runs one CLI command in-process, the way cli/main.ts does (strict argument parsing, the same Io), and
 * captures what it writes. Errors are returned, not thrown, so tests can assert how main would report them.
 */
import { type Command, type Io, parseCommandArgs } from '../../cli/command';

export interface Invocation {
  readonly code: number | undefined;
  readonly error: Error | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

export async function invoke(commands: readonly Command[], argv: readonly string[]): Promise<Invocation> {
  const cmd = [...commands]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((w, i) => argv[i] === w));
  if (!cmd) throw new Error(`no command for ${argv.join(' ')}`);
  const json = argv.includes('--json');
  let stdout = '';
  let stderr = '';
  // Commands print JSON with process.stdout.write (printJson); capture it for the duration of the call.
  const realWrite = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  const io: Io = {
    out: (line) => {
      if (!json) stdout += `${line}\n`;
    },
    err: (line) => {
      stderr += `${line}\n`;
    },
    json,
    isTty: false,
  };
  try {
    const code = await cmd.run(parseCommandArgs(cmd, argv.slice(cmd.path.length)), io);
    return { code, error: undefined, stdout, stderr };
  } catch (e) {
    return { code: undefined, error: e as Error, stdout, stderr };
  } finally {
    process.stdout.write = realWrite;
  }
}
