//! `import-bench` (issue 4): papers imported per second through a real
//! `WorkerService.RecordPage` of a running ingestion-control, beside a plain `COPY` of
//! the same rows into an unindexed table of the same database.
//!
//! Per repeat and page size: a fresh organisation; `RunService.CreateRun` with a
//! member token; `WorkerService.ClaimRun` with `WORKER_TOKEN`; the papers (half of
//! them duplicates of earlier ones) as pages sent one after another, as a fetcher
//! does; `CompleteRun`. Then `COPY … FROM STDIN` of the same rows. Requests and COPY
//! text are built before the clock starts. `JWT_SECRET` and `WORKER_TOKEN` come from
//! the environment.

use bench::auth::{bearer_metadata, env_secret, member_token, with_auth};
use bench::papers::{COPY_COLUMNS, Paper};
use bench::stats::{latency_histogram, latency_json, record};
use clap::Parser;
use ingestion_proto::v1;
use ingestion_proto::v1::run_service_client::RunServiceClient;
use ingestion_proto::v1::worker_service_client::WorkerServiceClient;
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use std::time::Instant;
use tonic::transport::Channel;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "import-bench", about = "RecordPage import rate beside COPY")]
struct Cli {
    /// ingestion-control's gRPC endpoint.
    #[arg(long, env = "CONTROL_GRPC_URL")]
    grpc_url: String,
    /// The same database ingestion-control uses.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    papers: u64,
    /// Page sizes, measured in this order in each repeat.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    page_sizes: Vec<usize>,
    #[arg(long, default_value_t = 1)]
    repeats: usize,
}

struct Clients {
    runs: RunServiceClient<Channel>,
    worker: WorkerServiceClient<Channel>,
    worker_auth: tonic::metadata::AsciiMetadataValue,
    secret: String,
}

/// Creates and claims a run of a fresh organisation; returns the lease.
async fn claimed_run(c: &mut Clients) -> anyhow::Result<v1::Lease> {
    let org = Uuid::new_v4();
    let user = bearer_metadata(&member_token(&c.secret, org, "import-bench")?)?;
    let created = c
        .runs
        .create_run(with_auth(
            v1::CreateRunRequest {
                source: v1::Source::Pubmed as i32,
                query: "import benchmark".into(),
                max_results: 10_000,
                filters: None,
                idempotency_key: None,
            },
            &user,
        ))
        .await?
        .into_inner();
    let run = created.run.ok_or_else(|| anyhow::anyhow!("no run"))?;
    let worker_id = format!("import-bench-{}", Uuid::new_v4().simple());
    let claim = c
        .worker
        .claim_run(with_auth(
            v1::ClaimRunRequest {
                run_id: run.id.clone(),
                source: v1::Source::Pubmed as i32,
                worker_id: worker_id.clone(),
                attempt: run.attempt,
            },
            &c.worker_auth,
        ))
        .await?
        .into_inner();
    anyhow::ensure!(
        claim.outcome == v1::ClaimOutcome::Claimed as i32,
        "claim refused ({}); is a pubmed fetcher running?",
        claim.detail
    );
    Ok(v1::Lease {
        run_id: run.id,
        worker_id,
        attempt: run.attempt,
    })
}

