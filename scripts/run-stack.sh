#!/usr/bin/env bash
# Runs the whole stack on this machine: ingestion-control, the four fetchers and the
# gateway (plus, with OFFLINE=1, the replay server standing in for the source APIs).
# Ctrl-C stops everything. Logs: target/run/<process>.log
set -euo pipefail
cd "$(dirname "$0")/.."

OFFLINE=${OFFLINE:-0}
BIN=${BIN:-target/debug}
LOGS=target/run
mkdir -p "$LOGS"

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/foundations}
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export CONTROL_GRPC_ADDR=${CONTROL_GRPC_ADDR:-127.0.0.1:50051}
export CONTROL_GRPC_URL=${CONTROL_GRPC_URL:-http://127.0.0.1:50051}
export GATEWAY_ADDR=${GATEWAY_ADDR:-127.0.0.1:8080}
export RUST_LOG=${RUST_LOG:-info}
if [ -z "${JWT_SECRET:-}" ] && [ -z "${JWT_PUBLIC_KEY_FILE:-}" ]; then
  # No secret configured: explicit development mode (the services say so loudly).
  export DEV_MODE=1
fi

pids=()
stop() {
  trap - EXIT INT TERM
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

start() { # name, command...
  local name=$1; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  pids+=($!)
}

wait_port() { # host:port name
  for _ in $(seq 1 60); do
    timeout 1 bash -c "</dev/tcp/${1%:*}/${1##*:}" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "$2 did not start; see $LOGS/$2.log" >&2
  tail -n 20 "$LOGS/$2.log" >&2 || true
  exit 1
}

if [ "$OFFLINE" = "1" ]; then
  start replay-server "$BIN/replay-server" --addr 127.0.0.1:8090 --fixtures fixtures
  wait_port 127.0.0.1:8090 replay-server
  export OPENALEX_BASE_URL=http://127.0.0.1:8090/openalex
  export PUBMED_BASE_URL=http://127.0.0.1:8090/pubmed
  export ARXIV_BASE_URL=http://127.0.0.1:8090/arxiv
  export SEMANTIC_SCHOLAR_BASE_URL=http://127.0.0.1:8090/s2
  echo "offline mode: every fetcher talks to the replay server on 127.0.0.1:8090"
fi

METRICS_ADDR=127.0.0.1:9090 start ingestion-control "$BIN/ingestion-control"
wait_port "$CONTROL_GRPC_ADDR" ingestion-control
for source in openalex pubmed arxiv semantic_scholar; do
  METRICS_ADDR=127.0.0.1:0 start "fetcher-$source" "$BIN/source-fetcher" --source "$source"
done
start gateway "$BIN/gateway"
wait_port "$GATEWAY_ADDR" gateway

cat <<MSG

Foundations Pipeline is up.
  gateway            http://$GATEWAY_ADDR   (OpenAPI: http://$GATEWAY_ADDR/openapi.json)
  ingestion-control  $CONTROL_GRPC_URL (gRPC), metrics http://127.0.0.1:9090/metrics
  logs               $LOGS/*.log
A development token:  make token ROLE=member
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
echo "a process exited; see $LOGS/" >&2
