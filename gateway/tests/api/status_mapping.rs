//! ingestion-control's gRPC status → HTTP problem documents.

use crate::fake_control::{Fail, FakeControl};
use crate::helpers::{RUN_ID, hs256_auth, problem, spawn_app, start, token};
use gateway::Config;
use platform::auth::Role;
use tonic::Code;

#[tokio::test]
async fn not_found_is_a_404_problem() {
    let app = spawn_app().await;
    app.fake
        .script(|s| s.get_run = Some(Err(Fail(Code::NotFound, "run not found", vec![]))));
    let p = problem(
        app.get(&format!("/ingestion/runs/{RUN_ID}"), &token(Role::Viewer))
            .await,
        404,
    )
    .await;
    assert_eq!(p.detail, "run not found");
    assert_eq!(p.problem_type, "urn:foundations:problem:not-found");
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_a_404_without_asking_control() {
    let app = spawn_app().await;
    let viewer = token(Role::Viewer);
    problem(app.get("/ingestion/runs/not-a-uuid", &viewer).await, 404).await;
    problem(
        app.get("/ingestion/runs/not-a-uuid/events", &viewer).await,
        404,
    )
    .await;
    problem(app.get("/papers/42", &viewer).await, 404).await;
    problem(
        app.post("/ingestion/runs/x/retry", &token(Role::Admin))
            .await,
        404,
    )
    .await;
    assert!(app.fake.calls().is_empty());
}

#[tokio::test]
async fn unavailable_with_a_run_id_is_a_503_carrying_ingest_run_id() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.create = Some(Err(Fail(
            Code::Unavailable,
            "run was created but the job queue is unavailable: amqp://guest:guest@rabbit refused",
            vec![("x-ingest-run-id", RUN_ID.to_owned())],
        )))
    });
    let resp = app
        .post_json("/papers/ingest/pubmed/async", r#"{"query": "q"}"#)
        .await;
    let p = problem(resp, 503).await;
    assert_eq!(
        p.ingest_run_id.map(|u| u.to_string()).as_deref(),
        Some(RUN_ID)
    );
    assert!(p.detail.contains(RUN_ID));
    assert!(
        !p.detail.contains("guest"),
        "broker internals are not echoed"
    );
}

#[tokio::test]
async fn unavailable_without_a_run_id_is_a_plain_503() {
    let app = spawn_app().await;
    app.fake
        .script(|s| s.list_runs = Some(Err(Fail::code(Code::Unavailable))));
    let p = problem(app.get("/ingestion/runs/", &token(Role::Viewer)).await, 503).await;
    assert!(p.ingest_run_id.is_none());
}

#[tokio::test]
async fn failed_precondition_is_a_409() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.retry = Some(Err(Fail(
            Code::FailedPrecondition,
            "only failed or cancelled runs can be retried",
            vec![],
        )));
        s.cancel = Some(Err(Fail(
            Code::FailedPrecondition,
            "run already completed",
            vec![],
        )));
    });
    let admin = token(Role::Admin);
    let p = problem(
        app.post(&format!("/ingestion/runs/{RUN_ID}/retry"), &admin)
            .await,
        409,
    )
    .await;
    assert_eq!(p.detail, "only failed or cancelled runs can be retried");
    problem(
        app.post(&format!("/ingestion/runs/{RUN_ID}/cancel"), &admin)
            .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn invalid_argument_is_400_for_parameters_and_422_for_body_fields() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.list_runs = Some(Err(Fail(
            Code::InvalidArgument,
            "cursor: invalid cursor",
            vec![("x-field", "cursor".into())],
        )));
        s.create = Some(Err(Fail(
            Code::InvalidArgument,
            "filters.categories: invalid entry",
            vec![("x-field", "filters.categories".into())],
        )));
        s.list_papers = Some(Err(Fail(Code::InvalidArgument, "bad request", vec![])));
    });
    let p = problem(
        app.get("/ingestion/runs/?cursor=forged", &token(Role::Viewer))
            .await,
        400,
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("cursor"));
    let p = problem(
        app.post_json("/papers/ingest/arxiv/async", r#"{"query": "q"}"#)
            .await,
        422,
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("filters.categories"));
    let p = problem(app.get("/papers", &token(Role::Viewer)).await, 400).await;
    assert!(p.field.is_none());
}

#[tokio::test]
async fn permission_denied_and_unauthenticated_from_control_are_403_and_401() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.get_run = Some(Err(Fail(
            Code::PermissionDenied,
            "missing permission PAPERS_READ",
            vec![],
        )));
        s.list_runs = Some(Err(Fail(Code::Unauthenticated, "token revoked", vec![])));
    });
    let viewer = token(Role::Viewer);
    problem(
        app.get(&format!("/ingestion/runs/{RUN_ID}"), &viewer).await,
        403,
    )
    .await;
    let resp = app.get("/ingestion/runs/", &viewer).await;
    assert!(resp.headers().contains_key("www-authenticate"));
    problem(resp, 401).await;
}

#[tokio::test]
async fn deadline_exceeded_is_a_504_and_other_codes_a_generic_500() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.get_run = Some(Err(Fail(Code::DeadlineExceeded, "slow", vec![])));
        s.list_runs = Some(Err(Fail(
            Code::Internal,
            "database error: password=hunter2 at db:5432",
            vec![],
        )));
        s.list_papers = Some(Err(Fail(Code::ResourceExhausted, "pool exhausted", vec![])));
    });
    let viewer = token(Role::Viewer);
    problem(
        app.get(&format!("/ingestion/runs/{RUN_ID}"), &viewer).await,
        504,
    )
    .await;
    let p = problem(app.get("/ingestion/runs/", &viewer).await, 500).await;
    assert_eq!(p.detail, "internal error");
    let p = problem(app.get("/papers", &viewer).await, 500).await;
    assert!(!p.detail.contains("pool"));
}

#[tokio::test]
async fn control_being_down_is_a_503_and_the_gateway_still_starts() {
    // A port nothing listens on: the lazy channel lets the gateway start anyway.
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
    let p = problem(app.get("/ingestion/runs/", &token(Role::Viewer)).await, 503).await;
    assert!(
        !p.detail.contains("127.0.0.1"),
        "connection details are not echoed"
    );
    problem(
        app.post_json("/papers/ingest/pubmed/async", r#"{"query": "q"}"#)
            .await,
        503,
    )
    .await;
}

/// A "control" that accepts each connection and dies on it: after reading the
/// request (`read_first`), or at once.
async fn spawn_dying_control(read_first: bool) -> String {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            if read_first {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
            }
            drop(socket);
        }
    });
    url
}

#[tokio::test]
async fn control_dying_mid_call_is_a_503_not_a_500_or_a_504() {
    for read_first in [true, false] {
        let app = start(
            Config::new(
                "127.0.0.1:0".parse().unwrap(),
                spawn_dying_control(read_first).await,
                hs256_auth(),
            ),
            FakeControl::default(),
        )
        .await;
        let p = problem(
            app.post_json("/papers/ingest/pubmed/async", r#"{"query": "q"}"#)
                .await,
            503,
        )
        .await;
        assert!(p.detail.contains("temporarily unavailable"), "{p:?}");
        assert!(p.ingest_run_id.is_none());
        problem(app.get("/ingestion/runs/", &token(Role::Viewer)).await, 503).await;
    }
}
