//! The fetcher's client of `WorkerService`: service credential and trace context on
//! every call, and bounded retries with backoff when ingestion-control or its
//! database is briefly unreachable.

use ingestion_proto::v1::worker_service_client::WorkerServiceClient;
use platform::config::Secret;
use std::future::Future;
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

#[derive(Clone)]
pub struct WorkerAuth {
    header: MetadataValue<tonic::metadata::Ascii>,
}

impl Interceptor for WorkerAuth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        req.metadata_mut()
            .insert("authorization", self.header.clone());
        platform::propagation::inject_grpc(req.metadata_mut());
        Ok(req)
    }
}

pub type Client = WorkerServiceClient<InterceptedService<Channel, WorkerAuth>>;

#[derive(Clone)]
pub struct ControlClient {
    client: Client,
    attempts: u32,
}

impl ControlClient {
    /// Connects lazily: the fetcher starts while ingestion-control is down.
    pub fn new(url: &str, token: &Secret, attempts: u32) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(30))
            .connect_lazy();
        let header = format!("Bearer {}", token.expose())
            .parse()
            .map_err(|_| anyhow::anyhow!("WORKER_TOKEN is not a valid header value"))?;
        Ok(ControlClient {
            client: WorkerServiceClient::with_interceptor(channel, WorkerAuth { header }),
            attempts: attempts.max(1),
        })
    }

    /// Calls `f` until it succeeds, fails for good, or attempts run out.
    pub async fn call<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, Status>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match f(self.client.clone()).await {
                Ok(res) => return Ok(res.into_inner()),
                Err(status) if is_transient(&status) && attempt < self.attempts => {
                    tracing::warn!(call = what, attempt, code = ?status.code(), message = status.message(), "ingestion-control unavailable; retrying");
                    let jitter = rand::random_range(0..=delay.as_millis() as u64 / 2);
                    tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }
}

/// Worth retrying: the service or its database is briefly away.
pub fn is_transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    ) || (status.code() == Code::Unknown && status.message().contains("transport"))
}
