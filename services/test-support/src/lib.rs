//! Test primitives over the real local PostgreSQL and RabbitMQ: a fresh database per
//! test, an exchange (and so queues) of its own, and tokens. Used by every crate's
//! integration tests; production code never depends on it.

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use platform::Source;
use platform::auth::{self, Role};
use sqlx::PgPool;
use uuid::Uuid;

pub const JWT_SECRET: &str = "integration-test-secret-0123456789";
pub const WORKER_TOKEN: &str = "integration-worker-token-0123456789";

/// `TEST_DATABASE_URL`, default the local server's `postgres` database.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `TEST_AMQP_URL`, default the local broker.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A database created for one test; `drop()` removes it.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("fp_test_{}", Uuid::new_v4().simple());
        let admin = PgPool::connect(&admin_url())
            .await
            .expect("PostgreSQL reachable for tests");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let base = admin_url();
        let cut = base.rfind('/').expect("TEST_DATABASE_URL names a database");
        TestDatabase {
            url: format!("{}/{name}", &base[..cut]),
            name,
        }
    }

    pub async fn drop(&self) {
        if let Ok(admin) = PgPool::connect(&admin_url()).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

/// A unique exchange name, so a test's queues are `<exchange>.<source>`.
pub fn unique_exchange() -> String {
    format!("test-{}", Uuid::new_v4().simple())
}

/// Deletes the queues and exchanges ingestion-control declared under `exchange`.
pub async fn delete_topology(channel: &lapin::Channel, exchange: &str) {
    for source in Source::ALL {
        let q = format!("{exchange}.{}", source.as_str());
        let _ = channel
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let dl = format!("{exchange}.dead-letter");
    let _ = channel
        .queue_delete(dl.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = channel
        .exchange_delete(dl.as_str().into(), ExchangeDeleteOptions::default())
        .await;
    let _ = channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await;
}

pub async fn amqp_channel() -> (lapin::Connection, lapin::Channel) {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ reachable for tests");
    let channel = conn.create_channel().await.expect("AMQP channel");
    (conn, channel)
}

pub fn org_a() -> Uuid {
    Uuid::parse_str("0a0a0a0a-0000-4000-8000-00000000000a").expect("static uuid")
}

pub fn org_b() -> Uuid {
    Uuid::parse_str("0b0b0b0b-0000-4000-8000-00000000000b").expect("static uuid")
}

/// A user token for `org` with `role`, signed with [`JWT_SECRET`], valid 10 minutes.
pub fn token(org: Uuid, role: Role) -> String {
    auth::mint_hs256(JWT_SECRET, &auth::role_claims("tester", org, role, 600)).expect("token")
}
