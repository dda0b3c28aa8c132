//! `floors`: the storage work of a start and of a read, with no gRPC or HTTP in
//! front, in the same closed loop as `loadgen` (same concurrency, same pool size as
//! ingestion-control's `DATABASE_MAX_CONNECTIONS`, default 16).
//!
//! - `floors start`: `BEGIN; INSERT … RETURNING *; COMMIT`, publish the job
//!   (persistent, mandatory, publisher confirm) on one confirm channel shared by all
//!   workers, then `UPDATE … SET published_at` — exactly what `CreateRun` stores.
//! - `floors read`: `SELECT * FROM ingest_runs WHERE id = $1 AND organization_id = $2`.
//!
//! The pool does not ping connections as it hands them out unless
//! `--test-before-acquire` (ingestion-control's setting) is given: the floor is the
//! statements alone. `--parts` takes the start floor apart for profiling.

use bench::closed_loop::{self, LoopConfig, spread_index};
use clap::{Parser, Subcommand};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// ingestion-control's default `PUBLISH_TIMEOUT_MS`.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(
    name = "floors",
    about = "Start and read floors straight against the stores"
)]
struct Cli {
    /// The benchmark database (the migrations are applied if needed).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Pool size: ingestion-control's `DATABASE_MAX_CONNECTIONS`.
    #[arg(long, default_value_t = 16)]
    pool: u32,
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
    /// Ping each connection as the pool hands it out (sqlx's default, and
    /// ingestion-control's setting): one more round trip per operation. Off, the
    /// floor is the statements alone.
    #[arg(long)]
    test_before_acquire: bool,
    /// The organisation of the rows.
    #[arg(long)]
    org: Uuid,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Insert + commit, publish with confirm, mark published.
    Start {
        #[arg(long, env = "AMQP_URL")]
        amqp_url: String,
        /// The stack's exchange; jobs are routed to `<exchange>.pubmed`.
        #[arg(long, env = "AMQP_EXCHANGE")]
        exchange: String,
        /// Which steps to run, to take the floor apart (profiling).
        #[arg(long, value_delimiter = ',', default_value = "insert,publish,update")]
        parts: Vec<Part>,
    },
    /// Primary-key reads of the ids in `--ids-file`.
    Read {
        #[arg(long)]
        ids_file: std::path::PathBuf,
    },
}

/// A step of a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// `BEGIN; INSERT … RETURNING *; COMMIT`.
    Insert,
    /// Publish with confirm.
    Publish,
    /// `UPDATE … SET published_at` (of a row inserted in this operation, or of
    /// nothing when `insert` is not among the parts).
    Update,
}

struct StartFloor {
    pool: PgPool,
    channel: Channel,
    exchange: String,
    org: Uuid,
    parts: Vec<Part>,
}

impl StartFloor {
    async fn once(&self) -> Result<(), String> {
        let id = Uuid::now_v7();
        if self.parts.contains(&Part::Insert) {
            self.insert(id).await?;
        }
        if self.parts.contains(&Part::Publish) {
            self.publish(id).await?;
        }
        if self.parts.contains(&Part::Update) {
            self.mark_published(id).await?;
        }
        Ok(())
    }

