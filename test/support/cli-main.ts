/**
 * Runs the whole CLI (cli/main.ts's `main`: command lookup, help, error reporting and exit codes) in-process and
 * captures what it writes to stdout and stderr. For one command's own behaviour, cli-invoke.ts is the lighter way.
 * Jest-only (it spies on process.stdout and process.stderr with jest.spyOn).
 */
import { jest } from '@jest/globals';
import { main } from '../../cli/main';

export interface MainRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runMain(argv: string[]): Promise<MainRun> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    stdout += c.toString();
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    stderr += c.toString();
    return true;
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
