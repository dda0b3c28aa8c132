#!/usr/bin/env bash
# `make bench`: release build, the stack (replay server, ingestion-control, gateway,
# fetchers) on a fresh database fp_bench_<ts> and exchange bench-<ts>, every scenario
# of BENCHMARKS.md, then bench/results.json and the tables of BENCHMARKS.md.
# Raw outputs and logs: bench/out/<ts>/ (gitignored).
#
# Knobs (environment): CARGO_TARGET_DIR (default target), BENCH_SCENARIOS (default
# "parsers,startup,start,read,import,watch,ingest"), BENCH_START_SECS (20: the first
# start-runs repetition; the others last BENCH_REPEAT_SECS, 10), BENCH_REPEATS (3),
# BENCH_INGEST_RUNS (10 runs of 10,000 per source), BENCH_IMPORT_PAPERS (100000),
# BENCH_WATCHERS (1000), BENCH_PORT_BASE (18000), SHARED_RATE_LIMIT (1),
# <SOURCE>_PAGE_SIZE (OpenAlex 200 and Semantic Scholar 1000, their APIs' largest; arXiv
# 1000; PubMed 200, the fetcher's default: a PubMed page is ~15 KB of XML a record),
# BENCH_KEEP_DB=1 keeps the database and queues for inspection, BENCH_SKIP_BUILD=1
# uses the binaries already built (for iterating on the harness), BENCH_AUTOANALYZE=0
# does not stand in for a disabled autovacuum, and the extra scenario "hold" keeps the
# stack up for profiling by hand (its settings in bench/out/<ts>/stack.env) and writes
# no report.
set -euo pipefail
cd "$(dirname "$0")/.."
started_at=$SECONDS

# Absolute: `cargo bench` runs a bench in its crate's directory, where a relative
# target dir (the default) names nothing and the parser figures could not be written.
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-target}")
export CARGO_TARGET_DIR
BIN=$CARGO_TARGET_DIR/release
TS=$(date -u +%Y%m%d_%H%M%S)
OUT=bench/out/$TS
LOGS=$OUT/logs
mkdir -p "$LOGS"
SCENARIOS=,${BENCH_SCENARIOS:-parsers,startup,start,read,import,watch,ingest},
REPEATS=${BENCH_REPEATS:-3}
START_SECS=${BENCH_START_SECS:-20}
REPEAT_SECS=${BENCH_REPEAT_SECS:-10}
INGEST_RUNS=${BENCH_INGEST_RUNS:-10}
IMPORT_PAPERS=${BENCH_IMPORT_PAPERS:-100000}
WATCHERS=${BENCH_WATCHERS:-1000}
PORT_BASE=${BENCH_PORT_BASE:-18000}
want() { [[ $SCENARIOS == *",$1,"* ]]; }
log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# Runs a command and records it (secrets come from the environment, never argv).
run() { { printf '%q ' "$@"; echo; } >>"$OUT/commands.txt"; "$@"; }

log "release build (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
build_started=$SECONDS
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || run cargo build --release --workspace --bins
echo $((SECONDS - build_started)) >"$OUT/build_seconds.txt"

{ nproc; } >"$OUT/nproc.txt"
lscpu >"$OUT/lscpu.txt" 2>/dev/null || true
free -m >"$OUT/free.txt" 2>/dev/null || true
{ uname -srm; rustc --version; psql --version 2>/dev/null || true;
  psql -h 127.0.0.1 -U postgres -Atc 'show server_version' postgres 2>/dev/null | sed 's/^/PostgreSQL server /' || true;
  rabbitmqctl version 2>/dev/null | sed 's/^/RabbitMQ /' || true; } >"$OUT/versions.txt"
git rev-parse --short HEAD >"$OUT/commit.txt" 2>/dev/null || true

