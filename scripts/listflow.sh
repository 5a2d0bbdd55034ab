#!/usr/bin/env bash
# Runs the listflow CLI from a source checkout: Node 24 (fetched if the machine's is older),
# dependencies installed if missing, TypeScript compiled incrementally to dist/, then dist/cli/main.js.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/node-env.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "listflow: installing dependencies (npm install)..." >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi
npx --no-install tsc -p tsconfig.build.json >&2 || { echo "listflow: TypeScript build failed (see above)." >&2; exit 1; }
exec node --disable-warning=TimeoutNegativeWarning dist/cli/main.js "$@"
