//! `import-bench` (issue 4): papers imported per second through a real
//! `WorkerService.RecordPage` of a running ingestion-control, beside a plain `COPY` of
//! the same rows into an unindexed table of the same database.
//!
//! Per repeat and page size: a fresh organisation; `RunService.CreateRun` with a
//! member token; `WorkerService.ClaimRun` with `WORKER_TOKEN`; the papers (half of
//! them duplicates of earlier ones) as pages pipelined as a fetcher sends them: page
//! k+1 is sent while page k is in flight, at most `--in-flight` at once, each with its
//! `page_index`, and a page answered ABORTED (its predecessor not committed) is resent
//! after a short pause; `CompleteRun`. Then `COPY … FROM STDIN` of the same rows into
//! a table of this process's own. Requests and COPY text are built before the clock
//! starts. `JWT_SECRET` and `WORKER_TOKEN` come from the environment.

use bench::auth::{bearer_metadata, env_secret, member_token, with_auth};
use bench::papers::{COPY_COLUMNS, Paper};
use bench::stats::{latency_histogram, latency_json, record};
use clap::Parser;
use ingestion_proto::v1;
use ingestion_proto::v1::run_service_client::RunServiceClient;
use ingestion_proto::v1::worker_service_client::WorkerServiceClient;
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use uuid::Uuid;

/// The pause before resending a page answered ABORTED, and how often at most.
const ABORTED_PAUSE: Duration = Duration::from_millis(20);
const ABORTED_TRIES: u32 = 50;

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
    /// `RecordPage` calls in flight at most, as the fetcher sends them (2); 1 sends
    /// pages one after another.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    in_flight: u32,
}

struct Clients {
    runs: RunServiceClient<Channel>,
    worker: WorkerServiceClient<Channel>,
    worker_auth: AsciiMetadataValue,
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

/// A fresh run's pages: built the same way before the clock starts and for a resend.
#[derive(Clone)]
struct Pages {
    lease: v1::Lease,
    records: Arc<[v1::PaperRecord]>,
    page_size: usize,
}

impl Pages {
    fn count(&self) -> usize {
        self.records.len().div_ceil(self.page_size)
    }

    fn request(&self, i: usize) -> v1::RecordPageRequest {
        let start = i * self.page_size;
        let end = (start + self.page_size).min(self.records.len());
        v1::RecordPageRequest {
            lease: Some(self.lease.clone()),
            papers: self.records[start..end].to_vec(),
            checkpoint_json: json!({"offset": end}).to_string(),
            source_total: Some(self.records.len() as u64),
            page_index: Some(i as u64),
        }
    }
}

/// A page's answer, its latency from the first send, and its resends.
struct Answer {
    response: v1::RecordPageResponse,
    latency: Duration,
    aborted_retries: u32,
}

/// Sends page `i` (prebuilt as `first`), resending it while it is answered ABORTED.
async fn send_page(
    mut worker: WorkerServiceClient<Channel>,
    auth: AsciiMetadataValue,
    pages: Pages,
    i: usize,
    first: v1::RecordPageRequest,
) -> anyhow::Result<Answer> {
    let t0 = Instant::now();
    let mut req = first;
    let mut aborted_retries = 0;
    loop {
        match worker.record_page(with_auth(req, &auth)).await {
            Ok(res) => {
                return Ok(Answer {
                    response: res.into_inner(),
                    latency: t0.elapsed(),
                    aborted_retries,
                });
            }
            Err(status) if status.code() == Code::Aborted && aborted_retries < ABORTED_TRIES => {
                aborted_retries += 1;
                tokio::time::sleep(ABORTED_PAUSE).await;
                req = pages.request(i);
            }
            Err(status) => anyhow::bail!("RecordPage of page {i}: {status}"),
        }
    }
}

/// One import of all papers in pages of `page_size`, at most `in_flight` pages sent
/// and not yet answered: after sending a page, the oldest answer is awaited while
/// `in_flight` are out, as the fetcher awaits the previous page's answer.
async fn import(
    c: &mut Clients,
    records: &Arc<[v1::PaperRecord]>,
    page_size: usize,
    in_flight: usize,
) -> anyhow::Result<Value> {
    let pages = Pages {
        lease: claimed_run(c).await?,
        records: records.clone(),
        page_size,
    };
    let total = records.len() as u64;
    let requests: Vec<v1::RecordPageRequest> =
        (0..pages.count()).map(|i| pages.request(i)).collect();
    let mut latency = latency_histogram();
    let mut last = v1::RecordPageResponse::default();
    let mut aborted_retries = 0u64;
    let mut sent = VecDeque::with_capacity(in_flight);
    let mut settle = |answer: Answer| {
        record(&mut latency, answer.latency);
        aborted_retries += u64::from(answer.aborted_retries);
        anyhow::ensure!(
            !answer.response.cancelled,
            "run cancelled under the benchmark"
        );
        last = answer.response;
        Ok(())
    };
    let started = Instant::now();
    for (i, req) in requests.into_iter().enumerate() {
        sent.push_back(tokio::spawn(send_page(
            c.worker.clone(),
            c.worker_auth.clone(),
            pages.clone(),
            i,
            req,
        )));
        if sent.len() >= in_flight
            && let Some(oldest) = sent.pop_front()
        {
            settle(oldest.await??)?;
        }
    }
    while let Some(oldest) = sent.pop_front() {
        settle(oldest.await??)?;
    }
    let secs = started.elapsed().as_secs_f64();
    c.worker
        .complete_run(with_auth(
            v1::CompleteRunRequest {
                lease: Some(pages.lease),
            },
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
        "aborted_retries": aborted_retries,
    }))
}