/// One import of all papers in pages of `page_size`.
async fn import(
    c: &mut Clients,
    records: &[v1::PaperRecord],
    page_size: usize,
) -> anyhow::Result<Value> {
    let lease = claimed_run(c).await?;
    let total = records.len() as u64;
    let pages: Vec<v1::RecordPageRequest> = records
        .chunks(page_size)
        .enumerate()
        .map(|(i, chunk)| v1::RecordPageRequest {
            lease: Some(lease.clone()),
            papers: chunk.to_vec(),
            checkpoint_json: json!({"offset": (i + 1) * page_size}).to_string(),
            source_total: Some(total),
            page_index: None,
        })
        .collect();
    let mut latency = latency_histogram();
    let mut last = v1::RecordPageResponse::default();
    let started = Instant::now();
    for page in pages {
        let t0 = Instant::now();
        last = c
            .worker
            .record_page(with_auth(page, &c.worker_auth))
            .await?
            .into_inner();
        record(&mut latency, t0.elapsed());
        anyhow::ensure!(!last.cancelled, "run cancelled under the benchmark");
    }
    let secs = started.elapsed().as_secs_f64();
    c.worker
        .complete_run(with_auth(
            v1::CompleteRunRequest { lease: Some(lease) },
            &c.worker_auth,
        ))
        .await?;
    Ok(json!({
        "page_size": page_size,
        "papers": total,
        "seconds": secs,
        "papers_per_s": total as f64 / secs,
        "papers_found": last.papers_found,
        "papers_imported": last.papers_imported,
        "page_latency_ms": latency_json(&latency),
    }))
}

/// `COPY` of the same rows into a fresh unindexed table.
async fn copy(database_url: &str, papers: &[Paper]) -> anyhow::Result<Value> {
    let mut conn = PgConnection::connect(database_url).await?;
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_copy_papers;
         CREATE TABLE bench_copy_papers (
             id uuid, organization_id uuid, title text NOT NULL, abstract text,
             authors jsonb NOT NULL, publication_date text, date_precision text, venue text,
             doi text, openalex_id text, pmid text, url text, citation_count bigint,
             sources text[])",
    )
    .execute(&mut conn)
    .await?;
    let org = Uuid::new_v4();
    let mut text = String::with_capacity(papers.len() * 1400);
    for p in papers {
        p.copy_line(Uuid::new_v4(), org, "pubmed", &mut text);
    }
    let bytes = text.len();
    let started = Instant::now();
    let mut sink = conn
        .copy_in_raw(&format!(
            "COPY bench_copy_papers ({COPY_COLUMNS}) FROM STDIN"
        ))
        .await?;
    for chunk in text.as_bytes().chunks(1 << 20) {
        sink.send(chunk).await?;
    }
    let rows = sink.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    sqlx::raw_sql("DROP TABLE bench_copy_papers")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(json!({"rows": rows, "bytes": bytes, "seconds": secs, "rows_per_s": rows as f64 / secs}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let channel = Channel::from_shared(cli.grpc_url.clone())?
        .connect()
        .await?;
    let mut clients = Clients {
        runs: RunServiceClient::new(channel.clone()),
        worker: WorkerServiceClient::new(channel),
        worker_auth: bearer_metadata(&env_secret("WORKER_TOKEN")?)?,
        secret: env_secret("JWT_SECRET")?,
    };
    let papers: Vec<Paper> = (0..cli.papers).map(Paper::nth_with_duplicates).collect();
    let records: Vec<v1::PaperRecord> = papers.iter().map(Paper::to_proto).collect();
    let avg_bytes = records
        .iter()
        .map(|r| prost::Message::encoded_len(r) as f64)
        .sum::<f64>()
        / records.len().max(1) as f64;
    let mut measurements = Vec::new();
    for repeat in 0..cli.repeats {
        for &page_size in &cli.page_sizes {
            let imported = import(&mut clients, &records, page_size).await?;
            let copied = copy(&cli.database_url, &papers).await?;
            let ratio = imported["papers_per_s"].as_f64().unwrap_or(0.0)
                / copied["rows_per_s"].as_f64().unwrap_or(f64::NAN);
            measurements.push(json!({
                "repeat": repeat, "page_size": page_size,
                "record_page": imported, "copy": copied, "ratio_to_copy": ratio,
            }));
        }
    }
    bench::print_json(&json!({
        "scenario": "import",
        "papers": cli.papers,
        "duplicates": cli.papers / 2,
        "avg_record_bytes_protobuf": avg_bytes,
        "measurements": measurements,
    }));
    Ok(())
}
