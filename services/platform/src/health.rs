//! The small HTTP endpoint every non-HTTP service exposes on `METRICS_ADDR`:
//! `/healthz` (alive), `/readyz` (dependencies reachable) and `/metrics`
//! (Prometheus text format).

use axum::{Router, extract::State, http::StatusCode, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global Prometheus recorder once per process and returns its handle.
pub fn prometheus() -> PrometheusHandle {
    PROMETHEUS
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0, 300.0, 1800.0,
            ];
            // Batch sizes are counts of calls, not seconds (`coalesced_batch_size`).
            let batch_sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), &batch_sizes)
                })
                .expect("static, non-empty buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be global (several services in one test process).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Shared readiness flag: set once the service's dependencies are up.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router(readiness: Readiness) -> Router {
    let handle = prometheus();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(r): State<Readiness>| async move {
                if r.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .with_state(readiness)
        .route("/metrics", get(move || async move { handle.render() }))
}

/// Binds `addr` (port 0 picks a free one) and serves [`router`] until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    readiness: Readiness,
    shutdown: crate::shutdown::Shutdown,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(crate::net::without_nagle(listener), router(readiness))
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
    });
    Ok(bound)
}
