#!/usr/bin/env bash
# `npm run local`: the whole product on this machine, from a fresh clone.
#   1. dependencies and build; the local platform (Kafka, Apicurio Registry, PostgreSQL, S3Proxy) if it is not running
#   2. topics and schemas (`listflow topics apply`, `listflow schemas register`)
#   3. one worker process per pipeline step (`listflow run --all`), logs in .listflow/logs/<step>.log
#   4. sample feeds (JSON, NDJSON, CSV, OData; US and CA; broken records and photos) written to .listflow/samples
#   5. ingested and followed with live progress (`listflow ingest samples`)
#   6. a summary checked against the generator
#   7. continuous ingest: the project's RESO Web API server serves the four local sources (pipelines/sources.yaml);
#      `listflow sources apply`, the initial load, then live changes (prices, statuses, deletions, photos, new
#      listings), each checked in PostgreSQL against the server's truth; then the workers are stopped (unless --follow)
#
# Options: --follow            keep the workers running afterwards (Ctrl-C stops them)
#          --count N           records per feed (default 100, four feeds)
#          --seed N            sample generator seed (default 1)
#          --source-prefix P   sources P-json, P-ndjson, P-csv, P-odata (default sample)
#          --base-port N       first worker HTTP port (default 9400; the others follow)
#          --json              print the summary as JSON on stdout (progress stays on stderr)
#          --no-build          use dist/ as it is (tests build once beforehand)
#          --no-sources        skip step 7
#          --sources-count N   listings per local source (default 40)
# Re-runnable: every count is scoped to this run's job ids, so a second run reports its own numbers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/node-env.sh

follow=0
build=1
sources=1
sources_count=40
demo_args=()
base_port=9400
samples_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --follow) follow=1 ;;
    --no-build) build=0 ;;
    --json) samples_args+=(--json) ;;
    --no-sources) sources=0 ;;
    --sources-count)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || { echo "local: --sources-count needs a number" >&2; exit 2; }
      sources_count="$2"
      shift
      ;;
    --count | --seed | --source-prefix)
      [[ $# -ge 2 ]] || { echo "local: $1 needs a value" >&2; exit 2; }
      samples_args+=("$1" "$2")
      shift
      ;;
    --base-port)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || { echo "local: --base-port needs a port number" >&2; exit 2; }
      base_port="$2"
      shift
      ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "local: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

started=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started) / 1000000 ))"; }
say() { echo "== local: $* ($(awk "BEGIN{printf \"%.1f\", $(elapsed)/1000}")s)" >&2; }
# An array, not a function: `"${cli[@]}" ... &` must leave the node process itself in $! (signals reach it).
cli=(node --disable-warning=TimeoutNegativeWarning dist/cli/main.js)

if [[ $build == 1 ]]; then
  say "dependencies and build"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
  fi
  # Idempotent; for a node_modules installed before the kafkajs patch existed (npm install applies it too).
  node scripts/kafkajs-patch/apply.cjs >&2
  npx --no-install tsc -p tsconfig.build.json >&2 || { echo "local: TypeScript build failed (see above)." >&2; exit 1; }
fi

say "local platform"
"${cli[@]}" infra up >&2
export LISTFLOW_KAFKA_BROKERS="${LISTFLOW_KAFKA_BROKERS:-127.0.0.1:19092}"
export LISTFLOW_REGISTRY_URL="${LISTFLOW_REGISTRY_URL:-http://127.0.0.1:18081/apis/ccompat/v7}"
export LISTFLOW_POSTGRES_URL="${LISTFLOW_POSTGRES_URL:-postgres://listflow@127.0.0.1:15432/listflow}"

say "topics and schemas"
run_args=()
set +e
"${cli[@]}" topics apply >&2
topics_rc=$?
"${cli[@]}" schemas register >&2
schemas_rc=$?
set -e
# Exit code 2 means the command does not exist in this checkout yet: fall back to workers doing it themselves.
if [[ $topics_rc == 2 ]]; then run_args+=(--create-topics); elif [[ $topics_rc != 0 ]]; then exit "$topics_rc"; fi
if [[ $schemas_rc == 2 ]]; then export LISTFLOW_REGISTER_SCHEMAS=true; elif [[ $schemas_rc != 0 ]]; then exit "$schemas_rc"; fi

