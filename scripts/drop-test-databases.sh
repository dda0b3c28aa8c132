#!/usr/bin/env bash
# Drops databases and broker objects that earlier test runs left behind (a test that
# panics skips its teardown). Safe: only names the tests create are touched.
set -uo pipefail
PGHOST=${PGHOST:-127.0.0.1}
for db in $(psql -h "$PGHOST" -U postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'fp_test_%'"); do
  psql -h "$PGHOST" -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
done
if command -v rabbitmqctl >/dev/null 2>&1; then
  rabbitmqctl -q list_queues name 2>/dev/null | grep -E '^test-[0-9a-f]{32}\.' | while read -r q; do
    rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
  done
fi
exit 0
