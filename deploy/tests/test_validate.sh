#!/usr/bin/env bash
# Tests of deploy/validate.sh: it passes on the real tree, and fails, naming the mistake, on
# copies of deploy/ with one deliberate mistake each.
#
#   bash deploy/tests/test_validate.sh
#
# Prints "ok - NAME" or "not ok - NAME" per case and closes with "N passed, M failed".
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
validate="$root/deploy/validate.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
skipped=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
  failed=$((failed + 1))
  echo "not ok - $1"
  shift
  printf '    %s\n' "$@"
}

# Creates the Python environment once (the only step that may need PyPI).
if ! "$validate" --help >/dev/null; then
  echo "deploy/validate.sh cannot set up its Python environment" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
python="${DEPLOY_VENV:-$root/.venv}/bin/python"

# fresh_tree: a copy of deploy/ in its own directory; prints the directory.
fresh_tree() {
  local dir
  dir="$(mktemp -d "$work/tree.XXXXXX")"
  cp -R "$root/deploy" "$dir/deploy"
  rm -f "$dir/deploy/.env"
  printf '%s\n' "$dir"
}

# mutate DIR FILE OLD NEW: replaces the first OLD in DIR/deploy/FILE by NEW; fails the test
# run loudly if OLD is not there (so a changed manifest cannot turn a case into a no-op).
mutate() {
  "$python" - "$1/deploy/$2" "$3" "$4" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
if old not in text:
    sys.exit(f"mutation target not found in {path}: {old!r}")
open(path, "w").write(text.replace(old, new, 1))
PY
}

# expect_pass NAME DIR [validate.sh args...]
expect_pass() {
  local name="$1" dir="$2"
  shift 2
  local out rc
  out="$("$validate" --tree "$dir" "$@" 2>&1)"
  rc=$?
  if [ "$rc" -eq 0 ] && grep -q '^deploy validation passed' <<<"$out"; then
    ok "$name"
  else
    not_ok "$name" "expected success, got exit $rc:" "$(tail -n 15 <<<"$out")"
  fi
}

# expect_fail NAME DIR PATTERN: validate.sh must exit 1 and print a line matching PATTERN
# (a fixed string). Mutations render with the Python renderer and validate against one
# Kubernetes version, for speed: the cases above prove the renderers agree and the real
# tree passes in full.
expect_fail() {
  local name="$1" dir="$2" pattern="$3"
  local out rc
  out="$("$validate" --tree "$dir" --no-lint --k8s-versions 1.30 --renderer python 2>&1)"
  rc=$?
  if [ "$rc" -eq 1 ] && grep -qF -- "$pattern" <<<"$out"; then
    ok "$name"
  else
    not_ok "$name" "expected exit 1 and '$pattern', got exit $rc:" "$(tail -n 15 <<<"$out")"
  fi
}

# case NAME FILE OLD NEW PATTERN: one mutation, must fail with PATTERN.
case_fail() {
  local name="$1" file="$2" old="$3" new="$4" pattern="$5" dir
  dir="$(fresh_tree)"
  if mutate "$dir" "$file" "$old" "$new"; then
    expect_fail "$name" "$dir" "$pattern"
  else
    not_ok "$name" "could not apply the mutation"
  fi
}

# ---------------------------------------------------------------- the real tree passes

expect_pass "real tree passes (renderer auto, with hadolint and shellcheck)" "$root"
expect_pass "real tree passes with the built-in Python renderer" "$root" --renderer python --no-lint

if command -v kustomize >/dev/null 2>&1 || command -v kubectl >/dev/null 2>&1; then
  if command -v kustomize >/dev/null 2>&1; then tool=(kustomize build); else tool=(kubectl kustomize); fi
  parity_ok=1
  parity_out=""
  for d in base overlays/dev overlays/prod; do
    if ! parity_out+="$("$python" "$root/deploy/tools/kustomize_lite.py" compare "$root/deploy/k8s/$d" -- "${tool[@]}" "$root/deploy/k8s/$d" 2>&1)"$'\n'; then
      parity_ok=0
    fi
  done
  if [ "$parity_ok" = 1 ]; then ok "Python renderer renders base, dev and prod as ${tool[*]} does"; else not_ok "Python renderer parity with ${tool[*]}" "$parity_out"; fi
