//! OpenAlex client against a local server: paging, resume, filters, and the
//! shared retry/error behaviour (exercised here once for all sources).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::client::{client, config, no_filters, run_to_end, spec};
use common::fixture;
use common::server::{Reply, ScriptedServer};
use serde_json::json;
use sources::SourceError;

const NEXT: &str = "IlsxNjQ5OTgwODAwMDAwLCAnaHR0cHM6Ly9vcGVuYWxleC5vcmcvVzQyMjM4OTU1ODgnXSI=";

/// Answers `cursor=*` with the first recorded cursor page and the next cursor
/// with the recorded end (`results: []`, `next_cursor: null`).
async fn doi_cursor_server() -> ScriptedServer {
    ScriptedServer::start(|req, _| match req.param("cursor") {
        Some("*") => Reply::ok(fixture("openalex/works_filter_doi_cursor_page1.json")),
        Some(NEXT) => Reply::ok(fixture("openalex/works_filter_doi_cursor_end_null.json")),
        other => Reply::status(
            400,
            format!("{{\"error\":\"unexpected cursor {other:?}\"}}"),
        ),
    })
    .await
}

#[tokio::test]
async fn pages_to_the_end_of_the_cursor() {
    let server = doi_cursor_server().await;
    let mut cfg = config("openalex", &server.base_url);
    cfg.api_key = Some("OA-SECRET-KEY".into());
    cfg.mailto = Some("dev@example.org".into());
    let client = client("openalex", cfg);
    let filters = json!({"from_date": "2022-01-01", "to_date": "2022-12-31", "work_type": "article", "open_access": true});
    let pages = run_to_end(client.as_ref(), &spec("covid vaccine", 100, filters), None)
        .await
        .unwrap();

    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].papers.len(), 2);
    assert!(!pages[0].done);
    assert_eq!(pages[0].source_total, Some(2));
    assert_eq!(pages[0].checkpoint, json!({"cursor": NEXT, "fetched": 2}));
    assert!(pages[1].done && pages[1].papers.is_empty());
    assert_eq!(pages[1].checkpoint, json!({"cursor": null, "fetched": 2}));
    assert_eq!(
        pages[0].papers[0].doi.as_deref(),
        Some("10.1371/journal.pone.0266781")
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let first = &seen[0];
    assert_eq!(first.path, "/works");
    assert_eq!(first.param("search"), Some("covid vaccine"));
    assert_eq!(
        first.param("filter"),
        Some(
            "from_publication_date:2022-01-01,to_publication_date:2022-12-31,type:article,is_oa:true"
        )
    );
    assert_eq!(first.param("per_page"), Some("100"));
    assert_eq!(first.param("cursor"), Some("*"));
    assert_eq!(first.param("api_key"), Some("OA-SECRET-KEY"));
    assert_eq!(first.param("mailto"), Some("dev@example.org"));
    assert!(
        first
            .param("select")
            .unwrap()
            .contains("abstract_inverted_index")
    );
    assert_eq!(seen[1].param("cursor"), Some(NEXT));
}

#[tokio::test]
async fn max_results_truncates_the_last_page() {
    let server = ScriptedServer::start(|_, _| {
        Reply::ok(fixture("openalex/works_filter_author_cursor_page1.json"))
    })
    .await;
    let client = client("openalex", config("openalex", &server.base_url));
    let pages = run_to_end(client.as_ref(), &spec("software", 10, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        pages[0].papers.len(),
        10,
        "the server sent 25; the run wants 10"
    );
    assert!(pages[0].done);
    assert_eq!(pages[0].source_total, Some(50));
    assert_eq!(pages[0].checkpoint["fetched"], 10);
    assert_eq!(
        server.seen()[0].param("per_page"),
        Some("10"),
        "asks only for what is wanted"
    );
}

#[tokio::test]
async fn resumes_from_a_checkpoint() {
    let server = doi_cursor_server().await;
    let client = client("openalex", config("openalex", &server.base_url));
    let spec = spec("covid", 100, no_filters());
    let pages = run_to_end(
        client.as_ref(),
        &spec,
        Some(json!({"cursor": NEXT, "fetched": 2})),
    )
    .await
    .unwrap();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].done);
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].param("cursor"), Some(NEXT));

    // max_results holds across the resume: nothing left to fetch, no request.
    let page = client
        .fetch_page(
            &spec_with_max(3),
            Some(&json!({"cursor": NEXT, "fetched": 3})),
        )
        .await
        .unwrap();
    assert!(page.done && page.papers.is_empty());
    assert_eq!(server.seen().len(), 1);

    let bad = client
        .fetch_page(&spec, Some(&json!({"offset": 5})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            bad,
            SourceError::BadCheckpoint {
                source_name: "openalex",
                ..
            }
        ),
        "{bad}"
    );
}

