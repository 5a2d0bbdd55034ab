/**
 * Static checks of the Dockerfile (no Docker engine runs here, so the build itself is not tested): pinned Node 24
 * Debian slim base, production dependencies only in the runtime stage, jemalloc for sharp, non-root user, one
 * entrypoint for every operator, and a .dockerignore that keeps tests and local data out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support';

interface Stage {
  readonly from: string;
  readonly name: string;
  readonly lines: string[];
}

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
// Join continuation lines, drop comments.
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const args = new Map(
  instructions.filter((l) => /^ARG\s+\w+=/.test(l)).map((l) => l.replace(/^ARG\s+/, '').split('=') as [string, string]),
);
const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_m, k: string) => args.get(k) ?? '');
const stages: Stage[] = [];
for (const l of instructions) {
  const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l);
  if (from) stages.push({ from: expand(from[1]!), name: from[2] ?? '', lines: [] });
  else stages.at(-1)?.lines.push(l);
}
const final = stages.at(-1)!;
const stageByName = (name: string) => stages.find((s) => s.name === name);

describe('Dockerfile', () => {
  test('is multi-stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
  });

  test.each(stages.map((s) => [s.name, s.from]))('stage %s uses a pinned Node 24 Debian slim base (%s)', (_n, from) => {
    expect(from).toMatch(/^node:24\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[a-f0-9]{64})?$/);
  });

  test('the runtime stage copies node_modules only from a stage that installs production dependencies', () => {
    const copies = final.lines.filter((l) => /^COPY\s+.*--from=\S+.*node_modules/.test(l));
    expect(copies).toHaveLength(1);
    const from = /--from=(\S+)/.exec(copies[0]!)![1]!;
    const deps = stageByName(from)!;
    const installs = deps.lines.filter((l) => /^RUN\s.*npm (install|ci)\b/.test(l));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/npm (install|ci)\b.*--omit=dev/);
    expect(final.lines.filter((l) => /npm (install|ci)\b/.test(l))).toEqual([]);
  });

  test('the runtime stage ships the data files the workers read beside dist/ (built-in source profiles)', () => {
    const copies = final.lines.filter((l) => /^COPY\s/.test(l)).join('\n');
    expect(copies).toMatch(/\/app\/pipelines\/profiles\s+\.\/pipelines\/profiles/);
  });

  test('the runtime stage preloads jemalloc from Debian (sharp on glibc)', () => {
    const run = final.lines.filter((l) => l.startsWith('RUN')).join(' ');
    expect(run).toMatch(/apt-get install\b.*\blibjemalloc2\b/);
    const env = final.lines.filter((l) => l.startsWith('ENV')).join(' ');
    expect(env).toMatch(/LD_PRELOAD=\S*libjemalloc\.so\.2/);
  });

  test('the runtime stage runs as a numeric non-root user', () => {
    const users = final.lines.filter((l) => l.startsWith('USER'));
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.replace(/^USER\s+/, '').split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid ?? uid)).toBeGreaterThan(0);
    // Matches the manifests' runAsUser.
    expect(Number(uid)).toBe(10001);
  });

  test('one entrypoint serves every operator: the listflow CLI, chosen by arguments', () => {
    const entry = final.lines.filter((l) => l.startsWith('ENTRYPOINT'));
    expect(entry).toHaveLength(1);
    const argv = JSON.parse(entry[0]!.replace(/^ENTRYPOINT\s+/, '')) as string[];
    expect(argv.slice(-2)).toEqual(['node', 'dist/cli/main.js']);
  });
});

describe('.dockerignore', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  test.each(['.git', 'node_modules', 'dist', '.listflow', '.tools', 'test', '**/*.test.ts', '.env'])(
    'ignores %s',
    (p) => {
      expect(ignored).toContain(p);
    },
  );
});
