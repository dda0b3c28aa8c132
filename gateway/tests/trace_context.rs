//! With an OpenTelemetry layer installed (as `OTEL_EXPORTER_OTLP_ENDPOINT` does), the
//! gateway's `http.request` span continues the caller's trace, and ingestion-control
//! receives that span as its parent. Its own test binary, because it installs a global
//! tracing subscriber.

#[path = "api/fake_control.rs"]
mod fake_control;
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, token};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use platform::auth::Role;
use tracing_subscriber::layer::SubscriberExt as _;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn install_tracing() -> SdkTracerProvider {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("gateway-test"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::set_global_default(subscriber).expect("first and only subscriber");
    provider
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_call_is_a_child_of_the_gateway_span_in_the_callers_trace() {
    let _provider = install_tracing();
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/ingestion/runs/"))
        .bearer_auth(token(Role::Viewer))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (metadata, _) = app.fake.last_call();
    let forwarded = metadata
        .get("traceparent")
        .expect("traceparent forwarded")
        .to_str()
        .unwrap();
    let parts: Vec<&str> = forwarded.split('-').collect();
    assert_eq!(parts.len(), 4, "{forwarded}");
    assert_eq!(parts[1], TRACE_ID, "same trace");
    assert_ne!(parts[2], CALLER_SPAN, "parented on the gateway's own span");
    assert_eq!(parts[3], "01", "sampled flag kept");
}
