//! Wiring: the source client, the ingestion-control client, the consumer and the
//! health/metrics endpoint.

use crate::config::Config;
use crate::consume::Consumer;
use crate::control_client::ControlClient;
use crate::job::JobRunner;
use crate::pacer::SharedPacer;
use platform::failpoints::Failpoints;
use platform::health::Readiness;
use platform::shutdown::Shutdown;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Application {
    consumer: Consumer,
    metrics_addr: SocketAddr,
    worker_id: String,
}

impl Application {
    pub async fn build(
        config: Config,
        failpoints: Failpoints,
        shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        let control = ControlClient::new(
            &config.control_url,
            config.worker_credential.token(),
            config.control_attempts,
        )?;
        let rps = config.source_config.requests_per_second;
        let pacer: Arc<dyn sources::RequestPacer> = if config.shared_rate_limit {
            Arc::new(SharedPacer {
                // One quick try per request: a slow permit must not stall the page.
                control: ControlClient::new(
                    &config.control_url,
                    config.worker_credential.token(),
                    1,
                )?,
                source: config.source,
                requests_per_second: rps,
                fallback: sources::LocalPacer::new(rps),
            })
        } else {
            Arc::new(sources::LocalPacer::new(rps))
        };
        let client: Arc<dyn sources::SourceClient> = Arc::from(sources::client_for(
            config.source.as_str(),
            config.source_config.clone(),
            pacer,
        )?);
        let worker_id = format!(
            "{}-{}-{}",
            config.source,
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            uuid::Uuid::new_v4().simple()
        );
        let readiness = Readiness::default();
        let metrics_addr =
            platform::health::serve(config.metrics_addr, readiness.clone(), shutdown.clone())
                .await?;
        let runner = Arc::new(JobRunner {
            source: config.source,
            worker_id: worker_id.clone(),
            control,
            client,
            heartbeat: config.heartbeat,
            shutdown: shutdown.clone(),
            failpoints,
        });
        tracing::info!(source = %config.source, queue = %config.queue(), %metrics_addr, worker_id, "source-fetcher starting");
        Ok(Application {
            consumer: Consumer {
                amqp_url: config.amqp_url.expose().to_owned(),
                queue: config.queue(),
                prefetch: config.prefetch.max(1),
                step_timeout: crate::consume::BROKER_STEP_TIMEOUT,
                runner,
                readiness,
                shutdown,
            },
            metrics_addr,
            worker_id,
        })
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Consumes until shutdown; the job in hand is finished or released first.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.consumer.run().await;
        tracing::info!("source-fetcher stopped");
        Ok(())
    }
}
