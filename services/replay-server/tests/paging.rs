//! Paging through every replayed API reaches exactly the corpus, with each API's own
//! end-of-results signal; faults and the request log behave as tests rely on.

use replay_server::{Fault, FaultKind, ReplayServer};
use std::collections::HashSet;
use std::path::Path;

async fn server() -> ReplayServer {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    ReplayServer::start("127.0.0.1:0".parse().unwrap(), &fixtures)
        .await
        .unwrap()
}

async fn json(url: String) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn openalex_cursor_paging_ends_with_an_empty_page_and_a_null_cursor() {
    let s = server().await;
    let base = s.source_base_url("openalex");
    let mut cursor = "*".to_string();
    let mut ids = HashSet::new();
    loop {
        let page = json(format!("{base}/works?search=x&per_page=50&cursor={cursor}")).await;
        let results = page["results"].as_array().unwrap();
        for r in results {
            assert!(
                ids.insert(r["id"].as_str().unwrap().to_owned()),
                "no repeats"
            );
        }
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => {
                assert!(
                    !results.is_empty(),
                    "a cursor only follows a non-empty page"
                );
                cursor = next.to_owned();
            }
            None => {
                assert!(results.is_empty(), "the last call is empty");
                break;
            }
        }
    }
    assert_eq!(ids.len(), s.corpus_len("openalex"));
    s.shutdown().await;
}

#[tokio::test]
async fn semantic_scholar_bulk_pages_by_token_and_synthetic_ids_are_distinct() {
    let s = server().await;
    let base = s.source_base_url("semantic_scholar");
    let mut token: Option<String> = None;
    let mut ids = HashSet::new();
    loop {
        let url = match &token {
            Some(t) => format!("{base}/paper/search/bulk?query=synthetic:2500&token={t}"),
            None => format!("{base}/paper/search/bulk?query=synthetic:2500"),
        };
        let page = json(url).await;
        assert_eq!(page["total"], 2500);
        for p in page["data"].as_array().unwrap() {
            assert!(ids.insert(p["paperId"].as_str().unwrap().to_owned()));
        }
        match page["token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 2500);
    let empty = json(format!("{base}/paper/search/bulk?query=no-results")).await;
    assert_eq!(
        empty,
        serde_json::json!({"total": 0, "token": null}),
        "no `data` key when empty"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn pubmed_history_server_pages_efetch_by_retstart() {
    let s = server().await;
    let base = s.source_base_url("pubmed");
    let search = reqwest::get(format!(
        "{base}/esearch.fcgi?db=pubmed&term=x&usehistory=y&retmax=0"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let webenv = search
        .split("<WebEnv>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(search.contains(&format!("<Count>{}</Count>", s.corpus_len("pubmed"))));
    let mut total = 0;
    for retstart in (0..s.corpus_len("pubmed") + 20).step_by(20) {
        let page = reqwest::get(format!(
            "{base}/efetch.fcgi?db=pubmed&WebEnv={webenv}&query_key=1&retstart={retstart}&retmax=20"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        total +=
            page.matches("<PubmedArticle>").count() + page.matches("<PubmedBookArticle>").count();
    }
    assert_eq!(total, s.corpus_len("pubmed"));
    s.shutdown().await;
}

#[tokio::test]
async fn arxiv_pages_by_start_and_bad_queries_get_the_recorded_error_feed() {
    let s = server().await;
    let base = s.source_base_url("arxiv");
    let last = reqwest::get(format!(
        "{base}/query?search_query=all:x&start=150&max_results=100"
    ))
    .await
    .unwrap();
    let body = last.text().await.unwrap();
    assert_eq!(body.matches("<entry>").count(), s.corpus_len("arxiv") - 150);
    assert!(body.contains(&format!(
        "<opensearch:totalResults>{}</opensearch:totalResults>",
        s.corpus_len("arxiv")
    )));
    let bad = reqwest::get(format!("{base}/query?search_query=bad-query"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("arxiv.org/api/errors"));
    s.shutdown().await;
}

#[tokio::test]
async fn injected_faults_are_served_in_order_and_logged() {
    let s = server().await;
    s.inject(Fault::new("openalex", FaultKind::RateLimited).retry_after(2));
    s.inject(Fault::new("openalex", FaultKind::Truncated));
    let url = format!(
        "{}/works?search=x&per_page=5",
        s.source_base_url("openalex")
    );
    let first = reqwest::get(&url).await.unwrap();
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "2");
    let second = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert!(
        serde_json::from_slice::<serde_json::Value>(&second).is_err(),
        "truncated"
    );
    let third = reqwest::get(&url).await.unwrap();
    assert_eq!(third.status(), 200);
    let log = s.requests("openalex");
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 200, 200]
    );
    assert!(log.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    s.shutdown().await;
}
