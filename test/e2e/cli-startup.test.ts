/**
 * scripts/listflow.sh compiles only when a source changed: a call on a built checkout rewrites nothing under
 * dist/, and a changed (or merely touched) source is compiled before the command runs.
 *
 * Runs on its own copy of the checkout (the tracked and untracked-but-not-ignored files, mtimes kept, with
 * node_modules linked): other people and tests build the shared dist/ at the same time, which would make
 * "nothing was rewritten" meaningless there.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ROOT, run } from './pipeline-sandbox';

let copy: string;
let shims: string;

/** Node 24 first on PATH, so the copy's node-env.sh finds it and fetches nothing into the copy's .tools/. */
const nodePath = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
const listflow = (...args: string[]) =>
  run('bash', [join(copy, 'scripts/listflow.sh'), ...args], {
    cwd: copy,
    env: { ...process.env, PATH: `${shims}:${nodePath}` },
    timeoutMs: 300_000,
  });

/**
 * The wrapper compiles with `npx --no-install tsc`. An npx first on PATH that notes its arguments and runs
 * the real one tells whether a call compiled, whatever tsc writes or leaves alone.
 */
function installNpxShim(): void {
  shims = mkdtempSync(join(tmpdir(), 'listflow-startup-shims-'));
  const realNpx = execFileSync('bash', ['-c', 'command -v npx'], { env: { ...process.env, PATH: nodePath } })
    .toString()
    .trim();
  writeFileSync(join(shims, 'npx'), `#!/bin/sh\necho "$*" >> "${join(shims, 'npx.log')}"\nexec "${realNpx}" "$@"\n`, {
    mode: 0o755,
  });
}

/** The npx calls (its arguments) since the last time this was asked. */
function npxCalls(): string[] {
  const log = join(shims, 'npx.log');
  if (!existsSync(log)) return [];
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  rmSync(log);
  return calls;
}

/** Every file under dist/ with its mtime in nanoseconds. */
function distFiles(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(copy, p), statSync(p, { bigint: true }).mtimeNs);
    }
  };
  walk(join(copy, 'dist'));
  return out;
}

const mtime = (path: string) => statSync(join(copy, path), { bigint: true }).mtimeNs;

/** The files that were added, removed or rewritten between two snapshots. */
function rewritten(before: Map<string, bigint>, after: Map<string, bigint>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), 'listflow-startup-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)));
  // Timestamps kept: a fresh package-lock.json would look newer than node_modules and trigger npm install.
  for (const f of files) cpSync(join(ROOT, f), join(copy, f), { preserveTimestamps: true, recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  installNpxShim();
  const first = await listflow('--help');
  if (first.code !== 0) throw new Error(`first build failed (${first.code}):\n${first.stderr}`);
  expect(first.stderr).toMatch(/compiling TypeScript to dist\/ \(no build yet\)/);
  expect(npxCalls()).toEqual(['--no-install tsc -p tsconfig.build.json']);
});

afterAll(() => {
  for (const dir of [copy, shims]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a call on a built checkout compiles nothing and rewrites nothing under dist/', async () => {
  const before = distFiles();
  expect(before.has('dist/cli/main.js')).toBe(true);
  for (const args of [['--help'], ['status', '--help'], ['status', '--sample-ms', '0', '--json']]) {
    const r = await listflow(...args);
    expect(r.stderr).not.toMatch(/compiling/);
    if (args.includes('--help')) expect(r.code).toBe(0);
    else expect(r.code).not.toBeNull(); // status ran (its answer depends on the platform), and did not hang
  }
  expect(npxCalls()).toEqual([]);
  expect(rewritten(before, distFiles())).toEqual([]);
});

test('a changed source is compiled before the command runs, then nothing again', async () => {
  const file = join(copy, 'cli/commands/status.ts');
  const text = readFileSync(file, 'utf8');
  const summary = text.match(/summary: (['"`]).+?\1/)?.[0];
  if (!summary) throw new Error('cli/commands/status.ts has no summary to change');
  writeFileSync(file, text.replace(summary, `summary: 'Changed by the startup test.'`));
  const js = mtime('dist/cli/commands/status.js');

  const r = await listflow('status', '--help');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/compiling TypeScript to dist\/ \(cli\/commands\/status\.ts changed since the last build\)/);
  expect(r.stdout).toContain('Changed by the startup test.');
  expect(mtime('dist/cli/commands/status.js')).not.toBe(js);
  expect(npxCalls()).toHaveLength(1);

  const before = distFiles();
  const again = await listflow('status', '--help');
  expect(again.stderr).not.toMatch(/compiling/);
  expect(npxCalls()).toEqual([]);
  expect(rewritten(before, distFiles())).toEqual([]);
});

test('a touched source (same content) makes the next call compile once', async () => {
  const stamp = mtime('dist/.listflow-build-stamp');
  const now = new Date();
  utimesSync(join(copy, 'runtime/errors.ts'), now, now);
  const r = await listflow('--help');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/runtime\/errors\.ts changed since the last build/);
  expect(mtime('dist/.listflow-build-stamp')).toBeGreaterThan(stamp);
  expect(npxCalls()).toHaveLength(1);
  const again = await listflow('--help');
  expect(again.stderr).not.toMatch(/compiling/);
  expect(npxCalls()).toEqual([]);
});

test('a file added under a source directory with an old mtime (mv) still makes the next call compile', async () => {
  const added = join(copy, 'cli/startup-test-added.ts');
  writeFileSync(added, 'export const addedByTheStartupTest = 1;\n');
  utimesSync(added, new Date(2000, 0, 1), new Date(2000, 0, 1));
  const r = await listflow('--help');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/compiling TypeScript to dist\/ \(cli changed since the last build\)/);
  expect(existsSync(join(copy, 'dist/cli/startup-test-added.js'))).toBe(true);
  expect(npxCalls()).toHaveLength(1);
});

test('a source that does not compile stops the call, and every later call compiles until it is fixed', async () => {
  const file = join(copy, 'cli/progress.ts');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, `${text}\nexport const notANumber: number = 'startup test';\n`);
  for (let i = 0; i < 2; i++) {
    const r = await listflow('--help');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(''); // the command did not run
    expect(r.stderr).toMatch(/TypeScript build failed/);
    expect(npxCalls()).toHaveLength(1);
  }
  writeFileSync(file, text);
  const fixed = await listflow('--help');
  expect(fixed.code).toBe(0);
  expect(npxCalls()).toHaveLength(1);
  await listflow('--help');
  expect(npxCalls()).toEqual([]);
});
