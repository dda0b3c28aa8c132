//! The consume loop: manual acks, bounded prefetch, an ack only after the run's
//! outcome is stored; reconnects after a broker restart without a process restart.

use crate::job::{Disposition, JobRunner};
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use platform::health::Readiness;
use platform::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;

/// How long one step of opening the consumer (connect, channel, qos, consume) or of
/// closing it may take: a broker that is down or half-up (accepting connections while
/// it starts) must not hang the fetcher.
pub const BROKER_STEP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Consumer {
    pub amqp_url: String,
    pub queue: String,
    pub prefetch: u16,
    /// Bound on each broker set-up step, normally [`BROKER_STEP_TIMEOUT`].
    pub step_timeout: Duration,
    pub runner: Arc<JobRunner>,
    pub readiness: Readiness,
    pub shutdown: Shutdown,
}

/// Why opening the consumer stopped short.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("shutting down")]
    ShuttingDown,
    #[error("{step} did not complete within {timeout:?}")]
    TimedOut {
        step: &'static str,
        timeout: Duration,
    },
    #[error("{step} failed: {source}")]
    Broker {
        step: &'static str,
        #[source]
        source: lapin::Error,
    },
}

/// A consumer on the queue, with the connection and channel it lives on.
struct Session {
    connection: Connection,
    channel: Channel,
    deliveries: lapin::Consumer,
}

/// Opens a connection, a channel with `prefetch` and a consumer on `queue`; each step
/// is bounded by `step_timeout` and abandoned when `shutdown` fires.
async fn open_session(
    amqp_url: &str,
    queue: &str,
    prefetch: u16,
    step_timeout: Duration,
    shutdown: &Shutdown,
) -> Result<Session, SetupError> {
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("source-fetcher {queue}").into());
    let connection = bounded(
        "connect",
        step_timeout,
        shutdown,
        Connection::connect(amqp_url, properties),
    )
    .await?;
    // On an error below, dropping `connection` closes it in the background.
    let channel = bounded(
        "create_channel",
        step_timeout,
        shutdown,
        connection.create_channel(),
    )
    .await?;
    bounded(
        "basic_qos",
        step_timeout,
        shutdown,
        channel.basic_qos(prefetch, BasicQosOptions::default()),
    )
    .await?;
    // The queue is declared by ingestion-control; consuming before it exists fails
    // and is retried, rather than declaring it here with possibly different arguments.
    let deliveries = bounded(
        "basic_consume",
        step_timeout,
        shutdown,
        channel.basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    Ok(Session {
        connection,
        channel,
        deliveries,
    })
}

/// `fut`, bounded by `timeout` and cut short by `shutdown`.
async fn bounded<T>(
    step: &'static str,
    timeout: Duration,
    shutdown: &Shutdown,
    fut: impl Future<Output = lapin::Result<T>>,
) -> Result<T, SetupError> {
    tokio::select! {
        result = tokio::time::timeout(timeout, fut) => match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(SetupError::Broker { step, source }),
            Err(_) => Err(SetupError::TimedOut { step, timeout }),
        },
        () = shutdown.wait() => Err(SetupError::ShuttingDown),
    }
}

/// The pause before the next reconnect attempt: doubling from 200 ms up to 5 s, and
/// back to the start once a consumer is running again, so a broker restart after a
/// long healthy spell is retried quickly.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (pause * 2).min(Self::MAX);
        pause
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Consumer {
    /// Consumes until shutdown, reconnecting with backoff whenever the broker goes away.
    pub async fn run(self) {
        let mut backoff = Backoff::new();
        while !self.shutdown.is_triggered() {
            if let Err(e) = self.consume_once(&mut backoff).await {
                self.readiness.set(false);
                tracing::warn!(error = %e, queue = %self.queue, "broker connection lost or refused; reconnecting");
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next_pause()) => {}
                () = self.shutdown.wait() => {}
            }
        }
        self.readiness.set(false);
    }

    async fn consume_once(&self, backoff: &mut Backoff) -> anyhow::Result<()> {
        let session = open_session(
            &self.amqp_url,
            &self.queue,
            self.prefetch,
            self.step_timeout,
            &self.shutdown,
        )
        .await;
        let Session {
            connection,
            channel,
            mut deliveries,
        } = match session {
            Ok(session) => session,
            Err(SetupError::ShuttingDown) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        backoff.reset();
        self.readiness.set(true);
        tracing::info!(queue = %self.queue, prefetch = self.prefetch, "consuming");
        loop {
            let next = tokio::select! {
                next = deliveries.next() => next,
                () = self.shutdown.wait() => {
                    // Stop taking deliveries; unacknowledged ones return to the queue on
                    // close. Bounded: a broker that stopped answering must not hold up exit.
                    let _ = tokio::time::timeout(
                        self.step_timeout,
                        channel.close(200, "shutting down".into()),
                    )
                    .await;
                    let _ = tokio::time::timeout(
                        self.step_timeout,
                        connection.close(200, "shutting down".into()),
                    )
                    .await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A "broker" that accepts connections and never says a word, like RabbitMQ
    /// while it starts; returns its URL and the accepted sockets' count.
    async fn mute_broker() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("amqp://guest:guest@{}/%2f", listener.local_addr().unwrap());
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        (url, accepted)
    }

    #[tokio::test]
    async fn a_broker_that_never_answers_times_the_connect_out() {
        let (url, accepted) = mute_broker().await;
        let started = tokio::time::Instant::now();
        let outcome = open_session(
            &url,
            "ingest.pubmed",
            1,
            Duration::from_millis(300),
            &Shutdown::new(),
        )
        .await;
        assert!(
            matches!(
                outcome,
                Err(SetupError::TimedOut {
                    step: "connect",
                    ..
                })
            ),
            "{:?}",
            outcome.err()
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn shutdown_cuts_a_hanging_set_up_short() {
        let (url, _) = mute_broker().await;
        let shutdown = Shutdown::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            trigger.trigger();
        });
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            open_session(
                &url,
                "ingest.pubmed",
                1,
                Duration::from_secs(3600),
                &shutdown,
            ),
        )
        .await
        .expect("shutdown ends the set-up, not the step timeout");
        assert!(
            matches!(outcome, Err(SetupError::ShuttingDown)),
            "{:?}",
            outcome.err()
        );
    }

    #[test]
    fn the_backoff_doubles_to_its_cap_and_starts_over_after_a_reset() {
        let mut backoff = Backoff::new();
        let pauses: Vec<u64> = (0..7)
            .map(|_| backoff.next_pause().as_millis() as u64)
            .collect();
        assert_eq!(pauses, [200, 400, 800, 1600, 3200, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_pause(), Duration::from_millis(200));
    }
}
