/**
 * Supervises worker child processes for `listflow run --all`: one process per pipeline step, each with its own
 * HTTP port and log file. A child that exits while nobody asked it to is restarted after a capped exponential
 * backoff; one that keeps crashing (more than `maxRestarts` times in a row, each time within `stableMs` of its
 * start) makes the supervisor give up loudly: it stops every other child and exits 1, rather than flapping
 * forever. SIGTERM/SIGINT are forwarded; the supervisor waits for every child to drain, and SIGKILLs the ones
 * still running after the grace period (a second signal kills them at once).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
  readonly logFile: string;
}

export interface SupervisorOptions {
  readonly children: readonly ChildSpec[];
  /** Supervisor messages (stderr). */
  readonly log: (line: string) => void;
  /** Also copy children's output to stderr, each line prefixed with `[step]`. */
  readonly echo?: boolean;
  readonly maxRestarts?: number;
  readonly stableMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long children may take to drain after SIGTERM before they are killed. */
  readonly graceMs?: number;
  /** Written (JSON) once every child answered /readyz with 200. */
  readonly readyFile?: string;
}

interface Slot {
  readonly spec: ChildSpec;
  child: ChildProcess | null;
  startedAt: number;
  crashes: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | null;
  lastExit: string;
  ready: boolean;
  /** Exit code of the last exit (a signal counts as 1). */
  exitCode: number | null;
  log: WriteStream;
}

export class Supervisor {
  private readonly slots: Slot[];
  private stopping = false;
  private gaveUp: string | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code once every child has exited after a stop (or the give-up). */
  readonly done: Promise<number> = new Promise((r) => (this.resolveDone = r));
  private readonly o: Required<Omit<SupervisorOptions, 'readyFile'>> & { readyFile?: string };

  constructor(opts: SupervisorOptions) {
    this.o = {
      echo: false,
      maxRestarts: 5,
      stableMs: 30_000,
      initialBackoffMs: 500,
      maxBackoffMs: 15_000,
      graceMs: 35_000,
      ...opts,
    };
    this.slots = opts.children.map((spec) => {
      mkdirSync(dirname(spec.logFile), { recursive: true });
      const log = createWriteStream(spec.logFile, { flags: 'a' });
      log.write(`\n==== listflow run --all: ${spec.name} on port ${spec.port}, ${new Date().toISOString()} ====\n`);
      return {
        spec,
        child: null,
        startedAt: 0,
        crashes: 0,
        restarts: 0,
        restartTimer: null,
        lastExit: '',
        ready: false,
        exitCode: null,
        log,
      };
    });
  }

  start(): void {
    for (const s of this.slots) this.spawn(s);
    this.readyTimer = setInterval(() => void this.checkReady(), 500);
  }

  /** Pids by step name (for status output and tests). */
  pids(): Record<string, number | null> {
    return Object.fromEntries(this.slots.map((s) => [s.spec.name, s.child?.pid ?? null]));
  }

  private spawn(s: Slot): void {
    const { spec } = s;
    const child = spawn(spec.command, [...spec.args], { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    s.child = child;
    s.startedAt = Date.now();
    s.ready = false;
    this.o.log(`supervisor: started ${spec.name} (pid ${child.pid}, port ${spec.port}, log ${spec.logFile})`);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        s.log.write(chunk);
        if (!this.o.echo) return;
        const text = partial + chunk.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) process.stderr.write(`[${spec.name}] ${l}\n`);
      });
    }
    child.on('error', (e) => {
      s.lastExit = `spawn failed: ${e.message}`;
      this.o.log(`supervisor: ${spec.name} could not be started: ${e.message}`);
    });
    child.on('exit', (code, signal) => this.onExit(s, child, code, signal));
  }

  private onExit(s: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (s.child !== child) return;
    s.child = null;
    s.ready = false;
    s.lastExit = signal ? `signal ${signal}` : `exit code ${code}`;
    s.exitCode = code ?? 1;
    if (this.stopping) {
      this.o.log(`supervisor: ${s.spec.name} stopped (${s.lastExit})`);
      this.maybeDone();
      return;
    }
    const lived = Date.now() - s.startedAt;
    s.crashes = lived >= this.o.stableMs ? 1 : s.crashes + 1;
    if (s.crashes > this.o.maxRestarts) {
      this.gaveUp = `${s.spec.name} crashed ${s.crashes} times in a row (last: ${s.lastExit}); see ${s.spec.logFile}`;
      this.o.log(`supervisor: GIVING UP: ${this.gaveUp}. Stopping all workers.`);
      void this.stop('give up');
      return;
    }
    const wait = Math.min(this.o.maxBackoffMs, this.o.initialBackoffMs * 2 ** (s.crashes - 1));
    this.o.log(
      `supervisor: ${s.spec.name} exited unexpectedly (${s.lastExit}) after ${(lived / 1000).toFixed(1)}s; restart ${s.crashes}/${this.o.maxRestarts} in ${wait} ms (log ${s.spec.logFile})`,
    );
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (this.stopping) return this.maybeDone();
      s.restarts++;
      this.spawn(s);
    }, wait);
  }

  private async checkReady(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.ready || !s.child) return;
        try {
          const res = await fetch(`http://127.0.0.1:${s.spec.port}/readyz`, { signal: AbortSignal.timeout(1000) });
          s.ready = res.status === 200;
        } catch {
          s.ready = false;
        }
      }),
    );
    if (this.readyTimer && !this.stopping && this.slots.every((s) => s.ready)) {
      clearInterval(this.readyTimer);
      this.readyTimer = null;
      this.o.log(`supervisor: all ${this.slots.length} workers ready`);
      if (this.o.readyFile) {
        mkdirSync(dirname(this.o.readyFile), { recursive: true });
        writeFileSync(
          this.o.readyFile,
          `${JSON.stringify({ pid: process.pid, workers: this.slots.map((s) => ({ step: s.spec.name, pid: s.child?.pid, port: s.spec.port })) })}\n`,
        );
      }
    }
  }

  /** Forwards SIGTERM to every child and resolves `done` once all have exited. A second call kills them. */
  stop(reason: string): Promise<number> {
    if (this.stopping) {
      if (reason !== 'give up') {
        this.o.log('supervisor: second signal: killing workers now');
        for (const s of this.slots) s.child?.kill('SIGKILL');
      }
      return this.done;
    }
    this.stopping = true;
    if (this.readyTimer) clearInterval(this.readyTimer);
    this.o.log(
      `supervisor: stopping ${this.slots.filter((s) => s.child).length} workers (${reason}); waiting for them to drain`,
    );
    for (const s of this.slots) {
      if (s.restartTimer) {
        clearTimeout(s.restartTimer);
        s.restartTimer = null;
      }
      s.child?.kill('SIGTERM');
    }
    this.killTimer = setTimeout(() => {
      for (const s of this.slots) {
        if (!s.child) continue;
        this.o.log(`supervisor: ${s.spec.name} did not stop within ${this.o.graceMs} ms; killing it`);
        s.child.kill('SIGKILL');
      }
    }, this.o.graceMs);
    this.maybeDone();
    return this.done;
  }

  private maybeDone(): void {
    if (!this.stopping || this.slots.some((s) => s.child || s.restartTimer)) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    for (const s of this.slots) s.log.end();
    const clean = this.slots.every((s) => (s.exitCode ?? 0) === 0);
    this.resolveDone(this.gaveUp || !clean ? 1 : 0);
  }

  get failure(): string | null {
    return this.gaveUp;
  }
}
