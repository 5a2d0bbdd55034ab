/**
 * The generated completion scripts, run by the real shell: the bash script is sourced in `bash -c`, registers
 * itself for `listflow`, and answers COMPREPLY for what a person has typed so far.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from './command';
import { bashCompletion, completionTable, zshCompletion } from './completion';
import { commands } from './main';

let dir: string;
let script: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'listflow-completion-'));
  script = join(dir, 'listflow.bash');
  writeFileSync(script, bashCompletion(commands));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** COMPREPLY after sourcing the script, for the words typed so far (the last one is being completed). */
function complete(...words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync(
    'bash',
    [
      '-c',
      `source '${script}'; COMP_WORDS=(listflow ${quoted}); COMP_CWORD=${words.length}; _listflow; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

test('sourcing the bash script registers it for listflow, falling back to file names', () => {
  const out = execFileSync('bash', ['-c', `source '${script}'; complete -p listflow`], { encoding: 'utf8' });
  expect(out.trim()).toBe('complete -o default -F _listflow listflow');
});

test.each([
  { typed: ['in'], offers: ['infra', 'ingest'] },
  { typed: ['dl'], offers: ['dlq'] },
  { typed: ['dlq', ''], offers: ['list', 'show', 'redrive'] },
  { typed: ['dlq', 're'], offers: ['redrive'] },
  { typed: ['infra', 's'], offers: ['status'] },
  { typed: ['ingest', ''], offers: ['samples'] },
  { typed: ['ingest', '--w'], offers: ['--wait'] },
  { typed: ['ingest', 'feed.json', '--source', 'x', '--c'], offers: ['--country', '--currency'] },
  { typed: ['ingest', 'samples', '--s'], offers: ['--seed', '--source-prefix'] },
  { typed: ['status', '--'], offers: ['--sample-ms', '--remaining', '--help', '--json'] },
  { typed: ['--v'], offers: ['--version'] },
  { typed: ['completion', ''], offers: ['bash', 'zsh'] },
  { typed: ['help', 'li'], offers: ['listings'] },
  { typed: ['help', 'dlq', ''], offers: ['list', 'show', 'redrive'] },
  // Past a command's argument (a feed path, a job id) there is nothing to offer but file names.
  { typed: ['ingest', 'feed.json', ''], offers: [] },
  { typed: ['ingest', '--source', ''], offers: [] },
  { typed: ['nope', ''], offers: [] },
])('listflow $typed<TAB> offers $offers', ({ typed, offers }) => {
  expect(complete(...typed)).toEqual(offers);
});

test('every command path and every option of the table can be completed', () => {
  for (const c of commands) {
    const path = c.path;
    expect(complete(...path.slice(0, -1), path.at(-1)!.slice(0, 2))).toContain(path.at(-1));
    for (const name of Object.keys(c.options ?? {})) expect(complete(...path, `--${name}`)).toContain(`--${name}`);
  }
});

test('a new command or option is completed as soon as the table has it (no hand-kept list)', () => {
  const extra: Command = {
    path: ['infra', 'sideways'],
    summary: 'x',
    options: { 'tilt-degrees': { type: 'string' } },
    run: async () => 0,
  };
  const t = completionTable([...commands, extra]);
  expect(t.next.get('infra')).toContain('sideways');
  expect(t.options.get('infra sideways')).toEqual(['--tilt-degrees', '--help', '--json']);
});

test('words that would need quoting in shell code are refused, not pasted', () => {
  const bad: Command = { path: ['x;rm'], summary: 'x', run: async () => 0 };
  expect(() => completionTable([bad])).toThrow(/cannot complete command word "x;rm"/);
});

test('the zsh script holds the same lookup tables and registers itself with compdef', () => {
  const zsh = zshCompletion(commands);
  expect(zsh.startsWith('#compdef listflow\n')).toBe(true);
  const tables = (s: string) => s.slice(s.indexOf('_listflow_next() {'), s.indexOf('\n_listflow() {'));
  expect(tables(zsh)).toBe(tables(bashCompletion(commands)));
  expect(zsh).toMatch(/compdef _listflow listflow/);
});
