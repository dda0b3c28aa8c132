//! `bench-admin`: the chores of `scripts/bench.sh` that need a database or broker
//! client: create and drop the benchmark database, seed runs to read, purge or delete
//! the benchmark's queues, wait for an HTTP endpoint.

use clap::{Parser, Subcommand};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions, QueuePurgeOptions};
use lapin::{Connection, ConnectionProperties};
use sqlx::{Connection as _, PgConnection};
use std::time::{Duration, Instant};
use uuid::Uuid;

const SOURCES: [&str; 4] = ["openalex", "pubmed", "arxiv", "semantic_scholar"];

#[derive(Parser)]
#[command(name = "bench-admin", about = "Benchmark chores")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CREATE DATABASE <name> on the server of `--admin-url`.
    CreateDb {
        #[arg(long)]
        admin_url: String,
        #[arg(long)]
        name: String,
    },
    /// DROP DATABASE IF EXISTS <name> WITH (FORCE).
    DropDb {
        #[arg(long)]
        admin_url: String,
        #[arg(long)]
        name: String,
    },
    /// Inserts `--count` completed runs of `--org` and writes their ids, one a line.
    SeedRuns {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        org: Uuid,
        #[arg(long, default_value_t = 10_000)]
        count: i64,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Empties `<exchange>.<source>` for every source; prints how many were dropped.
    Purge {
        #[arg(long, env = "AMQP_URL")]
        amqp_url: String,
        #[arg(long)]
        exchange: String,
    },
    /// Deletes the queues and exchanges ingestion-control declared under `<exchange>`.
    DeleteTopology {
        #[arg(long, env = "AMQP_URL")]
        amqp_url: String,
        #[arg(long)]
        exchange: String,
    },
    /// Stands in for autovacuum's analyze where the server runs without it: every
    /// `--naptime-secs`, ANALYZE each table changed by more than 50 rows + 10 % since
    /// its last analyze (autovacuum's defaults). Runs until killed.
    Autoanalyze {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 60)]
        naptime_secs: u64,
    },
    /// Waits until `--url` answers 200.
    WaitHttp {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 60.0)]
        timeout_secs: f64,
    },
}

fn valid_db_name(name: &str) -> anyhow::Result<&str> {
    anyhow::ensure!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "database name `{name}` must be [a-z0-9_]+"
    );
    Ok(name)
}

async fn amqp(url: &str) -> anyhow::Result<(Connection, lapin::Channel)> {
    let conn = Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name("bench-admin".into()),
    )
    .await?;
    let channel = conn.create_channel().await?;
    Ok((conn, channel))
}

async fn autoanalyze(database_url: &str, naptime: Duration) -> anyhow::Result<()> {
    let mut c = PgConnection::connect(database_url).await?;
    loop {
        tokio::time::sleep(naptime).await;
        let due: Vec<(String,)> = sqlx::query_as(
            "SELECT quote_ident(s.relname) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
              WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)",
        )
        .fetch_all(&mut c)
        .await?;
        for (table,) in due {
            let started = Instant::now();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(&mut c)
                .await?;
            eprintln!("analyzed {table} in {:?}", started.elapsed());
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::CreateDb { admin_url, name } => {
            let mut c = PgConnection::connect(&admin_url).await?;
            let sql = format!("CREATE DATABASE {}", valid_db_name(&name)?);
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await?;
        }
        Command::DropDb { admin_url, name } => {
            let mut c = PgConnection::connect(&admin_url).await?;
            let sql = format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                valid_db_name(&name)?
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await?;
        }
        Command::SeedRuns {
            database_url,
            org,
            count,
            out,
        } => {
            let mut c = PgConnection::connect(&database_url).await?;
            // Finished runs as the frontend reads them: counters, checkpoint, timestamps.
            sqlx::query(
                "INSERT INTO ingest_runs (id, organization_id, requested_by, source, status, query,
                     filters, max_results, papers_found, papers_imported, expected_total, pages_done,
                     checkpoint_data, attempt, published_at, publish_attempts, claims,
                     started_at, completed_at, created_at)
                 SELECT gen_random_uuid(), $1, 'seed', 'pubmed', 'completed', 'seeded run ' || g,
                     '{\"from_date\": \"2020-01-01\"}'::jsonb, 100, 100, 90 + g % 10, 100, 1,
                     jsonb_build_object('webenv', 'MCID_' || g, 'retstart', 100), 1, now(), 1, 1,
                     now() - interval '1 minute', now(), now() - interval '2 minutes'
                 FROM generate_series(1, $2) AS g",
            )
            .bind(org)
            .bind(count)
            .execute(&mut c)
            .await?;
            let ids: Vec<(Uuid,)> =
                sqlx::query_as("SELECT id FROM ingest_runs WHERE organization_id = $1")
                    .bind(org)
                    .fetch_all(&mut c)
                    .await?;
            let text: String = ids.iter().map(|(id,)| format!("{id}\n")).collect();
            std::fs::write(&out, text)?;
            sqlx::raw_sql("ANALYZE ingest_runs").execute(&mut c).await?;
        }
        Command::Purge { amqp_url, exchange } => {
            let (conn, channel) = amqp(&amqp_url).await?;
            let mut purged = 0u64;
            for source in SOURCES {
                let q = format!("{exchange}.{source}");
                purged += u64::from(
                    channel
                        .queue_purge(q.as_str().into(), QueuePurgeOptions::default())
                        .await?,
                );
            }
            let _ = conn.close(200, "done".into()).await;
            bench::print_json(&serde_json::json!({"purged": purged}));
        }
        Command::DeleteTopology { amqp_url, exchange } => {
            let (conn, channel) = amqp(&amqp_url).await?;
            let queues = SOURCES
                .iter()
                .map(|s| format!("{exchange}.{s}"))
                .chain([format!("{exchange}.dead-letter")]);
            for q in queues {
                let _ = channel
                    .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for x in [exchange.clone(), format!("{exchange}.dead-letter")] {
                let _ = channel
                    .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
            let _ = conn.close(200, "done".into()).await;
        }
        Command::Autoanalyze {
            database_url,
            naptime_secs,
        } => autoanalyze(&database_url, Duration::from_secs(naptime_secs)).await?,
        Command::WaitHttp { url, timeout_secs } => {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(2))
                .build()?;
            let deadline = Instant::now() + Duration::from_secs_f64(timeout_secs);
            loop {
                if let Ok(r) = client.get(&url).send().await
                    && r.status().is_success()
                {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "{url} not ready in {timeout_secs} s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    Ok(())
}