# ---- the stack's configuration: explicit secrets, no DEV_MODE ----
DB_NAME=fp_bench_$TS
export ADMIN_DATABASE_URL=${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export DATABASE_URL=${ADMIN_DATABASE_URL%/*}/$DB_NAME
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export AMQP_EXCHANGE=bench-$TS
JWT_SECRET=bench-jwt-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
WORKER_TOKEN=bench-worker-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export JWT_SECRET WORKER_TOKEN
unset DEV_MODE FAILPOINTS OTEL_EXPORTER_OTLP_ENDPOINT
export RUST_LOG=${BENCH_RUST_LOG:-info} LOG_FORMAT=json
REPLAY_ADDR=127.0.0.1:$((PORT_BASE + 90))
export CONTROL_GRPC_ADDR=127.0.0.1:$((PORT_BASE + 51))
export CONTROL_GRPC_URL=http://$CONTROL_GRPC_ADDR
CONTROL_METRICS=127.0.0.1:$((PORT_BASE + 92))
export GATEWAY_ADDR=127.0.0.1:$((PORT_BASE + 80))
GATEWAY=http://$GATEWAY_ADDR
SOURCES=(openalex pubmed arxiv semantic_scholar)
declare -A PAGE_SIZE=([openalex]=200 [pubmed]=200 [arxiv]=1000 [semantic_scholar]=1000)
declare -A PREFIX=([openalex]=OPENALEX [pubmed]=PUBMED [arxiv]=ARXIV [semantic_scholar]=SEMANTIC_SCHOLAR)
declare -A PATHSEG=([openalex]=openalex [pubmed]=pubmed [arxiv]=arxiv [semantic_scholar]=s2)
for s in "${SOURCES[@]}"; do
  export "${PREFIX[$s]}_BASE_URL=http://$REPLAY_ADDR/${PATHSEG[$s]}"
  export "${PREFIX[$s]}_REQUESTS_PER_SECOND=10000"
  size_var=${PREFIX[$s]}_PAGE_SIZE
  export "$size_var=${!size_var:-${PAGE_SIZE[$s]}}"
done
export SHARED_RATE_LIMIT=${SHARED_RATE_LIMIT:-1}
env | grep -E '^(AMQP_EXCHANGE|RUST_LOG|LOG_FORMAT|SHARED_RATE_LIMIT|[A-Z_]+_(REQUESTS_PER_SECOND|PAGE_SIZE|BASE_URL)|CONTROL_GRPC_ADDR|GATEWAY_ADDR)=' \
  | sort >"$OUT/config.txt"
echo "DATABASE_URL=${DATABASE_URL}" >>"$OUT/config.txt"

declare -A PID=()
start_proc() { # name, env assignments..., -- command...
  local name=$1; shift
  local -a envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" "$@" >>"$LOGS/$name.log" 2>&1 &
  PID[$name]=$!
}
stop_proc() {
  local pid=${PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PID[$1]"
}
cleanup() {
  trap - EXIT INT TERM
  for name in "${!PID[@]}"; do stop_proc "$name"; done
  if [ "${BENCH_KEEP_DB:-0}" != 1 ]; then
    "$BIN/bench-admin" delete-topology --exchange "$AMQP_EXCHANGE" 2>/dev/null || true
    "$BIN/bench-admin" drop-db --admin-url "$ADMIN_DATABASE_URL" --name "$DB_NAME" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM
# wait_ready <name> <url>: the process started as <name> answers ready and is alive.
wait_ready() {
  run "$BIN/bench-admin" wait-http --url "$2" --timeout-secs 60
  kill -0 "${PID[$1]}" 2>/dev/null || { log "$1 exited (port taken? see $LOGS/$1.log)"; exit 1; }
}
purge() { "$BIN/bench-admin" purge --exchange "$AMQP_EXCHANGE" >>"$LOGS/purges.log"; }
fetcher_env() { echo "METRICS_ADDR=127.0.0.1:$((PORT_BASE + 100 + $1))"; }
# A leftover process on one of the stack's ports would answer for the one started here.
for addr in "$REPLAY_ADDR" "$CONTROL_GRPC_ADDR" "$CONTROL_METRICS" "$GATEWAY_ADDR" \
  $(for i in "${!SOURCES[@]}"; do echo "127.0.0.1:$((PORT_BASE + 100 + i))"; done); do
  if timeout 1 bash -c "</dev/tcp/${addr%:*}/${addr##*:}" 2>/dev/null; then
    log "$addr is taken (a leftover stack?); stop it or set BENCH_PORT_BASE"
    exit 1
  fi
done

if want parsers; then
  log "parser throughput (cargo bench -p sources --bench parsers)"
  run cargo bench -p sources --bench parsers | tee "$OUT/parsers.txt" >&2
  cp "$CARGO_TARGET_DIR/bench-parsers.json" "$OUT/parsers.json"
fi

run "$BIN/bench-admin" create-db --admin-url "$ADMIN_DATABASE_URL" --name "$DB_NAME"
# Query plans inside import_papers() depend on table statistics. Where the server runs
# without autovacuum (this machine's CI config does), stand in for its analyze with
# autovacuum's default schedule, so the figures describe a normally configured server.
AUTOVACUUM=$(psql "$DATABASE_URL" -Atc 'show autovacuum' 2>/dev/null || echo unknown)
echo "server autovacuum=$AUTOVACUUM" >>"$OUT/config.txt"
if [ "$AUTOVACUUM" != on ] && [ "${BENCH_AUTOANALYZE:-1}" = 1 ]; then
  echo "bench-admin autoanalyze stands in for autovacuum's analyze (naptime 60 s, 50 rows + 10 %)" >>"$OUT/config.txt"
  start_proc autoanalyze -- "$BIN/bench-admin" autoanalyze --naptime-secs 60
fi
start_proc replay-server -- "$BIN/replay-server" --addr "$REPLAY_ADDR" --fixtures fixtures
for _ in $(seq 1 100); do timeout 1 bash -c "</dev/tcp/${REPLAY_ADDR%:*}/${REPLAY_ADDR##*:}" 2>/dev/null && break; sleep 0.1; done

if want startup; then
  log "start-up: ingestion-control (the first start applies the migrations)"
  run "$BIN/startup-probe" --name ingestion-control --runs 5 --log "$LOGS/startup.log" \
    --ready-url "http://$CONTROL_METRICS/readyz" -- env METRICS_ADDR="$CONTROL_METRICS" "$BIN/ingestion-control" \
    >"$OUT/startup-ingestion-control.json"
fi
start_proc ingestion-control METRICS_ADDR="$CONTROL_METRICS" -- "$BIN/ingestion-control"
wait_ready ingestion-control "http://$CONTROL_METRICS/readyz"
if want startup; then
  log "start-up: gateway and fetchers"
  run "$BIN/startup-probe" --name gateway --runs 5 --log "$LOGS/startup.log" \
    --ready-url "$GATEWAY/readyz" -- "$BIN/gateway" >"$OUT/startup-gateway.json"
  for i in "${!SOURCES[@]}"; do
    s=${SOURCES[$i]}
    run "$BIN/startup-probe" --name "source-fetcher ($s)" --runs 3 --log "$LOGS/startup.log" \
      --ready-url "http://127.0.0.1:$((PORT_BASE + 100 + i))/readyz" -- \
      env "$(fetcher_env "$i")" "$BIN/source-fetcher" --source "$s" >"$OUT/startup-fetcher-$s.json"
  done
  for b in ingestion-control gateway source-fetcher replay-server; do
    echo "$b $(stat -c %s "$BIN/$b")"
  done >"$OUT/binary-sizes.txt"
fi
start_proc gateway -- "$BIN/gateway"
wait_ready gateway "$GATEWAY/readyz"

START_ORG=$(cat /proc/sys/kernel/random/uuid)
READ_ORG=$(cat /proc/sys/kernel/random/uuid)
secs_of() { if [ "$1" = 1 ]; then echo "$START_SECS"; else echo "$REPEAT_SECS"; fi; }
if want start; then
  for i in $(seq 1 "$REPEATS"); do
    log "start runs $i/$REPEATS: 64 clients POST /papers/ingest/pubmed/async for $(secs_of "$i") s, then the start floor"
    run "$BIN/loadgen" --base-url "$GATEWAY" --org "$START_ORG" --concurrency 64 \
      --duration-secs "$(secs_of "$i")" start >"$OUT/start-loadgen-$i.json"
    purge
    run "$BIN/floors" --org "$START_ORG" --concurrency 64 --pool 16 --duration-secs "$REPEAT_SECS" \
      start --exchange "$AMQP_EXCHANGE" >"$OUT/start-floor-$i.json"
    purge
  done
fi
if want read; then
  run "$BIN/bench-admin" seed-runs --org "$READ_ORG" --count 10000 --out "$OUT/read-ids.txt"
  for i in $(seq 1 "$REPEATS"); do
    log "read runs $i/$REPEATS: 64 clients GET /ingestion/runs/{id} over 10,000 runs, then the read floor"
    run "$BIN/loadgen" --base-url "$GATEWAY" --org "$READ_ORG" --concurrency 64 \
      --duration-secs "$REPEAT_SECS" read --ids-file "$OUT/read-ids.txt" >"$OUT/read-loadgen-$i.json"
    run "$BIN/floors" --org "$READ_ORG" --concurrency 64 --pool 16 --duration-secs "$REPEAT_SECS" \
      read --ids-file "$OUT/read-ids.txt" >"$OUT/read-floor-$i.json"
  done
fi
if want import; then
  log "import: $IMPORT_PAPERS papers through RecordPage (pages of 100 and 1,000) beside COPY, $REPEATS times"
  run "$BIN/import-bench" --papers "$IMPORT_PAPERS" --page-sizes 100,1000 --repeats "$REPEATS" \
    >"$OUT/import.json"
  purge
fi
if want watch; then
  for i in $(seq 1 "$REPEATS"); do
    log "watch $i/$REPEATS: 0, 10 and $WATCHERS SSE watchers of 10 running runs (fresh gateway)"
    stop_proc gateway
    start_proc gateway -- "$BIN/gateway"
    wait_ready gateway "$GATEWAY/readyz"
    run "$BIN/watch-bench" --base-url "$GATEWAY" --metrics-url "http://$CONTROL_METRICS/metrics" \
      --gateway-pid "${PID[gateway]}" --control-pid "${PID[ingestion-control]}" \
      --levels "0,10,$WATCHERS" >"$OUT/watch-$i.json"
    purge
  done
fi
if want ingest; then
  for i in "${!SOURCES[@]}"; do
    s=${SOURCES[$i]}
    start_proc "fetcher-$s" "$(fetcher_env "$i")" -- "$BIN/source-fetcher" --source "$s"
    wait_ready "fetcher-$s" "http://127.0.0.1:$((PORT_BASE + 100 + i))/readyz"
  done
  for s in "${SOURCES[@]}"; do
    log "ingest $s: $INGEST_RUNS runs of 10,000 papers (synthetic:100000) through the replay server"
    query=synthetic:100000
    # arXiv's query builder drops ':' from plain words; a field-prefixed query passes as written.
    [ "$s" = arxiv ] && query=all:synthetic:100000
    run "$BIN/ingest-runs" --base-url "$GATEWAY" --source "$s" --runs "$INGEST_RUNS" --query "$query" \
      --pid "fetcher=${PID[fetcher-$s]}" --pid "ingestion-control=${PID[ingestion-control]}" \
      --pid "gateway=${PID[gateway]}" --pid "replay-server=${PID[replay-server]}" >"$OUT/ingest-$s.json"
  done
fi

if want hold; then
  # For profiling by hand: the stack stays up with the settings above until Ctrl-C.
  { for n in "${!PID[@]}"; do echo "PID_${n//[-]/_}=${PID[$n]}"; done
    env | grep -E '^(DATABASE_URL|AMQP_URL|AMQP_EXCHANGE|CONTROL_GRPC_URL|GATEWAY_ADDR|JWT_SECRET|WORKER_TOKEN)='
    echo "CONTROL_METRICS=$CONTROL_METRICS"; } >"$OUT/stack.env"
  log "stack up (BENCH_SCENARIOS=hold): source $OUT/stack.env; Ctrl-C stops it"
  while sleep 3600; do :; done
  exit 0
fi
echo $((SECONDS - started_at)) >"$OUT/total_seconds.txt"
log "report"
cleanup
run "$BIN/bench-report" --out-dir "$OUT" --results bench/results.json --markdown BENCHMARKS.md
log "done in $((SECONDS - started_at)) s: BENCHMARKS.md, bench/results.json, $OUT/"
