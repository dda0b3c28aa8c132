//! `loadgen`: closed-loop HTTP load on the gateway with an HDR latency histogram.
//!
//! - `loadgen start`: POST a start endpoint (default `/papers/ingest/pubmed/async`),
//!   expecting 202; each worker has its own member token of the organisation.
//! - `loadgen read`: GET `/ingestion/runs/{id}` over the ids in `--ids-file`,
//!   expecting 200.
//!
//! Prints JSON: requests per second, p50/p90/p99/p99.9/max latency, errors by kind.
//! `JWT_SECRET` (environment) signs the tokens.

use bench::auth::{env_secret, member_token};
use bench::closed_loop::{self, LoopConfig, spread_index};
use clap::{Parser, Subcommand};
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "loadgen", about = "Closed-loop HTTP load on the gateway")]
struct Cli {
    /// The gateway, e.g. http://127.0.0.1:18080
    #[arg(long)]
    base_url: String,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    duration_secs: f64,
    /// Unmeasured seconds first.
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
    /// The organisation of the tokens.
    #[arg(long)]
    org: Uuid,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// POST a start endpoint.
    Start {
        #[arg(long, default_value = "/papers/ingest/pubmed/async")]
        path: String,
        #[arg(
            long,
            default_value = r#"{"query":"benchmark start load","max_results":100}"#
        )]
        body: String,
    },
    /// GET runs by id.
    Read {
        /// One run id per line.
        #[arg(long)]
        ids_file: std::path::PathBuf,
    },
}

/// What one request is: the URL (and body) and the status that counts as success.
struct Target {
    method: reqwest::Method,
    urls: Vec<String>,
    body: Option<String>,
    expect: StatusCode,
}

async fn one_request(
    client: &reqwest::Client,
    target: &Target,
    token: &str,
    worker: usize,
    seq: u64,
) -> Result<(), String> {
    let url = &target.urls[spread_index(worker, seq, target.urls.len())];
    let mut req = client
        .request(target.method.clone(), url)
        .bearer_auth(token);
    if let Some(body) = &target.body {
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
    }
    let resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            "timeout".to_string()
        } else if e.is_connect() {
            "connect".to_string()
        } else {
            "transport".to_string()
        }
    })?;
    let status = resp.status();
    // Read the whole body: a response counts once it has fully arrived.
    let _ = resp.bytes().await.map_err(|_| "body".to_string())?;
    if status == target.expect {
        Ok(())
    } else {
        Err(format!("http {}", status.as_u16()))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = env_secret("JWT_SECRET")?;
    let base = cli.base_url.trim_end_matches('/').to_owned();
    let (scenario, target) = match &cli.mode {
        Mode::Start { path, body } => (
            "start_runs",
            Target {
                method: reqwest::Method::POST,
                urls: vec![format!("{base}{path}")],
                body: Some(body.clone()),
                expect: StatusCode::ACCEPTED,
            },
        ),
        Mode::Read { ids_file } => {
            let ids = std::fs::read_to_string(ids_file)?;
            let urls: Vec<String> = ids
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|id| format!("{base}/ingestion/runs/{id}"))
                .collect();
            anyhow::ensure!(!urls.is_empty(), "no ids in {}", ids_file.display());
            (
                "read_runs",
                Target {
                    method: reqwest::Method::GET,
                    urls,
                    body: None,
                    expect: StatusCode::OK,
                },
            )
        }
    };
    let tokens: Vec<String> = (0..cli.concurrency)
        .map(|w| member_token(&secret, cli.org, &format!("loadgen-{w}")))
        .collect::<anyhow::Result<_>>()?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(cli.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let cfg = LoopConfig {
        concurrency: cli.concurrency,
        duration: Duration::from_secs_f64(cli.duration_secs),
        warmup: Duration::from_secs_f64(cli.warmup_secs),
    };
    let shared = Arc::new((client, target, tokens));
    let result = closed_loop::run(cfg, move |worker, seq| {
        let shared = shared.clone();
        async move {
            let (client, target, tokens) = &*shared;
            one_request(client, target, &tokens[worker], worker, seq).await
        }
    })
    .await;
    let mut out = result.to_json(&cfg);
    out["scenario"] = scenario.into();
    out["tool"] = "loadgen".into();
    bench::print_json(&out);
    Ok(())
}
