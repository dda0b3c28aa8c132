//! Per-request spans (continuing the caller's trace) and gRPC metrics.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// The span of one gRPC request, a child of the caller's `traceparent`.
pub fn grpc_request_span(req: &http::Request<()>) -> tracing::Span {
    let span = tracing::info_span!(
        "grpc.request",
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = %req.uri().path(),
    );
    // gRPC metadata are the request's HTTP/2 headers: read in place, not copied per call.
    platform::propagation::set_parent(&span, platform::propagation::extract_http(req.headers()));
    span
}

/// Records `grpc_requests_total{method,code}` and `grpc_request_duration_seconds{method}`.
/// Errors travel as trailers-only responses (status in the headers); a response
/// without `grpc-status` in its headers is a success whose status follows in trailers.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req.uri().path().to_owned();
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .map(|c| c.to_owned())
                    .unwrap_or_else(|| "0".to_owned()),
                Err(_) => "transport".to_owned(),
            };
            metrics::counter!("grpc_requests_total", "method" => method.clone(), "code" => code)
                .increment(1);
            metrics::histogram!("grpc_request_duration_seconds", "method" => method)
                .record(started.elapsed().as_secs_f64());
            res
        })
    }
}