    /// One statement, committed on its own: `runs::insert` for a start without an
    /// idempotency key.
    async fn insert(&self, id: Uuid) -> Result<(), String> {
        sqlx::query(
            "INSERT INTO ingest_runs (id, organization_id, requested_by, source, query, filters, max_results)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(id)
        .bind(self.org)
        .bind("floor")
        .bind("pubmed")
        .bind("benchmark start load")
        .bind(serde_json::json!({}))
        .bind(100i32)
        .fetch_one(&self.pool)
        .await
        .map(drop)
        .map_err(db)
    }

    async fn publish(&self, id: Uuid) -> Result<(), String> {
        let body = serde_json::to_vec(&serde_json::json!({
            "run_id": id, "source": "pubmed", "attempt": 1
        }))
        .map_err(|e| e.to_string())?;
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2)
            .with_message_id(ShortString::from(id.to_string()))
            .with_type(ShortString::from("ingest.job"))
            .with_headers(FieldTable::default());
        let publish = async {
            self.channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    "pubmed".into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    properties,
                )
                .await
                .map_err(|e| format!("publish: {e}"))?
                .await
                .map_err(|e| format!("confirm: {e}"))
        };
        // Bounded as ingestion-control's publish is (PUBLISH_TIMEOUT_MS): a confirm that
        // never comes is an error of this operation, not a stalled benchmark.
        let confirm = tokio::time::timeout(PUBLISH_TIMEOUT, publish)
            .await
            .map_err(|_| format!("confirm: none within {PUBLISH_TIMEOUT:?}"))??;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err("unroutable".into()),
            _ => Err("nack".into()),
        }
    }

    async fn mark_published(&self, id: Uuid) -> Result<(), String> {
        sqlx::query(
            // The same statement as ingestion-control's `runs::mark_published`,
            // committed without waiting for the WAL flush as it is (ADR-028).
            "WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
             UPDATE ingest_runs SET published_at = now(), publish_attempts = publish_attempts + 1
             WHERE id = $1 AND attempt = $2 AND published_at IS NULL AND status IN ('queued', 'running')
               AND EXISTS (SELECT FROM relaxed)",
        )
        .bind(id)
        .bind(1i32)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

fn db(e: sqlx::Error) -> String {
    format!("db: {e}")
}

async fn read_once(pool: &PgPool, id: Uuid, org: Uuid) -> Result<(), String> {
    let row = sqlx::query("SELECT * FROM ingest_runs WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .fetch_optional(pool)
        .await
        .map_err(|e| format!("db: {e}"))?;
    row.map(|_| ()).ok_or_else(|| "not found".to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let pool = PgPoolOptions::new()
        .max_connections(cli.pool)
        .test_before_acquire(cli.test_before_acquire)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&cli.database_url)
        .await?;
    MIGRATOR.run(&pool).await?;
    let cfg = LoopConfig {
        concurrency: cli.concurrency,
        duration: Duration::from_secs_f64(cli.duration_secs),
        warmup: Duration::from_secs_f64(cli.warmup_secs),
    };
    let mut out_parts: Vec<String> = Vec::new();
    let (scenario, result) = match cli.mode {
        Mode::Start {
            amqp_url,
            exchange,
            parts,
        } => {
            let connection = Connection::connect(
                &amqp_url,
                ConnectionProperties::default().with_connection_name("bench floors".into()),
            )
            .await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            let floor = Arc::new(StartFloor {
                pool: pool.clone(),
                channel,
                exchange,
                org: cli.org,
                parts: parts.clone(),
            });
            let result = closed_loop::run(cfg, move |_, _| {
                let floor = floor.clone();
                async move { floor.once().await }
            })
            .await;
            let _ = connection.close(200, "done".into()).await;
            out_parts = parts
                .iter()
                .map(|p| format!("{p:?}").to_lowercase())
                .collect();
            ("start_floor", result)
        }
        Mode::Read { ids_file } => {
            let ids: Vec<Uuid> = std::fs::read_to_string(&ids_file)?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Uuid::parse_str(l.trim()))
                .collect::<Result<_, _>>()?;
            anyhow::ensure!(!ids.is_empty(), "no ids in {}", ids_file.display());
            let ids = Arc::new(ids);
            let (pool, org) = (pool.clone(), cli.org);
            let result = closed_loop::run(cfg, move |worker, seq| {
                let (pool, ids) = (pool.clone(), ids.clone());
                async move { read_once(&pool, ids[spread_index(worker, seq, ids.len())], org).await }
            })
            .await;
            ("read_floor", result)
        }
    };
    pool.close().await;
    let mut out = result.to_json(&cfg);
    out["scenario"] = scenario.into();
    out["tool"] = "floors".into();
    out["pool"] = cli.pool.into();
    out["test_before_acquire"] = cli.test_before_acquire.into();
    if !out_parts.is_empty() {
        out["parts"] = out_parts.into();
    }
    bench::print_json(&out);
    Ok(())
}
