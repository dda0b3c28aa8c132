//! PubMed client against a local server: ESearch on the history server, EFetch
//! pages, the 9,999 cap, an expired WebEnv, NCBI's rate-limit bodies.

mod common;

use common::client::{client, config, no_filters, run_to_end, spec};
use common::fixture;
use common::server::{Reply, ScriptedServer};
use serde_json::json;
use sources::SourceError;

fn esearch(count: u64, webenv: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<eSearchResult><Count>{count}</Count><RetMax>0</RetMax><RetStart>0</RetStart>\
         <QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv><IdList/><TranslationSet/><QueryTranslation>q</QueryTranslation></eSearchResult>"
    )
}

#[tokio::test]
async fn esearch_then_efetch_pages_to_max_results() {
    let server = ScriptedServer::start(|req, _| match req.path.as_str() {
        "/esearch.fcgi" => Reply::ok(esearch(5, "MCID_A")),
        "/efetch.fcgi" => match req.param("retstart") {
            Some("0") => Reply::ok(fixture("pubmed/efetch_2_articles_rettype_abstract.xml")),
            _ => Reply::ok(fixture(
                "pubmed/efetch_structured_abstract_collective_author.xml",
            )),
        },
        _ => Reply::status(404, "no"),
    })
    .await;
    let mut cfg = config("pubmed", &server.base_url);
    cfg.page_size = 2;
    cfg.api_key = Some("NCBI-SECRET".into());
    cfg.mailto = Some("dev@example.org".into());
    let client = client("pubmed", cfg);
    let filters = json!({"from_date": "2020-01-01", "to_date": "2022-12-31"});
    let pages = run_to_end(
        client.as_ref(),
        &spec("machine learning[tiab]", 3, filters),
        None,
    )
    .await
    .unwrap();

    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].papers.len(), 2);
    assert_eq!(pages[0].source_total, Some(5));
    assert_eq!(
        pages[0].checkpoint,
        json!({"webenv": "MCID_A", "query_key": "1", "retstart": 2, "count": 5})
    );
    assert!(!pages[0].done);
    assert_eq!(pages[1].papers.len(), 1);
    assert_eq!(
        pages[1].papers[0].external_ids.pmid.as_deref(),
        Some("38534005")
    );
    assert!(pages[1].done);
    assert_eq!(pages[1].checkpoint["retstart"], 3);

    let seen = server.seen();
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        ["/esearch.fcgi", "/efetch.fcgi", "/efetch.fcgi"]
    );
    let es = &seen[0];
    for (k, v) in [
        ("db", "pubmed"),
        ("term", "machine learning[tiab]"),
        ("usehistory", "y"),
        ("retmax", "0"),
        ("datetype", "pdat"),
        ("mindate", "2020/01/01"),
        ("maxdate", "2022/12/31"),
        ("tool", "foundations-pipeline"),
        ("email", "dev@example.org"),
        ("api_key", "NCBI-SECRET"),
    ] {
        assert_eq!(es.param(k), Some(v), "esearch {k}");
    }
    let ef = &seen[2];
    for (k, v) in [
        ("db", "pubmed"),
        ("WebEnv", "MCID_A"),
        ("query_key", "1"),
        ("retstart", "2"),
        ("retmax", "1"),
        ("retmode", "xml"),
    ] {
        assert_eq!(ef.param(k), Some(v), "efetch {k}");
    }
}

