//! `ingest-runs` (scenario 3): whole runs end to end — gateway, ingestion-control,
//! RabbitMQ, one source fetcher, the replay server — and the processes' peak memory.
//!
//! Starts `--runs` runs of one source at once through the gateway (each in an
//! organisation of its own, so every run imports new papers), polls them every
//! 100 ms until they end, and reports per run papers/s from `started_at` to
//! `completed_at` and from `created_at`, the aggregate over all runs (first created
//! to last completed), and for each `--pid name=pid` the peak RSS (`VmHWM`, reset at
//! the start) and CPU time. `JWT_SECRET` comes from the environment.

use bench::auth::{env_secret, member_token};
use bench::procfs::{self, CpuWindow};
use bench::stats::Summary;
use chrono::{DateTime, Utc};
use clap::Parser;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "ingest-runs", about = "Whole runs through the stack")]
struct Cli {
    #[arg(long)]
    base_url: String,
    /// Stored source name (openalex, pubmed, arxiv, semantic_scholar).
    #[arg(long)]
    source: String,
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// The API's cap is 10,000 per run.
    #[arg(long, default_value_t = 10_000)]
    max_results: u32,
    #[arg(long, default_value = "synthetic:100000")]
    query: String,
    /// Processes to watch, `name=pid`, repeatable.
    #[arg(long = "pid", value_parser = parse_pid)]
    pids: Vec<(String, u32)>,
    #[arg(long, default_value_t = 900.0)]
    timeout_secs: f64,
}

fn parse_pid(raw: &str) -> Result<(String, u32), String> {
    let (name, pid) = raw.split_once('=').ok_or("expected name=pid")?;
    Ok((
        name.to_owned(),
        pid.parse().map_err(|_| "pid is not a number")?,
    ))
}

struct Run {
    id: String,
    token: String,
    posted: Instant,
    done: Option<(Instant, Value)>,
}

fn ts(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v[field].as_str()?.parse().ok()
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6
}

fn run_json(r: &Run) -> Value {
    let Some((at, v)) = &r.done else {
        return json!({"id": r.id, "status": "unfinished"});
    };
    let found = v["papers_found"].as_f64().unwrap_or(0.0);
    let run_s = ts(v, "started_at")
        .zip(ts(v, "completed_at"))
        .map(|(s, c)| secs(s, c));
    let e2e_s = ts(v, "created_at")
        .zip(ts(v, "completed_at"))
        .map(|(s, c)| secs(s, c));
    json!({
        "id": r.id, "status": v["status"], "error_message": v["error_message"],
        "papers_found": v["papers_found"], "papers_imported": v["papers_imported"],
        "pages_done": v["pages_done"],
        "run_s": run_s, "papers_per_s": run_s.map(|s| found / s),
        "created_to_completed_s": e2e_s,
        "wall_s": (*at - r.posted).as_secs_f64(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = env_secret("JWT_SECRET")?;
    let base = cli.base_url.trim_end_matches('/');
    let slug = cli.source.replace('_', "-");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    for (_, pid) in &cli.pids {
        procfs::reset_peak(*pid);
    }
    let cpu: Vec<Option<CpuWindow>> = cli.pids.iter().map(|(_, p)| CpuWindow::start(*p)).collect();
    let mut max_rss = vec![0.0f64; cli.pids.len()];
    let started = Instant::now();
    let mut runs = Vec::new();
    for i in 0..cli.runs {
        let token = member_token(&secret, Uuid::new_v4(), &format!("ingest-{i}"))?;
        let posted = Instant::now();
        let resp = client
            .post(format!("{base}/papers/ingest/{slug}/async"))
            .bearer_auth(&token)
            .json(&json!({"query": cli.query, "max_results": cli.max_results}))
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().as_u16() == 202,
            "start answered {}",
            resp.status()
        );
        let body: Value = resp.json().await?;
        let id = body["ingest_run_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        runs.push(Run {
            id,
            token,
            posted,
            done: None,
        });
    }
    let deadline = started + Duration::from_secs_f64(cli.timeout_secs);
    while runs.iter().any(|r| r.done.is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (i, (_, pid)) in cli.pids.iter().enumerate() {
            max_rss[i] = max_rss[i].max(procfs::rss_mib(*pid).unwrap_or(0.0));
        }
        for r in runs.iter_mut().filter(|r| r.done.is_none()) {
            let v: Value = client
                .get(format!("{base}/ingestion/runs/{}", r.id))
                .bearer_auth(&r.token)
                .send()
                .await?
                .json()
                .await?;
            if matches!(
                v["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                r.done = Some((Instant::now(), v));
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let per_run: Vec<Value> = runs.iter().map(run_json).collect();
    let rates: Vec<f64> = per_run
        .iter()
        .filter_map(|r| r["papers_per_s"].as_f64())
        .collect();
    let total: f64 = runs
        .iter()
        .filter_map(|r| r.done.as_ref()?.1["papers_found"].as_f64())
        .sum();
    let first_created = runs
        .iter()
        .filter_map(|r| ts(&r.done.as_ref()?.1, "created_at"))
        .min();
    let last_completed = runs
        .iter()
        .filter_map(|r| ts(&r.done.as_ref()?.1, "completed_at"))
        .max();
    let span = first_created.zip(last_completed).map(|(a, b)| secs(a, b));
    let processes: Vec<Value> = cli
        .pids
        .iter()
        .zip(&cpu)
        .zip(&max_rss)
        .map(|(((name, pid), cpu), max_rss)| {
            let used = cpu.and_then(|c| c.finish());
            json!({
                "name": name, "pid": pid,
                "peak_rss_mib": procfs::peak_rss_mib(*pid),
                "max_sampled_rss_mib": max_rss,
                "cpu_s": used.map(|u| u.0),
                "cpu_share_of_one_core": used.map(|u| u.1),
                "cpu_ms_per_1000_papers": used.map(|u| u.0 * 1e6 / total.max(1.0)),
            })
        })
        .collect();
    bench::print_json(&json!({
        "scenario": "ingest",
        "source": cli.source,
        "runs": cli.runs,
        "max_results": cli.max_results,
        "query": cli.query,
        "completed": per_run.iter().filter(|r| r["status"] == "completed").count(),
        "papers_total": total,
        "aggregate_s": span,
        "aggregate_papers_per_s": span.map(|s| total / s),
        "wall_s": wall,
        "wall_papers_per_s": total / wall,
        "per_run_papers_per_s": Summary::of(&rates).map(|s| s.to_json()),
        "per_run": per_run,
        "processes": processes,
    }));
    Ok(())
}