/// `COPY` of the same rows into a fresh unindexed table, named for this process so
/// two benchmarks in one database do not meet; dropped again even when the COPY fails.
async fn copy(database_url: &str, papers: &[Paper]) -> anyhow::Result<Value> {
    let mut conn = PgConnection::connect(database_url).await?;
    let table = format!("bench_copy_papers_{}", Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (
             id uuid, organization_id uuid, title text NOT NULL, abstract text,
             authors jsonb NOT NULL, publication_date text, date_precision text, venue text,
             doi text, openalex_id text, pmid text, url text, citation_count bigint,
             sources text[])"
    )))
    .execute(&mut conn)
    .await?;
    let copied = copy_into(&mut conn, &table, papers).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    copied
}

async fn copy_into(
    conn: &mut PgConnection,
    table: &str,
    papers: &[Paper],
) -> anyhow::Result<Value> {
    let org = Uuid::new_v4();
    let mut text = String::with_capacity(papers.len() * 1400);
    for p in papers {
        p.copy_line(Uuid::new_v4(), org, "pubmed", &mut text);
    }
    let bytes = text.len();
    let started = Instant::now();
    let mut sink = conn
        .copy_in_raw(&format!("COPY {table} ({COPY_COLUMNS}) FROM STDIN"))
        .await?;
    for chunk in text.as_bytes().chunks(1 << 20) {
        sink.send(chunk).await?;
    }
    let rows = sink.finish().await?;
    let secs = started.elapsed().as_secs_f64();
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
    let records: Arc<[v1::PaperRecord]> = papers.iter().map(Paper::to_proto).collect();
    let avg_bytes = records
        .iter()
        .map(|r| prost::Message::encoded_len(r) as f64)
        .sum::<f64>()
        / records.len().max(1) as f64;
    let in_flight = cli.in_flight as usize;
    let mut measurements = Vec::new();
    for repeat in 0..cli.repeats {
        for &page_size in &cli.page_sizes {
            let imported = import(&mut clients, &records, page_size, in_flight).await?;
            let copied = copy(&cli.database_url, &papers).await?;
            let ratio = imported["papers_per_s"].as_f64().unwrap_or(0.0)
                / copied["rows_per_s"].as_f64().unwrap_or(f64::NAN);
            measurements.push(json!({
                "repeat": repeat, "page_size": page_size, "in_flight": in_flight,
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