else
  skipped=$((skipped + 1))
  echo "skip - renderer parity (neither kustomize nor kubectl installed)"
fi

# ---------------------------------------------------------------- Kubernetes schemas (strict)

case_fail "replicas: \"two\" is a type error" k8s/base/ingestion-control.yaml \
  "  replicas: 2" '  replicas: "two"' "spec.replicas: 'two' is not of type 'integer'"
case_fail "unknown field contianers: is an error" k8s/base/gateway.yaml \
  "      containers:" "      contianers:" "'contianers' was unexpected"
case_fail "unknown field in a Service spec is an error" k8s/base/ingestion-control.yaml \
  "  type: ClusterIP" "  tpye: ClusterIP" "'tpye' was unexpected"
case_fail "unknown apiVersion has no schema" k8s/base/gateway.yaml \
  "apiVersion: policy/v1" "apiVersion: policy/v1beta9" "no Kubernetes 1.30 schema for policy/v1beta9 PodDisruptionBudget"
case_fail "broken YAML does not render" k8s/base/gateway.yaml \
  "  replicas: 2" "  replicas: [2" "does not render"
case_fail "an overlay patch for a missing object does not render" k8s/overlays/dev/scaling.yaml \
  "name: source-fetcher-pubmed" "name: source-fetcher-pubmd" "does not render"

# ---------------------------------------------------------------- KEDA

case_fail "ScaledObject with protocol: amqp" k8s/base/source-fetcher-openalex.yaml \
  "protocol: http" "protocol: amqp" "triggers[0].metadata.protocol: 'http' was expected"
case_fail "ScaledObject with mode: MessageRate" k8s/base/source-fetcher-pubmed.yaml \
  "mode: QueueLength" "mode: MessageRate" "triggers[0].metadata.mode: 'QueueLength' was expected"
case_fail "ScaledObject excluding unacknowledged messages" k8s/base/source-fetcher-pubmed.yaml \
  "        protocol: http" $'        protocol: http\n        excludeUnacknowledged: "true"' "excludeUnacknowledged: 'false' was expected"
case_fail "ScaledObject with a non-numeric value" k8s/base/source-fetcher-openalex.yaml \
  $'value: "1"\n      authenticationRef:' $'value: "lots"\n      authenticationRef:' "metadata.value: 'lots' does not match"
case_fail "ScaledObject with an unquoted number as value" k8s/base/source-fetcher-openalex.yaml \
  $'value: "1"\n      authenticationRef:' $'value: 1\n      authenticationRef:' "metadata.value: 1 is not of type 'string'"
case_fail "ScaledObject on another source's queue" k8s/base/source-fetcher-openalex.yaml \
  "queueName: ingest.openalex" "queueName: ingest.pubmed" "queueName 'ingest.pubmed' is not the queue of Deployment/source-fetcher-openalex (SOURCE=openalex: ingest.openalex)"
case_fail "ScaledObject on an unknown queue" k8s/base/source-fetcher-arxiv.yaml \
  "queueName: ingest.arxiv" "queueName: ingest.arxiv-v2" "metadata.queueName: 'ingest.arxiv-v2' does not match"
case_fail "ScaledObject with minReplicaCount > maxReplicaCount" k8s/base/source-fetcher-arxiv.yaml \
  "minReplicaCount: 0" "minReplicaCount: 2" "minReplicaCount 2 > maxReplicaCount 1"
case_fail "arXiv scaled beyond what its rate limit feeds" k8s/base/source-fetcher-arxiv.yaml \
  "maxReplicaCount: 1" "maxReplicaCount: 3" "maxReplicaCount 3 exceeds what arxiv's rate limit can feed"
