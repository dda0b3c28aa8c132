//! Wiring: the pool, the publisher, the gRPC server, the reconciler, the title-index
//! merger, the watch hub and the health/metrics endpoint.

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::db;
use crate::db::batched::RunBatches;
use crate::grpc::run_service::RunApi;
use crate::grpc::worker_service::WorkerApi;
use crate::publish::{Publisher, Topology};
use crate::reconcile::Reconciler;
use crate::service::Control;
use crate::title_index::TitleIndexMerger;
use crate::watch::WatchHub;
use ingestion_proto::v1::run_service_server::RunServiceServer;
use ingestion_proto::v1::worker_service_server::WorkerServiceServer;
use platform::auth::JwtVerifier;
use platform::failpoints::Failpoints;
use platform::health::Readiness;
use platform::shutdown::Shutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

/// Test seams; production uses the defaults.
#[derive(Clone)]
pub struct Seams {
    pub clock: SharedClock,
    pub failpoints: Failpoints,
    /// Whether the background reconciler runs (tests drive passes themselves).
    pub run_reconciler: bool,
}

impl Default for Seams {
    fn default() -> Self {
        Seams {
            clock: Arc::new(SystemClock),
            failpoints: Failpoints::from_env(),
            run_reconciler: true,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    grpc_addr: SocketAddr,
    metrics_addr: SocketAddr,
    control: Control,
    config: Config,
    seams: Seams,
    readiness: Readiness,
    shutdown: Shutdown,
}

/// Applies pending migrations (also what `ingestion-control migrate` does).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let pool = db::pool(database_url, 2)?;
    db::MIGRATOR.run(&pool).await?;
    pool.close().await;
    Ok(())
}

impl Application {
    /// Migrates, binds the listeners (port 0 picks free ones) and declares the broker
    /// topology. A broker that is down is not fatal: starts answer 503 until it is back.
    pub async fn build(
        config: Config,
        seams: Seams,
        shutdown: Shutdown,
    ) -> anyhow::Result<Application> {
        let pool = db::pool(config.database_url.expose(), config.db_max_connections)?;
        db::MIGRATOR.run(&pool).await?;
        let topology = Topology {
            exchange: config.exchange.clone(),
            delivery_limit: config.delivery_limit,
        };
        let publisher = Arc::new(Publisher::new(
            config.amqp_url.expose().to_owned(),
            topology,
            config.publish_timeout,
        ));
        if let Err(e) = publisher.declare_topology().await {
            tracing::warn!(error = %e, "broker not reachable at start-up; runs cannot start until it is");
        }
        let control = Control {
            batches: Arc::new(RunBatches::spawn(pool.clone(), config.db_max_connections)),
            pool,
            publisher,
            clock: seams.clock.clone(),
            lease: config.lease,
            max_claims: config.max_claims as i32,
            failpoints: seams.failpoints.clone(),
            pages: Default::default(),
        };
        let listener = TcpListener::bind(config.grpc_addr).await?;
        let grpc_addr = listener.local_addr()?;
        let readiness = Readiness::default();
        let metrics_addr =
            platform::health::serve(config.metrics_addr, readiness.clone(), shutdown.clone())
                .await?;
        tracing::info!(%grpc_addr, %metrics_addr, dev_mode = config.dev_mode, "ingestion-control listening");
        Ok(Application {
            listener,
            grpc_addr,
            metrics_addr,
            control,
            config,
            seams,
            readiness,
            shutdown,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    pub fn control(&self) -> &Control {
        &self.control
    }

    pub fn reconciler(&self) -> Reconciler {
        Reconciler {
            control: self.control.clone(),
            republish_after: self.config.republish_after,
            interval: self.config.reconcile_interval,
        }
    }

    /// Serves until the shutdown signal, then finishes in-flight calls.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let verifier = JwtVerifier::new(&self.config.auth)?;
        let watch = WatchHub::start(self.control.pool.clone(), self.shutdown.clone());
        if self.seams.run_reconciler {
            self.reconciler().spawn(self.shutdown.clone());
        }
        if let Some(interval) = self.config.title_index_merge_interval {
            TitleIndexMerger {
                pool: self.control.pool.clone(),
                interval,
            }
            .spawn(self.shutdown.clone());
        }
        crate::dead_letters::DeadLetters {
            amqp_url: self.config.amqp_url.expose().to_owned(),
            queue: self.control.publisher.topology().dead_letter_queue(),
            pool: self.control.pool.clone(),
        }
        .spawn(self.shutdown.clone());
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<RunServiceServer<RunApi>>()
            .await;
        health_reporter
            .set_serving::<WorkerServiceServer<WorkerApi>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ingestion_proto::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let run_api = RunApi {
            control: self.control.clone(),
            verifier,
            watch,
        };
        let worker_api = WorkerApi {
            control: self.control.clone(),
            credential: self.config.worker_credential.clone(),
        };
        self.readiness.set(true);
        let shutdown = self.shutdown.clone();
        tonic::transport::Server::builder()
            .trace_fn(crate::telemetry::grpc_request_span)
            .layer(crate::telemetry::GrpcMetricsLayer)
            .add_service(health_service)
            .add_service(reflection)
            .add_service(RunServiceServer::new(run_api))
            .add_service(WorkerServiceServer::new(worker_api))
            .serve_with_incoming_shutdown(
                // Nagle off: see platform::net::without_nagle.
                TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                async move { shutdown.wait().await },
            )
            .await?;
        self.readiness.set(false);
        tracing::info!("ingestion-control stopped");
        Ok(())
    }
}
