//! `watch-bench` (scenario 4): SSE watchers of running runs through the gateway.
//!
//! Creates `--runs` runs over gRPC and claims them itself as a worker (no fetcher
//! involved), so it alone drives their updates: every `--update-interval-ms` each
//! run records an empty page (one UPDATE, one NOTIFY). For each level of
//! `--levels` (watchers spread evenly over the runs) it opens the watchers, waits for
//! each one's first snapshot, then for `--duration-secs` measures the gateway's and
//! ingestion-control's RSS and CPU (`/proc`), the `watch_db_queries_total` counter
//! per update, the events delivered and the update-to-watcher latency (from the
//! `RecordPage` call to the event carrying that `pages_done`).
//! `JWT_SECRET` and `WORKER_TOKEN` come from the environment.

#[path = "watch_bench/sse.rs"]
mod sse;

use bench::auth::{bearer_metadata, env_secret, member_token, with_auth};
use bench::procfs::{self, CpuWindow};
use bench::stats::{latency_histogram, latency_json, record};
use clap::Parser;
use ingestion_proto::v1;
use ingestion_proto::v1::run_service_client::RunServiceClient;
use ingestion_proto::v1::worker_service_client::WorkerServiceClient;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "watch-bench", about = "SSE watchers of running runs")]
struct Cli {
    #[arg(long)]
    base_url: String,
    #[arg(long, env = "CONTROL_GRPC_URL")]
    grpc_url: String,
    /// ingestion-control's Prometheus endpoint (METRICS_ADDR + /metrics).
    #[arg(long)]
    metrics_url: String,
    #[arg(long)]
    gateway_pid: u32,
    #[arg(long)]
    control_pid: u32,
    #[arg(long, default_value_t = 10)]
    runs: usize,
    #[arg(long, value_delimiter = ',', default_value = "0,10,1000")]
    levels: Vec<usize>,
    #[arg(long, default_value_t = 200)]
    update_interval_ms: u64,
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// A source whose fetcher is not running.
    #[arg(long, default_value = "semantic_scholar")]
    source: String,
}

fn proto_source(name: &str) -> anyhow::Result<v1::Source> {
    Ok(match name {
        "openalex" => v1::Source::Openalex,
        "pubmed" => v1::Source::Pubmed,
        "arxiv" => v1::Source::Arxiv,
        "semantic_scholar" => v1::Source::SemanticScholar,
        other => anyhow::bail!("unknown source {other}"),
    })
}

/// Creates and claims the runs; returns their leases.
async fn running_runs(
    cli: &Cli,
    channel: Channel,
    user: &AsciiMetadataValue,
    worker: &AsciiMetadataValue,
) -> anyhow::Result<Vec<v1::Lease>> {
    let mut runs = RunServiceClient::new(channel.clone());
    let mut workers = WorkerServiceClient::new(channel);
    let source = proto_source(&cli.source)? as i32;
    let worker_id = format!("watch-bench-{}", Uuid::new_v4().simple());
    let mut leases = Vec::new();
    for i in 0..cli.runs {
        let req = v1::CreateRunRequest {
            source,
            query: format!("watch benchmark {i}"),
            max_results: 10_000,
            ..Default::default()
        };
        let run = runs
            .create_run(with_auth(req, user))
            .await?
            .into_inner()
            .run;
        let run = run.ok_or_else(|| anyhow::anyhow!("no run"))?;
        let claim = workers
            .claim_run(with_auth(
                v1::ClaimRunRequest {
                    run_id: run.id.clone(),
                    source,
                    worker_id: worker_id.clone(),
                    attempt: run.attempt,
                },
                worker,
            ))
            .await?
            .into_inner();
        anyhow::ensure!(
            claim.outcome == v1::ClaimOutcome::Claimed as i32,
            "claim refused: {}",
            claim.detail
        );
        leases.push(v1::Lease {
            run_id: run.id,
            worker_id: worker_id.clone(),
            attempt: run.attempt,
        });
    }
    Ok(leases)
}

