//! The whole stack in one test process: the replay server standing in for the four
//! source APIs, ingestion-control on a fresh database and its own exchange, fetchers,
//! and the gateway — all real, talking over real sockets to the real PostgreSQL and
//! RabbitMQ. Tests drive it through HTTP like the frontend does.

use ingestion_control::clock::ManualClock;
use ingestion_control::reconcile::Reconciler;
use ingestion_control::service::Control;
use platform::Source;
use platform::auth::{AuthConfig, Role, WorkerCredential};
use platform::config::Secret;
use platform::failpoints::Failpoints;
use platform::shutdown::Shutdown;
use replay_server::ReplayServer;
use serde_json::Value;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use test_support::{JWT_SECRET, TestDatabase, WORKER_TOKEN};
use tokio::task::JoinHandle;

pub mod processes;
pub use test_support::{org_a, org_b, token};

/// A replay-server fault for one of our sources.
pub fn replay_fault(source: Source, kind: replay_server::FaultKind) -> replay_server::Fault {
    let replayed = replay_server::Source::parse(source.as_str())
        .expect("the replay server serves every source");
    replay_server::Fault::new(replayed, kind)
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Knobs of one stack.
#[derive(Clone)]
pub struct StackOptions {
    /// Sources whose fetcher starts with the stack (one each).
    pub fetchers: Vec<Source>,
    /// Requests per second each source allows (the replay server answers at once).
    pub requests_per_second: f64,
    pub lease: Duration,
    pub fetcher_failpoints: Failpoints,
    pub page_size: Option<u32>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            fetchers: Source::ALL.to_vec(),
            requests_per_second: 200.0,
            lease: Duration::from_secs(30),
            fetcher_failpoints: Failpoints::default(),
            page_size: None,
        }
    }
}

/// A running fetcher; `stop()` is a graceful SIGTERM, `abort()` a kill.
pub struct Fetcher {
    pub source: Source,
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
    pub metrics_url: String,
}

impl Fetcher {
    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.task).await;
    }

    /// Ends the fetcher without any clean-up, as a crash would (its broker
    /// connection drops, so its unacknowledged delivery is requeued).
    pub fn abort(self) {
        self.task.abort();
    }
}

pub struct TestStack {
    pub replay: ReplayServer,
    pub gateway_url: String,
    pub control_grpc_url: String,
    pub control_metrics_url: String,
    pub db: PgPool,
    pub clock: ManualClock,
    pub control: Control,
    pub reconciler: Reconciler,
    pub exchange: String,
    pub http: reqwest::Client,
    pub options: StackOptions,
    pub fetchers: Vec<Fetcher>,
    database: TestDatabase,
    control_shutdown: Shutdown,
    gateway_shutdown: Shutdown,
}

impl TestStack {
    pub async fn start(options: StackOptions) -> TestStack {
        let replay = ReplayServer::start("127.0.0.1:0".parse().expect("addr"), &fixtures_dir())
            .await
            .expect("replay server starts");
        let database = TestDatabase::create().await;
        let exchange = test_support::unique_exchange();
        let clock = ManualClock::default();
        let control_config = ingestion_control::Config {
            grpc_addr: "127.0.0.1:0".parse().expect("addr"),
            metrics_addr: "127.0.0.1:0".parse().expect("addr"),
            database_url: Secret::new(database.url.clone()),
            db_max_connections: 16,
            amqp_url: Secret::new(test_support::amqp_url()),
            exchange: exchange.clone(),
            delivery_limit: 5,
            auth: AuthConfig::hs256(Secret::new(JWT_SECRET)),
            worker_credential: WorkerCredential::new(Secret::new(WORKER_TOKEN)),
            lease: options.lease,
            publish_timeout: Duration::from_secs(5),
            reconcile_interval: Duration::from_secs(3600),
            republish_after: Duration::from_secs(30),
            max_claims: 5,
            title_index_merge_interval: Some(Duration::from_secs(1)),
            dev_mode: false,
        };
        let control_shutdown = Shutdown::new();
        let seams = ingestion_control::Seams {
            clock: Arc::new(clock.clone()),
            failpoints: Failpoints::default(),
            run_reconciler: false,
        };
        let app =
            ingestion_control::Application::build(control_config, seams, control_shutdown.clone())
                .await
                .expect("ingestion-control builds");
        let control_grpc_url = format!("http://{}", app.grpc_addr());
        let control_metrics_url = format!("http://{}", app.metrics_addr());
        let control = app.control().clone();
        let reconciler = app.reconciler();
        tokio::spawn(app.run_until_stopped());

        let gateway_shutdown = Shutdown::new();
        let gw_config = gateway::config::Config::new(
            "127.0.0.1:0".parse().expect("addr"),
            control_grpc_url.clone(),
            AuthConfig::hs256(Secret::new(JWT_SECRET)),
        );
        let gw = gateway::app::Application::build(gw_config)
            .await
            .expect("gateway builds");
        let gateway_url = format!("http://{}", gw.local_addr());
        tokio::spawn(gw.run_until_stopped(gateway_shutdown.clone()));

        let db = PgPool::connect(&database.url).await.expect("test database");
        let mut stack = TestStack {
            replay,
            gateway_url,
            control_grpc_url,
            control_metrics_url,
            db,
            clock,
            control,
            reconciler,
            exchange,
            http: reqwest::Client::new(),
            options: options.clone(),
            fetchers: Vec::new(),
            database,
            control_shutdown,
            gateway_shutdown,
        };
        for source in options.fetchers {
            let f = stack.spawn_fetcher(source).await;
            stack.fetchers.push(f);
        }
        stack
    }

