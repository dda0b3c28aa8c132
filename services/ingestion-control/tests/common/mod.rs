//! Spawns the real ingestion-control in-process against a fresh PostgreSQL
//! database and its own RabbitMQ exchange and queues, and gives typed clients.
#![allow(dead_code)]

use ingestion_control::clock::ManualClock;
use ingestion_control::reconcile::Reconciler;
use ingestion_control::service::Control;
use ingestion_control::{Application, Config, Seams};
use ingestion_proto::v1;
use ingestion_proto::v1::run_service_client::RunServiceClient;
use ingestion_proto::v1::worker_service_client::WorkerServiceClient;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use platform::Source;
use platform::auth::{AuthConfig, Role, WorkerCredential};
use platform::config::Secret;
use platform::failpoints::Failpoints;
use platform::shutdown::Shutdown;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;
use uuid::Uuid;

pub use test_support::{JWT_SECRET, WORKER_TOKEN, amqp_url, org_a, org_b, token};

pub struct Options {
    pub amqp_url: String,
    pub failpoints: Failpoints,
    pub lease: Duration,
    pub max_claims: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            amqp_url: amqp_url(),
            failpoints: Failpoints::default(),
            lease: Duration::from_secs(30),
            max_claims: 3,
        }
    }
}

pub struct TestControl {
    pub grpc_url: String,
    pub metrics_url: String,
    pub db: PgPool,
    pub database: test_support::TestDatabase,
    pub exchange: String,
    pub clock: ManualClock,
    pub control: Control,
    pub reconciler: Reconciler,
    pub shutdown: Shutdown,
    pub amqp: lapin::Connection,
    pub amqp_channel: lapin::Channel,
}

pub async fn spawn(opts: Options) -> TestControl {
    let database = test_support::TestDatabase::create().await;
    let db_url = database.url.clone();
    let exchange = test_support::unique_exchange();
    let clock = ManualClock::default();
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        database_url: Secret::new(db_url.clone()),
        db_max_connections: 10,
        amqp_url: Secret::new(opts.amqp_url.clone()),
        exchange: exchange.clone(),
        delivery_limit: 3,
        auth: AuthConfig::hs256(Secret::new(JWT_SECRET)),
        worker_credential: WorkerCredential::new(Secret::new(WORKER_TOKEN)),
        lease: opts.lease,
        publish_timeout: Duration::from_secs(3),
        reconcile_interval: Duration::from_secs(3600),
        republish_after: Duration::from_secs(30),
        max_claims: opts.max_claims,
        // Tests merge the title index themselves (db::papers::merge_title_index).
        title_index_merge_interval: None,
        dev_mode: false,
    };
    let seams = Seams {
        clock: Arc::new(clock.clone()),
        failpoints: opts.failpoints,
        run_reconciler: false,
    };
    let shutdown = Shutdown::new();
    let app = Application::build(config, seams, shutdown.clone())
        .await
        .expect("control builds");
    let grpc_url = format!("http://{}", app.grpc_addr());
    let metrics_url = format!("http://{}", app.metrics_addr());
    let control = app.control().clone();
    let reconciler = app.reconciler();
    tokio::spawn(app.run_until_stopped());
    let db = PgPool::connect(&db_url).await.unwrap();
    let (amqp, amqp_channel) = test_support::amqp_channel().await;
    TestControl {
        grpc_url,
        metrics_url,
        db,
        database,
        exchange,
        clock,
        control,
        reconciler,
        shutdown,
        amqp,
        amqp_channel,
    }
}

pub fn with_auth<T>(msg: T, bearer: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {bearer}").parse().unwrap());
    req
}

impl TestControl {
    pub async fn runs(&self) -> RunServiceClient<Channel> {
        RunServiceClient::connect(self.grpc_url.clone())
            .await
            .unwrap()
    }

    pub async fn workers(&self) -> WorkerServiceClient<Channel> {
        WorkerServiceClient::connect(self.grpc_url.clone())
            .await
            .unwrap()
    }

