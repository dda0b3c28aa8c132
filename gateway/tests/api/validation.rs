//! Start endpoints: what is accepted, what is refused, and with which problem.

use crate::fake_control::Received;
use crate::helpers::{problem, spawn_app};
use ingestion_proto::v1::{self, run_filters::Filters};
use serde_json::{Value, json};

const PUBMED: &str = "/papers/ingest/pubmed/async";
const OPENALEX: &str = "/papers/ingest/openalex/async";
const ARXIV: &str = "/papers/ingest/arxiv/async";
const S2: &str = "/papers/ingest/semantic-scholar/async";

fn created(received: Received) -> v1::CreateRunRequest {
    match received {
        Received::Create(req) => req,
        other => panic!("expected CreateRun, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_start_answers_202_with_the_run_id_and_queued() {
    let app = spawn_app().await;
    let resp = app.post_json(PUBMED, r#"{"query": "  crispr  "}"#).await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let id = body["ingest_run_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(location, format!("/ingestion/runs/{id}"));
    assert_eq!(body["source"], "pubmed");
    assert_eq!(body["status"], "queued");
    assert!(body["message"].as_str().unwrap().contains(id));

    let req = created(app.fake.last_call().1);
    assert_eq!(req.source, v1::Source::Pubmed as i32);
    assert_eq!(req.query, "crispr", "query is trimmed");
    assert_eq!(req.max_results, 100, "max_results defaults to 100");
    assert!(req.filters.is_none());
    assert!(req.idempotency_key.is_none());
}

#[tokio::test]
async fn each_source_sends_its_own_typed_filters() {
    let app = spawn_app().await;
    let cases = [
        (
            OPENALEX,
            json!({"query": "q", "max_results": 10000, "filters": {"from_date": "2024-01-01", "to_date": "2024-01-01", "work_type": "book-chapter", "open_access": true}}),
            "openalex",
        ),
        (
            PUBMED,
            json!({"query": "q", "max_results": 1, "filters": {"to_date": "2024-02-29"}}),
            "pubmed",
        ),
        (
            ARXIV,
            json!({"query": "q", "filters": {"categories": ["cs.CL", "astro-ph.GA", "math"]}}),
            "arxiv",
        ),
        (
            S2,
            json!({"query": "q", "filters": {"fields_of_study": ["Computer Science"], "open_access_pdf": false, "min_citation_count": 5}}),
            "semantic_scholar",
        ),
    ];
    for (path, body, stored) in cases {
        let resp = app.post_json(path, &body.to_string()).await;
        assert_eq!(resp.status(), 202, "{path}");
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["source"], stored, "{path}");
        let req = created(app.fake.last_call().1);
        let filters = req.filters.and_then(|f| f.filters).expect("filters sent");
        match (stored, filters) {
            ("openalex", Filters::Openalex(f)) => {
                assert_eq!(req.max_results, 10000);
                assert_eq!(f.work_type.as_deref(), Some("book-chapter"));
                assert_eq!(f.open_access, Some(true));
                assert_eq!(f.from_date.as_deref(), Some("2024-01-01"));
            }
            ("pubmed", Filters::Pubmed(f)) => {
                assert_eq!(req.max_results, 1);
                assert_eq!(f.to_date.as_deref(), Some("2024-02-29"));
            }
            ("arxiv", Filters::Arxiv(f)) => {
                assert_eq!(f.categories, ["cs.CL", "astro-ph.GA", "math"]);
            }
            ("semantic_scholar", Filters::SemanticScholar(f)) => {
                assert_eq!(req.source, v1::Source::SemanticScholar as i32);
                assert_eq!(f.fields_of_study, ["Computer Science"]);
                assert_eq!(f.open_access_pdf, Some(false));
                assert_eq!(f.min_citation_count, Some(5));
            }
            (s, f) => panic!("{s} sent {f:?}"),
        }
    }
}

#[tokio::test]
async fn every_rule_breaking_member_is_a_422_naming_its_field() {
    let app = spawn_app().await;
    let long = "x".repeat(1001);
    let cases: Vec<(&str, Value, &str)> = vec![
        (PUBMED, json!({}), "query"),
        (PUBMED, json!({"query": ""}), "query"),
        (PUBMED, json!({"query": "   \n "}), "query"),
        (PUBMED, json!({"query": long}), "query"),
        (PUBMED, json!({"query": 42}), "query"),
        (PUBMED, json!({"query": null}), "query"),
        (PUBMED, json!({"query": "a\u{0007}b"}), "query"),
        (
            PUBMED,
            json!({"query": "q", "max_results": 0}),
            "max_results",
        ),
        (
            PUBMED,
            json!({"query": "q", "max_results": 10001}),
            "max_results",
        ),
        (
            PUBMED,
            json!({"query": "q", "max_results": -5}),
            "max_results",
        ),
        (
            PUBMED,
            json!({"query": "q", "max_results": 2.5}),
            "max_results",
        ),
        (
            PUBMED,
            json!({"query": "q", "max_results": "100"}),
            "max_results",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": "recent"}),
            "filters",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": ["2024-01-01"]}),
            "filters",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": {"from_date": "2023-02-29"}}),
            "filters.from_date",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": {"from_date": "2024-1-5"}}),
            "filters.from_date",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": {"to_date": "yesterday"}}),
            "filters.to_date",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": {"to_date": "2024-13-01"}}),
            "filters.to_date",
        ),
        (
            PUBMED,
            json!({"query": "q", "filters": {"from_date": "2024-06-02", "to_date": "2024-06-01"}}),
            "filters.from_date",
        ),
        (
            OPENALEX,
            json!({"query": "q", "filters": {"work_type": "Article"}}),
            "filters.work_type",
        ),
        (
            OPENALEX,
            json!({"query": "q", "filters": {"work_type": ""}}),
            "filters.work_type",
        ),
        (
            OPENALEX,
            json!({"query": "q", "filters": {"work_type": "a".repeat(41)}}),
            "filters.work_type",
        ),
        (
            OPENALEX,
            json!({"query": "q", "filters": {"open_access": "yes"}}),
            "filters.open_access",
        ),
        (
            ARXIV,
            json!({"query": "q", "filters": {"categories": ["cs.CL", "CS.cl"]}}),
            "filters.categories[1]",
        ),
        (
            ARXIV,
            json!({"query": "q", "filters": {"categories": ["cs."]}}),
            "filters.categories[0]",
        ),
        (
            ARXIV,
            json!({"query": "q", "filters": {"categories": vec!["math"; 21]}}),
            "filters.categories",
        ),
        (
            ARXIV,
            json!({"query": "q", "filters": {"categories": "cs.CL"}}),
            "filters.categories",
        ),
        (
            S2,
            json!({"query": "q", "filters": {"fields_of_study": vec!["Biology"; 21]}}),
            "filters.fields_of_study",
        ),
        (
            S2,
            json!({"query": "q", "filters": {"fields_of_study": ["x".repeat(65)]}}),
            "filters.fields_of_study[0]",
        ),
        (
            S2,
            json!({"query": "q", "filters": {"open_access_pdf": 1}}),
            "filters.open_access_pdf",
        ),
        (
            S2,
            json!({"query": "q", "filters": {"min_citation_count": -1}}),
            "filters.min_citation_count",
        ),
        (
            S2,
            json!({"query": "q", "filters": {"min_citation_count": 4294967296u64}}),
            "filters.min_citation_count",
        ),
    ];
    for (path, body, field) in cases {
        let resp = app.post_json(path, &body.to_string()).await;
        let p = problem(resp, 422).await;
        assert_eq!(p.field.as_deref(), Some(field), "{path} {body}");
        assert!(!p.detail.is_empty());
    }
    assert!(
        app.fake.calls().is_empty(),
        "nothing invalid reached ingestion-control"
    );
}

#[tokio::test]
async fn unknown_members_are_refused_with_their_path() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (PUBMED, json!({"query": "q", "limit": 5}), "limit"),
        (PUBMED, json!({"query": "q", "source": "pubmed"}), "source"),
        // Another source's filter is unknown to this source's body.
        (
            PUBMED,
            json!({"query": "q", "filters": {"categories": ["cs.CL"]}}),
            "filters.categories",
        ),
        (
            ARXIV,
            json!({"query": "q", "filters": {"work_type": "article"}}),
            "filters.work_type",
        ),
        (
            OPENALEX,
            json!({"query": "q", "filters": {"fields_of_study": []}}),
            "filters.fields_of_study",
        ),
    ];
    for (path, body, field) in cases {
        let p = problem(app.post_json(path, &body.to_string()).await, 422).await;
        assert_eq!(p.field.as_deref(), Some(field), "{path} {body}");
        assert!(p.detail.contains("unknown field"), "{}", p.detail);
    }
}

