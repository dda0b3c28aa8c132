//! The `http.request` span of every request, continuing the caller's trace.

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use std::time::Duration;
use tracing::Span;
use tracing::field::display;
use uuid::Uuid;

/// Creates the request's span, parented on an incoming `traceparent`, so the trace
/// continues into the gRPC call (see `grpc_client`).
pub fn make_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format_args!("{} {}", req.method(), route),
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = route,
        request_id = request_id,
    );
    platform::propagation::set_parent(&span, platform::propagation::extract_http(req.headers()));
    span
}

/// The caller's organisation, left on the response by the permission middleware for
/// the access log.
#[derive(Debug, Clone, Copy)]
pub struct CallerOrg(pub Uuid);

/// Sets the request span's `enduser.org` attribute (OpenTelemetry only: see
/// [`platform::telemetry::set_span_attribute`]).
pub fn set_caller_org(span: &Span, org: Uuid) {
    platform::telemetry::set_span_attribute(span, "enduser.org", org.to_string());
}

/// Sets the span's status attribute and logs one line per request.
pub fn on_response(response: &Response, latency: Duration, span: &Span) {
    let status = response.status().as_u16();
    platform::telemetry::set_span_attribute(span, "http.response.status_code", i64::from(status));
    let org = response
        .extensions()
        .get::<CallerOrg>()
        .map(|o| display(o.0));
    tracing::info!(
        status,
        org,
        latency_ms = latency.as_millis() as u64,
        "request finished"
    );
}
