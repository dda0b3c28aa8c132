//! Issue 6, "Nothing lost": the stack as real processes, broken on purpose — a
//! fetcher `kill -9`ed mid-run, ingestion-control dying between commit and publish,
//! RabbitMQ and PostgreSQL stopped under load, a source answering 429 storms, 500s
//! and an exhausted quota — and then the database is checked: every accepted run
//! reached `completed` (or `failed` with the reason its fault dictates), none is left
//! open, no paper is duplicated, and every run's counters match its link rows.
//!
//! These tests stop the machine's shared PostgreSQL and RabbitMQ, so they are
//! `#[ignore]`d and run alone, one at a time: `make test-faults`
//! (`cargo build --workspace --bins && cargo test -p e2e --test faults -- --ignored
//! --test-threads=1`). Logs of every process: `target/fault-logs/<test>/`.

use e2e::processes::{Outage, ProcessOptions, ProcessStack, RunRow, Server};
use e2e::{org_a, org_b};
use platform::Source;
use serde_json::{Value, json};
use sqlx::Connection as _;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;
use uuid::Uuid;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Small pages, so every run has several pages and a checkpoint worth resuming from.
fn small_pages() -> Vec<(String, String)> {
    env(&[
        ("OPENALEX_PAGE_SIZE", "50"),
        ("PUBMED_PAGE_SIZE", "50"),
        ("ARXIV_PAGE_SIZE", "50"),
    ])
}

/// `slow` for the next `count` requests of `source` after letting `after` through.
fn slow(source: &str, count: u32, after: u32, delay_ms: u64) -> Value {
    json!({"source": source, "kind": "slow", "count": count, "after": after, "delay_ms": delay_ms})
}

fn source_name(source: Source) -> &'static str {
    source.as_str()
}

/// The replay server's `synthetic:N` dataset (N distinct records) for `source`. The
/// arXiv client turns a plain query into `all:<words>` and drops the colon, so for
/// arXiv it is written as an arXiv field query, which is passed on verbatim.
fn synthetic(source: Source, n: u32) -> String {
    match source {
        Source::Arxiv => format!("all:synthetic:{n}"),
        _ => format!("synthetic:{n}"),
    }
}

/// `line` without ANSI colour sequences.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines of a process log containing every one of `needles` (colours removed).
fn log_lines(stack: &ProcessStack, name: &str, needles: &[&str]) -> Vec<String> {
    std::fs::read_to_string(stack.log_of(name))
        .unwrap_or_default()
        .lines()
        .map(plain)
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .collect()
}

fn all_logs_lines(stack: &ProcessStack, needles: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(&stack.log_dir) {
        for entry in dir.flatten() {
            let name = entry
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".log")
                .to_owned();
            out.extend(
                log_lines(stack, &name, needles)
                    .into_iter()
                    .map(|l| format!("{name}: {l}")),
            );
        }
    }
    out
}

fn assert_invariants(violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "nothing-lost invariants violated:\n{}",
        violations.join("\n")
    );
}

