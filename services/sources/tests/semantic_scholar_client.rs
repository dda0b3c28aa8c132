//! Semantic Scholar client against a local server: bulk token paging, the
//! `x-api-key` header, filters, and both error shapes.

mod common;

use common::client::{client, config, no_filters, run_to_end, spec};
use common::fixture;
use common::server::{Reply, ScriptedServer};
use serde_json::json;
use sources::SourceError;

const TOKEN: &str = "PCOKWVSKJJGM4TWNJNI3EUSQJIWVNUSRKBFEYK2JFUBHFI4VJRJU2DOMSMGIYLGMZRG4YDJMCJGS3DIN2PGJGLKNFRGYZTINZXGFELETJQJ42DKNSVRGWAOXLUJSW";

async fn bulk_server() -> ScriptedServer {
    ScriptedServer::start(|req, _| match req.param("token") {
        None => Reply::ok(fixture(
            "semantic_scholar/paper_search_bulk_page1_token.json",
        )),
        Some(TOKEN) => Reply::ok(fixture(
            "semantic_scholar/paper_search_bulk_last_page_token_null.json",
        )),
        Some(_) => Reply::status(400, r#"{"error":"bad token"}"#),
    })
    .await
}

#[tokio::test]
async fn pages_by_token_until_it_is_null() {
    let server = bulk_server().await;
    let mut cfg = config("semantic_scholar", &server.base_url);
    cfg.api_key = Some("S2-SECRET".into());
    let client = client("semantic_scholar", cfg);
    let filters = json!({
        "from_date": "2020-01-01", "to_date": "2022-12-31",
        "fields_of_study": ["Computer Science", "Medicine"],
        "open_access_pdf": true, "min_citation_count": 5
    });
    let pages = run_to_end(client.as_ref(), &spec("kubernetes", 10_000, filters), None)
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].papers.len(), 1000);
    assert_eq!(
        pages[0].checkpoint,
        json!({"token": TOKEN, "fetched": 1000})
    );
    assert_eq!(pages[0].source_total, Some(2674));
    assert!(!pages[0].done);
    assert_eq!(pages[1].papers.len(), 674);
    assert_eq!(pages[1].checkpoint, json!({"token": null, "fetched": 1674}));
    assert!(pages[1].done);

    let seen = server.seen();
    assert_eq!(seen[0].path, "/paper/search/bulk");
    assert_eq!(seen[0].headers.get("x-api-key").unwrap(), "S2-SECRET");
    assert_eq!(seen[0].param("query"), Some("kubernetes"));
    assert!(
        seen[0]
            .param("fields")
            .unwrap()
            .starts_with("paperId,externalIds,title,abstract,authors")
    );
    assert_eq!(
        seen[0].param("publicationDateOrYear"),
        Some("2020-01-01:2022-12-31")
    );
    assert_eq!(
        seen[0].param("fieldsOfStudy"),
        Some("Computer Science,Medicine")
    );
    assert_eq!(seen[0].param("openAccessPdf"), Some(""));
    assert_eq!(seen[0].param("minCitationCount"), Some("5"));
    assert_eq!(seen[0].param("token"), None);
    assert_eq!(seen[1].param("token"), Some(TOKEN));
}

#[tokio::test]
async fn max_results_cuts_a_bulk_page_and_holds_across_resume() {
    let server = bulk_server().await;
    let client = client(
        "semantic_scholar",
        config("semantic_scholar", &server.base_url),
    );
    let spec = spec("kubernetes", 1500, no_filters());
    let pages = run_to_end(client.as_ref(), &spec, None).await.unwrap();
    assert_eq!(
        pages.iter().map(|p| p.papers.len()).collect::<Vec<_>>(),
        [1000, 500]
    );
    assert!(pages[1].done);
    assert_eq!(pages[1].checkpoint["fetched"], 1500);

    // Resuming after the first page asks with the stored token.
    let page = client
        .fetch_page(&spec, Some(&json!({"token": TOKEN, "fetched": 1000})))
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 500);
    assert_eq!(server.seen().last().unwrap().param("token"), Some(TOKEN));
    // A finished run stays finished.
    let done = client
        .fetch_page(&spec, Some(&json!({"token": null, "fetched": 1500})))
        .await
        .unwrap();
    assert!(done.done && done.papers.is_empty());
}

#[tokio::test]
async fn no_hits_is_one_empty_page() {
    let server = ScriptedServer::start(|_, _| {
        Reply::ok(fixture("semantic_scholar/paper_search_empty_total0.json"))
    })
    .await;
    let client = client(
        "semantic_scholar",
        config("semantic_scholar", &server.base_url),
    );
    let pages = run_to_end(client.as_ref(), &spec("n0 r3sult", 100, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        (pages[0].papers.len(), pages[0].source_total, pages[0].done),
        (0, Some(0), true)
    );
}

#[tokio::test]
async fn both_error_shapes_fail_at_once() {
    for (status, name, message) in [
        (403, "error_403_forbidden_gateway.json", "Forbidden"),
        (
            404,
            "error_404_paper_not_found.json",
            "Paper with id 0 not found",
        ),
        (
            400,
            "error_400_unrecognized_fields.json",
            "Unrecognized or unsupported fields: [unknown]",
        ),
    ] {
        let server = ScriptedServer::start(move |_, _| {
            Reply::status(status, fixture(&format!("semantic_scholar/{name}")))
        })
        .await;
        let mut cfg = config("semantic_scholar", &server.base_url);
        cfg.api_key = Some("S2-SECRET".into());
        let client = client("semantic_scholar", cfg);
        let err = client
            .fetch_page(&spec("x", 10, no_filters()), None)
            .await
            .unwrap_err();
        assert_eq!(server.seen().len(), 1);
        let SourceError::Http {
            source_name,
            status: got,
            ref detail,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (source_name, got, detail.as_str()),
            ("semantic_scholar", status, message)
        );
        assert!(!err.to_string().contains("S2-SECRET"));
    }
}

#[tokio::test]
async fn too_many_requests_without_retry_after_backs_off_and_succeeds() {
    let server = ScriptedServer::start(|_, i| {
        if i < 2 {
            Reply::status(429, r#"{"message":"Too Many Requests. Please wait and try again or apply for a key for higher rate limits."}"#)
        } else {
            Reply::ok(fixture("semantic_scholar/paper_search_bulk_last_page_token_null.json"))
        }
    })
    .await;
    let client = client(
        "semantic_scholar",
        config("semantic_scholar", &server.base_url),
    );
    let page = client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap();
    assert_eq!(page.papers.len(), 10);
    assert!(page.done);
    assert_eq!(server.seen().len(), 3);
}
