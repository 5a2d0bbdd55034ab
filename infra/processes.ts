/**
 * Background processes of the local platform: started detached with their output in a log file, and
 * recorded by pid (plus the command line it ran) under `<home>/run/<name>.json`. `stop` signals exactly the
 * recorded pid, and only if that pid still runs the recorded command, so a recycled pid is never killed.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  /** A string the process's /proc/<pid>/cmdline must contain for the record to still be this process. */
  readonly marker: string;
  readonly log: string;
  readonly startedAt: string;
}

export function recordPath(runDir: string, name: string): string {
  return join(runDir, `${name}.json`);
}

export function readRecord(runDir: string, name: string): ProcessRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(runDir, name), 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
}

export function writeRecord(runDir: string, record: ProcessRecord): void {
  mkdirSync(runDir, { recursive: true });
  writeFileSync(recordPath(runDir, record.name), `${JSON.stringify(record, null, 2)}\n`);
}

export function forgetRecord(runDir: string, name: string): void {
  rmSync(recordPath(runDir, name), { force: true });
}

/** True when `pid` is alive and still runs the recorded command. */
export function isRunning(record: ProcessRecord): boolean {
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    if (!cmdline.includes(record.marker)) return false;
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    // Field 3 is the state; Z (zombie) and X (dead) mean it already exited.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface SpawnSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly log: string;
  readonly marker: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts a process that outlives the CLI (own session, output to its log) and records it. */
export function spawnDetached(runDir: string, spec: SpawnSpec): ProcessRecord {
  const fd = openSync(spec.log, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: spec.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    const record: ProcessRecord = {
      name: spec.name,
      pid: child.pid,
      marker: spec.marker,
      log: spec.log,
      startedAt: new Date().toISOString(),
    };
    writeRecord(runDir, record);
    return record;
  } finally {
    closeSync(fd);
  }
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs. Returns how it ended. */
export async function stopProcess(
  record: ProcessRecord,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 30_000,
): Promise<'not-running' | 'stopped' | 'killed'> {
  if (!isRunning(record)) return 'not-running';
  process.kill(record.pid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(record)) return 'stopped';
    await sleep(100);
  }
  if (isRunning(record)) process.kill(record.pid, 'SIGKILL');
  while (isRunning(record)) await sleep(50);
  return 'killed';
}

/** The last lines of a log, for error messages that say why a service did not come up. */
export function logTail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

/** Polls `probe` until it returns true; throws with `describe()` when `timeoutMs` passes or the process dies. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; record?: ProcessRecord; describe: () => string },
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - started;
    if (opts.record && !isRunning(opts.record)) {
      throw new Error(`${what} exited during startup.\n${opts.describe()}`);
    }
    if (Date.now() - started > opts.timeoutMs) {
      throw new Error(`${what} did not become ready within ${opts.timeoutMs / 1000}s.\n${opts.describe()}`);
    }
    await sleep(250);
  }
}

/** Polls a local platform service's `probe` until it answers; a failure quotes the last lines of its `log`. */
export function waitForService(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; record: ProcessRecord | undefined; log: string },
): Promise<number> {
  return waitUntil(what, probe, {
    timeoutMs: opts.timeoutMs,
    record: opts.record,
    describe: () => `Last lines of ${opts.log}:\n${logTail(opts.log)}`,
  });
}

/**
 * Copies the runtime jars of the Maven project `pom` into `libs` once; later runs reuse the cache (`.complete`
 * marks a finished copy, so an interrupted download is redone).
 */
export async function ensureMavenJars(spec: {
  what: string;
  pom: string;
  libs: string;
  say: (msg: string) => void;
}): Promise<string> {
  const { what, pom, libs, say } = spec;
  if (existsSync(join(libs, '.complete'))) return libs;
  say(`fetching ${what} jars from Maven Central (first run only)...`);
  mkdirSync(libs, { recursive: true });
  await mustRun(`Downloading ${what} with Maven`, 'mvn', [
    '-q',
    '-B',
    '-f',
    pom,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${libs}`,
  ]).catch((err: Error) => {
    throw new Error(`${err.message}\nMaven (mvn) must be installed and reach Maven Central (repo1.maven.org).`);
  });
  writeFileSync(join(libs, '.complete'), `${new Date().toISOString()}\n`);
  return libs;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Longest a setup command (a Maven download, apt-get install) may take; LISTFLOW_INFRA_SETUP_TIMEOUT_MS overrides it. */
const SETUP_COMMAND_TIMEOUT_MS = Number(process.env.LISTFLOW_INFRA_SETUP_TIMEOUT_MS) || 15 * 60_000;

/** Runs a setup command to completion (mvn, initdb, apt-get), capturing its output for error messages. */
export function runCommand(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  // A hung download or install must fail with a message, never sit until CI's limit.
  const timeoutMs = opts.timeoutMs ?? SETUP_COMMAND_TIMEOUT_MS;
  return new Promise((resolveResult, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout kills the command and everything it started (mvn's JVM, a shell's sleep).
      detached: true,
    });
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      child.stdout.destroy();
      child.stderr.destroy();
      reject(
        new Error(
          `\`${command} ${args.join(' ')}\` did not finish within ${Math.round(timeoutMs / 1000)}s and was stopped. Check the network access to the package registries, then run it again.`,
        ),
      );
    }, timeoutMs);
    child.on('close', () => clearTimeout(timer));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(`${command} was not found on PATH.`, { cause: err }) : (err as Error));
    });
    child.on('close', (code) => resolveResult({ code: code ?? 1, stdout, stderr }));
  });
}

/** runCommand that throws, naming the command and showing its output, when it fails. */
export async function mustRun(
  what: string,
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const r = await runCommand(command, args, opts);
  if (r.code !== 0) {
    const out = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${what} failed: \`${command} ${args.join(' ')}\` exited with code ${r.code}.\n${out}`);
  }
  return r.stdout;
}
