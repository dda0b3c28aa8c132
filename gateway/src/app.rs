//! The application: state, routes, middleware, and the listener it owns.

use crate::auth;
use crate::config::Config;
use crate::extract::BodyLimit;
use crate::grpc_client::ControlClient;
use crate::metrics;
use crate::openapi;
use crate::problem::ApiError;
use crate::routes::{events, health, ingest, papers, runs};
use crate::telemetry;
use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use platform::auth::JwtVerifier;
use platform::config::ConfigError;
use platform::shutdown::Shutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What every handler can reach. Routing clones the state of a route's handler and
/// middleware for every request, so it is one shared allocation.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state of a gateway with these parts.
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// ingestion-control's `RunService`.
    pub control: ControlClient,
    /// Verifies bearer tokens.
    pub verifier: JwtVerifier,
    /// Triggered when the server stops; open SSE streams end on it.
    pub shutdown: Shutdown,
    /// Interval of SSE keep-alive comments.
    pub sse_keep_alive: Duration,
}

impl FromRef<AppState> for JwtVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `CONTROL_GRPC_URL` is not a usable endpoint.
    #[error("CONTROL_GRPC_URL is invalid: {0}")]
    ControlUrl(#[from] tonic::transport::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from `GATEWAY_ADDR`.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Bounds the time to a response head. An SSE body streams on past it.
async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(format!(
            "the request did not finish within {} s",
            limit.as_secs()
        ))
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Every route with its permission, and the middleware around them.
pub fn router(state: AppState, config: &Config) -> Router {
    let verifier = state.verifier.clone();
    let read = Router::new()
        .route("/ingestion/runs/", get(runs::list_runs))
        .route("/ingestion/runs", get(runs::list_runs))
        .route("/ingestion/runs/{id}", get(runs::get_run))
        .route("/ingestion/runs/{id}/events", get(events::run_events))
        .route("/papers", get(papers::list_papers))
        .route("/papers/{id}", get(papers::get_paper))
        .route_layer(from_fn_with_state(verifier.clone(), auth::require_read));
    let write = Router::new()
        .route(
            "/papers/ingest/openalex/async",
            post(ingest::start_openalex),
        )
        .route("/papers/ingest/pubmed/async", post(ingest::start_pubmed))
        .route("/papers/ingest/arxiv/async", post(ingest::start_arxiv))
        .route(
            "/papers/ingest/semantic-scholar/async",
            post(ingest::start_semantic_scholar),
        )
        .route_layer(from_fn_with_state(verifier.clone(), auth::require_write));
    let manage = Router::new()
        .route("/ingestion/runs/{id}/retry", post(runs::retry_run))
        .route("/ingestion/runs/{id}/cancel", post(runs::cancel_run))
        .route_layer(from_fn_with_state(verifier, auth::require_manage));
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::openapi_json));

    // `layer` runs after routing, so the span and the metrics see the route template.
    // One `layer` call with the whole stack: each call wraps every route in another
    // boxed service, and routing clones the matched route's boxes per request.
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(telemetry::make_span)
                .on_response(telemetry::on_response)
                // `on_response` already logs 5xx; the default would log them again as ERROR.
                .on_failure(()),
        )
        .layer(Extension(BodyLimit(config.body_limit)))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(from_fn_with_state(config.request_timeout, request_timeout))
        .layer(from_fn(metrics::track_requests));
    Router::new()
        .merge(read)
        .merge(write)
        .merge(manage)
        .merge(public)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware)
        .with_state(state)
}

/// The gateway, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    streams: Shutdown,
}

impl Application {
    /// Binds `config.addr` (port 0 picks a free port) and prepares the lazy gRPC
    /// channels; nothing connects to ingestion-control yet. Installs the Prometheus
    /// recorder if none is installed.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let verifier = JwtVerifier::new(&config.auth)?;
        let control = ControlClient::connect_lazy(
            &config.control_grpc_url,
            config.grpc_connect_timeout,
            config.grpc_timeout,
        )?;
        platform::health::prometheus();
        let streams = Shutdown::new();
        let state = AppState::new(Shared {
            control,
            verifier,
            shutdown: streams.clone(),
            sse_keep_alive: config.sse_keep_alive,
        });
        let router = router(state, &config);
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.addr,
            source,
        })?;
        Ok(Application {
            listener,
            addr,
            router,
            streams,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` triggers, then ends open SSE streams, stops accepting,
    /// and waits for in-flight requests.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> std::io::Result<()> {
        let streams = self.streams.clone();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            signal.wait().await;
            streams.trigger();
        });
        tracing::info!(addr = %self.addr, "gateway listening");
        // `into_make_service`: each connection gets a clone of the built router (an Arc).
        // Serving the `Router` itself rebuilds every route's service stack per connection,
        // ~40 KB that a long-lived SSE connection keeps (BENCHMARKS.md, "Watch").
        axum::serve(
            platform::net::without_nagle(self.listener),
            self.router.into_make_service(),
        )
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
    }
}
