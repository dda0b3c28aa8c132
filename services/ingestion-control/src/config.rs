//! Configuration, read from the environment once at start-up.

use platform::auth::{AuthConfig, WorkerCredential};
use platform::config::{self, ConfigError, Secret};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC listen address (`CONTROL_GRPC_ADDR`, default `0.0.0.0:50051`).
    pub grpc_addr: SocketAddr,
    /// Health and metrics HTTP listen address (`METRICS_ADDR`, default `0.0.0.0:9090`).
    pub metrics_addr: SocketAddr,
    pub database_url: Secret,
    pub db_max_connections: u32,
    pub amqp_url: Secret,
    /// The jobs exchange (`AMQP_EXCHANGE`, default `ingest`); queues are `<exchange>.<source>`.
    pub exchange: String,
    /// Redeliveries before a job is dead-lettered (`AMQP_DELIVERY_LIMIT`).
    pub delivery_limit: u32,
    pub auth: AuthConfig,
    pub worker_credential: WorkerCredential,
    /// How long a claim or heartbeat keeps a run leased (`LEASE_SECS`).
    pub lease: Duration,
    /// Bound on connecting to the broker and awaiting a publish confirm (`PUBLISH_TIMEOUT_MS`).
    pub publish_timeout: Duration,
    /// How often the reconciler scans (`RECONCILE_INTERVAL_SECS`).
    pub reconcile_interval: Duration,
    /// How long a queued run may stay unconfirmed before the reconciler re-publishes it
    /// (`REPUBLISH_AFTER_SECS`).
    pub republish_after: Duration,
    /// Claims (first one and takeovers) before a run is failed instead of re-published
    /// (`MAX_CLAIMS`).
    pub max_claims: u32,
    /// How often the title index's pending list is merged (`TITLE_INDEX_MERGE_INTERVAL_MS`,
    /// default 1000; 0 leaves the merge to PostgreSQL, inside the imports). ADR-036.
    pub title_index_merge_interval: Option<Duration>,
    pub dev_mode: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let dev_mode = config::flag("DEV_MODE");
        Ok(Config {
            grpc_addr: config::parsed_or("CONTROL_GRPC_ADDR", ([0, 0, 0, 0], 50051).into())?,
            metrics_addr: config::parsed_or("METRICS_ADDR", ([0, 0, 0, 0], 9090).into())?,
            database_url: Secret::new(config::required("DATABASE_URL")?),
            db_max_connections: config::parsed_or("DATABASE_MAX_CONNECTIONS", 16)?,
            amqp_url: Secret::new(config::required("AMQP_URL")?),
            exchange: config::optional("AMQP_EXCHANGE").unwrap_or_else(|| "ingest".into()),
            delivery_limit: config::parsed_or("AMQP_DELIVERY_LIMIT", 5)?,
            auth: AuthConfig::from_env(dev_mode)?,
            worker_credential: WorkerCredential::from_env(dev_mode)?,
            lease: Duration::from_secs(config::parsed_or("LEASE_SECS", 60)?),
            publish_timeout: Duration::from_millis(config::parsed_or("PUBLISH_TIMEOUT_MS", 5_000)?),
            reconcile_interval: Duration::from_secs(config::parsed_or(
                "RECONCILE_INTERVAL_SECS",
                10,
            )?),
            republish_after: Duration::from_secs(config::parsed_or("REPUBLISH_AFTER_SECS", 30)?),
            max_claims: config::parsed_or("MAX_CLAIMS", 5)?,
            title_index_merge_interval: match config::parsed_or(
                "TITLE_INDEX_MERGE_INTERVAL_MS",
                1_000u64,
            )? {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            dev_mode,
        })
    }
}
