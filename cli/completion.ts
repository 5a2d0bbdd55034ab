/**
 * Shell completion for bash and zsh, generated from the command table (the one the README's CLI section is
 * generated from), so a new command or option is completed as soon as it exists. `listflow completion
 * bash|zsh` prints the script; scripts/gen-docs.ts also writes it under docs/completion/ and `--check` fails
 * when those files are stale.
 *
 * Both scripts hold the same two lookup functions, generated as `case` tables: the words that may follow a
 * command path (subcommands, or the values of a command's argument) and the options of the command a path
 * names. The completion function walks the words typed so far as far as they spell a command path
 * (`listflow help <command>` completes like the command) and offers the next words, or the options when the
 * word starts with `-`. Everything else (a feed path, an option's value) falls back to file names.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are shell code; ${...} there is the shell's.
import { type Command, commonOptions } from './command';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** Where gen-docs writes each script, relative to the checkout (names the shells look for). */
export const COMPLETION_FILES: Readonly<Record<Shell, string>> = {
  bash: 'docs/completion/listflow.bash',
  zsh: 'docs/completion/_listflow',
};

/** Words are pasted into shell code: only ones that need no quoting are accepted. */
const WORD = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function word(w: string, what: string): string {
  if (!WORD.test(w)) throw new Error(`cannot complete ${what} ${JSON.stringify(w)}: not a plain word`);
  return w;
}

/** Options offered before a command is named: the ones cli/main.ts answers by itself. */
const TOP_LEVEL_OPTIONS = ['--help', '--version'];

export interface CompletionTable {
  /** Command path ('' for none yet, words joined by spaces) -> the words that may follow it. */
  readonly next: ReadonlyMap<string, readonly string[]>;
  /** Command path -> the options of that command. */
  readonly options: ReadonlyMap<string, readonly string[]>;
}

export function completionTable(commands: readonly Command[]): CompletionTable {
  const next = new Map<string, string[]>();
  const add = (path: string, w: string) => {
    const words = next.get(path) ?? [];
    if (!words.includes(w)) words.push(w);
    next.set(path, words);
  };
  const options = new Map<string, string[]>([['', TOP_LEVEL_OPTIONS]]);
  for (const c of commands) {
    c.path.forEach((w, i) => {
      add(c.path.slice(0, i).join(' '), word(w, 'command word'));
    });
    const path = c.path.join(' ');
    for (const choice of c.choices ?? []) add(path, word(choice, `argument of ${path}`));
    const names = Object.keys({ ...(c.options ?? {}), ...commonOptions });
    options.set(
      path,
      names.map((n) => `--${word(n, `option of ${path}`)}`),
    );
  }
  return { next, options };
}

/** A shell `case` over command paths; each branch echoes its words. */
function caseTable(name: string, comment: string, table: ReadonlyMap<string, readonly string[]>): string[] {
  const lines = [`# ${comment}`, `${name}() {`, '  case "$1" in'];
  for (const [path, words] of table) lines.push(`    "${path}") echo "${words.join(' ')}" ;;`);
  lines.push('  esac', '}');
  return lines;
}

function lookups(commands: readonly Command[]): string[] {
  const t = completionTable(commands);
  return [
    ...caseTable(
      '_listflow_next',
      'The words that may follow a command path: its subcommands, or the values of its argument.',
      t.next,
    ),
    '',
    ...caseTable('_listflow_options', 'The options of the command a path names.', t.options),
  ];
}

const HEADER = (shell: Shell) =>
  `${shell} completion for listflow. Generated from the CLI's command table (cli/completion.ts) by \`npm run docs\`; do not edit.`;

export function bashCompletion(commands: readonly Command[]): string {
  return [
    `# ${HEADER('bash')}`,
    '# Use: source <(listflow completion bash), or copy it to ~/.local/share/bash-completion/completions/listflow.',
    '',
    ...lookups(commands),
    '',
    '_listflow() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i=1',
    '  # `listflow help <command>` completes like the command itself.',
    '  if [[ ${COMP_WORDS[1]-} == help && $COMP_CWORD -gt 1 ]]; then i=2; fi',
    '  for (( ; i < COMP_CWORD; i++ )); do',
    '    w="${COMP_WORDS[i]}"',
    '    [[ " $(_listflow_next "$cmdpath") " == *" $w "* ]] || break',
    '    cmdpath="${cmdpath:+$cmdpath }$w"',
    '  done',
    '  COMPREPLY=()',
    '  if [[ $cur == -* ]]; then',
    '    mapfile -t COMPREPLY < <(compgen -W "$(_listflow_options "$cmdpath")" -- "$cur")',
    '  elif (( i == COMP_CWORD )); then',
    '    mapfile -t COMPREPLY < <(compgen -W "$(_listflow_next "$cmdpath")" -- "$cur")',
    '  fi',
    '}',
    '# -o default: with nothing to offer (a feed path, an option value), complete file names.',
    'complete -o default -F _listflow listflow',
    '',
  ].join('\n');
}

export function zshCompletion(commands: readonly Command[]): string {
  return [
    '#compdef listflow',
    `# ${HEADER('zsh')}`,
    '# Use: put it in a directory of $fpath as _listflow, or `source <(listflow completion zsh)` after compinit.',
    '',
    ...lookups(commands),
    '',
    '_listflow() {',
    '  local cmdpath="" w',
    '  local -i i=2',
    '  local -a candidates',
    '  # `listflow help <command>` completes like the command itself.',
    '  if [[ ${words[2]-} == help ]] && (( CURRENT > 2 )); then i=3; fi',
    '  for (( ; i < CURRENT; i++ )); do',
    '    w=${words[i]}',
    '    [[ " $(_listflow_next "$cmdpath") " == *" $w "* ]] || break',
    '    cmdpath="${cmdpath:+$cmdpath }$w"',
    '  done',
    '  if [[ ${words[CURRENT]} == -* ]]; then',
    '    candidates=(${=$(_listflow_options "$cmdpath")})',
    '  elif (( i == CURRENT )); then',
    '    candidates=(${=$(_listflow_next "$cmdpath")})',
    '  fi',
    '  # Nothing to offer (a feed path, an option value): complete file names.',
    '  if (( ${#candidates} )); then compadd -a candidates; else _files; fi',
    '}',
    '',
    // Autoloaded from $fpath the file is the function body; sourced it registers the function.
    'if [[ ${funcstack[1]-} == _listflow ]]; then _listflow "$@"; else compdef _listflow listflow; fi',
    '',
  ].join('\n');
}

export function completionScript(shell: Shell, commands: readonly Command[]): string {
  return shell === 'bash' ? bashCompletion(commands) : zshCompletion(commands);
}

/** `listflow completion bash|zsh`, over the table `all` returns (it includes this command). */
export function completionCommand(all: () => readonly Command[]): Command {
  return {
    path: ['completion'],
    summary: 'Print the shell completion script for bash or zsh.',
    args: '<bash|zsh>',
    choices: SHELLS,
    minPositionals: 1,
    maxPositionals: 1,
    details:
      'bash: source <(listflow completion bash) in ~/.bashrc, or save it as\n  ~/.local/share/bash-completion/completions/listflow.\nzsh:  save it as _listflow in a directory of $fpath (before compinit), or source <(listflow completion zsh).',
    async run(args) {
      process.stdout.write(completionScript(args.positionals[0] as Shell, all()));
      return 0;
    },
  };
}