case_fail "ScaledObject whose TriggerAuthentication does not exist" k8s/base/source-fetcher-semantic-scholar.yaml \
  "name: rabbitmq-management" "name: rabbitmq-mgmt" "authenticationRef 'rabbitmq-mgmt' is not a TriggerAuthentication"
case_fail "ScaledObject without scaleTargetRef.name" k8s/base/source-fetcher-openalex.yaml \
  $'  scaleTargetRef:\n    name: source-fetcher-openalex' $'  scaleTargetRef:\n    kind: Deployment' "spec.scaleTargetRef: 'name' is a required property"
case_fail "ScaledObject scaling a Deployment that does not exist" k8s/base/source-fetcher-openalex.yaml \
  $'  scaleTargetRef:\n    name: source-fetcher-openalex' $'  scaleTargetRef:\n    name: source-fetcher-openalx' "scaleTargetRef.name 'source-fetcher-openalx' is not a Deployment"
case_fail "ScaledObject with a cpu trigger" k8s/base/source-fetcher-openalex.yaml \
  "    - type: rabbitmq" "    - type: cpu" "triggers[0].type: 'rabbitmq' was expected"
case_fail "TriggerAuthentication with an unknown field" k8s/base/keda-trigger-auth.yaml \
  "  secretTargetRef:" "  secretTargetRefs:" "'secretTargetRefs' was unexpected"
case_fail "fetcher Deployment with a fixed replica count" k8s/base/source-fetcher-openalex.yaml \
  "  revisionHistoryLimit: 5" $'  replicas: 1\n  revisionHistoryLimit: 5' "must not set spec.replicas"
case_fail "fetcher with too short a grace period to checkpoint" k8s/base/source-fetcher-pubmed.yaml \
  "terminationGracePeriodSeconds: 60" "terminationGracePeriodSeconds: 10" "terminationGracePeriodSeconds 10 is too short"

# ---------------------------------------------------------------- design contract

case_fail "environment variable name typo" k8s/base/ingestion-control.yaml \
  "- name: AMQP_URL" "- name: AMQP_ULR" "environment variable 'AMQP_ULR' is not in the design contract"
case_fail "a secret given as a literal value" k8s/base/gateway.yaml \
  $'            - name: JWT_SECRET\n              valueFrom:\n                secretKeyRef:\n                  name: foundations-auth\n                  key: jwt-secret' \
  $'            - name: JWT_SECRET\n              value: hunter2' "JWT_SECRET is a secret: take it from a Secret with secretKeyRef"
case_fail "secretKeyRef to a key no Secret has" k8s/base/ingestion-control.yaml \
  "key: worker-token" "key: worker_token" "key 'worker_token' is not in Secret 'foundations-auth'"
case_fail "control without DATABASE_URL" k8s/base/ingestion-control.yaml \
  "- name: DATABASE_URL" "- name: OPENALEX_BASE_URL" "ingestion-control needs DATABASE_URL"
case_fail "development mode switched on in a manifest" k8s/base/gateway.yaml \
  $'            - name: GATEWAY_ADDR' $'            - name: DEV_MODE\n              value: "1"\n            - name: GATEWAY_ADDR' "DEV_MODE must never be set in a deployment"
case_fail "migrations Job without the settings ingestion-control checks at start" k8s/base/migrations-job.yaml \
  "            - name: WORKER_TOKEN" "            - name: SOURCE" "ingestion-control needs WORKER_TOKEN"
case_fail "LOG_FORMAT not json" k8s/base/config.yaml \
  "LOG_FORMAT: json" "LOG_FORMAT: pretty" "LOG_FORMAT must be json in Kubernetes"
case_fail "CONTROL_GRPC_URL on a port the Service lacks" k8s/base/gateway.yaml \
  "http://ingestion-control:50051" "http://ingestion-control:50052" "Service/ingestion-control has no port 50052"
case_fail "gRPC probe missing on ingestion-control" k8s/base/ingestion-control.yaml \
  $'          readinessProbe:\n            grpc:\n              port: 50051' $'          readinessProbe:\n            tcpSocket:\n              port: 50051' "readinessProbe must be a gRPC probe on 50051"
