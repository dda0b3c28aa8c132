# Foundations Pipeline — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
ORG ?= 00000000-0000-4000-8000-000000000001
ROLE ?= member

.PHONY: help services build run test test-rust test-faults lint fmt clippy token bench clean-test-data

help:
	@echo "make run [OFFLINE=1]  the whole stack on local PostgreSQL and RabbitMQ (OFFLINE=1: replayed source APIs)"
	@echo "make test             every test (starts PostgreSQL and RabbitMQ if needed), the fault suite last"
	@echo "make test-faults      only the fault suite (kills services, stops PostgreSQL and RabbitMQ)"
	@echo "make lint             cargo fmt --check and clippy -D warnings"
	@echo "make token ROLE=member [ORG=uuid]  a development JWT (DEV_MODE secret or JWT_SECRET)"
	@echo "make bench            the benchmark suite (release build)"

services:
	@scripts/services-up.sh

build:
	$(CARGO) build --workspace --bins

run: services build
	@OFFLINE=$(OFFLINE) scripts/run-stack.sh

token:
	@DEV_MODE=$${DEV_MODE:-1} $(CARGO) run -q -p gateway -- token --org $(ORG) --role $(ROLE)

clean-test-data:
	@scripts/drop-test-databases.sh

test-rust: services clean-test-data
	$(CARGO) test --workspace --no-fail-fast

# The fault suite comes last: it stops and restarts the shared PostgreSQL and RabbitMQ.
test: test-rust $(if $(wildcard deploy/deploy.mk),test-deploy,) test-faults

lint: fmt clippy

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: services
	@scripts/bench.sh

-include deploy/deploy.mk

include services/e2e/faults.mk
test-faults: services