    pub fn queue(&self, source: Source) -> String {
        format!("{}.{}", self.exchange, source.as_str())
    }

    /// Messages ready in a source's queue.
    pub async fn queued_messages(&self, source: Source) -> u32 {
        let q = self
            .amqp_channel
            .queue_declare(
                self.queue(source).as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        q.message_count()
    }

    /// Takes one message from a source's queue (acknowledged).
    pub async fn take_message(&self, source: Source) -> Option<lapin::message::BasicGetMessage> {
        let msg = self
            .amqp_channel
            .basic_get(
                self.queue(source).as_str().into(),
                BasicGetOptions::default(),
            )
            .await
            .unwrap()?;
        msg.delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        Some(msg)
    }

    pub async fn start(
        &self,
        org: Uuid,
        source: Source,
        query: &str,
    ) -> Result<v1::Run, tonic::Status> {
        let req = v1::CreateRunRequest {
            source: source.to_proto() as i32,
            query: query.into(),
            max_results: 50,
            ..Default::default()
        };
        let res = self
            .runs()
            .await
            .create_run(with_auth(req, &token(org, Role::Member)))
            .await?;
        Ok(res.into_inner().run.unwrap())
    }

    pub async fn status_of(&self, id: &str) -> (String, Option<String>) {
        sqlx::query_as("SELECT status, error_message FROM ingest_runs WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn claim(&self, run_id: &str, source: Source, worker: &str) -> v1::ClaimRunResponse {
        let req = v1::ClaimRunRequest {
            run_id: run_id.into(),
            source: source.to_proto() as i32,
            worker_id: worker.into(),
            attempt: 1,
        };
        self.workers()
            .await
            .claim_run(with_auth(req, WORKER_TOKEN))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn record_page(
        &self,
        lease: &v1::Lease,
        papers: Vec<v1::PaperRecord>,
        checkpoint: &str,
    ) -> Result<v1::RecordPageResponse, tonic::Status> {
        self.record_page_at(lease, papers, checkpoint, None).await
    }

    /// RecordPage naming the page's place in the run, as a pipelining fetcher does.
    pub async fn record_page_at(
        &self,
        lease: &v1::Lease,
        papers: Vec<v1::PaperRecord>,
        checkpoint: &str,
        page_index: Option<u64>,
    ) -> Result<v1::RecordPageResponse, tonic::Status> {
        let req = v1::RecordPageRequest {
            lease: Some(lease.clone()),
            papers,
            checkpoint_json: checkpoint.into(),
            source_total: Some(1000),
            page_index,
        };
        Ok(self
            .workers()
            .await
            .record_page(with_auth(req, WORKER_TOKEN))
            .await?
            .into_inner())
    }

    pub async fn complete(&self, lease: &v1::Lease) -> Result<v1::Run, tonic::Status> {
        let req = v1::CompleteRunRequest {
            lease: Some(lease.clone()),
        };
        Ok(self
            .workers()
            .await
            .complete_run(with_auth(req, WORKER_TOKEN))
            .await?
            .into_inner()
            .run
            .unwrap())
    }

    /// Drops the database and the broker objects this test created.
    pub async fn teardown(self) {
        self.shutdown.trigger();
        self.db.close().await;
        test_support::delete_topology(&self.amqp_channel, &self.exchange).await;
        self.database.drop().await;
    }
}

pub fn lease(run: &v1::Run, worker: &str) -> v1::Lease {
    v1::Lease {
        run_id: run.id.clone(),
        worker_id: worker.into(),
        attempt: run.attempt,
    }
}

pub fn paper(title: &str, doi: Option<&str>, ids: v1::ExternalIds) -> v1::PaperRecord {
    v1::PaperRecord {
        title: title.into(),
        doi: doi.map(Into::into),
        external_ids: Some(ids),
        ..Default::default()
    }
}
