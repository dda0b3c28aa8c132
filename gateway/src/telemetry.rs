//! The `http.request` span of every request, continuing the caller's trace.

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use std::time::Duration;
use tracing::Span;
use tracing::field::Empty;

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
        http.response.status_code = Empty,
        request_id = request_id,
        enduser.org = Empty,
    );
    platform::propagation::set_parent(&span, platform::propagation::extract_http(req.headers()));
    span
}

/// Records the status on the span and logs one line per request.
pub fn on_response(response: &Response, latency: Duration, span: &Span) {
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    tracing::info!(
        status,
        latency_ms = latency.as_millis() as u64,
        "request finished"
    );
}