    /// The configuration a fetcher of `source` gets in this stack.
    pub fn fetcher_config(&self, source: Source) -> source_fetcher::Config {
        let mut sc = sources::SourceConfig::default_for(source.as_str()).expect("known source");
        sc.base_url = self.replay.source_base_url(source.as_str());
        sc.requests_per_second = self.options.requests_per_second;
        sc.base_backoff = Duration::from_millis(20);
        sc.max_retry_wait = Duration::from_secs(5);
        sc.timeout = Duration::from_secs(10);
        if let Some(p) = self.options.page_size {
            sc.page_size = p;
        }
        source_fetcher::Config {
            source,
            amqp_url: Secret::new(test_support::amqp_url()),
            exchange: self.exchange.clone(),
            prefetch: 1,
            control_url: self.control_grpc_url.clone(),
            worker_credential: WorkerCredential::new(Secret::new(WORKER_TOKEN)),
            metrics_addr: "127.0.0.1:0".parse().expect("addr"),
            heartbeat: Duration::from_secs(5),
            control_attempts: 5,
            source_config: sc,
            shared_rate_limit: true,
            dev_mode: false,
        }
    }

    /// Starts one more fetcher of `source` (not added to `fetchers`).
    pub async fn spawn_fetcher(&self, source: Source) -> Fetcher {
        self.spawn_fetcher_with(
            self.fetcher_config(source),
            self.options.fetcher_failpoints.clone(),
        )
        .await
    }

    pub async fn spawn_fetcher_with(
        &self,
        config: source_fetcher::Config,
        failpoints: Failpoints,
    ) -> Fetcher {
        let shutdown = Shutdown::new();
        let source = config.source;
        let app = source_fetcher::Application::build(config, failpoints, shutdown.clone())
            .await
            .expect("fetcher builds");
        let metrics_url = format!("http://{}", app.metrics_addr());
        let task = tokio::spawn(app.run_until_stopped());
        Fetcher {
            source,
            shutdown,
            task,
            metrics_url,
        }
    }

    /// `POST /papers/ingest/{segment}/async` with `body`.
    pub async fn start_run(&self, source: Source, body: Value, bearer: &str) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/papers/ingest/{}/async",
                self.gateway_url,
                source.path_segment()
            ))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .expect("gateway reachable")
    }

    /// Starts a run as a member of organisation A and returns its id (asserting 202).
    pub async fn start_ok(&self, source: Source, query: &str, max_results: u32) -> String {
        let res = self
            .start_run(
                source,
                serde_json::json!({"query": query, "max_results": max_results}),
                &token(org_a(), Role::Member),
            )
            .await;
        let status = res.status();
        let body: Value = res.json().await.expect("json body");
        assert_eq!(status, 202, "start answered {status}: {body}");
        body["ingest_run_id"]
            .as_str()
            .expect("ingest_run_id")
            .to_owned()
    }

    pub async fn get_run(&self, id: &str, bearer: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}/ingestion/runs/{id}", self.gateway_url))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("gateway reachable");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Polls the run through the gateway until it is terminal (or `timeout`).
    pub async fn wait_terminal(&self, id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        let viewer = token(org_a(), Role::Viewer);
        loop {
            let (status, run) = self.get_run(id, &viewer).await;
            assert_eq!(status, 200, "GET run answered {status}: {run}");
            if matches!(
                run["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return run;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("run {id} not terminal after {timeout:?}: {run}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes a raw job body to this stack's exchange (confirmed), as a stray,
    /// duplicate or hostile producer would.
    pub async fn publish_raw(&self, routing_key: &str, body: Value) {
        use lapin::options::BasicPublishOptions;
        let (_conn, channel) = test_support::amqp_channel().await;
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirms");
        channel
            .basic_publish(
                self.exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body.to_string().as_bytes(),
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }

    /// Messages ready in a source's queue.
    pub async fn queue_depth(&self, source: Source) -> u32 {
        use lapin::options::QueueDeclareOptions;
        let (_conn, channel) = test_support::amqp_channel().await;
        let q = format!("{}.{}", self.exchange, source.as_str());
        channel
            .queue_declare(
                q.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("queue exists")
            .message_count()
    }

    /// Waits (5 s at most) until a source's queue has no ready message.
    pub async fn wait_queue_drained(&self, source: Source) -> u32 {
        for _ in 0..100 {
            if self.queue_depth(source).await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.queue_depth(source).await
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&self.db)
            .await
            .expect("count query");
        n
    }

    pub async fn teardown(mut self) {
        for f in self.fetchers.drain(..) {
            f.stop().await;
        }
        self.gateway_shutdown.trigger();
        self.control_shutdown.trigger();
        self.db.close().await;
        let (_conn, channel) = test_support::amqp_channel().await;
        test_support::delete_topology(&channel, &self.exchange).await;
        self.database.drop().await;
        self.replay.shutdown().await;
    }
}
