#!/usr/bin/env bash
# Makes sure the local PostgreSQL and RabbitMQ are running (starting or, on a bare
# Debian machine, installing them), then creates the development database.
# Idempotent: a no-op when both are already up.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB_NAME=${DB_NAME:-foundations}

port_open() { timeout 1 bash -c "</dev/tcp/$1/$2" 2>/dev/null; }

wait_for() { # host port what seconds
  for _ in $(seq 1 "$4"); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "services-up: $3 did not come up on $1:$2" >&2; return 1
}

ensure_installed() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "services-up: installing $2 (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

# PostgreSQL
if ! port_open "$PGHOST" "$PGPORT"; then
  ensure_installed pg_ctlcluster postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "services-up: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for "$PGHOST" "$PGPORT" PostgreSQL 30
fi
for _ in $(seq 1 30); do pg_isready -h "$PGHOST" -p "$PGPORT" -q && break; sleep 1; done

# RabbitMQ
if ! port_open 127.0.0.1 5672; then
  ensure_installed rabbitmq-server rabbitmq-server
  echo "services-up: starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_for 127.0.0.1 5672 RabbitMQ 90
  rabbitmqctl -q await_startup >/dev/null 2>&1 || true
fi

# The development database used by `make run`; tests create their own.
if ! psql -h "$PGHOST" -p "$PGPORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
  psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "CREATE DATABASE $DB_NAME"
  echo "services-up: created database $DB_NAME"
fi
echo "services-up: PostgreSQL and RabbitMQ are up"