# Local-only operator settings: the sample feeds and their photos are local files.
samples_dir="$root/.listflow/samples"
mkdir -p "$samples_dir"
export LISTFLOW_INGEST_FILE_ROOT="$samples_dir"
export LISTFLOW_IMAGES_FILE_ROOT="$samples_dir"
export LISTFLOW_IMAGES_BLOB_ROOT="${LISTFLOW_IMAGES_BLOB_ROOT:-$root/.listflow/blobs}"
# Photos go to the platform's S3Proxy through the S3 API (LISTFLOW_IMAGES_BLOB_STORE=s3://..., its endpoint,
# the local identity as AWS_* and the public base URL), as `infra status --json` exports them; a variable already
# set wins (LISTFLOW_IMAGES_BLOB_STORE=file keeps the filesystem store).
eval "$("${cli[@]}" infra status --json | node -e '
  const { env } = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const [k, v] of Object.entries(env))
    if (/^(LISTFLOW_IMAGES_|AWS_)/.test(k)) console.log(`[[ -n "\${${k}+x}" ]] || export ${k}=${JSON.stringify(v)}`);')"
export LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS=true
# The local RESO Web API server (samples/replication-demo.ts starts it on 127.0.0.1:18480): the sources worker
# and the images step may fetch from it (it is loopback, which the guarded client refuses otherwise), and the
# sources' credentials are the ones that server accepts (pipelines/sources.yaml names the variables).
reso_host="127.0.0.1:18480"
export LISTFLOW_SOURCES_ALLOW_HOSTS="${LISTFLOW_SOURCES_ALLOW_HOSTS:-$reso_host}"
export LISTFLOW_IMAGES_ALLOW_HOSTS="${LISTFLOW_IMAGES_ALLOW_HOSTS:+$LISTFLOW_IMAGES_ALLOW_HOSTS,}$reso_host"
eval "$(node -e '
  const { LOCAL_RESO_ENV } = require("./dist/test/support/reso-server/local.js");
  for (const [k, v] of Object.entries(LOCAL_RESO_ENV)) console.log(`export ${k}=${JSON.stringify(v)}`);')"
export LISTFLOW_SHUTDOWN_GRACE_MS="${LISTFLOW_SHUTDOWN_GRACE_MS:-15000}"

say "workers (listflow run --all; logs in .listflow/logs/<step>.log)"
ready_file="$root/.listflow/run/workers-$$.ready"
rm -f "$ready_file"
"${cli[@]}" run --all --base-port "$base_port" --ready-file "$ready_file" "${run_args[@]}" &
supervisor=$!
stop_workers() {
  if kill -0 "$supervisor" 2>/dev/null; then
    say "stopping the workers"
    kill -TERM "$supervisor" 2>/dev/null || true
    wait "$supervisor" 2>/dev/null || true
  fi
  rm -f "$ready_file"
}
trap stop_workers EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 600); do
  [[ -f $ready_file ]] && break
  kill -0 "$supervisor" 2>/dev/null || { echo "local: the workers did not start (see .listflow/logs/)." >&2; exit 1; }
  sleep 0.2
done
[[ -f $ready_file ]] || { echo "local: the workers were not ready within 120 s (see .listflow/logs/)." >&2; exit 1; }

say "sample feeds: ingest and follow"
"${cli[@]}" ingest samples --dir "$samples_dir" "${samples_args[@]}" &
ingest=$!
set +e
wait -n "$ingest" "$supervisor"
first=$?
set -e
if kill -0 "$ingest" 2>/dev/null; then
  # The supervisor ended first: a step kept crashing. Following would never finish.
  kill -TERM "$ingest" 2>/dev/null || true
  wait "$ingest" 2>/dev/null || true
  echo "local: the workers stopped while the samples were in flight (see .listflow/logs/)." >&2
  exit 1
fi
rc=$first

# Continuous ingest: the local RESO Web API server's four sources replicated by the sources worker, an initial
# load and then live changes, each checked in PostgreSQL against the server's truth.
if [[ $rc == 0 && $sources == 1 ]]; then
  say "sources: replicate the local RESO Web API server (initial load, then live changes)"
  set +e
  node dist/samples/replication-demo.js --count "$sources_count" --photos-dir "$samples_dir/reso-photos" "${demo_args[@]}"
  rc=$?
  set -e
fi
say "done (exit $rc)"

# The status page (`listflow web`, read-only, 127.0.0.1): it reads Kafka, PostgreSQL and the photo store, which stay
# up after the run, so without --follow the command to start it is printed; with --follow it runs beside the workers.
web_url="http://127.0.0.1:8480/"
if [[ $follow == 1 && $rc == 0 ]]; then
  "${cli[@]}" web --port 8480 >/dev/null &
  web=$!
  echo "local: workers keep running (--follow). Ingest more with: bash scripts/listflow.sh ingest <feed> --source <name> --wait" >&2
  echo "local: feeds must be under $samples_dir. Ctrl-C stops the workers." >&2
  echo "local: status page: $web_url" >&2
  wait "$supervisor" || true
  kill -TERM "$web" 2>/dev/null || true
elif [[ $rc == 0 ]]; then
  stop_workers # now, so that the URL is the run's last line
  echo "local: status page: run \`bash scripts/listflow.sh web\`, then open $web_url" >&2
fi
exit "$rc"
