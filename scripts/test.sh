#!/usr/bin/env bash
# The test command (`npm test`): sets up everything it needs on a fresh machine, then runs
# typecheck, lint, unit, integration and end-to-end suites against the real platform.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
# Not `npm ci`: the package mirror these machines use answers 404 for other platforms' optional
# packages (@biomejs/cli-win32-x64, @swc/core-darwin-*...), so the lockfile cannot list them and
# `npm ci` rejects it as out of sync. `npm install` still installs the lockfile's pinned versions.
npm install --no-audit --no-fund
npm run typecheck
npm run lint
node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON scripts/gen-schemas.ts --check
npx jest --selectProjects unit
