//! Jobs the broker dead-lettered (delivery limit reached, or rejected as unreadable)
//! fail their run with the reason, so no run waits for a job that will never come.

use crate::db::runs;
use crate::publish::Job;
use futures::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use platform::shutdown::Shutdown;
use sqlx::PgPool;
use std::time::Duration;

pub struct DeadLetters {
    pub amqp_url: String,
    pub queue: String,
    pub pool: PgPool,
}

/// The broker's reason from the `x-death` header (`delivery_limit`, `rejected`, …).
fn death_reason(headers: Option<&FieldTable>) -> String {
    let reason = headers
        .and_then(|h| h.inner().get("x-death"))
        .and_then(|v| match v {
            AMQPValue::FieldArray(deaths) => deaths.as_slice().first().cloned(),
            _ => None,
        })
        .and_then(|d| match d {
            AMQPValue::FieldTable(t) => t.inner().get("reason").cloned(),
            _ => None,
        });
    match reason {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Some(AMQPValue::ShortString(s)) => s.as_str().to_owned(),
        _ => "unknown".to_owned(),
    }
}

impl DeadLetters {
    pub fn spawn(self, shutdown: Shutdown) {
        tokio::spawn(async move {
            while !shutdown.is_triggered() {
                if let Err(e) = self.consume(&shutdown).await {
                    tracing::warn!(error = %e, "dead-letter consumer disconnected; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    () = shutdown.wait() => {}
                }
            }
        });
    }

    async fn consume(&self, shutdown: &Shutdown) -> anyhow::Result<()> {
        let conn = Connection::connect(
            &self.amqp_url,
            ConnectionProperties::default()
                .with_connection_name("ingestion-control dead letters".into()),
        )
        .await?;
        let channel = conn.create_channel().await?;
        let mut deliveries = channel
            .basic_consume(
                self.queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        loop {
            let delivery = tokio::select! {
                d = deliveries.next() => match d {
                    Some(d) => d?,
                    None => anyhow::bail!("consumer ended"),
                },
                () = shutdown.wait() => return Ok(()),
            };
            let reason = death_reason(delivery.properties.headers().as_ref());
            match serde_json::from_slice::<Job>(&delivery.data) {
                Ok(job) => {
                    let message = format!(
                        "the job was dead-lettered by the broker ({reason}): its fetcher could not process it \
                         within the delivery limit"
                    );
                    if let Some(run) = runs::fail_open(&self.pool, job.run_id, &message).await? {
                        metrics::counter!("runs_finished_total", "source" => run.source.clone(), "status" => "failed")
                            .increment(1);
                        tracing::warn!(run_id = %job.run_id, %reason, "dead-lettered job failed its run");
                    }
                }
                Err(_) => {
                    tracing::error!(%reason, bytes = delivery.data.len(), "unreadable dead-lettered message dropped")
                }
            }
            metrics::counter!("dead_lettered_jobs_total", "reason" => reason).increment(1);
            delivery.acker.ack(BasicAckOptions::default()).await?;
        }
    }
}
