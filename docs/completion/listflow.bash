# bash completion for listflow. Generated from the CLI's command table (cli/completion.ts) by `npm run docs`; do not edit.
# Use: source <(listflow completion bash), or copy it to ~/.local/share/bash-completion/completions/listflow.

# The words that may follow a command path: its subcommands, or the values of its argument.
_listflow_next() {
  case "$1" in
    "") echo "infra topics schemas run ingest profile status dry-run dlq replay sources web listings blobs k8s version help completion" ;;
    "infra") echo "up down status" ;;
    "topics") echo "apply list" ;;
    "schemas") echo "register check" ;;
    "ingest") echo "samples" ;;
    "profile") echo "check" ;;
    "dlq") echo "list show redrive" ;;
    "sources") echo "apply list sync reset" ;;
    "listings") echo "get search" ;;
    "blobs") echo "gc" ;;
    "k8s") echo "render" ;;
    "completion") echo "bash zsh" ;;
  esac
}

# The options of the command a path names.
_listflow_options() {
  case "$1" in
    "") echo "--help --version" ;;
    "infra up") echo "--help --json" ;;
    "infra down") echo "--help --json" ;;
    "infra status") echo "--help --json" ;;
    "topics apply") echo "--replication-factor --help --json" ;;
    "topics list") echo "--help --json" ;;
    "schemas register") echo "--schemas-dir --help --json" ;;
    "schemas check") echo "--schemas-dir --help --json" ;;
    "run") echo "--operator --all --base-port --log-dir --echo-logs --ready-file --max-restarts --create-topics --check --help --json" ;;
    "ingest") echo "--source --format --wait --country --currency --profile --help --json" ;;
    "ingest samples") echo "--count --seed --dir --source-prefix --help --json" ;;
    "profile check") echo "--profile --source --format --limit --help --json" ;;
    "status") echo "--sample-ms --remaining --help --json" ;;
    "dry-run") echo "--source --format --through --out --images-dir --set --help --json" ;;
    "dlq list") echo "--step --code --since --until --help --json" ;;
    "dlq show") echo "--topic --partition --offset --help --json" ;;
    "dlq redrive") echo "--step --code --since --until --rate --dry --again --help --json" ;;
    "replay") echo "--step --from --yes --help --json" ;;
    "sources apply") echo "--file --yes --help --json" ;;
    "sources list") echo "--no-remote --help --json" ;;
    "sources sync") echo "--once --from --allow-mass-delete --help --json" ;;
    "sources reset") echo "--to --yes --help --json" ;;
    "web") echo "--host --port --admin --token-file --refresh --help --json" ;;
    "listings get") echo "--help --json" ;;
    "listings search") echo "--city --status --limit --help --json" ;;
    "blobs gc") echo "--grace --dry-run --help --json" ;;
    "k8s render") echo "--overlay --check --help --json" ;;
    "version") echo "--help --json" ;;
    "help") echo "--help --json" ;;
    "completion") echo "--help --json" ;;
  esac
}

_listflow() {
  local cur="${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i=1
  # `listflow help <command>` completes like the command itself.
  if [[ ${COMP_WORDS[1]-} == help && $COMP_CWORD -gt 1 ]]; then i=2; fi
  for (( ; i < COMP_CWORD; i++ )); do
    w="${COMP_WORDS[i]}"
    [[ " $(_listflow_next "$cmdpath") " == *" $w "* ]] || break
    cmdpath="${cmdpath:+$cmdpath }$w"
  done
  COMPREPLY=()
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_listflow_options "$cmdpath")" -- "$cur")
  elif (( i == COMP_CWORD )); then
    mapfile -t COMPREPLY < <(compgen -W "$(_listflow_next "$cmdpath")" -- "$cur")
  fi
}
# -o default: with nothing to offer (a feed path, an option value), complete file names.
complete -o default -F _listflow listflow