case_fail "probe on a port the container does not declare" k8s/base/gateway.yaml \
  $'path: /readyz\n              port: http' $'path: /readyz\n              port: 8081' "readinessProbe probes port 8081"
case_fail "writable root filesystem" k8s/base/ingestion-control.yaml \
  "readOnlyRootFilesystem: true" "readOnlyRootFilesystem: false" "readOnlyRootFilesystem must be true"
case_fail "fetcher without a memory limit" k8s/base/source-fetcher-arxiv.yaml \
  $'              cpu: 500m\n              memory: 128Mi' $'              cpu: 500m' "resources.limits.memory is not set"
case_fail "Service selecting no pods" k8s/base/gateway.yaml \
  $'  selector:\n    app.kubernetes.io/name: gateway' $'  selector:\n    app.kubernetes.io/name: gatewy' "matches no workload's pods"
case_fail "Ingress backend on a port the Service lacks" k8s/base/gateway.yaml \
  $'                port:\n                  name: http' $'                port:\n                  name: web' "backend port {'name': 'web'} is not a port of Service/gateway"
case_fail "Deployment without a PodDisruptionBudget" k8s/base/gateway.yaml \
  $'  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: gateway' $'  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: nothing' "Deployment/gateway: no PodDisruptionBudget covers it"
case_fail "prod image left at latest" k8s/overlays/prod/kustomization.yaml \
  $'  - name: ghcr.io/foundations-pipeline/gateway\n    newTag: 0.1.0' $'  - name: ghcr.io/foundations-pipeline/gateway\n    newTag: latest' "must be pinned to a version"
case_fail "a Secret rendered into the manifests" k8s/base/namespace.yaml \
  "pod-security.kubernetes.io/enforce: restricted" \
  $'pod-security.kubernetes.io/enforce: restricted\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\nstringData:\n  token: abc' \
  "a Secret with data is rendered"
case_fail "a real-looking value in the Secret example" k8s/secrets.example.yaml \
  "REPLACE_ME_with_a_random_token" "s3cr3t-token" "value of 'worker-token' has no REPLACE_ME"

# ---------------------------------------------------------------- compose

case_fail "compose building from a Dockerfile that does not exist" compose.yaml \
  "dockerfile: deploy/docker/Dockerfile" "dockerfile: deploy/docker/Dockerfile.missing" "Dockerfile 'deploy/docker/Dockerfile.missing' does not exist"
case_fail "compose building a target the Dockerfile lacks" compose.yaml \
  "target: gateway" "target: gateway-svc" "build target 'gateway-svc' is not a stage"
case_fail "compose that is not valid YAML" compose.yaml \
  "services:" $'services:\n  broken: [' "deploy/compose.yaml: not valid YAML"
case_fail "compose depending on a service that does not exist" compose.yaml \
  $'    depends_on:\n      postgres:' $'    depends_on:\n      postgresql:' "depends_on 'postgresql', which is not a service"
case_fail "compose environment variable typo" compose.yaml \
  "  METRICS_ADDR: 0.0.0.0:9090" "  METRICS_ADR: 0.0.0.0:9090" "environment variable 'METRICS_ADR' is not in the design contract"
case_fail "compose with a literal JWT secret" compose.yaml \
  "      JWT_SECRET: \${JWT_SECRET:?set JWT_SECRET in deploy/.env (see deploy/.env.example)}" "      JWT_SECRET: hunter2" "JWT_SECRET must come from the environment"
case_fail "compose with a literal database password" compose.yaml \
  "  DATABASE_URL: postgres://foundations:\${POSTGRES_PASSWORD:-foundations}@postgres:5432/foundations" "  DATABASE_URL: postgres://foundations:hunter2@postgres:5432/foundations" "DATABASE_URL must come from the environment"
case_fail "compose service key typo" compose.yaml \
  "    healthcheck:" "    healthchek:" "unknown key 'healthchek'"

echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
