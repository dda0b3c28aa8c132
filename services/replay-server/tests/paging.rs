//! Paging through each replayed API to the end yields exactly the corpus, once each, in
//! corpus order, with that API's own termination signal.

mod common;

use common::{check_xml, element, get, json, server, text};
use replay_server::xml_scan::{fragments, simple_elements};
use replay_server::{Corpus, Source};
use std::collections::HashSet;

fn short_openalex_id(work: &serde_json::Value) -> String {
    work["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn corpus_has_no_two_records_sharing_an_id_or_a_doi() {
    let corpus = Corpus::load(&common::fixtures()).unwrap();
    for source in Source::ALL {
        let records = corpus.records(source);
        assert!(
            records.len() > 40,
            "{source:?} has {} records",
            records.len()
        );
        let ids: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), records.len(), "{source:?} ids");
        let dois: Vec<&str> = records.iter().filter_map(|r| r.doi.as_deref()).collect();
        assert_eq!(
            dois.iter().collect::<HashSet<_>>().len(),
            dois.len(),
            "{source:?} DOIs"
        );
        assert_eq!(corpus.len(source.name()), records.len());
        assert_eq!(
            corpus.ids(source.name()),
            records.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
        );
    }
    assert_eq!(corpus.len("s2"), corpus.len("semantic_scholar"));
}

#[tokio::test]
async fn openalex_cursor_paging_yields_the_corpus_then_an_empty_page_with_a_null_cursor() {
    let s = server().await;
    let base = s.source_base_url("openalex");
    let mut cursor = "*".to_owned();
    let mut ids = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        let page = json(&format!("{base}/works?search=climate&filter=from_publication_date:2020-01-01&per-page=50&cursor={}&mailto=a@b.c", urlencode(&cursor))).await;
        let meta = &page["meta"];
        assert_eq!(meta["count"], s.corpus_len("openalex") as u64);
        assert_eq!(meta["per_page"], 50);
        assert!(meta["page"].is_null(), "cursor mode has a null page");
        let results = page["results"].as_array().unwrap();
        ids.extend(results.iter().map(short_openalex_id));
        match meta["next_cursor"].as_str() {
            Some(next) => {
                assert!(
                    !results.is_empty(),
                    "a cursor only follows a non-empty page"
                );
                cursor = next.to_owned();
            }
            None => {
                assert!(results.is_empty(), "the final call is empty, as recorded");
                break;
            }
        }
    }
    assert_eq!(calls, s.corpus_len("openalex").div_ceil(50) + 1);
    assert_eq!(
        ids,
        s.corpus().ids("openalex"),
        "every record once, in corpus order"
    );
    s.shutdown().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~*".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn openalex_basic_paging_numbers_pages_and_stops_at_10000_results() {
    let s = server().await;
    let base = s.source_base_url("openalex");
    let mut ids = Vec::new();
    for page in 1..=3 {
        let body = json(&format!("{base}/works?search=x&per_page=50&page={page}")).await;
        assert_eq!(body["meta"]["page"], page);
        assert!(
            body["meta"].get("next_cursor").is_none(),
            "no cursor in basic paging"
        );
        ids.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(short_openalex_id),
        );
    }
    assert_eq!(ids, s.corpus().ids("openalex"));
    let (status, body) = text(&format!("{base}/works?search=x&per_page=200&page=51")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"error\""));
    let (status, _) = text(&format!("{base}/works?search=x&per_page=201")).await;
    assert_eq!(status, 400, "per_page above 200");
    s.shutdown().await;
}

#[tokio::test]
async fn openalex_single_work_by_id_or_doi() {
    let s = server().await;
    let base = s.source_base_url("openalex");
    let by_id = json(&format!("{base}/works/W1982728624")).await;
    assert_eq!(by_id["doi"], "https://doi.org/10.1371/journal.pone.0000030");
    let by_doi = json(&format!(
        "{base}/works/https://doi.org/10.1371/journal.pone.0000030?select=id,doi"
    ))
    .await;
    assert_eq!(
        by_doi,
        serde_json::json!({"id": "https://openalex.org/W1982728624", "doi": "https://doi.org/10.1371/journal.pone.0000030"})
    );
    let synthetic = json(&format!("{base}/works/W90000000003")).await;
    assert_eq!(synthetic["id"], "https://openalex.org/W90000000003");
    s.shutdown().await;
}

