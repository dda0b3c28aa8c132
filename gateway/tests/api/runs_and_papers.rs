//! Reading runs and papers: parameters in, JSON out.

use crate::fake_control::Received;
use crate::helpers::{PAPER_ID, RUN_ID, problem, spawn_app, token};
use ingestion_proto::v1;
use platform::auth::Role;
use serde_json::Value;

#[tokio::test]
async fn runs_are_listed_with_and_without_the_trailing_slash() {
    let app = spawn_app().await;
    for path in ["/ingestion/runs/", "/ingestion/runs"] {
        let resp = app.get(path, &token(Role::Viewer)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["items"].as_array().unwrap().len(), 2);
        assert_eq!(body["items"][0]["id"], RUN_ID);
        assert_eq!(body["next_cursor"], "next-page");
    }
}

#[tokio::test]
async fn list_parameters_are_passed_to_control() {
    let app = spawn_app().await;
    app.get(
        "/ingestion/runs/?source=semantic-scholar&status=failed&limit=200&cursor=abc_-123",
        &token(Role::Viewer),
    )
    .await;
    let Received::ListRuns(req) = app.fake.last_call().1 else {
        panic!("ListRuns")
    };
    assert_eq!(req.source, v1::Source::SemanticScholar as i32);
    assert_eq!(req.status, v1::RunStatus::Failed as i32);
    assert_eq!(req.limit, 200);
    assert_eq!(req.cursor, "abc_-123");

    app.get(
        "/ingestion/runs/?source=semantic_scholar",
        &token(Role::Viewer),
    )
    .await;
    let Received::ListRuns(req) = app.fake.last_call().1 else {
        panic!("ListRuns")
    };
    assert_eq!(req.source, v1::Source::SemanticScholar as i32);
    assert_eq!(req.limit, 50, "limit defaults to 50");
    assert_eq!(req.status, 0);
}

#[tokio::test]
async fn bad_list_parameters_are_400s_naming_the_parameter() {
    let app = spawn_app().await;
    let viewer = token(Role::Viewer);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("source=crossref", "source"),
        ("status=paused", "status"),
    ] {
        let p = problem(
            app.get(&format!("/ingestion/runs/?{query}"), &viewer).await,
            400,
        )
        .await;
        assert_eq!(p.field.as_deref(), Some(field), "{query}");
    }
    let p = problem(app.get("/papers?run_id=nope", &viewer).await, 400).await;
    assert_eq!(p.field.as_deref(), Some("run_id"));
    assert!(app.fake.calls().is_empty());
}

#[tokio::test]
async fn a_run_has_every_contract_member_and_progress() {
    let app = spawn_app().await;
    let resp = app
        .get(&format!("/ingestion/runs/{RUN_ID}"), &token(Role::Viewer))
        .await;
    assert_eq!(resp.status(), 200);
    let run: Value = resp.json().await.unwrap();
    for key in [
        "id",
        "source",
        "status",
        "query",
        "filters",
        "max_results",
        "papers_found",
        "papers_imported",
        "expected_total",
        "pages_done",
        "progress",
        "attempt",
        "error_message",
        "created_at",
        "started_at",
        "completed_at",
    ] {
        assert!(run.get(key).is_some(), "missing {key}");
    }
    assert_eq!(run["status"], "running");
    assert_eq!(run["source"], "pubmed");
    assert_eq!(run["filters"]["from_date"], "2024-01-01");
    assert_eq!(run["progress"]["percent"], 40.0);
    assert!(run["completed_at"].is_null());
    assert!(chrono::DateTime::parse_from_rfc3339(run["created_at"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn retry_and_cancel_answer_the_run() {
    let app = spawn_app().await;
    let admin = token(Role::Admin);
    let run: Value = app
        .post(&format!("/ingestion/runs/{RUN_ID}/retry"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "queued");
    assert_eq!(run["attempt"], 2);
    assert!(matches!(app.fake.last_call().1, Received::Retry(r) if r.id == RUN_ID));
    let run: Value = app
        .post(&format!("/ingestion/runs/{RUN_ID}/cancel"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "cancelled");
}

#[tokio::test]
async fn papers_are_listed_with_their_filters_and_contract_shape() {
    let app = spawn_app().await;
    let resp = app
        .get(
            &format!("/papers?run_id={RUN_ID}&source=pubmed&doi=10.1000/XYZ&q=%20gene%20editing%20&limit=10&cursor=c1"),
            &token(Role::Viewer),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["next_cursor"].is_null());
    let paper = &body["items"][0];
    assert_eq!(paper["id"], PAPER_ID);
    assert_eq!(paper["abstract"], "Abstract.");
    assert_eq!(paper["authors"][0]["name"], "Ada Lovelace");
    assert_eq!(paper["authors"][0]["affiliations"][0], "Analytical Society");
    assert_eq!(paper["date_precision"], "month");
    assert_eq!(paper["external_ids"]["pmid"], "123");
    assert_eq!(paper["sources"][0], "pubmed");
    let Received::ListPapers(req) = app.fake.last_call().1 else {
        panic!("ListPapers")
    };
    assert_eq!(req.run_id.as_deref(), Some(RUN_ID));
    assert_eq!(req.source, v1::Source::Pubmed as i32);
    assert_eq!(req.doi.as_deref(), Some("10.1000/XYZ"));
    assert_eq!(req.title_search.as_deref(), Some("gene editing"));
    assert_eq!(req.limit, 10);
    assert_eq!(req.cursor, "c1");
}

#[tokio::test]
async fn one_paper_is_read_by_id() {
    let app = spawn_app().await;
    let resp = app
        .get(&format!("/papers/{PAPER_ID}"), &token(Role::Viewer))
        .await;
    assert_eq!(resp.status(), 200);
    let paper: Value = resp.json().await.unwrap();
    assert_eq!(paper["id"], PAPER_ID);
    assert_eq!(paper["citation_count"], 3);
}