/// Drives one update per interval per run for `duration`; returns each run's
/// (pages_done, send instant) pairs. `pages` holds each run's pages so far.
async fn drive_updates(
    channel: Channel,
    worker: AsciiMetadataValue,
    leases: &[v1::Lease],
    pages: &mut [u32],
    interval: Duration,
    duration: Duration,
) -> (Vec<Vec<(u32, Instant)>>, u64) {
    let end = Instant::now() + duration;
    let tasks: Vec<_> = leases
        .iter()
        .zip(pages.iter().copied())
        .map(|(lease, start)| {
            let (mut client, worker, lease) = (
                WorkerServiceClient::new(channel.clone()),
                worker.clone(),
                lease.clone(),
            );
            tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut failures = 0u64;
                let mut tick = tokio::time::interval(interval);
                let mut k = start;
                while Instant::now() < end {
                    tick.tick().await;
                    let t0 = Instant::now();
                    let req = v1::RecordPageRequest {
                        lease: Some(lease.clone()),
                        papers: vec![],
                        checkpoint_json: json!({"page": k + 1}).to_string(),
                        source_total: Some(10_000),
                        // The run was claimed fresh and only this task records it.
                        page_index: Some(u64::from(k)),
                    };
                    match client.record_page(with_auth(req, &worker)).await {
                        Ok(_) => {
                            k += 1;
                            sent.push((k, t0));
                        }
                        Err(_) => failures += 1,
                    }
                }
                (sent, k, failures)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failures = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let (sent, k, f) = t.await.unwrap_or_default();
        pages[i] = k;
        failures += f;
        all.push(sent);
    }
    (all, failures)
}

/// One level: open `watchers`, measure for the duration, close them.
async fn level(
    cli: &Cli,
    channel: Channel,
    worker: &AsciiMetadataValue,
    token: &str,
    leases: &[v1::Lease],
    pages: &mut [u32],
    watchers: usize,
) -> anyhow::Result<Value> {
    let http = reqwest::Client::builder().no_proxy().http1_only().build()?;
    let open_started = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<bool>(watchers.max(1));
    for w in 0..watchers {
        let run = w % leases.len();
        let url = format!(
            "{}/ingestion/runs/{}/events",
            cli.base_url.trim_end_matches('/'),
            leases[run].run_id
        );
        handles.push(tokio::spawn(sse::watch(
            http.clone(),
            url,
            token.to_owned(),
            run,
            ready_tx.clone(),
            stop_rx.clone(),
        )));
        if w % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    drop(ready_tx);
    let (mut connected, mut refused) = (0usize, 0usize);
    let open_deadline = Instant::now() + Duration::from_secs(120);
    while connected + refused < watchers && Instant::now() < open_deadline {
        match tokio::time::timeout(Duration::from_secs(5), ready_rx.recv()).await {
            Ok(Some(true)) => connected += 1,
            Ok(Some(false)) => refused += 1,
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let open_s = open_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let metrics = reqwest::Client::builder().no_proxy().build()?;
    let gw_rss_before = procfs::rss_mib(cli.gateway_pid);
    let q0 =
        bench::prometheus::scrape(&metrics, &cli.metrics_url, "watch_db_queries_total").await?;
    let (gw_cpu, ctl_cpu) = (
        CpuWindow::start(cli.gateway_pid),
        CpuWindow::start(cli.control_pid),
    );
    let measure_started = Instant::now();
    let (sent, failures) = drive_updates(
        channel,
        worker.clone(),
        leases,
        pages,
        Duration::from_millis(cli.update_interval_ms),
        Duration::from_secs_f64(cli.duration_secs),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let window = measure_started.elapsed().as_secs_f64();
    let (gw_used, ctl_used) = (
        gw_cpu.and_then(|c| c.finish()),
        ctl_cpu.and_then(|c| c.finish()),
    );
    let q1 =
        bench::prometheus::scrape(&metrics, &cli.metrics_url, "watch_db_queries_total").await?;
    let gw_rss = procfs::rss_mib(cli.gateway_pid);
    let ctl_rss = procfs::rss_mib(cli.control_pid);
    let _ = stop_tx.send(true);
    let mut received: Vec<Vec<(usize, u32, Instant)>> = Vec::new();
    for h in handles {
        received.push(h.await.unwrap_or_default());
    }
    // Match each received snapshot with the update that produced it.
    let sent_at: HashMap<(usize, u32), Instant> = sent
        .iter()
        .enumerate()
        .flat_map(|(run, s)| s.iter().map(move |(k, t)| ((run, *k), *t)))
        .collect();
    let mut lag = latency_histogram();
    let mut events = 0u64;
    for (run, k, at) in received.iter().flatten() {
        if let Some(t0) = sent_at.get(&(*run, *k)) {
            events += 1;
            record(&mut lag, at.saturating_duration_since(*t0));
        }
    }
    let updates: u64 = sent.iter().map(|s| s.len() as u64).sum();
    let expected: u64 = sent
        .iter()
        .enumerate()
        .map(|(run, s)| {
            s.len() as u64 * (0..watchers).filter(|w| w % leases.len() == run).count() as u64
        })
        .sum();
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(json!({
        "watchers": watchers, "connected": connected, "refused": refused, "open_s": open_s,
        "window_s": window, "updates": updates, "update_failures": failures,
        "updates_per_s": updates as f64 / window,
        "watch_db_queries": q1 - q0,
        "queries_per_update": if updates > 0 { (q1 - q0) / updates as f64 } else { f64::NAN },
        "events_matched": events, "events_expected": expected,
        "delivery_ratio": if expected > 0 { events as f64 / expected as f64 } else { f64::NAN },
        "update_to_event_ms": latency_json(&lag),
        "gateway": {"rss_mib_before_updates": gw_rss_before, "rss_mib": gw_rss, "cpu_s": gw_used.map(|u| u.0), "cpu_share_of_one_core": gw_used.map(|u| u.1)},
        "control": {"rss_mib": ctl_rss, "cpu_s": ctl_used.map(|u| u.0), "cpu_share_of_one_core": ctl_used.map(|u| u.1)},
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = env_secret("JWT_SECRET")?;
    let worker = bearer_metadata(&env_secret("WORKER_TOKEN")?)?;
    let org = Uuid::new_v4();
    let token = member_token(&secret, org, "watch-bench")?;
    let user = bearer_metadata(&token)?;
    let channel = Channel::from_shared(cli.grpc_url.clone())?
        .connect()
        .await?;
    let leases = running_runs(&cli, channel.clone(), &user, &worker).await?;
    let mut pages = vec![0u32; leases.len()];
    let mut levels = Vec::new();
    for &watchers in &cli.levels {
        levels.push(
            level(
                &cli,
                channel.clone(),
                &worker,
                &token,
                &leases,
                &mut pages,
                watchers,
            )
            .await?,
        );
    }
    let mut workers = WorkerServiceClient::new(channel);
    for lease in leases {
        let _ = workers
            .complete_run(with_auth(
                v1::CompleteRunRequest { lease: Some(lease) },
                &worker,
            ))
            .await;
    }
    let base_rss = levels
        .first()
        .and_then(|l| l["gateway"]["rss_mib"].as_f64());
    for l in &mut levels {
        let extra = l["gateway"]["rss_mib"]
            .as_f64()
            .zip(base_rss)
            .map(|(a, b)| a - b);
        l["gateway"]["rss_mib_over_first_level"] = json!(extra);
    }
    bench::print_json(&json!({
        "scenario": "watch", "runs": cli.runs, "update_interval_ms": cli.update_interval_ms,
        "duration_s": cli.duration_secs, "levels": levels,
        "gateway_peak_rss_mib": procfs::peak_rss_mib(cli.gateway_pid),
        "control_peak_rss_mib": procfs::peak_rss_mib(cli.control_pid),
    }));
    Ok(())
}