fn pmids(efetch: &str) -> Vec<String> {
    fragments(efetch, &["PubmedArticle", "PubmedBookArticle"])
        .iter()
        .map(|a| simple_elements(a, "PMID")[0].1.to_owned())
        .collect()
}

#[tokio::test]
async fn pubmed_esearch_history_then_efetch_slices_yield_the_corpus() {
    let s = server().await;
    let base = s.source_base_url("pubmed");
    let n = s.corpus_len("pubmed");
    let (status, search) = text(&format!("{base}/esearch.fcgi?db=pubmed&term=cancer+AND+2024[pdat]&usehistory=y&retmax=0&tool=t&email=e@x.org")).await;
    assert_eq!(status, 200);
    assert_eq!(element(&search, "Count"), Some(n.to_string().as_str()));
    assert_eq!(element(&search, "RetMax"), Some("0"));
    assert_eq!(element(&search, "QueryKey"), Some("1"));
    let webenv = element(&search, "WebEnv").unwrap().to_owned();
    assert!(webenv.starts_with("MCID_"));
    let mut got = Vec::new();
    for retstart in (0..n + 20).step_by(20) {
        let (status, page) = text(&format!("{base}/efetch.fcgi?db=pubmed&WebEnv={webenv}&query_key=1&retstart={retstart}&retmax=20&retmode=xml")).await;
        assert_eq!(status, 200);
        check_xml(&page).unwrap();
        let ids = pmids(&page);
        assert_eq!(
            ids.len(),
            n.saturating_sub(retstart).min(20),
            "slice at {retstart}"
        );
        got.extend(ids);
    }
    assert_eq!(got, s.corpus().ids("pubmed"));
    // POST form bodies, as used for long requests.
    let posted = common::client()
        .post(format!("{base}/efetch.fcgi"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "db=pubmed&WebEnv={webenv}&query_key=1&retstart=50&retmax=10&retmode=xml"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pmids(&posted), got[50..].to_vec());
    let by_id = text(&format!(
        "{base}/efetch.fcgi?db=pubmed&id={},{}&retmode=xml",
        got[3], got[1]
    ))
    .await
    .1;
    assert_eq!(pmids(&by_id), [got[3].clone(), got[1].clone()]);
    s.shutdown().await;
}

#[tokio::test]
async fn pubmed_esearch_id_list_pages_by_retstart_and_retmax() {
    let s = server().await;
    let base = s.source_base_url("pubmed");
    let mut got = Vec::new();
    for retstart in (0..60).step_by(25) {
        let body = text(&format!(
            "{base}/esearch.fcgi?db=pubmed&term=x&retstart={retstart}&retmax=25"
        ))
        .await
        .1;
        assert_eq!(
            element(&body, "RetStart"),
            Some(retstart.min(s.corpus_len("pubmed")).to_string().as_str())
        );
        assert!(
            !body.contains("<WebEnv>"),
            "no history without usehistory=y"
        );
        got.extend(
            simple_elements(&body, "Id")
                .into_iter()
                .map(|(_, id)| id.to_owned()),
        );
    }
    assert_eq!(got, s.corpus().ids("pubmed"));
    let json = json(&format!(
        "{base}/esearch.fcgi?db=pubmed&term=x&retmode=json&usehistory=y&retmax=2"
    ))
    .await;
    assert_eq!(
        json["esearchresult"]["count"],
        s.corpus_len("pubmed").to_string()
    );
    assert_eq!(json["esearchresult"]["idlist"].as_array().unwrap().len(), 2);
    assert!(
        json["esearchresult"]["webenv"]
            .as_str()
            .unwrap()
            .starts_with("MCID_")
    );
    let capped = text(&format!(
        "{base}/esearch.fcgi?db=pubmed&term=synthetic:20000&retstart=9999&retmax=10"
    ))
    .await
    .1;
    assert!(
        capped.contains("<ERROR>") && capped.contains("9,999"),
        "PubMed caps ESearch at 9,999: {capped}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn arxiv_start_and_max_results_page_to_the_end_then_nothing() {
    let s = server().await;
    let base = s.source_base_url("arxiv");
    let n = s.corpus_len("arxiv");
    let mut got = Vec::new();
    for start in (0..n + 40).step_by(40) {
        let (status, feed) = text(&format!("{base}/query?search_query=all:testing&start={start}&max_results=40&sortBy=submittedDate&sortOrder=descending")).await;
        assert_eq!(status, 200);
        check_xml(&feed).unwrap();
        assert!(
            feed.contains("xmlns:arxiv=\"http://arxiv.org/schemas/atom\"")
                && feed.contains("xmlns:opensearch=")
        );
        assert_eq!(
            element(&feed, "opensearch:totalResults"),
            Some(n.to_string().as_str())
        );
        assert_eq!(
            element(&feed, "opensearch:startIndex"),
            Some(start.to_string().as_str())
        );
        assert_eq!(element(&feed, "opensearch:itemsPerPage"), Some("40"));
        let entries = fragments(&feed, &["entry"]);
        assert_eq!(
            entries.len(),
            n.saturating_sub(start).min(40),
            "page at {start}"
        );
        for e in entries {
            let abs = simple_elements(e, "id")[0].1;
            let id = abs.rsplit_once("/abs/").unwrap().1;
            got.push(id[..id.rfind('v').unwrap()].to_owned());
        }
    }
    assert_eq!(got, s.corpus().ids("arxiv"));
    let listed = text(&format!(
        "{base}/query?id_list={},{}v1,0000.0000",
        got[7], got[2]
    ))
    .await
    .1;
    assert_eq!(element(&listed, "opensearch:totalResults"), Some("2"));
    s.shutdown().await;
}

#[tokio::test]
async fn semantic_scholar_bulk_pages_by_token_until_it_is_null() {
    let s = server().await;
    let base = s.source_base_url("semantic_scholar");
    assert!(base.ends_with("/s2"));
    let whole = json(&format!(
        "{base}/paper/search/bulk?query=turing&fields=title,externalIds,year"
    ))
    .await;
    assert_eq!(whole["total"], s.corpus_len("s2") as u64);
    assert!(whole["token"].is_null(), "the corpus fits in one bulk call");
    let ids: Vec<String> = whole["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["paperId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, s.corpus().ids("s2"));
    let mut token: Option<String> = None;
    let mut sizes = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let url = match &token {
            Some(t) => format!("{base}/paper/search/bulk?query=synthetic:2500&token={t}"),
            None => format!("{base}/paper/search/bulk?query=synthetic:2500"),
        };
        let page = json(&url).await;
        assert_eq!(page["total"], 2500);
        let data = page["data"].as_array().unwrap();
        assert!(
            data.iter().all(|p| p.as_object().unwrap().len() == 2),
            "without fields: paperId and title only"
        );
        seen.extend(
            data.iter()
                .map(|p| p["paperId"].as_str().unwrap().to_owned()),
        );
        sizes.push(data.len());
        match page["token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(seen.len(), 2500);
    assert_eq!(
        get(&format!("{base}/paper/search/bulk?query=x&token=garbage"))
            .await
            .status(),
        400
    );
    s.shutdown().await;
}

#[test]
fn the_xml_check_catches_unbalanced_tags_and_undeclared_prefixes() {
    assert!(
        check_xml("<?xml version='1.0'?><feed xmlns:a=\"u\"><a:x k=\"1>2\"/><e></e></feed>")
            .is_ok()
    );
    assert!(check_xml("<feed><a:x/></feed>").is_err());
    assert!(check_xml("<feed><e></feed>").is_err());
    assert!(check_xml("<feed>").is_err());
}