#[tokio::test]
async fn boundary_values_are_accepted() {
    let app = spawn_app().await;
    let thousand = "é".repeat(1000);
    for body in [
        json!({"query": thousand, "max_results": 1}),
        json!({"query": "q", "max_results": 10000, "filters": null}),
        json!({"query": "q", "filters": {}}),
        json!({"query": "q", "filters": {"from_date": "2024-02-29", "to_date": "2024-02-29"}}),
    ] {
        let resp = app.post_json(PUBMED, &body.to_string()).await;
        assert_eq!(resp.status(), 202, "{body}");
    }
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    for body in [
        r#"{"query": "q""#,
        "",
        "not json",
        r#"{"query": "q"} {}"#,
        r#"["q"]"#,
        "42",
    ] {
        let p = problem(app.post_json(PUBMED, body).await, 400).await;
        assert!(p.field.is_none(), "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;
    let token = crate::helpers::token(platform::auth::Role::Member);
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = app
            .client
            .post(app.url(PUBMED))
            .bearer_auth(&token)
            .body(r#"{"query": "q"}"#);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        problem(req.send().await.unwrap(), 415).await;
    }
    let resp = app
        .client
        .post(app.url(PUBMED))
        .bearer_auth(&token)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"query": "q"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "parameters on the media type are fine");
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let app = spawn_app().await;
    let big = json!({"query": "q".repeat(70 * 1024)}).to_string();
    problem(app.post_json(PUBMED, &big).await, 413).await;
    assert!(app.fake.calls().is_empty());
}

#[tokio::test]
async fn the_idempotency_key_is_forwarded_and_a_replay_says_so() {
    let app = spawn_app().await;
    let mut earlier = crate::fake_control::run(crate::helpers::RUN_ID, v1::RunStatus::Running);
    earlier.source = v1::Source::Arxiv as i32;
    app.fake.script(|s| {
        s.create = Some(Ok(v1::CreateRunResponse {
            run: Some(earlier),
            replayed: true,
        }))
    });
    let resp = app
        .client
        .post(app.url(ARXIV))
        .bearer_auth(crate::helpers::token(platform::auth::Role::Member))
        .header("content-type", "application/json")
        .header("Idempotency-Key", "order-42:retry")
        .body(r#"{"query": "q"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["ingest_run_id"], crate::helpers::RUN_ID);
    assert_eq!(
        body["status"], "running",
        "a replay shows the run's current status"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    let req = created(app.fake.last_call().1);
    assert_eq!(req.idempotency_key.as_deref(), Some("order-42:retry"));
}

#[tokio::test]
async fn an_invalid_idempotency_key_is_a_400() {
    let app = spawn_app().await;
    let long = "k".repeat(256);
    for key in ["", "has space", long.as_str(), "naïve"] {
        let resp = app
            .client
            .post(app.url(PUBMED))
            .bearer_auth(crate::helpers::token(platform::auth::Role::Member))
            .header("content-type", "application/json")
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
            )
            .body(r#"{"query": "q"}"#)
            .send()
            .await
            .unwrap();
        let p = problem(resp, 400).await;
        assert_eq!(p.field.as_deref(), Some("Idempotency-Key"), "{key:?}");
    }
    assert!(app.fake.calls().is_empty());
}
