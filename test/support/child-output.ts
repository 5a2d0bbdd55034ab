/** What a test keeps of a child process it started: its output (stdout and stderr, the last MB) and its exit. */
import type { ChildProcess } from 'node:child_process';

export interface ChildOutput {
  /** stdout and stderr as they came, the last ~1-2 MB: enough for a failure message, bounded for long runs. */
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

export function childOutput(child: ChildProcess): ChildOutput {
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { output: () => out, exited };
}
