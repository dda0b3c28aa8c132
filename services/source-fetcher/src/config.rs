//! Configuration, read from the environment (and `--source`) once at start-up.

use platform::Source;
use platform::auth::WorkerCredential;
use platform::config::{self, ConfigError, Secret};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub amqp_url: Secret,
    /// Queues are `<exchange>.<source>` (`AMQP_EXCHANGE`, default `ingest`).
    pub exchange: String,
    /// Unacknowledged deliveries this process holds at once (`PREFETCH`, default 1:
    /// one run at a time, so the rest wait in the queue for other replicas).
    pub prefetch: u16,
    pub control_url: String,
    pub worker_credential: WorkerCredential,
    /// `METRICS_ADDR`; port 0 picks a free one so several fetchers share a host.
    pub metrics_addr: SocketAddr,
    /// How often a lease is renewed while a slow page is fetched (`HEARTBEAT_SECS`).
    pub heartbeat: Duration,
    /// Attempts for a call to ingestion-control that fails transiently (`CONTROL_RETRY_ATTEMPTS`).
    pub control_attempts: u32,
    pub source_config: sources::SourceConfig,
    /// Pace requests through ingestion-control so all replicas share the source's rate
    /// (`SHARED_RATE_LIMIT`, default on); off, each replica paces itself alone.
    pub shared_rate_limit: bool,
    pub dev_mode: bool,
}

impl Config {
    /// `source` from `--source` wins over `SOURCE`.
    pub fn from_env(source: Option<String>) -> Result<Self, ConfigError> {
        let dev_mode = config::flag("DEV_MODE");
        let raw = source
            .or_else(|| config::optional("SOURCE"))
            .ok_or(ConfigError::Missing("SOURCE"))?;
        let source: Source =
            raw.parse()
                .map_err(|e: platform::source::UnknownSource| ConfigError::Invalid {
                    name: "SOURCE",
                    reason: e.to_string(),
                })?;
        let source_config =
            sources::SourceConfig::from_env(source.as_str()).map_err(|e| ConfigError::Invalid {
                name: "SOURCE",
                reason: e.to_string(),
            })?;
        Ok(Config {
            source,
            amqp_url: Secret::new(config::required("AMQP_URL")?),
            exchange: config::optional("AMQP_EXCHANGE").unwrap_or_else(|| "ingest".into()),
            prefetch: config::parsed_or("PREFETCH", 1)?,
            control_url: config::optional("CONTROL_GRPC_URL")
                .unwrap_or_else(|| "http://127.0.0.1:50051".into()),
            worker_credential: WorkerCredential::from_env(dev_mode)?,
            metrics_addr: config::parsed_or("METRICS_ADDR", ([0, 0, 0, 0], 9090).into())?,
            heartbeat: Duration::from_secs(config::parsed_or("HEARTBEAT_SECS", 15)?),
            control_attempts: config::parsed_or("CONTROL_RETRY_ATTEMPTS", 8)?,
            source_config,
            shared_rate_limit: config::optional("SHARED_RATE_LIMIT")
                .is_none_or(|v| v != "0" && v != "false"),
            dev_mode,
        })
    }

    pub fn queue(&self) -> String {
        format!("{}.{}", self.exchange, self.source.as_str())
    }
}
