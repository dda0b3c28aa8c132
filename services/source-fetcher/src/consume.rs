//! The consume loop: manual acks, bounded prefetch, an ack only after the run's
//! outcome is stored; reconnects after a broker restart without a process restart.

use crate::job::{Disposition, JobRunner};
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use platform::health::Readiness;
use platform::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;

pub struct Consumer {
    pub amqp_url: String,
    pub queue: String,
    pub prefetch: u16,
    pub runner: Arc<JobRunner>,
    pub readiness: Readiness,
    pub shutdown: Shutdown,
}

impl Consumer {
    /// Consumes until shutdown, reconnecting with backoff whenever the broker goes away.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(200);
        while !self.shutdown.is_triggered() {
            match self.consume_once().await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    self.readiness.set(false);
                    tracing::warn!(error = %e, queue = %self.queue, "broker connection lost or refused; reconnecting");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.shutdown.wait() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        self.readiness.set(false);
    }

    async fn consume_once(&self) -> anyhow::Result<()> {
        let connection = Connection::connect(
            &self.amqp_url,
            ConnectionProperties::default()
                .with_connection_name(format!("source-fetcher {}", self.queue).into()),
        )
        .await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        // The queue is declared by ingestion-control; consuming before it exists fails
        // and is retried, rather than declaring it here with possibly different arguments.
        let mut deliveries = channel
            .basic_consume(
                self.queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        self.readiness.set(true);
        tracing::info!(queue = %self.queue, prefetch = self.prefetch, "consuming");
        loop {
            let next = tokio::select! {
                next = deliveries.next() => next,
                () = self.shutdown.wait() => {
                    // Stop taking deliveries; unacknowledged ones return to the queue on close.
                    let _ = channel.close(200, "shutting down".into()).await;
                    let _ = connection.close(200, "shutting down".into()).await;
                    return Ok(());
                }
            };
            let delivery = match next {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("the broker ended the consumer"),
            };
            metrics::counter!(
                "queue_deliveries_total",
                "queue" => self.queue.clone(),
                "redelivered" => if delivery.redelivered { "true" } else { "false" }
            )
            .increment(1);
            let parent = delivery
                .properties
                .headers()
                .as_ref()
                .map(platform::propagation::extract_amqp)
                .unwrap_or_default();
            let disposition = self.runner.handle(&delivery.data, parent).await;
            let acked = match disposition {
                Disposition::Ack => delivery.acker.ack(BasicAckOptions::default()).await,
                Disposition::Requeue => {
                    delivery
                        .acker
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        })
                        .await
                }
                Disposition::DeadLetter => {
                    delivery
                        .acker
                        .reject(BasicRejectOptions { requeue: false })
                        .await
                }
            };
            acked?;
        }
    }
}
