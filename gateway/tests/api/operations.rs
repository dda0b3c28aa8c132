//! Unauthenticated endpoints, fallbacks, request ids, metrics and the OpenAPI document.

use crate::fake_control::FakeControl;
use crate::helpers::{hs256_auth, problem, spawn_app, start, token};
use gateway::Config;
use platform::auth::Role;
use serde_json::Value;

#[tokio::test]
async fn healthz_and_readyz_answer_without_a_token() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "the fake reports RunService SERVING");
}

#[tokio::test]
async fn readyz_is_503_while_control_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = start(
        Config::new("127.0.0.1:0".parse().unwrap(), url, hs256_auth()),
        FakeControl::default(),
    )
    .await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    app.get(
        &format!("/ingestion/runs/{}", crate::helpers::RUN_ID),
        &token(Role::Viewer),
    )
    .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The recorder is global to the test process: other tests' requests are in it too.
    let counted = text.lines().any(|l| {
        l.starts_with("http_requests_total{")
            && l.contains("route=\"/ingestion/runs/{id}\"")
            && l.contains("method=\"GET\"")
            && l.contains("status=\"200\"")
    });
    assert!(counted, "no counter for the template in:\n{text}");
    assert!(text.contains("http_request_duration_seconds"));
    assert!(
        !text.contains(crate::helpers::RUN_ID),
        "raw ids never become labels"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problem_documents() {
    let app = spawn_app().await;
    problem(app.client.get(app.url("/nope")).send().await.unwrap(), 404).await;
    let resp = app.client.delete(app.url("/healthz")).send().await.unwrap();
    problem(resp, 405).await;
}

#[tokio::test]
async fn a_request_id_is_set_and_echoed() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(uuid::Uuid::parse_str(resp.headers()["x-request-id"].to_str().unwrap()).is_ok());
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "caller-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "caller-chosen-id");
}

#[tokio::test]
async fn openapi_json_documents_every_endpoint_with_bearer_auth_and_problems() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/papers/ingest/openalex/async", "post"),
        ("/papers/ingest/pubmed/async", "post"),
        ("/papers/ingest/arxiv/async", "post"),
        ("/papers/ingest/semantic-scholar/async", "post"),
        ("/ingestion/runs/", "get"),
        ("/ingestion/runs/{id}", "get"),
        ("/ingestion/runs/{id}/events", "get"),
        ("/ingestion/runs/{id}/retry", "post"),
        ("/ingestion/runs/{id}/cancel", "post"),
        ("/papers", "get"),
        ("/papers/{id}", "get"),
        ("/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in expected {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(op.is_object(), "{method} {path}");
        let secured = op.get("security").is_some();
        let public = ["/openapi.json", "/healthz", "/readyz", "/metrics"].contains(&path);
        assert_eq!(secured, !public, "{path} security");
        if secured {
            for code in ["401", "403", "500"] {
                let content = &op["responses"][code]["content"]["application/problem+json"];
                assert!(content.is_object(), "{path} {code}");
            }
        }
    }
    assert_eq!(paths.len(), expected.len());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["bearerFormat"],
        "JWT"
    );
    for schema in [
        "Problem",
        "RunView",
        "PaperView",
        "StartRunResponse",
        "PubmedStart",
        "ArxivFilters",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    let s2 = &paths["/papers/ingest/semantic-scholar/async"]["post"];
    assert!(s2["responses"]["422"]["content"]["application/problem+json"].is_object());
    assert_eq!(
        s2["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SemanticScholarStart"
    );
}
