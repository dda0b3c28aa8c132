//! The benchmark harness behind `make bench` (`scripts/bench.sh`).
//!
//! Binaries (each prints one JSON document on stdout; `bench-report` turns the
//! documents of a run into `bench/results.json` and the tables of `BENCHMARKS.md`):
//!
//! - `loadgen`: closed-loop HTTP load on the gateway (start runs, read runs).
//! - `floors`: the same closed loop straight against PostgreSQL and RabbitMQ, doing
//!   only the storage work of one start or one read: the ceiling the services can reach.
//! - `import-bench`: papers per second through `WorkerService.RecordPage`, beside a
//!   plain `COPY` of the same rows.
//! - `ingest-runs`: whole runs through the replay server, fetcher and control.
//! - `watch-bench`: many SSE watchers of running runs; memory, CPU, queries per update.
//! - `startup-probe`: time from process start to `/readyz` 200.
//! - `bench-admin`: databases, seeding, queue purges, readiness waits.
//! - `bench-report`: the report.

pub mod auth;
pub mod closed_loop;
pub mod papers;
pub mod procfs;
pub mod prometheus;
pub mod stats;

/// Prints `value` as pretty JSON on stdout (the binaries' one output).
pub fn print_json(value: &serde_json::Value) {
    // A benchmark CLI's result is its stdout.
    #[allow(clippy::print_stdout)]
    {
        println!("{value:#}");
    }
}