fn spec_with_max(max: u32) -> sources::RunSpec {
    spec("covid", max, no_filters())
}

#[tokio::test]
async fn retry_after_429_is_honoured() {
    let server = ScriptedServer::start(|_, i| {
        if i == 0 {
            Reply::status(429, "{\"error\":\"slow down\"}").header("Retry-After", "1")
        } else {
            Reply::ok(fixture("openalex/works_filter_doi_cursor_end_null.json"))
        }
    })
    .await;
    let client = client("openalex", config("openalex", &server.base_url));
    let started = Instant::now();
    let page = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap();
    assert!(page.done);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(950),
        "waited {:?}",
        seen[1].at - seen[0].at
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = ScriptedServer::start(|_, i| match i {
        0 => Reply::status(500, "internal"),
        1 => Reply::status(502, "<html><title>502 Bad Gateway</title></html>"),
        2 => Reply::status(503, ""),
        _ => Reply::ok(fixture("openalex/works_filter_doi_cursor_page1.json")),
    })
    .await;
    let client = client("openalex", config("openalex", &server.base_url));
    let page = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 2);
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn exhausted_retries_name_source_status_and_request_without_secrets() {
    let server =
        ScriptedServer::start(|_, _| Reply::status(503, "{\"error\":\"Service Unavailable\"}"))
            .await;
    let mut cfg = config("openalex", &server.base_url);
    cfg.max_attempts = 3;
    cfg.api_key = Some("OA-SECRET-KEY".into());
    cfg.mailto = Some("dev@example.org".into());
    let client = client("openalex", cfg);
    let err = client
        .fetch_page(&spec("graphene", 10, no_filters()), None)
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 3);
    let SourceError::Http {
        source_name,
        status,
        ref request,
        ref detail,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((source_name, status), ("openalex", 503));
    assert!(
        request.starts_with(&format!("{}/works?", server.base_url))
            && request.contains("search=graphene"),
        "{request}"
    );
    assert_eq!(detail, "Service Unavailable (gave up after 3 attempts)");
    let message = err.to_string();
    assert!(
        message.starts_with("openalex: HTTP 503 from http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        !message.contains("OA-SECRET-KEY") && !message.contains("api_key"),
        "{message}"
    );
    assert!(!message.contains("dev@example.org"), "{message}");
}

#[tokio::test]
async fn client_errors_fail_at_once_with_the_body_message() {
    let server = ScriptedServer::start(|_, _| {
        Reply::status(400, r#"{"error":"Invalid query parameters error.","message":"filter is not a valid field"}"#)
    })
    .await;
    let client = client("openalex", config("openalex", &server.base_url));
    let err = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 1, "no retry on 400");
    let SourceError::Http { status, detail, .. } = err else {
        panic!()
    };
    assert_eq!(status, 400);
    assert_eq!(
        detail,
        "Invalid query parameters error.: filter is not a valid field"
    );

    let html = ScriptedServer::start(|_, _| {
        Reply::status(404, fixture("openalex/error_404_work_not_found.html"))
    })
    .await;
    let client = common::client::client("openalex", config("openalex", &html.base_url));
    let err = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap_err();
    let SourceError::Http { status, detail, .. } = err else {
        panic!()
    };
    assert_eq!((status, detail.as_str()), (404, "HTML page: 404 Not Found"));
}

#[tokio::test]
async fn long_waits_fail_the_run_with_the_reset_time() {
    for reply in [
        Reply::status(429, "{\"error\":\"daily limit\"}").header("Retry-After", "3600"),
        Reply::status(429, "")
            .header("X-RateLimit-Reset", "64147")
            .header("X-RateLimit-Remaining", "0"),
        Reply::status(503, "").header("Retry-After", "Sun, 06 Nov 2094 08:49:37 GMT"),
    ] {
        let server = ScriptedServer::start(move |_, _| reply.clone()).await;
        let client = client("openalex", config("openalex", &server.base_url));
        let started = chrono::Utc::now();
        let err = client
            .fetch_page(&spec("x", 10, no_filters()), None)
            .await
            .unwrap_err();
        assert_eq!(server.seen().len(), 1, "no waiting, no retry");
        let SourceError::QuotaExhausted {
            source_name,
            resets_at,
            ref detail,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(source_name, "openalex");
        let resets_at = resets_at.expect("reset time known");
        assert!(
            resets_at - started >= chrono::Duration::seconds(3599),
            "{resets_at}"
        );
        assert!(detail.contains("more than the 300 s"), "{detail}");
        assert!(err.to_string().contains("resets 20"), "{err}");
    }
}

#[tokio::test]
async fn malformed_bodies_are_malformed_errors() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = ScriptedServer::start(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = fixture("openalex/works_filter_doi_cursor_page1.json");
        Reply::ok(body[..body.len() / 2].to_vec())
    })
    .await;
    let client = client("openalex", config("openalex", &server.base_url));
    let err = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SourceError::Malformed {
                source_name: "openalex",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("/works?"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transport_errors() {
    let server = ScriptedServer::start(|_, i| {
        let reply = Reply::ok(fixture("openalex/works_filter_doi_cursor_end_null.json"));
        if i == 0 {
            reply.delayed(Duration::from_millis(1500))
        } else {
            reply
        }
    })
    .await;
    let mut cfg = config("openalex", &server.base_url);
    cfg.timeout = Duration::from_millis(300);
    let client = common::client::client("openalex", cfg);
    assert!(
        client
            .fetch_page(&spec("x", 10, no_filters()), None)
            .await
            .unwrap()
            .done,
        "retried after the timeout"
    );

    // Nothing listens on this port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config("openalex", &format!("http://127.0.0.1:{port}"));
    cfg.max_attempts = 2;
    cfg.api_key = Some("OA-SECRET-KEY".into());
    let client = common::client::client("openalex", cfg);
    let err = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SourceError::Transport {
                source_name: "openalex",
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}/works")) && !message.contains("OA-SECRET-KEY"),
        "{message}"
    );
}

#[tokio::test]
async fn the_pacer_spaces_requests() {
    let server = ScriptedServer::start(|_, _| {
        Reply::ok(fixture("openalex/works_filter_doi_cursor_page1.json"))
    })
    .await;
    let mut cfg = config("openalex", &server.base_url);
    cfg.requests_per_second = 10.0;
    let client = common::client::client("openalex", cfg);
    let spec = spec("x", 10, no_filters());
    let mut checkpoint = None;
    for _ in 0..5 {
        let page = client.fetch_page(&spec, checkpoint.as_ref()).await.unwrap();
        checkpoint = Some(page.checkpoint);
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 5);
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(90),
            "requests {gap:?} apart at 10 rps"
        );
    }
}

#[tokio::test]
async fn invalid_filters_fail_before_any_request() {
    let server = doi_cursor_server().await;
    let client = client("openalex", config("openalex", &server.base_url));
    for filters in [
        json!({"from_date": "2022-13-01"}),
        json!({"from_date": "2023-01-01", "to_date": "2022-01-01"}),
        json!({"work_type": "a,b"}),
        json!([1]),
    ] {
        let err = client
            .fetch_page(&spec("x", 10, filters.clone()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SourceError::InvalidRequest {
                    source_name: "openalex",
                    ..
                }
            ),
            "{filters}: {err:?}"
        );
    }
    assert!(server.seen().is_empty());
}
