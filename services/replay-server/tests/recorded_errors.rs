//! Empty results and errors are the recorded real bodies: `no-results` queries get each
//! API's recorded empty answer, `bad-query`, unknown fields and unknown works get the
//! recorded errors with their real statuses.

mod common;

use common::{element, fixture, get, server, text};

#[tokio::test]
async fn no_results_queries_get_the_recorded_empty_bodies() {
    let s = server().await;
    let oa = text(&format!(
        "{}/works?search=no-results&per_page=50&cursor=*",
        s.source_base_url("openalex")
    ))
    .await;
    assert_eq!(
        oa,
        (
            200,
            fixture("openalex/works_filter_cites_empty_count0.json")
        )
    );
    let ax = text(&format!(
        "{}/query?search_query=all:no-results&start=0&max_results=10",
        s.source_base_url("arxiv")
    ))
    .await;
    assert_eq!(ax, (200, fixture("arxiv/idlist_0000.0000_empty.xml")));
    let s2 = text(&format!(
        "{}/paper/search/bulk?query=no-results&fields=title",
        s.source_base_url("s2")
    ))
    .await;
    assert_eq!(
        s2,
        (
            200,
            fixture("semantic_scholar/paper_search_empty_total0.json")
        )
    );
    let (status, pm) = text(&format!(
        "{}/esearch.fcgi?db=pubmed&term=zzz+no-results&usehistory=y",
        s.source_base_url("pubmed")
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        pm,
        fixture("pubmed/esearch_no_results_errorlist.xml").replace("abcXYZ", "zzz no-results"),
        "the recorded shape with the term"
    );
    assert_eq!(element(&pm, "Count"), Some("0"));
    // A generated empty set (synthetic:0) has no `data` member either.
    let empty = common::json(&format!(
        "{}/paper/search/bulk?query=synthetic:0",
        s.source_base_url("s2")
    ))
    .await;
    assert_eq!(empty, serde_json::json!({"total": 0, "token": null}));
    s.shutdown().await;
}

#[tokio::test]
async fn bad_queries_and_unknown_things_get_the_recorded_errors() {
    let s = server().await;
    let ax = get(&format!(
        "{}/query?search_query=bad-query&start=0&max_results=10",
        s.source_base_url("arxiv")
    ))
    .await;
    assert_eq!(ax.status(), 400);
    assert!(
        ax.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert_eq!(
        ax.text().await.unwrap(),
        fixture("arxiv/error_400_incorrect_id_format.xml")
    );
    let (status, bad_id) = text(&format!("{}/query?id_list=abc", s.source_base_url("arxiv"))).await;
    assert_eq!(
        (status, bad_id),
        (400, fixture("arxiv/error_400_incorrect_id_format.xml")),
        "the recorded request itself"
    );
    let s2 = text(&format!(
        "{}/paper/search/bulk?query=x&fields=unknown",
        s.source_base_url("s2")
    ))
    .await;
    assert_eq!(
        s2,
        (
            400,
            fixture("semantic_scholar/error_400_unrecognized_fields.json")
        )
    );
    let oa = get(&format!("{}/works/W0", s.source_base_url("openalex"))).await;
    assert_eq!(oa.status(), 404);
    assert!(
        oa.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        oa.text().await.unwrap(),
        fixture("openalex/error_404_work_not_found.html")
    );
    let unknown_doi = get(&format!(
        "{}/works/doi:10.1/none",
        s.source_base_url("openalex")
    ))
    .await;
    assert_eq!(unknown_doi.status(), 404);
    let efetch = text(&format!(
        "{}/efetch.fcgi?db=pubmed&WebEnv=MCID_unknown&query_key=1",
        s.source_base_url("pubmed")
    ))
    .await;
    assert_eq!(efetch.0, 200, "E-utilities report errors inside a 200 body");
    assert!(efetch.1.contains("<ERROR>"));
    s.shutdown().await;
}

#[tokio::test]
async fn semantic_scholar_relevance_search_pages_by_offset_and_past_the_end_is_the_recorded_400() {
    let s = server().await;
    let base = s.source_base_url("s2");
    let n = s.corpus_len("s2") as u64;
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let page = common::json(&format!(
            "{base}/paper/search?query=x&offset={offset}&limit=100&fields=title"
        ))
        .await;
        assert_eq!(page["total"], n);
        assert_eq!(page["offset"], offset);
        ids.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["paperId"].as_str().unwrap().to_owned()),
        );
        match page.get("next") {
            Some(next) => offset = next.as_u64().unwrap(),
            None => break,
        }
    }
    assert_eq!(
        ids,
        s.corpus().ids("s2"),
        "`next` is absent on the last page"
    );
    let past = text(&format!(
        "{base}/paper/search?query=x&offset={}&limit=100",
        n.div_ceil(100) * 100
    ))
    .await;
    assert_eq!(
        past,
        (
            400,
            fixture("semantic_scholar/error_400_offset_limit_not_available.json")
        )
    );
    let beyond_1000 = text(&format!(
        "{base}/paper/search?query=synthetic:5000&offset=950&limit=100"
    ))
    .await;
    assert_eq!(
        beyond_1000.0, 400,
        "only the first 1,000 results are reachable"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn apis_also_answer_under_their_real_path_prefixes() {
    let s = server().await;
    let b = s.base_url();
    for path in [
        "/pubmed/entrez/eutils/esearch.fcgi?db=pubmed&term=x",
        "/arxiv/api/query?search_query=all:x&max_results=1",
        "/s2/graph/v1/paper/search/bulk?query=x",
        "/semantic_scholar/paper/search/bulk?query=x",
    ] {
        assert_eq!(get(&format!("{b}{path}")).await.status(), 200, "{path}");
    }
    let (status, _) = text(&format!("{b}/openalex/authors?search=x")).await;
    assert_eq!(status, 404);
    assert_eq!(
        s.requests("openalex")[0].path,
        "/authors",
        "unknown paths under a source are logged"
    );
    s.shutdown().await;
}
