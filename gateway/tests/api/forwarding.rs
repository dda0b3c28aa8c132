//! What the gateway forwards to ingestion-control in gRPC metadata.

use crate::helpers::{RUN_ID, spawn_app, token};
use platform::auth::Role;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn the_callers_bearer_token_and_traceparent_are_forwarded() {
    let app = spawn_app().await;
    let t = token(Role::Member);
    let resp = app
        .client
        .post(app.url("/papers/ingest/openalex/async"))
        .bearer_auth(&t)
        .header("traceparent", TRACEPARENT)
        .header("x-request-id", "req-abc-123")
        .header("content-type", "application/json")
        .body(r#"{"query": "q"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let (metadata, _) = app.fake.last_call();
    assert_eq!(
        metadata.get("authorization").unwrap(),
        &format!("Bearer {t}")
    );
    // Without an OpenTelemetry exporter there is no gateway span, so the caller's
    // context goes through as it came (tests/trace_context.rs covers the child span).
    assert_eq!(metadata.get("traceparent").unwrap(), TRACEPARENT);
    assert_eq!(metadata.get("x-request-id").unwrap(), "req-abc-123");
}

#[tokio::test]
async fn every_run_service_call_carries_the_token() {
    let app = spawn_app().await;
    let viewer = token(Role::Viewer);
    let admin = token(Role::Admin);
    app.get("/ingestion/runs/", &viewer).await;
    app.get(&format!("/ingestion/runs/{RUN_ID}"), &viewer).await;
    app.get(&format!("/ingestion/runs/{RUN_ID}/events"), &viewer)
        .await
        .text()
        .await
        .unwrap();
    app.get("/papers", &viewer).await;
    app.get(&format!("/papers/{RUN_ID}"), &viewer).await;
    app.post(&format!("/ingestion/runs/{RUN_ID}/retry"), &admin)
        .await;
    app.post(&format!("/ingestion/runs/{RUN_ID}/cancel"), &admin)
        .await;
    let calls = app.fake.calls();
    assert_eq!(calls.len(), 7);
    for (i, (metadata, call)) in calls.iter().enumerate() {
        let expected = if i < 5 { &viewer } else { &admin };
        assert_eq!(
            metadata.get("authorization").unwrap(),
            &format!("Bearer {expected}"),
            "{call:?}"
        );
        assert!(
            metadata.get("traceparent").is_none(),
            "no incoming trace, none invented"
        );
    }
}

#[tokio::test]
async fn a_malformed_traceparent_is_not_forwarded() {
    let app = spawn_app().await;
    app.client
        .get(app.url("/ingestion/runs/"))
        .bearer_auth(token(Role::Viewer))
        .header("traceparent", "00-zz-yy-01")
        .send()
        .await
        .unwrap();
    assert!(app.fake.last_call().0.get("traceparent").is_none());
}
