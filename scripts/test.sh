#!/usr/bin/env bash
# The test command (`npm test`, and what .ci/run calls). On a fresh machine it sets up everything it needs:
# Node 24, dependencies, then the static checks and unit tests (no broker), then the real local platform
# (Kafka, Apicurio Registry, PostgreSQL: `listflow infra up`), the integration and end-to-end suites against
# it, and finally `infra down` (even when a suite fails) if this command was the one that started it.
#
#   LISTFLOW_TEST_SUITES="unit integration e2e"   which jest projects to run (default: all three)
#   LISTFLOW_KEEP_PLATFORM=1                      leave the platform running afterwards
#   LISTFLOW_TEST_KAFKA_CLIENTS="kafkajs platformatic"   the Kafka clients the integration suite runs on
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
suites="${LISTFLOW_TEST_SUITES:-unit integration e2e}"
started=$(date +%s)
step() { echo; echo "== test: $* ($(($(date +%s) - started))s)"; }
# Each jest phase gets a time limit, several times its usual length (unit ~1 min, integration ~11 min per
# client, e2e ~5 min on these 2-core machines), so a hung run (a test that leaks a timer or a socket keeps
# jest from exiting) fails in minutes with its name, instead of using up CI's whole 90-minute budget.
bounded() {
  local limit=$1 name=$2 rc=0
  shift 2
  timeout --kill-after=30s "$limit" "$@" || rc=$?
  if [[ $rc == 124 || $rc == 137 ]]; then
    echo "== test: $name did not finish within ${limit}s (a hung test, or jest kept alive by an open handle)" >&2
  fi
  return $rc
}

step "dependencies"
# Not `npm ci`: the package mirror these machines use answers 404 for other platforms' optional
# packages (@biomejs/cli-win32-x64, @swc/core-darwin-*...), so the lockfile cannot list them and
# `npm ci` rejects it as out of sync. `npm install` still installs the lockfile's pinned versions.
npm install --no-audit --no-fund --loglevel=error

step "static checks: typecheck, lint, generated schema types, k8s manifests and README tables"
npm run --silent typecheck
npm run --silent lint
node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON scripts/gen-schemas.ts --check
npm run --silent k8s:render -- --check
npx tsc -p tsconfig.build.json
node dist/scripts/gen-docs.js --check

if [[ " $suites " == *" unit "* ]]; then
  step "unit tests (no broker)"
  bounded 600 "unit tests" node_modules/.bin/jest --selectProjects unit
fi

if [[ " $suites " == *" integration "* || " $suites " == *" e2e "* ]]; then
  step "local platform"
  we_started_platform=0
  if ! node dist/cli/main.js infra status >/dev/null 2>&1; then we_started_platform=1; fi
  stop_platform() {
    local rc=$?
    if [[ $we_started_platform == 1 && -z "${LISTFLOW_KEEP_PLATFORM:-}" ]]; then
      echo; echo "== test: stopping the local platform"
      node dist/cli/main.js infra down || true
    fi
    exit $rc
  }
  trap stop_platform EXIT
  node dist/cli/main.js infra up
  # The tests reach the platform through the same variables a worker reads.
  eval "$(node dist/cli/main.js infra status --json | node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const [k, v] of Object.entries(s.env)) console.log(`export ${k}=${JSON.stringify(v)}`);')"

  if [[ " $suites " == *" integration "* ]]; then
    # Once per Kafka client adapter (runtime/kafka-client/): the workers and the tests' own clients use the
    # one LISTFLOW_KAFKA_CLIENT names, and both must keep the same guarantees.
    for client in ${LISTFLOW_TEST_KAFKA_CLIENTS:-kafkajs platformatic}; do
      step "integration tests on $client (real Kafka, Apicurio, PostgreSQL)"
      LISTFLOW_KAFKA_CLIENT=$client bounded 1500 "integration tests on $client" \
        node_modules/.bin/jest --selectProjects integration --runInBand
    done
  fi
  if [[ " $suites " == *" e2e "* ]]; then
    step "end-to-end tests (the real CLI)"
    bounded 900 "end-to-end tests" node_modules/.bin/jest --selectProjects e2e --runInBand --passWithNoTests
  fi
fi
step "all passed"
