//! The client of ingestion-control's `RunService`.
//!
//! Channels are lazy, so the gateway starts (and answers `/healthz`) while control is
//! down. Unary calls share a channel with a per-call timeout; `WatchRun` gets its own
//! channel without one, because it streams for as long as the run lasts. One
//! interceptor injects the current trace context; the caller's `authorization` is set
//! per request (see [`Forwarded`]).

use ingestion_proto::v1::run_service_client::RunServiceClient;
use std::time::Duration;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The interceptor on every `RunService` call.
pub type TraceInterceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;
/// A `RunService` client with the trace interceptor.
pub type RunClient = RunServiceClient<InterceptedService<Channel, TraceInterceptor>>;

/// The gRPC service name whose health decides readiness.
pub const RUN_SERVICE_NAME: &str = "ingestion.v1.RunService";

/// Writes the current span's W3C context into the call's metadata. When there is
/// no active OpenTelemetry span (no exporter configured), a `traceparent` the request
/// already carries (the caller's, see [`Forwarded`]) is left as it is.
fn inject_trace(mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    platform::propagation::inject_grpc(req.metadata_mut());
    Ok(req)
}

/// Cheap-to-clone handles to ingestion-control.
#[derive(Clone)]
pub struct ControlClient {
    unary: RunClient,
    watch: RunClient,
    health: HealthClient<Channel>,
    health_timeout: Duration,
}

impl std::fmt::Debug for ControlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlClient")
    }
}

impl ControlClient {
    /// Lazy channels to `url`; nothing connects until the first call. Must run
    /// inside a Tokio runtime.
    pub fn connect_lazy(
        url: &str,
        connect_timeout: Duration,
        call_timeout: Duration,
    ) -> Result<Self, tonic::transport::Error> {
        let base = Endpoint::from_shared(url.to_owned())?.connect_timeout(connect_timeout);
        let unary = base.clone().timeout(call_timeout).connect_lazy();
        // No timeout: a watch lasts as long as the run. Keep-alive pings notice a dead peer.
        let watch = base
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .connect_lazy();
        let interceptor: TraceInterceptor = inject_trace;
        Ok(ControlClient {
            unary: RunServiceClient::with_interceptor(unary.clone(), interceptor),
            watch: RunServiceClient::with_interceptor(watch, interceptor),
            health: HealthClient::new(unary),
            health_timeout: connect_timeout,
        })
    }

    /// The client for unary calls (bounded by the call timeout).
    pub fn runs(&self) -> RunClient {
        self.unary.clone()
    }

    /// The client for `WatchRun` (no call timeout).
    pub fn watcher(&self) -> RunClient {
        self.watch.clone()
    }

    /// True when control's gRPC health check reports `RunService` as SERVING.
    pub async fn is_serving(&self) -> bool {
        let mut health = self.health.clone();
        let check = health.check(HealthCheckRequest {
            service: RUN_SERVICE_NAME.to_owned(),
        });
        match tokio::time::timeout(self.health_timeout, check).await {
            Ok(Ok(resp)) => resp.into_inner().status == ServingStatus::Serving as i32,
            Ok(Err(status)) => {
                tracing::debug!(code = ?status.code(), "ingestion-control health check failed");
                false
            }
            Err(_) => false,
        }
    }
}

/// What a gateway call carries on behalf of its caller: the caller's bearer token
/// (ingestion-control verifies it again and scopes to its organisation), as a
/// fallback parent the caller's `traceparent`, and the request id for log correlation.
#[derive(Debug, Clone)]
pub struct Forwarded {
    authorization: AsciiMetadataValue,
    traceparent: Option<AsciiMetadataValue>,
    request_id: Option<AsciiMetadataValue>,
}

impl Forwarded {
    /// `token` is the verified raw token; `traceparent` the incoming header, kept
    /// only when well formed; `request_id` the `x-request-id`, kept when short and
    /// visible ASCII.
    pub fn new(token: &str, traceparent: Option<&str>, request_id: Option<&str>) -> Option<Self> {
        let authorization = format!("Bearer {token}").parse().ok()?;
        let traceparent = traceparent
            .filter(|t| is_traceparent(t))
            .and_then(|t| t.parse().ok());
        let request_id = request_id
            .filter(|r| !r.is_empty() && r.len() <= 128 && r.bytes().all(|b| b.is_ascii_graphic()))
            .and_then(|r| r.parse().ok());
        Some(Forwarded {
            authorization,
            traceparent,
            request_id,
        })
    }

    /// Wraps `message` in a request carrying the forwarded metadata.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        self.apply(req.metadata_mut());
        req
    }

    fn apply(&self, metadata: &mut MetadataMap) {
        metadata.insert("authorization", self.authorization.clone());
        if let Some(tp) = &self.traceparent {
            metadata.insert("traceparent", tp.clone());
        }
        if let Some(id) = &self.request_id {
            metadata.insert("x-request-id", id.clone());
        }
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, lower case (W3C Trace Context, version 00).
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_traceparents_are_forwarded() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent("00-4bf92f35-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("garbage"));
    }

    #[test]
    fn forwarded_sets_authorization_and_traceparent() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let fwd = Forwarded::new("abc.def.ghi", Some(tp), Some("req-1")).expect("ascii token");
        let req = fwd.request(());
        assert_eq!(
            req.metadata().get("authorization").map(|v| v.to_str().ok()),
            Some(Some("Bearer abc.def.ghi"))
        );
        assert_eq!(
            req.metadata().get("traceparent").map(|v| v.to_str().ok()),
            Some(Some(tp))
        );
        assert_eq!(
            req.metadata().get("x-request-id").map(|v| v.to_str().ok()),
            Some(Some("req-1"))
        );
        let no_tp = Forwarded::new("t", Some("bogus"), Some("has space")).expect("ascii token");
        assert!(no_tp.request(()).metadata().get("traceparent").is_none());
        assert!(no_tp.request(()).metadata().get("x-request-id").is_none());
    }
}
