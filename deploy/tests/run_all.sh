#!/usr/bin/env bash
# Runs the tests of deploy/validate.sh and of the architecture-docs gate, then prints the
# combined count as "N passed, M failed". Exits non-zero if any test failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
total_passed=0
total_failed=0
status=0

for suite in deploy/tests/test_validate.sh .github/scripts/tests/test_check_arch_docs_gate.sh; do
  echo "== $suite"
  log="$(mktemp)"
  bash "$root/$suite" | tee "$log"
  rc=${PIPESTATUS[0]}
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
  rm -f "$log"
  if [ -z "$summary" ]; then
    echo "$suite printed no summary (exit $rc)"
    total_failed=$((total_failed + 1))
    status=1
    continue
  fi
  read -r p _ f _ <<<"${summary//,/}"
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  [ "$rc" -eq 0 ] || status=1
done

echo "== all deploy and gate tests"
echo "$total_passed passed, $total_failed failed"
exit "$status"