#[tokio::test]
async fn no_hits_end_after_esearch() {
    let server =
        ScriptedServer::start(|_, _| Reply::ok(fixture("pubmed/esearch_no_results_errorlist.xml")))
            .await;
    let client = client("pubmed", config("pubmed", &server.base_url));
    let pages = run_to_end(client.as_ref(), &spec("abcXYZ", 100, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].done && pages[0].papers.is_empty());
    assert_eq!(pages[0].source_total, Some(0));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_recorded_history_search_is_capped_at_the_9999_window() {
    let server = ScriptedServer::start(|req, _| match req.path.as_str() {
        "/esearch.fcgi" => Reply::ok(fixture("pubmed/esearch_usehistory_webenv_retmax100.xml")),
        _ => Reply::ok(fixture("pubmed/efetch_50_articles.xml")),
    })
    .await;
    let mut cfg = config("pubmed", &server.base_url);
    cfg.page_size = 50;
    let client = client("pubmed", cfg);
    let spec = spec("cancer", 10_000, no_filters());
    let first = client.fetch_page(&spec, None).await.unwrap();
    assert_eq!(first.source_total, Some(42249));
    assert_eq!(first.papers.len(), 50);
    assert_eq!(
        first.checkpoint,
        json!({"webenv": "MCID_6927d6e7fee3e90f880ec190", "query_key": "1", "retstart": 50, "count": 42249})
    );

    // Resume near the window's end: only 9,999 records are reachable.
    let mut near_end = first.checkpoint.clone();
    near_end["retstart"] = json!(9_980);
    let page = client.fetch_page(&spec, Some(&near_end)).await.unwrap();
    assert!(page.done);
    assert_eq!(
        page.papers.len(),
        19,
        "truncated to the 19 records left in the window"
    );
    assert_eq!(page.checkpoint["retstart"], 9_999);
    let last = server.seen().pop().unwrap();
    assert_eq!(
        (last.param("retstart"), last.param("retmax")),
        (Some("9980"), Some("19"))
    );
}

#[tokio::test]
async fn an_expired_webenv_is_replaced_and_the_run_continues() {
    let server = ScriptedServer::start(|req, _| match (req.path.as_str(), req.param("WebEnv")) {
        ("/esearch.fcgi", _) => Reply::ok(esearch(60, "MCID_NEW")),
        ("/efetch.fcgi", Some("MCID_OLD")) => {
            Reply::ok("<?xml version=\"1.0\"?>\n<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>")
        }
        _ => Reply::ok(fixture("pubmed/efetch_collective_name_unicode_mathml.xml")),
    })
    .await;
    let client = client("pubmed", config("pubmed", &server.base_url));
    let checkpoint = json!({"webenv": "MCID_OLD", "query_key": "1", "retstart": 40, "count": 60});
    let page = client
        .fetch_page(&spec("lung", 100, no_filters()), Some(&checkpoint))
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 1);
    assert_eq!(page.checkpoint["webenv"], "MCID_NEW");
    assert_eq!(page.checkpoint["retstart"], 60);
    assert!(page.done);
    let seen = server.seen();
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        ["/efetch.fcgi", "/esearch.fcgi", "/efetch.fcgi"]
    );
    assert_eq!(seen[2].param("retstart"), Some("40"));
}

#[tokio::test]
async fn rate_limit_reported_in_a_200_body_is_retried() {
    let server = ScriptedServer::start(|req, i| match req.path.as_str() {
        "/esearch.fcgi" => Reply::ok(esearch(2, "W")),
        _ if i == 1 => Reply::ok(
            r#"{"error":"API rate limit exceeded","api-key":"10.0.0.1","count":"4","limit":"3"}"#,
        ),
        _ => Reply::ok(fixture("pubmed/efetch_2_articles_rettype_abstract.xml")),
    })
    .await;
    let client = client("pubmed", config("pubmed", &server.base_url));
    let page = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 2);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn a_query_about_rate_limits_is_not_a_rate_limit() {
    let server = ScriptedServer::start(|req, _| match req.path.as_str() {
        "/esearch.fcgi" => Reply::ok(
            "<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/>\
             <QueryTranslation>\"rate limit exceeded\"[All Fields]</QueryTranslation></eSearchResult>",
        ),
        _ => Reply::status(500, "unexpected"),
    })
    .await;
    let client = client("pubmed", config("pubmed", &server.base_url));
    let page = client
        .fetch_page(&spec("\"rate limit exceeded\"", 10, no_filters()), None)
        .await
        .unwrap();
    assert!(page.done);
    assert_eq!(server.seen().len(), 1, "no retry");
}

#[tokio::test]
async fn html_and_truncated_bodies_are_malformed() {
    let server = ScriptedServer::start(|req, _| match req.path.as_str() {
        "/esearch.fcgi" => Reply::ok(esearch(2, "W")),
        _ => Reply::ok(
            "<!DOCTYPE html><html><head><title>Error</title></head><body>Bad</body></html>",
        ),
    })
    .await;
    let client = client("pubmed", config("pubmed", &server.base_url));
    let err = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SourceError::Malformed {
                source_name: "pubmed",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("/efetch.fcgi?"), "{err}");
}

#[tokio::test]
async fn errors_never_show_the_api_key_or_email() {
    let server = ScriptedServer::start(|_, _| {
        Reply::status(
            400,
            "<eSearchResult><ERROR>Invalid API key NCBI-SECRET</ERROR></eSearchResult>",
        )
    })
    .await;
    let mut cfg = config("pubmed", &server.base_url);
    cfg.api_key = Some("NCBI-SECRET".into());
    cfg.mailto = Some("dev@example.org".into());
    let client = client("pubmed", cfg);
    let err = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, SourceError::Http { status: 400, .. }),
        "{err:?}"
    );
    assert!(
        message.contains("pubmed: HTTP 400") && message.contains("/esearch.fcgi?"),
        "{message}"
    );
    assert!(
        !message.contains("NCBI-SECRET")
            && !message.contains("dev@example.org")
            && !message.contains("api_key"),
        "{message}"
    );
    assert!(message.contains("Invalid API key [redacted]"), "{message}");
}
