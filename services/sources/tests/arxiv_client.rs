//! arXiv client against a local server: start/max_results paging, empty-page
//! retries, the error entry, query building, and the 3-second pace.

mod common;

use std::time::Duration;

use common::client::{client, config, no_filters, run_to_end, spec};
use common::fixture;
use common::server::{Reply, ScriptedServer};
use serde_json::json;
use sources::{LocalPacer, SourceConfig, SourceError};

const EMPTY_BUT_NOT_DONE: &str = r#"<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns="http://www.w3.org/2005/Atom">
  <title>arXiv Query</title><opensearch:itemsPerPage>10</opensearch:itemsPerPage>
  <opensearch:totalResults>214881</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex>
</feed>"#;

#[tokio::test]
async fn pages_by_start_and_truncates_to_max_results() {
    let server = ScriptedServer::start(|req, _| match req.param("start") {
        Some("0") => Reply::ok(fixture("arxiv/query_all_testing_start0_max10.xml")),
        _ => Reply::ok(fixture("arxiv/query_all_testing_start10_max10.xml")),
    })
    .await;
    let mut cfg = config("arxiv", &server.base_url);
    cfg.page_size = 10;
    let client = client("arxiv", cfg);
    let pages = run_to_end(client.as_ref(), &spec("testing", 15, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].papers.len(), pages[0].done), (10, false));
    assert_eq!(pages[0].checkpoint, json!({"start": 10}));
    assert_eq!(pages[0].source_total, Some(214881));
    assert_eq!((pages[1].papers.len(), pages[1].done), (5, true));
    assert_eq!(pages[1].checkpoint, json!({"start": 15}));
    assert_eq!(
        pages[1].papers[0].external_ids.arxiv.as_deref(),
        Some("2403.16981")
    );

    let seen = server.seen();
    assert_eq!(seen[0].path, "/query");
    assert_eq!(seen[0].param("search_query"), Some("all:testing"));
    assert_eq!(
        (seen[0].param("start"), seen[0].param("max_results")),
        (Some("0"), Some("10"))
    );
    assert_eq!(
        (seen[1].param("start"), seen[1].param("max_results")),
        (Some("10"), Some("5"))
    );
    assert_eq!(seen[0].param("sortBy"), Some("relevance"));
}

#[tokio::test]
async fn filters_become_part_of_search_query() {
    let server = ScriptedServer::start(|_, _| {
        Reply::ok(fixture("arxiv/query_ml_nlp_submittedDate_range_max50.xml"))
    })
    .await;
    let client = client("arxiv", config("arxiv", &server.base_url));
    let filters = json!({"from_date": "2020-01-01", "to_date": "2022-12-31", "categories": ["cs.CL", "cs.LG"]});
    let page = client
        .fetch_page(&spec("machine learning", 50, filters), None)
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 50);
    assert!(page.done);
    assert_eq!(
        server.seen()[0].param("search_query"),
        Some(
            "(all:machine AND all:learning) AND submittedDate:[202001010000 TO 202212312359] AND (cat:cs.CL OR cat:cs.LG)"
        )
    );
    assert!(
        server.seen()[0]
            .raw_query
            .contains("search_query=%28all%3Amachine+AND+all%3Alearning%29")
    );
}

#[tokio::test]
async fn an_empty_page_before_the_end_is_asked_again() {
    let server = ScriptedServer::start(|_, i| {
        if i < 2 {
            Reply::ok(EMPTY_BUT_NOT_DONE)
        } else {
            Reply::ok(fixture("arxiv/query_all_testing_start0_max10.xml"))
        }
    })
    .await;
    let client = client("arxiv", config("arxiv", &server.base_url));
    let page = client
        .fetch_page(&spec("testing", 10, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 10);
    assert_eq!(server.seen().len(), 3);

    // Always empty: three more tries, then the run ends there.
    let server = ScriptedServer::start(|_, _| Reply::ok(EMPTY_BUT_NOT_DONE)).await;
    let client = common::client::client("arxiv", config("arxiv", &server.base_url));
    let page = client
        .fetch_page(
            &spec("testing", 100, no_filters()),
            Some(&json!({"start": 40})),
        )
        .await
        .unwrap();
    assert!(page.done && page.papers.is_empty());
    assert_eq!(page.checkpoint, json!({"start": 40}));
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn no_results_is_done_at_once() {
    let server =
        ScriptedServer::start(|_, _| Reply::ok(fixture("arxiv/idlist_0000.0000_empty.xml"))).await;
    let client = client("arxiv", config("arxiv", &server.base_url));
    let pages = run_to_end(
        client.as_ref(),
        &spec("id:0000.0000", 10, no_filters()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].source_total, Some(0));
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].param("search_query"), Some("id:0000.0000"));
}

#[tokio::test]
async fn the_error_entry_fails_the_run_with_its_message() {
    // Current service: HTTP 400 with the error feed.
    let server = ScriptedServer::start(|_, _| {
        Reply::status(400, fixture("arxiv/error_400_incorrect_id_format.xml"))
    })
    .await;
    let client = client("arxiv", config("arxiv", &server.base_url));
    let err = client
        .fetch_page(&spec("id:abc", 10, no_filters()), None)
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 1);
    let SourceError::Http {
        status, ref detail, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (status, detail.as_str()),
        (400, "incorrect id format for abc")
    );

    // Legacy service: the same entry with a 200.
    let server =
        ScriptedServer::start(|_, _| Reply::ok(fixture("arxiv/error_400_incorrect_id_format.xml")))
            .await;
    let client = common::client::client("arxiv", config("arxiv", &server.base_url));
    let err = client
        .fetch_page(&spec("id:abc", 10, no_filters()), None)
        .await
        .unwrap_err();
    let SourceError::Api {
        source_name,
        ref detail,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (source_name, detail.as_str()),
        ("arxiv", "incorrect id format for abc")
    );
}

#[tokio::test]
async fn throttling_503_then_the_legacy_feed() {
    let server = ScriptedServer::start(|_, i| {
        if i == 0 {
            Reply::status(503, "Rate exceeded.")
        } else {
            Reply::ok(fixture(
                "arxiv/legacy_format_2017_deep_dream_start0_max10.xml",
            ))
        }
    })
    .await;
    let client = client("arxiv", config("arxiv", &server.base_url));
    let page = client
        .fetch_page(&spec("deep dream", 10, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 10);
    assert_eq!(page.source_total, Some(24617));
    assert!(page.done, "max_results reached");
    assert_eq!(
        server.seen()[1].param("search_query"),
        Some("all:deep AND all:dream")
    );
}

#[tokio::test]
async fn the_default_pace_is_one_request_per_three_seconds() {
    let defaults = SourceConfig::default_for("arxiv").unwrap();
    assert_eq!(
        LocalPacer::new(defaults.requests_per_second).period(),
        Duration::from_secs(3)
    );

    let server = ScriptedServer::start(|_, _| {
        Reply::ok(fixture("arxiv/query_all_testing_start0_max10.xml"))
    })
    .await;
    let mut cfg = config("arxiv", &server.base_url);
    cfg.requests_per_second = defaults.requests_per_second;
    cfg.page_size = 5;
    let client = client("arxiv", cfg);
    let spec = spec("testing", 10, no_filters());
    let first = client.fetch_page(&spec, None).await.unwrap();
    client
        .fetch_page(&spec, Some(&first.checkpoint))
        .await
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(2950),
        "{:?}",
        seen[1].at - seen[0].at
    );
}
