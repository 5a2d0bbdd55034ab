#!/usr/bin/env bash
# Runs the listflow CLI from a source checkout: Node 24 (fetched if the machine's is older), dependencies
# installed if missing, TypeScript compiled to dist/ only when a source is newer than the last build, then
# dist/cli/main.js.
#
# Why not `tsc -p tsconfig.build.json` every time: a no-op incremental compile still costs ~2.6 s, while the
# mtime check below (one `find -newer` over tsconfig.build.json's include directories) costs a few ms.
# The stamp is taken when a compile STARTS and moved into place only when it succeeds, so a file saved during
# a compile, or a compile that failed, makes the next call compile again: nobody runs stale or broken code.
# Directories count as inputs too: adding, removing or renaming a file changes its directory's mtime, even
# when the file itself keeps an old one (mv). Compiles are serialized with flock: several people or tests
# may build this dist/ at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/node-env.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "listflow: installing dependencies (npm install)..." >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi
# Idempotent; for a node_modules installed before the kafkajs patch existed (npm install applies it too).
node scripts/kafkajs-patch/apply.cjs >&2

stamp=dist/.listflow-build-stamp

# Why a compile is due: no build yet, or the first build input newer than the stamp; nothing when fresh.
stale_input() {
  if [ ! -f "$stamp" ] || [ ! -f dist/cli/main.js ]; then echo "no build yet"; return; fi
  local include dirs=()
  include="$(tr -d '\n' <tsconfig.build.json | sed -n 's/.*"include"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p' | tr -d '" \t' | tr ',' ' ')"
  # An include list this cannot read: compile, which is slow but never wrong.
  if [ -z "$include" ]; then echo "cannot read the include list of tsconfig.build.json"; return; fi
  for d in $include; do [ -e "$d" ] && dirs+=("$d"); done
  find "${dirs[@]}" tsconfig.json tsconfig.build.json package.json node_modules/.package-lock.json \
    -newer "$stamp" \( -type d -o -name '*.ts' ! -name '*.test.ts' -o -name '*.json' \) -printf '%p changed since the last build\n' -quit
}

if [ -n "$(stale_input)" ]; then
  mkdir -p dist
  exec 9>>dist/.listflow-build.lock
  # Without flock (not Linux), concurrent calls may compile at once, as they always did.
  if command -v flock >/dev/null; then flock 9; fi
  # Someone else may have compiled while this call waited for the lock.
  changed="$(stale_input)"
  if [ -n "$changed" ]; then
    echo "listflow: compiling TypeScript to dist/ ($changed)..." >&2
    next="$(mktemp "$stamp.XXXXXX")"
    trap 'rm -f "$next"' EXIT
    if ! npx --no-install tsc -p tsconfig.build.json >&2; then
      echo "listflow: TypeScript build failed (see above)." >&2
      exit 1
    fi
    chmod 644 "$next"
    mv -f "$next" "$stamp"
  fi
  exec 9>&-
fi
exec node --disable-warning=TimeoutNegativeWarning dist/cli/main.js "$@"