async fn published_at_is_null(stack: &ProcessStack, id: Uuid) -> bool {
    let (null,): (bool,) =
        sqlx::query_as("SELECT published_at IS NULL FROM ingest_runs WHERE id = $1")
            .bind(id)
            .fetch_one(&stack.pool)
            .await
            .expect("published_at");
    null
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with make test-faults"]
async fn a_fetcher_killed_mid_run_loses_its_lease_and_a_fresh_fetcher_resumes_from_the_checkpoint()
{
    let mut stack = ProcessStack::start(
        "fetcher_kill9",
        ProcessOptions {
            fetchers: vec![Source::OpenAlex],
            fetcher_env: small_pages(),
            ..Default::default()
        },
    )
    .await;
    // Two quick pages, then slow ones: the kill lands while page 3 is being fetched.
    stack.inject(slow("openalex", 20, 2, 1_500)).await;
    let id = stack
        .start_ok(org_a(), Source::OpenAlex, "synthetic:300", 300)
        .await;
    let before = stack
        .wait_run(
            id,
            "running with 2 pages recorded",
            Duration::from_secs(30),
            |r| r.status == "running" && r.pages_done >= 2,
        )
        .await;
    let victim = stack.fetchers_of(Source::OpenAlex).remove(0);
    let killed_owner = before
        .lease_owner
        .clone()
        .expect("a running run has a lease");
    let status = stack.kill9(&victim).await;
    assert!(!status.success(), "kill -9 ends the fetcher: {status}");
    let at_kill = stack.run(id).await;
    assert_eq!(
        at_kill.status, "running",
        "nobody releases a killed fetcher's run: it stays running until its lease expires"
    );

    stack.start_fetcher(Source::OpenAlex).await;
    let run = stack.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, "completed", "{run:?}");
    assert_eq!(run.papers_found, 300, "{run:?}");
    assert_eq!(run.papers_imported, 300, "{run:?}");
    assert!(run.claims >= 2, "taken over by a second claim: {run:?}");
    assert_ne!(
        run.lease_owner.as_deref(),
        Some(killed_owner.as_str()),
        "the fresh fetcher finished it"
    );
    // Resumed from the checkpoint: the first page was fetched once, and at most the
    // page in flight at the kill was fetched twice (6 pages of 50).
    let requests = stack.replay_requests().await;
    let openalex: Vec<&Value> = requests
        .iter()
        .filter(|r| r["source"] == "openalex")
        .collect();
    let first_pages = openalex
        .iter()
        .filter(|r| {
            let q = r["query"].as_str().unwrap_or("");
            q.contains("cursor=*") || q.contains("cursor=%2A")
        })
        .count();
    assert_eq!(
        first_pages, 1,
        "the run restarted from scratch: {openalex:?}"
    );
    assert!(
        openalex.len() <= 7,
        "more than the in-flight page was fetched again: {} requests",
        openalex.len()
    );
    let resumed = log_lines(
        &stack,
        "fetcher-openalex-2",
        &["resuming from the stored checkpoint"],
    );
    assert!(!resumed.is_empty(), "the fresh fetcher says it resumed");
    assert_invariants(stack.invariant_violations().await);
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with make test-faults"]
async fn ingestion_control_dying_between_commit_and_publish_leaves_a_queued_run_the_reconciler_publishes()
 {
    let mut stack = ProcessStack::start(
        "control_commit_crash",
        ProcessOptions {
            fetchers: vec![Source::Pubmed],
            control_env: env(&[("FAILPOINTS", "create_run.after_commit=exit")]),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = stack
        .start_run(org_a(), Source::Pubmed, "synthetic:150", 150)
        .await;
    assert!(
        body["ingest_run_id"].is_null(),
        "the client is never told the orphan's id: {status} {body}"
    );
    let exit = stack
        .wait_exit("ingestion-control", Duration::from_secs(10))
        .await;
    assert_eq!(exit.code(), Some(86), "exited at the fail point: {exit}");

    // Committed, never published: the orphan is only in the database.
    let runs = stack.all_runs().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let orphan = runs[0].id;
    assert_eq!(runs[0].status, "queued");
    assert!(published_at_is_null(&stack, orphan).await);

    let restarted = Instant::now();
    stack
        .restart_with("ingestion-control", |spec| {
            spec.unset("FAILPOINTS");
        })
        .await;
    let run = stack.wait_terminal(orphan, Duration::from_secs(30)).await;
    assert_eq!(run.status, "completed", "{run:?}");
    assert_eq!(run.papers_found, 150, "{run:?}");
    assert!(!published_at_is_null(&stack, orphan).await);
    let republished = log_lines(
        &stack,
        "ingestion-control",
        &["re-published a run whose job was never confirmed"],
    );
    assert!(
        !republished.is_empty(),
        "the reconciler published it (took {:?})",
        restarted.elapsed()
    );
    assert_invariants(stack.invariant_violations().await);
    stack.teardown().await;
    // A call whose connection drops because ingestion-control died comes back from
    // tonic as UNKNOWN "transport error" (or CANCELLED); the gateway answers 503, as
    // for any unreachable control (gateway/src/problem.rs). Checked last, so the
    // recovery above is proven either way.
    assert_eq!(
        status, 503,
        "the start fails as unavailable when ingestion-control dies mid-call, \
         not as an internal error: {body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("temporarily unavailable")),
        "{body}"
    );
}

/// Starts `per_source` runs of every source (`synthetic:300`, `max` records each) as
/// organisation A; returns (run id, records expected).
async fn start_batch(stack: &ProcessStack, per_source: usize, max: u32) -> Vec<(Uuid, i64)> {
    let mut out = Vec::new();
    for _ in 0..per_source {
        for source in Source::ALL {
            let id = stack
                .start_ok(org_a(), source, &synthetic(source, 300), max)
                .await;
            out.push((id, i64::from(max)));
        }
    }
    out
}

/// Every run completed with the records it was asked for.
fn assert_completed_with(runs: &[RunRow], expected: &HashMap<Uuid, i64>) {
    for (id, want) in expected {
        let run = runs
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("accepted run {id} is not in the database"));
        assert_eq!(run.status, "completed", "accepted run lost: {run:?}");
        assert_eq!(
            run.papers_found, *want,
            "records lost or double-counted: {run:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with make test-faults"]
async fn while_rabbitmq_is_down_starts_answer_503_naming_a_failed_run_and_afterwards_everything_carries_on_without_a_restart()
 {
    let mut stack = ProcessStack::start(
        "broker_outage",
        ProcessOptions {
            fetchers: Source::ALL.to_vec(),
            fetcher_env: small_pages(),
            ..Default::default()
        },
    )
    .await;
    // Slow pages, so runs are in flight when the broker goes.
    for source in Source::ALL {
        stack.inject(slow(source_name(source), 4, 1, 800)).await;
    }
    let before: HashMap<Uuid, i64> = start_batch(&stack, 2, 200).await.into_iter().collect();
    let some = *before.keys().next().expect("runs started");
    stack
        .wait_run(some, "started", Duration::from_secs(20), |r| {
            r.status != "queued"
        })
        .await;
    let pids: BTreeMap<String, Option<u32>> = stack.pids();

    let outage = Outage::begin(Server::RabbitMq).await;
    let down_at = Instant::now();
    let answers = futures::future::join_all(Source::ALL.map(|source| {
        let stack = &stack;
        async move {
            let t = Instant::now();
            let (status, body) = stack
                .start_run(org_a(), source, &synthetic(source, 300), 100)
                .await;
            (source, status, body, t.elapsed())
        }
    }))
    .await;
    let down_for = down_at.elapsed();
    outage.end().await;
    eprintln!(
        "broker down for {down_for:?} of starts, restored after {:?}",
        down_at.elapsed()
    );

    let mut refused = Vec::new();
    for (source, status, body, took) in &answers {
        assert_eq!(
            *status, 503,
            "{source} start while the broker is down: {body}"
        );
        assert!(
            *took < Duration::from_secs(6),
            "{source}: the 503 took {took:?} (PUBLISH_TIMEOUT_MS=2000 bounds it)"
        );
        let id = body["ingest_run_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or_else(|| panic!("{source}: the 503 names no run: {body}"));
        refused.push(id);
    }
    for id in &refused {
        let run = stack.run(*id).await;
        assert_eq!(run.status, "failed", "a 503 names a failed run: {run:?}");
        let reason = run.error_message.clone().unwrap_or_default();
        assert!(
            reason.contains("publish") || reason.contains("broker"),
            "the reason names the broker: {run:?}"
        );
    }

    // No restart: the same processes reconnect by themselves.
    // A reconnect attempt made while RabbitMQ is starting can stall; every step of
    // the fetcher's broker set-up is bounded and retried (source-fetcher's consume.rs).
    let stuck = stack.not_ready_after(Duration::from_secs(30)).await;
    assert!(
        stuck.is_empty(),
        "not ready 30 s after the broker came back (stuck reconnecting?): {stuck:?}"
    );
    assert_eq!(stack.pids(), pids, "no process was restarted");
    let after: HashMap<Uuid, i64> = start_batch(&stack, 2, 150).await.into_iter().collect();
    let runs = stack.wait_all_terminal(Duration::from_secs(90)).await;
    assert_completed_with(&runs, &before);
    assert_completed_with(&runs, &after);
    let failed: HashSet<Uuid> = runs
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| r.id)
        .collect();
    assert_eq!(
        failed,
        refused.iter().copied().collect(),
        "only the refused runs failed"
    );
    assert_invariants(stack.invariant_violations().await);
    stack.teardown().await;
}

/// Sessions of the stack's database waiting for an advisory lock.
async fn advisory_waiters(stack: &ProcessStack) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
    )
    .fetch_one(&stack.pool)
    .await
    .expect("pg_stat_activity");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with make test-faults"]
async fn a_postgres_restart_mid_load_is_ridden_out_by_retries_and_every_run_completes() {
    let stack = ProcessStack::start(
        "postgres_restart",
        ProcessOptions {
            fetchers: Source::ALL.to_vec(),
            fetcher_env: small_pages(),
            ..Default::default()
        },
    )
    .await;
    for source in Source::ALL {
        stack.inject(slow(source_name(source), 6, 1, 700)).await;
    }
    let expected: HashMap<Uuid, i64> = start_batch(&stack, 3, 250).await.into_iter().collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = stack.all_runs().await;
        if runs
            .iter()
            .filter(|r| r.status == "running" && r.pages_done >= 1)
            .count()
            >= 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no two runs with a recorded page within 30 s: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Land the restart on RecordPage calls in flight: hold organisation A's import
    // lock (the advisory lock `import_papers()` takes) so the next pages wait inside
    // their transactions, then stop the server under them.
    let mut holder = sqlx::PgConnection::connect(&stack.database_url)
        .await
        .expect("lock-holder connection");
    sqlx::query("SELECT pg_advisory_lock(hashtextextended('import_papers:' || $1::text, 0))")
        .bind(org_a())
        .execute(&mut holder)
        .await
        .expect("take the import lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while advisory_waiters(&stack).await < 2 {
        assert!(
            Instant::now() < deadline,
            "no two RecordPage calls waiting on the import lock within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outage = Outage::begin(Server::Postgres).await;
    drop(holder);
    tokio::time::sleep(Duration::from_secs(1)).await;
    outage.end().await;

    let runs = stack.wait_all_terminal(Duration::from_secs(120)).await;
    assert_completed_with(&runs, &expected);
    assert_invariants(stack.invariant_violations().await);
    let retried = all_logs_lines(
        &stack,
        &["ingestion-control unavailable; retrying", "RecordPage"],
    );
    let failed_internal = all_logs_lines(
        &stack,
        &["ingestion-control call failed", "RecordPage", "Internal"],
    );
    eprintln!(
        "RecordPage retried through UNAVAILABLE {} times; failed as INTERNAL {} times",
        retried.len(),
        failed_internal.len()
    );
    stack.teardown().await;
    // A statement cut off by the restart fails with "terminating connection due to
    // administrator command" (SQLSTATE 57P01), which ingestion-control answers as
    // UNAVAILABLE (db::is_unavailable), so the fetcher retries the RecordPage rather
    // than requeueing the job and spending a claim. Checked last, so "every run
    // completes" is proven either way.
    assert!(
        failed_internal.is_empty(),
        "RecordPage calls in flight at the restart must be retried as UNAVAILABLE, not failed as INTERNAL:\n{}",
        failed_internal.join("\n")
    );
    assert!(
        !retried.is_empty(),
        "the fetchers retried RecordPage through UNAVAILABLE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with make test-faults"]
async fn source_429_storms_and_500s_are_retried_to_completion_and_an_exhausted_quota_fails_its_run_at_once()
 {
    let stack = ProcessStack::start(
        "source_storms",
        ProcessOptions {
            fetchers: Source::ALL.to_vec(),
            fetcher_env: small_pages(),
            ..Default::default()
        },
    )
    .await;
    for source in Source::ALL {
        let name = source_name(source);
        // Three 429s, one answer, two 500s (`after` counts from injection): at most
        // three failures in a row, within the five attempts of one request.
        stack
            .inject(
                json!({"source": name, "kind": "rate_limited", "count": 3, "retry_after_secs": 1}),
            )
            .await;
        stack
            .inject(json!({"source": name, "kind": "server_error", "count": 2, "after": 4}))
            .await;
    }
    let expected: HashMap<Uuid, i64> = start_batch(&stack, 2, 150).await.into_iter().collect();
    let runs = stack.wait_all_terminal(Duration::from_secs(90)).await;
    assert_completed_with(&runs, &expected);
    let requests = stack.replay_requests().await;
    for source in Source::ALL {
        let statuses: Vec<u64> = requests
            .iter()
            .filter(|r| r["source"] == source_name(source))
            .filter_map(|r| r["status"].as_u64())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            3,
            "{source}: the storm was served"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 500).count(),
            2,
            "{source}: the 500s were served"
        );
    }

    stack
        .inject(json!({"source": "pubmed", "kind": "quota_exhausted", "count": 1}))
        .await;
    let started = Instant::now();
    let id = stack
        .start_ok(org_a(), Source::Pubmed, "synthetic:300", 100)
        .await;
    let run = stack.wait_terminal(id, Duration::from_secs(20)).await;
    let took = started.elapsed();
    assert_eq!(run.status, "failed", "{run:?}");
    let reason = run.error_message.clone().unwrap_or_default();
    assert!(
        reason.contains("quota"),
        "the reason names the quota: {run:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "failed at once, not after the 86400 s Retry-After: {took:?}"
    );
    assert_invariants(stack.invariant_violations().await);
    stack.teardown().await;
}

/// One answer of the load's start endpoint.
#[derive(Debug, Clone)]
struct Answer {
    source: Source,
    org: Uuid,
    /// Records the run was asked to import.
    expected: i64,
    status: u16,
    run_id: Option<Uuid>,
    body: Value,
    took: Duration,
}

/// A load of starts across the four sources and two organisations, paced, that the
/// fault schedule can hold (while nothing should be started) and that stops once
/// `target` starts were accepted.
struct Load {
    answers: Mutex<Vec<Answer>>,
    sent: AtomicUsize,
    accepted: AtomicUsize,
    in_flight: AtomicUsize,
    hold: AtomicBool,
    target: usize,
}

const MAX_RESULTS: [u32; 5] = [100, 150, 200, 250, 300];
/// Sizes of the `synthetic:N` datasets the load asks for: mostly small (the machine
/// has two cores and imports are serialised per organisation), some capped by
/// `max_results`.
const DATASET_SIZES: [u32; 5] = [40, 60, 80, 120, 300];

impl Load {
    fn spawn(
        api: e2e::processes::Api,
        target: usize,
        workers: usize,
        pace: Duration,
    ) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
        let load = Arc::new(Load {
            answers: Mutex::new(Vec::new()),
            sent: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            hold: AtomicBool::new(false),
            target,
        });
        let tasks = (0..workers)
            .map(|_| {
                let (load, api) = (load.clone(), api.clone());
                tokio::spawn(async move { load.drive(api, pace).await })
            })
            .collect();
        (load, tasks)
    }

    async fn drive(&self, api: e2e::processes::Api, pace: Duration) {
        // Bounded: at most 3× the target in sends.
        while self.accepted.load(Ordering::SeqCst) < self.target
            && self.sent.load(Ordering::SeqCst) < self.target * 3
        {
            if self.hold.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let n = self.sent.fetch_add(1, Ordering::SeqCst);
            let source = Source::ALL[n % 4];
            let org = if n.is_multiple_of(2) {
                org_a()
            } else {
                org_b()
            };
            let max = MAX_RESULTS[(n / 4) % MAX_RESULTS.len()];
            let records = DATASET_SIZES[(n / 3) % DATASET_SIZES.len()];
            let t = Instant::now();
            let (status, body) = api
                .start_run(org, source, &synthetic(source, records), max)
                .await;
            let run_id = body["ingest_run_id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok());
            self.answers.lock().await.push(Answer {
                source,
                org,
                expected: i64::from(max.min(records)),
                status,
                run_id,
                body,
                took: t.elapsed(),
            });
            if status == 202 {
                self.accepted.fetch_add(1, Ordering::SeqCst);
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(pace).await;
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits until `n` starts were accepted; panics after `timeout`.
    async fn wait_accepted(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.accepted() < n {
            assert!(
                Instant::now() < deadline,
                "the load did not reach {n} accepted starts within {timeout:?} (at {})",
                self.accepted()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops sending and waits (bounded) for the starts in flight to be answered.
    async fn pause(&self) {
        self.hold.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            assert!(
                Instant::now() < deadline,
                "starts in flight not answered within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn resume(&self) {
        self.hold.store(false, Ordering::SeqCst);
    }
}

/// 429 storms (Retry-After 1), one answer, then 500s for every source (`after`
/// counts from injection): at most three failures in a row, so within the five
/// attempts of one request.
async fn inject_storms(stack: &ProcessStack) {
    for source in Source::ALL {
        let name = source_name(source);
        stack
            .inject(
                json!({"source": name, "kind": "rate_limited", "count": 3, "retry_after_secs": 1}),
            )
            .await;
        stack
            .inject(json!({"source": name, "kind": "server_error", "count": 2, "after": 4}))
            .await;
    }
}

/// `kill -9` a fetcher of `source` that holds a running run (mid-run by
/// construction) and starts a replacement; returns the run it held.
async fn kill9_a_fetcher_mid_run(stack: &mut ProcessStack, source: Source) -> Uuid {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running: Vec<RunRow> = stack
            .all_runs()
            .await
            .into_iter()
            .filter(|r| r.status == "running" && r.source == source.as_str() && r.pages_done >= 1)
            .collect();
        for run in running {
            if let Some(victim) = run
                .lease_owner
                .as_deref()
                .and_then(|o| stack.fetcher_owning(o))
            {
                stack.kill9(&victim).await;
                eprintln!(
                    "[load] kill -9 {victim} holding run {} at page {}",
                    run.id, run.pages_done
                );
                stack.start_fetcher(source).await;
                return run.id;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {source} fetcher was mid-run within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with make test-faults"]
async fn two_hundred_runs_across_four_sources_survive_every_fault_and_nothing_is_lost() {
    const TARGET: usize = 200;
    let started = Instant::now();
    let mut fetchers = Source::ALL.to_vec();
    fetchers.extend([Source::OpenAlex, Source::Pubmed, Source::Arxiv]);
    let mut stack = ProcessStack::start(
        "headline_load",
        ProcessOptions {
            fetchers,
            fetcher_env: small_pages(),
            ..Default::default()
        },
    )
    .await;
    inject_storms(&stack).await;
    let (load, drivers) = Load::spawn(stack.api(), TARGET, 3, Duration::from_millis(600));
    let phase = |what: &str| {
        eprintln!(
            "[load] {:>6.1?} accepted {:>3}: {what}",
            started.elapsed(),
            load.accepted()
        )
    };

    // 1. A fetcher dies mid-run: its lease expires, another fetcher takes over.
    load.wait_accepted(25, Duration::from_secs(60)).await;
    phase("kill -9 a fetcher mid-run");
    // Slow OpenAlex pages for a moment, so a run is caught between pages.
    stack.inject(slow("openalex", 6, 0, 1_000)).await;
    let killed_run = kill9_a_fetcher_mid_run(&mut stack, Source::OpenAlex).await;

    // 2. Semantic Scholar's quota runs out once: that run fails at once.
    load.wait_accepted(50, Duration::from_secs(60)).await;
    phase("storms again; then Semantic Scholar's quota runs out");
    inject_storms(&stack).await;
    // After the storm (`after` counts from injection), so it never prolongs one.
    stack
        .inject(json!({"source": "semantic_scholar", "kind": "quota_exhausted", "count": 1, "after": 8}))
        .await;

    // 3. PostgreSQL restarts under the load (no starts meanwhile: they could not
    //    create a run, so their 503 would name none).
    load.wait_accepted(75, Duration::from_secs(60)).await;
    phase("PostgreSQL restart");
    load.pause().await;
    let outage = Outage::begin(Server::Postgres).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    outage.end().await;
    load.resume();

    // 4. RabbitMQ stops and starts while starts keep coming: those answer 503 and
    //    name their (failed) run.
    load.wait_accepted(110, Duration::from_secs(60)).await;
    phase("RabbitMQ stop_app");
    let outage = Outage::begin(Server::RabbitMq).await;
    let (status, body) = stack
        .start_run(
            org_a(),
            Source::Pubmed,
            &synthetic(Source::Pubmed, 300),
            100,
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    outage.end().await;
    phase("RabbitMQ start_app");
    // Every process reconnects by itself (checked at the end, as in
    // `while_rabbitmq_is_down_…`); the load goes on meanwhile.
    let stuck_after_broker = stack.not_ready_after(Duration::from_secs(30)).await;
    assert_eq!(status, 503, "a start while the broker is down: {body}");
    let probe_refused = body["ingest_run_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("the 503 names the run: {body}"));

    // 5. ingestion-control dies between commit and publish; restarted without the
    //    fail point, its reconciler publishes the orphan.
    load.wait_accepted(150, Duration::from_secs(90)).await;
    phase("ingestion-control with the commit fail point");
    load.pause().await;
    stack
        .restart_with("ingestion-control", |spec| {
            spec.set("FAILPOINTS", "create_run.after_commit=exit");
        })
        .await;
    let (crash_status, crash_body) = stack
        .start_run(org_b(), Source::Arxiv, &synthetic(Source::Arxiv, 300), 150)
        .await;
    let exit = stack
        .wait_exit("ingestion-control", Duration::from_secs(10))
        .await;
    assert_eq!(exit.code(), Some(86), "exited at the fail point: {exit}");
    assert!(
        crash_body["ingest_run_id"].is_null(),
        "the orphan's id is not told: {crash_status} {crash_body}"
    );
    stack
        .restart_with("ingestion-control", |spec| {
            spec.unset("FAILPOINTS");
        })
        .await;
    load.resume();
    phase("ingestion-control restarted");

    load.wait_accepted(TARGET, Duration::from_secs(120)).await;
    for d in drivers {
        tokio::time::timeout(Duration::from_secs(30), d)
            .await
            .expect("the load drivers stop")
            .expect("a load driver panicked");
    }
    phase("load done; waiting for every run to finish");
    let runs = stack.wait_all_terminal(Duration::from_secs(180)).await;
    phase("every run finished");

    // What the API said.
    let answers = load.answers.lock().await.clone();
    let by_id: HashMap<Uuid, &RunRow> = runs.iter().map(|r| (r.id, r)).collect();
    let accepted: Vec<&Answer> = answers.iter().filter(|a| a.status == 202).collect();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 503).collect();
    let other: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status != 202 && a.status != 503)
        .collect();
    eprintln!(
        "[load] {} starts: {} accepted, {} refused with 503, {} other; {} runs in the database",
        answers.len(),
        accepted.len(),
        refused.len(),
        other.len(),
        runs.len()
    );
    assert!(
        accepted.len() >= TARGET,
        "{} starts accepted",
        accepted.len()
    );
    assert!(
        other.is_empty(),
        "starts answered neither 202 nor 503: {other:#?}"
    );

    let mut problems = Vec::new();
    let mut quota_failed = Vec::new();
    for a in &accepted {
        let id = a.run_id.expect("a 202 names its run");
        let Some(run) = by_id.get(&id) else {
            problems.push(format!("accepted run {id} is not in the database"));
            continue;
        };
        let reason = run.error_message.as_deref().unwrap_or("");
        match run.status.as_str() {
            "completed" if run.papers_found == a.expected => {}
            "completed" => problems.push(format!(
                "run {id} ({} of org {}, {} records asked for) completed with papers_found {}: {run:?}",
                a.source, a.org, a.expected, run.papers_found
            )),
            "failed" if reason.contains("quota") => quota_failed.push(id),
            _ => problems.push(format!("accepted run {id} ended {}: {run:?}", run.status)),
        }
    }
    let mut refused_ids: Vec<Uuid> = vec![probe_refused];
    for a in &refused {
        match a.run_id {
            Some(id) => refused_ids.push(id),
            None => problems.push(format!("a 503 names no run: {}", a.body)),
        }
        assert!(a.took < Duration::from_secs(6), "a 503 took {:?}", a.took);
    }
    for id in &refused_ids {
        match by_id.get(id) {
            Some(run)
                if run.status == "failed"
                    && run
                        .error_message
                        .as_deref()
                        .is_some_and(|m| m.contains("publish")) => {}
            other => problems.push(format!("a 503 named run {id}, which is {other:?}")),
        }
    }
    // Runs nobody was told about: the orphan of the control crash.
    let told: HashSet<Uuid> = answers
        .iter()
        .filter_map(|a| a.run_id)
        .chain([probe_refused])
        .collect();
    let orphans: Vec<&RunRow> = runs.iter().filter(|r| !told.contains(&r.id)).collect();
    assert_eq!(
        orphans.len(),
        1,
        "exactly the control crash's orphan: {orphans:#?}"
    );
    assert_eq!(
        orphans[0].status, "completed",
        "the orphan was published and completed: {:?}",
        orphans[0]
    );
    assert_eq!(orphans[0].papers_found, 150, "{:?}", orphans[0]);
    assert_eq!(
        quota_failed.len(),
        1,
        "exactly the run that met the exhausted quota failed for it: {quota_failed:?}"
    );
    let killed = by_id.get(&killed_run).expect("the killed fetcher's run");
    assert_eq!(
        killed.status, "completed",
        "taken over after kill -9: {killed:?}"
    );
    assert!(
        killed.claims >= 2,
        "taken over by a second claim: {killed:?}"
    );
    assert!(
        problems.is_empty(),
        "runs lost or wrong:\n{}",
        problems.join("\n")
    );
    assert_invariants(stack.invariant_violations().await);
    let orgs: HashSet<Uuid> = runs.iter().map(|r| r.organization_id).collect();
    assert_eq!(orgs.len(), 2, "both organisations imported");
    eprintln!("[load] {:?} in all", started.elapsed());
    stack.teardown().await;
    assert!(
        stuck_after_broker.is_empty(),
        "processes did not reconnect within 30 s after RabbitMQ came back: {stuck_after_broker:?}"
    );
    // The crash probe's answer is checked last (as in
    // `ingestion_control_dying_between_commit_and_publish_…`).
    assert_eq!(
        crash_status, 503,
        "the start that killed ingestion-control answers 503: {crash_body}"
    );
}
