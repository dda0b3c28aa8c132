//! One trace from the click to the last page: the gateway's, ingestion-control's and the
//! fetcher's spans share one trace id and form one tree, as an OTLP collector sees them.
//! (Its own test binary: it installs the process-wide tracing subscriber.)

use e2e::{StackOptions, TestStack};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use platform::Source;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct SpanSeen {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    /// Attribute values as text (strings as they are, integers in decimal).
    attributes: HashMap<String, String>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<SpanSeen>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut seen = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                for s in ss.spans {
                    seen.push(SpanSeen {
                        trace_id: s.trace_id,
                        span_id: s.span_id,
                        parent: s.parent_span_id,
                        name: s.name,
                        attributes: s
                            .attributes
                            .into_iter()
                            .map(|kv| (kv.key, text(kv.value)))
                            .collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_ingestion_is_one_trace_across_gateway_control_broker_and_fetcher() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(server))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    let telemetry = platform::telemetry::init(&platform::telemetry::TelemetryConfig {
        service_name: "e2e",
        json_logs: false,
        otlp_endpoint: Some(endpoint),
    })
    .unwrap();

    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::Arxiv],
        ..Default::default()
    })
    .await;
    let res = stack
        .http
        .post(format!("{}/papers/ingest/arxiv/async", stack.gateway_url))
        .bearer_auth(e2e::token(e2e::org_a(), platform::auth::Role::Member))
        // The frontend's own trace: the whole ingestion must join it.
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&serde_json::json!({"query": "graph neural networks", "max_results": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<serde_json::Value>().await.unwrap()["ingest_run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = stack.wait_terminal(&id, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "completed");
    stack.teardown().await;
    telemetry.shutdown().await;

    let spans = collector.0.lock().unwrap().clone();
    let want_trace = hex("0af7651916cd43dd8448eb211c80319c");
    let in_trace: Vec<&SpanSeen> = spans.iter().filter(|s| s.trace_id == want_trace).collect();
    let names: HashSet<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    // The gateway names its span after the route (`otel.name`).
    const GATEWAY_SPAN: &str = "POST /papers/ingest/arxiv/async";
    for needed in [
        GATEWAY_SPAN,
        "grpc.request",
        "publish",
        "fetch.run",
        "source_request",
    ] {
        assert!(
            names.contains(needed),
            "span {needed} in the trace; saw {names:?}"
        );
    }
    // Known only after the gateway's span started, the status and the caller's
    // organisation still reach it.
    let gateway = in_trace.iter().find(|s| s.name == GATEWAY_SPAN).unwrap();
    assert_eq!(
        gateway
            .attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some("202")
    );
    assert_eq!(
        gateway.attributes.get("enduser.org"),
        Some(&e2e::org_a().to_string())
    );
    // One tree: every span's parent is in the trace, except the root whose parent is the
    // frontend's span.
    let ids: HashSet<&[u8]> = in_trace.iter().map(|s| s.span_id.as_slice()).collect();
    let frontend = hex("b7ad6b7169203331");
    for s in &in_trace {
        assert!(
            ids.contains(s.parent.as_slice()) || s.parent == frontend,
            "span {} hangs off an unknown parent",
            s.name
        );
    }
    // The fetcher's span descends from control's publish, which descends from the gateway.
    let by_id: HashMap<&[u8], &SpanSeen> = in_trace
        .iter()
        .map(|s| (s.span_id.as_slice(), *s))
        .collect();
    let fetch = in_trace.iter().find(|s| s.name == "fetch.run").unwrap();
    let mut chain = vec![fetch.name.clone()];
    let mut cur = *fetch;
    while let Some(p) = by_id.get(cur.parent.as_slice()) {
        chain.push(p.name.clone());
        cur = p;
    }
    assert_eq!(
        chain.last().map(String::as_str),
        Some(GATEWAY_SPAN),
        "fetch.run ← … ← the gateway's span: {chain:?}"
    );
    assert!(
        chain.iter().any(|n| n == "publish"),
        "through the published message: {chain:?}"
    );
    // The fetcher's calls back to control are children in the same trace.
    let fetch_children = in_trace
        .iter()
        .filter(|s| s.parent == fetch.span_id && s.name == "grpc.request")
        .count();
    assert!(
        fetch_children >= 2,
        "claim, pages and completion continue the trace ({fetch_children})"
    );
}

fn text(value: Option<AnyValue>) -> String {
    match value.and_then(|v| v.value) {
        Some(any_value::Value::StringValue(s)) => s,
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
