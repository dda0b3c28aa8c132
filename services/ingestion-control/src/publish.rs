//! Publishing jobs to RabbitMQ with publisher confirms.
//!
//! A publish counts only when the broker confirms it: persistent, `mandatory` (an
//! unroutable job comes back and is a failure, never a silent drop), bounded by a
//! timeout. The connection is opened lazily and re-opened after the broker
//! restarts, so a broker outage is a failed publish, not a dead process.

use lapin::Confirmation;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use platform::Source;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::Mutex;
use uuid::Uuid;

/// The job message body (`docs/architecture.md`, "Messages").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub run_id: Uuid,
    pub source: String,
    pub attempt: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker unreachable: {0}")]
    Unreachable(String),
    #[error("the broker could not route the job (no queue bound for `{0}`)")]
    Unroutable(String),
    #[error("the broker refused the job (nack)")]
    Nacked,
    #[error("no confirm from the broker within {0:?}")]
    Timeout(Duration),
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
}

impl PublishError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PublishError::Unreachable(_) => "unreachable",
            PublishError::Unroutable(_) => "unroutable",
            PublishError::Nacked => "nack",
            PublishError::Timeout(_) => "timeout",
            PublishError::Broker(_) => "broker",
        }
    }
}

/// The names of the broker topology under one exchange.
#[derive(Debug, Clone)]
pub struct Topology {
    pub exchange: String,
    pub delivery_limit: u32,
}

impl Topology {
    pub fn queue(&self, source: Source) -> String {
        format!("{}.{}", self.exchange, source.as_str())
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.exchange)
    }

    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letter", self.exchange)
    }

    /// Declares the exchange, one quorum queue per source with a delivery limit and
    /// dead-lettering, and the dead-letter queue. Idempotent.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        let queue_opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let mut dlq_args = FieldTable::default();
        dlq_args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        channel
            .queue_declare(
                self.dead_letter_queue().as_str().into(),
                queue_opts,
                dlq_args,
            )
            .await?;
        channel
            .queue_bind(
                self.dead_letter_queue().as_str().into(),
                self.dead_letter_exchange().as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for source in Source::ALL {
            let mut args = FieldTable::default();
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongInt(self.delivery_limit as i32),
            );
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(self.dead_letter_exchange().as_str().into()),
            );
            let queue = self.queue(source);
            channel
                .queue_declare(queue.as_str().into(), queue_opts, args)
                .await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    self.exchange.as_str().into(),
                    source.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

struct Link {
    _connection: Connection,
    channel: Channel,
}

pub struct Publisher {
    url: String,
    topology: Topology,
    timeout: Duration,
    link: Mutex<Option<Link>>,
}

impl Publisher {
    pub fn new(url: String, topology: Topology, timeout: Duration) -> Self {
        Publisher {
            url,
            topology,
            timeout,
            link: Mutex::new(None),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// A connected confirm-mode channel, (re)connecting if needed.
    async fn channel(&self) -> Result<Channel, PublishError> {
        let mut link = self.link.lock().await;
        if let Some(l) = link.as_ref()
            && l.channel.status().connected()
        {
            return Ok(l.channel.clone());
        }
        *link = None;
        let connect = async {
            let connection = Connection::connect(
                &self.url,
                ConnectionProperties::default().with_connection_name("ingestion-control".into()),
            )
            .await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            self.topology.declare(&channel).await?;
            Ok::<_, lapin::Error>(Link {
                _connection: connection,
                channel,
            })
        };
        let fresh = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| {
                PublishError::Unreachable(format!("no connection within {:?}", self.timeout))
            })?
            .map_err(|e| PublishError::Unreachable(e.to_string()))?;
        let channel = fresh.channel.clone();
        *link = Some(fresh);
        Ok(channel)
    }

    /// Connects and declares the topology (at start-up, so jobs for sources with no
    /// fetcher running wait in their queues).
    pub async fn declare_topology(&self) -> Result<(), PublishError> {
        self.channel().await.map(|_| ())
    }

    /// Publishes `job` and waits for the broker's confirm.
    // The job's fields once each, not again as its `Debug` form.
    #[tracing::instrument(skip_all, fields(run_id = %job.run_id, source = %job.source, attempt = job.attempt))]
    pub async fn publish(&self, job: &Job) -> Result<(), PublishError> {
        let result = self.try_publish(job).await;
        if let Err(e) = &result {
            metrics::counter!("run_publish_failures_total", "source" => job.source.clone(), "reason" => e.kind())
                .increment(1);
            // A broken link is dropped so the next publish reconnects.
            if matches!(e, PublishError::Broker(_) | PublishError::Timeout(_)) {
                *self.link.lock().await = None;
            }
        }
        result
    }

    async fn try_publish(&self, job: &Job) -> Result<(), PublishError> {
        let channel = self.channel().await?;
        let body = serde_json::to_vec(job).map_err(|e| PublishError::Unreachable(e.to_string()))?;
        let mut headers = FieldTable::default();
        platform::propagation::inject_amqp(&mut headers);
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2)
            .with_message_id(ShortString::from(job.run_id.to_string()))
            .with_type(ShortString::from("ingest.job"))
            .with_headers(headers);
        let confirm = async {
            let pending = channel
                .basic_publish(
                    self.topology.exchange.as_str().into(),
                    job.source.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    properties,
                )
                .await?;
            pending.await
        };
        match tokio::time::timeout(self.timeout, confirm).await {
            Err(_) => Err(PublishError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(PublishError::Broker(e)),
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable(job.source.clone())),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Nacked),
            Ok(Ok(Confirmation::NotRequested)) => Err(PublishError::Nacked),
        }
    }
}
