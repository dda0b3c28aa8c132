//! Every fault kind is observed by a client as the real API would send it, faults are
//! consumed in order (with `after`, `count`, `endpoint`), over Rust and over HTTP, and
//! the request log carries monotonic arrival times, paths, queries and statuses.

mod common;

use common::{client, get, server};
use replay_server::{Fault, FaultKind, ReplayServer, Source};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A normal request URL per source.
fn url(s: &ReplayServer, source: Source) -> String {
    let base = s.source_base_url(source.name());
    match source {
        Source::OpenAlex => format!("{base}/works?search=x&per_page=50&cursor=*"),
        Source::PubMed => format!("{base}/efetch.fcgi?db=pubmed&id=36006759,38799249&retmode=xml"),
        Source::Arxiv => format!("{base}/query?search_query=all:x&start=0&max_results=20"),
        Source::SemanticScholar => {
            format!("{base}/paper/search/bulk?query=x&fields=title,abstract")
        }
    }
}

fn parses(source: Source, body: &str) -> bool {
    match source {
        Source::OpenAlex | Source::SemanticScholar => serde_json::from_str::<Value>(body).is_ok(),
        Source::PubMed | Source::Arxiv => common::check_xml(body).is_ok(),
    }
}

#[tokio::test]
async fn rate_limited_is_a_429_with_retry_after_and_each_sources_own_body() {
    let s = server().await;
    let expected = [
        (Source::OpenAlex, "{\"error\":\"Rate limit exceeded\""),
        (
            Source::PubMed,
            r#"{"error":"API rate limit exceeded","count":"11"}"#,
        ),
        (Source::Arxiv, "Rate exceeded."),
        (
            Source::SemanticScholar,
            r#"{"message":"Too Many Requests. Please wait and try again or apply for a key for higher rate limits."}"#,
        ),
    ];
    for (source, body_start) in expected {
        s.inject(
            Fault::new(source, FaultKind::RateLimited)
                .times(2)
                .retry_after(1),
        );
        for _ in 0..2 {
            let r = get(&url(&s, source)).await;
            assert_eq!(r.status(), 429, "{source:?}");
            assert_eq!(r.headers()["retry-after"], "1");
            assert!(
                r.text().await.unwrap().starts_with(body_start),
                "{source:?}"
            );
        }
        assert_eq!(
            get(&url(&s, source)).await.status(),
            200,
            "{source:?}: only `count` requests are hit"
        );
    }
    s.inject(Fault::new(Source::OpenAlex, FaultKind::RateLimited));
    assert!(
        get(&url(&s, Source::OpenAlex))
            .await
            .headers()
            .get("retry-after")
            .is_none(),
        "no Retry-After unless given"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn quota_exhausted_is_a_429_with_a_one_day_retry_after() {
    let s = server().await;
    for source in Source::ALL {
        s.inject(Fault::new(source, FaultKind::QuotaExhausted));
        let r = get(&url(&s, source)).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "86400", "{source:?}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn server_error_is_500_or_the_given_status() {
    let s = server().await;
    s.inject(Fault::new(Source::SemanticScholar, FaultKind::ServerError));
    s.inject(
        Fault::new(Source::SemanticScholar, FaultKind::ServerError)
            .status(503)
            .retry_after(2),
    );
    let first = get(&url(&s, Source::SemanticScholar)).await;
    assert_eq!(first.status(), 500);
    let second = get(&url(&s, Source::SemanticScholar)).await;
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "2");
    assert_eq!(get(&url(&s, Source::SemanticScholar)).await.status(), 200);
    s.shutdown().await;
}

#[tokio::test]
async fn slow_delays_the_normal_answer() {
    let s = server().await;
    s.inject(Fault::new(Source::Arxiv, FaultKind::Slow).delay_ms(400));
    let started = Instant::now();
    let r = get(&url(&s, Source::Arxiv)).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(parses(Source::Arxiv, &body));
    s.shutdown().await;
}

#[tokio::test]
async fn truncated_serves_half_the_body_with_a_matching_content_length() {
    let s = server().await;
    for source in Source::ALL {
        let full = get(&url(&s, source)).await.bytes().await.unwrap();
        s.inject(Fault::new(source, FaultKind::Truncated));
        let r = get(&url(&s, source)).await;
        assert_eq!(r.status(), 200);
        let length: usize = r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), full.len() / 2, "{source:?}");
        assert_eq!(length, body.len());
        assert_eq!(body[..], full[..body.len()]);
        assert!(
            !parses(source, &String::from_utf8_lossy(&body)),
            "{source:?}"
        );
    }
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_is_a_200_whose_body_does_not_parse() {
    let s = server().await;
    for source in Source::ALL {
        s.inject(Fault::new(source, FaultKind::Malformed));
        let r = get(&url(&s, source)).await;
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        assert!(
            !body.is_empty() && !parses(source, &body),
            "{source:?}: {body}"
        );
    }
    s.inject(Fault::new(Source::OpenAlex, FaultKind::Malformed));
    assert_eq!(
        get(&url(&s, Source::OpenAlex)).await.text().await.unwrap(),
        r#"{"meta": {"#
    );
    s.shutdown().await;
}

#[tokio::test]
async fn faults_over_http_honour_after_and_endpoint_and_can_be_listed_and_cleared() {
    let s = server().await;
    let admin = format!("{}/_admin/faults", s.base_url());
    let fault = json!({"source": "pubmed", "kind": "server_error", "status": 503, "after": 1, "count": 2, "endpoint": "efetch"});
    let r = client().post(&admin).json(&fault).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let pubmed = s.source_base_url("pubmed");
    let esearch = format!("{pubmed}/esearch.fcgi?db=pubmed&term=x&usehistory=y&retmax=0");
    let efetch = url(&s, Source::PubMed);
    assert_eq!(
        get(&esearch).await.status(),
        200,
        "other endpoint untouched"
    );
    assert_eq!(
        get(&efetch).await.status(),
        200,
        "after=1 lets the first efetch through"
    );
    assert_eq!(get(&efetch).await.status(), 503);
    let pending: Vec<Fault> = client()
        .get(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].count, 1);
    assert_eq!(client().delete(&admin).send().await.unwrap().status(), 204);
    assert_eq!(get(&efetch).await.status(), 200, "cleared");
    // A list of faults in one call; `s2` names Semantic Scholar.
    let list = json!([{"source": "s2", "kind": "rate_limited"}, {"source": "openalex", "kind": "quota_exhausted"}]);
    assert_eq!(
        client()
            .post(&admin)
            .json(&list)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(s.pending_faults().len(), 2);
    assert_eq!(
        client()
            .post(format!("{}/_admin/reset", s.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(
        s.pending_faults().is_empty() && s.requests("pubmed").is_empty(),
        "reset clears faults and log"
    );
    let bad = client()
        .post(&admin)
        .json(&json!({"source": "nowhere", "kind": "slow"}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error());
    s.shutdown().await;
}

#[tokio::test]
async fn the_request_log_has_monotonic_arrival_times_paths_queries_and_statuses() {
    let s = server().await;
    s.inject(Fault::new(Source::PubMed, FaultKind::RateLimited).after(1));
    let esearch = format!(
        "{}/esearch.fcgi?db=pubmed&term=a+b&retmax=0",
        s.source_base_url("pubmed")
    );
    for _ in 0..3 {
        get(&esearch).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    get(&url(&s, Source::Arxiv)).await;
    let log = s.requests("pubmed");
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 429, 200]
    );
    assert_eq!(log[1].fault, Some(FaultKind::RateLimited));
    assert!(log.iter().all(|r| r.path == "/esearch.fcgi"
        && r.query == "db=pubmed&term=a+b&retmax=0"
        && r.method == "GET"));
    for w in log.windows(2) {
        assert!(
            w[1].at_ms >= w[0].at_ms + 150,
            "{} then {}",
            w[0].at_ms,
            w[1].at_ms
        );
        assert!(w[1].at_us > w[0].at_us);
    }
    let over_http: Value = client()
        .get(format!("{}/_admin/requests", s.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["pubmed"].as_array().unwrap().len(), 3);
    assert_eq!(over_http["arxiv"][0]["path"], "/query");
    assert_eq!(over_http["semantic_scholar"], json!([]));
    assert_eq!(over_http["pubmed"][1]["status"], 429);
    let only: Value = client()
        .get(format!("{}/_admin/requests?source=s2", s.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(only.as_object().unwrap().len(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_answer_until_changed() {
    let s = server().await;
    s.set_latency(Duration::from_millis(250));
    let started = Instant::now();
    assert_eq!(get(&url(&s, Source::OpenAlex)).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let r = client()
        .post(format!("{}/_admin/latency", s.base_url()))
        .json(&json!({"latency_ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let latency: Value = client()
        .get(format!("{}/_admin/latency", s.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latency["latency_ms"], 0);
    s.shutdown().await;
}

#[tokio::test]
async fn shutdown_cuts_an_injected_one_minute_delay_short() {
    let s = server().await;
    s.inject(Fault::new(Source::SemanticScholar, FaultKind::Slow).delay_ms(60_000));
    let hanging = tokio::spawn(client().get(url(&s, Source::SemanticScholar)).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    s.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let answered = tokio::time::timeout(Duration::from_secs(3), hanging).await;
    assert!(answered.is_ok(), "the delayed request ends with the server");
}
