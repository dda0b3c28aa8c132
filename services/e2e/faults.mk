# Issue 6's fault suite ("Nothing lost"): the stack as real processes, killed and
# restarted, with the machine's PostgreSQL and RabbitMQ stopped under load. It stops
# shared servers, so it runs alone and one test at a time (every test is #[ignore]d
# so `make test` skips it). Logs of every process: target/fault-logs/<test>/.
# Included from the root Makefile.
#
# The suite runs the binaries in FAULT_BIN_DIR (default <workspace>/target/debug,
# which the build below produces); with CARGO_TARGET_DIR set, set FAULT_BIN_DIR too.

CARGO ?= cargo

.PHONY: test-faults
test-faults:
	$(CARGO) build --workspace --bins && $(CARGO) test -p e2e --test faults -- --ignored --test-threads=1
