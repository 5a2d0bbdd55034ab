/**
 * Writes the README's configuration reference and error-code catalogue from the code that defines them
 * (runtime/settings.ts, each operator's config spec, runtime/errors.ts), between marker comments:
 *
 *   <!-- generated:configuration --> ... <!-- /generated:configuration -->
 *   <!-- generated:errors --> ... <!-- /generated:errors -->
 *   <!-- generated:cli --> ... <!-- /generated:cli -->   (from the command definitions in cli/commands/)
 *
 * and, from the same command table, the shell completion scripts under docs/completion/ (cli/completion.ts).
 *
 * Why: the specs are what the workers actually parse, so a hand-kept table would drift. `--check` exits 1
 * when README.md or a completion script differs from what the specs say (the test command runs it).
 *
 *   npm run docs            # write
 *   npm run docs -- --check # exit 1 when stale
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { COMPLETION_FILES, completionScript, SHELLS } from '../cli/completion';
import { commands } from '../cli/main';
import { operators } from '../operators';
import { type ConfigSpec, type ConfigFields, fieldEnvName } from '../runtime/config';
import { errorCatalogue } from '../runtime/errors';
import { OTHER_VARIABLES, operatorEnvPrefix, WORKER_ENV_PREFIX, workerSettingsSpec } from '../runtime/settings';

// Run from the project root (npm scripts and scripts/test.sh do).
const root = resolve(process.cwd());
const readmePath = join(root, 'README.md');

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultText(v: unknown): string {
  if (v === undefined) return '(required)';
  if (Array.isArray(v)) return `\`${v.join(',')}\``;
  return `\`${String(v)}\``;
}

function table(spec: ConfigSpec<ConfigFields>, prefix: string): string[] {
  const lines = ['| Variable | Default | Description |', '|---|---|---|'];
  for (const [key, f] of Object.entries(spec.fields)) {
    const optional = f.default === undefined && f.parse(undefined).ok;
    const def = optional ? '(unset)' : defaultText(f.default);
    lines.push(
      `| \`${fieldEnvName(prefix, key, f)}\` | ${cell(def)} | ${cell(f.description)}${f.secret ? ' (secret)' : ''} |`,
    );
  }
  return lines;
}

function configurationSection(): string {
  const out: string[] = [
    'Every worker parses its settings once, at startup, from the environment, and refuses to start on an unknown',
    '`LISTFLOW_*` variable, a bad value or a missing required one; the error names the variable, the value received',
    'and the fix. Worker settings apply to every operator; each operator has its own `LISTFLOW_<OPERATOR>_*` block.',
    'Each setting has one name, used by the workers, the CLI, the local run, the tests and the Kubernetes manifests',
    '(the database is `LISTFLOW_POSTGRES_URL` for publish and `listflow listings` alike). `listflow run --operator NAME',
    "--check` parses a worker's whole configuration as its startup does and prints each value and where it came from.",
    '',
    '#### Worker settings (every operator)',
    '',
    ...table(workerSettingsSpec as unknown as ConfigSpec<ConfigFields>, WORKER_ENV_PREFIX),
  ];
  for (const op of Object.values(operators)) {
    out.push('', `#### ${op.name}: ${op.summary}`, '');
    if (Object.keys(op.config.fields).length === 0) out.push('No settings.');
    else out.push(...table(op.config as ConfigSpec<ConfigFields>, operatorEnvPrefix(op.name)));
  }
  out.push(
    '',
    '#### CLI, local platform and tests (never read by a worker)',
    '',
    '| Variable | Description |',
    '|---|---|',
  );
  for (const [name, description] of Object.entries(OTHER_VARIABLES)) out.push(`| \`${name}\` | ${cell(description)} |`);
  return out.join('\n');
}

function errorsSection(): string {
  const out = [
    'One catalogue (runtime/errors.ts) feeds dead-letter headers (`listflow.error.code`), logs and the',
    '`listflow_records_failed_total{code}` metric. Codes are stable. Kinds: **retriable** (backoff, then dead letter),',
    '**permanent** (dead letter at once), **bug** (dead letter at once with the stack; fix, then `listflow dlq redrive`),',
    '**fatal** (the worker stops without committing).',
    '',
    '| Code | Kind | Meaning |',
    '|---|---|---|',
  ];
  for (const [code, e] of Object.entries(errorCatalogue))
    out.push(`| \`${code}\` | ${e.kind} | ${cell(e.description)} |`);
  return out.join('\n');
}

function cliSection(): string {
  const out = ['| Command | What it does | Options |', '|---|---|---|'];
  for (const c of commands) {
    const usage = `listflow ${c.path.join(' ')}${c.args ? ` ${c.args}` : ''}`;
    const opts = Object.entries(c.options ?? {})
      .map(([name, spec]) => `\`--${name}${spec.type === 'string' ? ' <v>' : ''}\``)
      .join(' ');
    out.push(`| \`${cell(usage)}\` | ${cell(c.summary)} | ${cell(opts)} |`);
  }
  out.push('', 'Every command also takes `--help` and `--json`. `listflow <command> --help` describes each option.');
  return out.join('\n');
}

function replaceBetween(text: string, name: string, body: string): string {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${start} ... ${end}`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

const current = readFileSync(readmePath, 'utf8');
const next = replaceBetween(
  replaceBetween(replaceBetween(current, 'configuration', configurationSection()), 'errors', errorsSection()),
  'cli',
  cliSection(),
);
const generated = [
  { path: readmePath, what: 'README.md (CLI, configuration, errors)', current, next },
  ...SHELLS.map((shell) => {
    const path = join(root, COMPLETION_FILES[shell]);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    return { path, what: COMPLETION_FILES[shell], current, next: completionScript(shell, commands) };
  }),
];
const stale = generated.filter((g) => g.next !== g.current);
if (process.argv.includes('--check')) {
  if (stale.length > 0) {
    process.stderr.write(`Stale generated files: ${stale.map((g) => g.what).join(', ')}. Fix: run \`npm run docs\`.\n`);
    process.exit(1);
  }
} else {
  for (const g of stale) {
    mkdirSync(dirname(g.path), { recursive: true });
    writeFileSync(g.path, g.next);
    process.stdout.write(`wrote ${g.what}\n`);
  }
}
