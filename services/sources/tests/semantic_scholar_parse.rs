//! Semantic Scholar search parser over every recorded Semantic Scholar response.

mod common;

use common::{fixture, fixture_names};
use sources::semantic_scholar::{SearchPage, error_message, parse_search};
use sources::{DatePrecision, ParseError};

fn page(name: &str) -> SearchPage {
    parse_search(&fixture(&format!("semantic_scholar/{name}"))).unwrap()
}

/// (papers, with DOI, PMID, PMCID, arXiv id, abstract, authors, day dates, year-only dates, venue, citations)
fn stats(p: &SearchPage) -> [u64; 11] {
    let n = |f: &dyn Fn(&sources::Paper) -> bool| p.papers.iter().filter(|x| f(x)).count() as u64;
    [
        p.papers.len() as u64,
        n(&|x| x.doi.is_some()),
        n(&|x| x.external_ids.pmid.is_some()),
        n(&|x| x.external_ids.pmcid.is_some()),
        n(&|x| x.external_ids.arxiv.is_some()),
        n(&|x| x.abstract_text.is_some()),
        p.papers.iter().map(|x| x.authors.len() as u64).sum(),
        n(&|x| {
            x.publication_date
                .as_ref()
                .is_some_and(|d| d.precision == DatePrecision::Day)
        }),
        n(&|x| {
            x.publication_date
                .as_ref()
                .is_some_and(|d| d.precision == DatePrecision::Year)
        }),
        n(&|x| x.venue.is_some()),
        p.papers.iter().filter_map(|x| x.citation_count).sum(),
    ]
}

#[test]
fn every_semantic_scholar_fixture_is_covered() {
    assert_eq!(
        fixture_names("semantic_scholar"),
        [
            "error_400_offset_limit_not_available.json",
            "error_400_unrecognized_fields.json",
            "error_403_forbidden_gateway.json",
            "error_404_paper_not_found.json",
            "paper_search_bulk_last_page_token_null.json",
            "paper_search_bulk_page1_token.json",
            "paper_search_empty_total0.json",
            "paper_search_full_fields_last_page_no_next.json",
            "paper_search_full_fields_offset0_next100.json",
            "paper_search_full_fields_offset100_next200.json",
            "paper_search_relevance_2026_reserialized.json",
        ]
    );
}

#[test]
fn bulk_pages_token_then_null() {
    let first = page("paper_search_bulk_page1_token.json");
    assert_eq!(first.total, Some(2674));
    assert_eq!(
        first.token.as_deref(),
        Some(
            "PCOKWVSKJJGM4TWNJNI3EUSQJIWVNUSRKBFEYK2JFUBHFI4VJRJU2DOMSMGIYLGMZRG4YDJMCJGS3DIN2PGJGLKNFRGYZTINZXGFELETJQJ42DKNSVRGWAOXLUJSW"
        )
    );
    assert_eq!(first.papers.len(), 1000);
    let p = &first.papers[0];
    assert_eq!(
        p.external_ids.s2.as_deref(),
        Some("0018ce3db8f9957b520d6b7e0cec84abfa230e1c")
    );
    assert_eq!(
        p.title,
        "Kubernetes Cluster for Automating Software Production Environment"
    );
    assert_eq!(
        (p.doi.as_ref(), p.publication_date.as_ref(), p.authors.len()),
        (None, None, 0)
    );
    assert_eq!(
        first.papers[999].title,
        "RARE: a labeled dataset for cloud-native memory anomalies"
    );

    let last = page("paper_search_bulk_last_page_token_null.json");
    assert_eq!(
        (last.total, last.token.as_deref(), last.papers.len()),
        (Some(2674), None, 674)
    );
    assert_eq!(last.papers[0].title, "Mastering Service Mesh");
    assert_eq!(
        last.papers[673].external_ids.s2.as_deref(),
        Some("ffe13ebe9ccc38446f8f9c2e2e9ae7de25afc004")
    );
    // 1,000 + (an unrecorded middle page of 1,000) + 674 = 2,674.
}

#[test]
fn full_field_relevance_pages() {
    let p = page("paper_search_full_fields_offset0_next100.json");
    assert_eq!(
        (p.total, p.next, p.token.as_deref()),
        (Some(67113), Some(100), None)
    );
    assert_eq!(stats(&p), [100, 88, 38, 11, 25, 71, 349, 90, 10, 91, 16223]);
    let w = &p.papers[0];
    assert_eq!(
        w.external_ids.s2.as_deref(),
        Some("7cbc2a7843411a1768ab762930707af0a3c33a19")
    );
    assert_eq!(w.external_ids.arxiv.as_deref(), Some("2201.11990"));
    assert_eq!(w.doi, None);
    assert_eq!(w.venue.as_deref(), Some("arXiv.org"));
    assert_eq!(w.citation_count, Some(476));
    assert_eq!(w.authors.len(), 20);
    assert_eq!(w.authors[0].name, "Shaden Smith");
    let d = w.publication_date.as_ref().unwrap();
    assert_eq!(
        (d.value.as_str(), d.precision),
        ("2022-01-28", DatePrecision::Day)
    );
    assert_eq!(
        w.url.as_deref(),
        Some("https://www.semanticscholar.org/paper/7cbc2a7843411a1768ab762930707af0a3c33a19")
    );
    assert!(
        w.abstract_text
            .as_deref()
            .unwrap()
            .starts_with("Pretrained general-purpose language models can achieve")
    );

    let p = page("paper_search_full_fields_offset100_next200.json");
    assert_eq!((p.total, p.next), (Some(67113), Some(200)));
    assert_eq!(stats(&p), [100, 73, 34, 5, 19, 71, 252, 73, 21, 75, 51459]);
    let w = &p.papers[0];
    assert_eq!(w.doi.as_deref(), Some("10.1038/srep03016"));
    assert_eq!(w.external_ids.pmid.as_deref(), Some("24145394"));
    assert_eq!(
        w.external_ids.pmcid.as_deref(),
        Some("PMC3804860"),
        "PMC prefix added"
    );
    assert_eq!(w.abstract_text, None);
    assert_eq!(w.authors[0].name, "V. Ardizzone");
    let last = p.papers.last().unwrap();
    assert_eq!(last.doi.as_deref(), Some("10.1103/physreve.81.046215"));
    assert_eq!(last.external_ids.arxiv.as_deref(), Some("0910.4984"));
}

#[test]
fn last_relevance_page_without_next_and_year_only_dates() {
    let p = page("paper_search_full_fields_last_page_no_next.json");
    assert_eq!((p.total, p.next), (Some(85), None));
    assert_eq!(stats(&p), [85, 53, 5, 3, 24, 75, 218, 53, 32, 58, 1252]);
    let w = &p.papers[0];
    assert_eq!(
        w.title,
        "Near-optimal sublinear time algorithms for Ulam distance"
    );
    assert_eq!(w.doi.as_deref(), Some("10.1137/1.9781611973075.8"));
    assert_eq!(
        w.venue.as_deref(),
        Some("ACM-SIAM Symposium on Discrete Algorithms")
    );
    assert_eq!(w.publication_date.as_ref().unwrap().value, "2010-01-17");
    let last = p.papers.last().unwrap();
    let d = last.publication_date.as_ref().unwrap();
    assert_eq!(
        (d.value.as_str(), d.precision),
        ("2006", DatePrecision::Year)
    );
    assert_eq!(last.doi.as_deref(), Some("10.1007/11919568"));
}

#[test]
fn reserialized_2026_page_with_empty_pdf_urls() {
    let p = page("paper_search_relevance_2026_reserialized.json");
    assert_eq!((p.total, p.next), (Some(11626), Some(50)));
    assert_eq!(stats(&p), [50, 43, 8, 3, 7, 44, 167, 39, 11, 46, 1874]);
    let w = &p.papers[0];
    assert_eq!(w.doi.as_deref(), Some("10.1109/soli54607.2021.9672398"));
    assert_eq!(
        w.venue.as_deref(),
        Some("International Conference on Service Operations and Logistics, and Informatics")
    );
    assert_eq!(w.authors[0].name, "Moh. Arie Hasan");
    assert_eq!(
        p.papers[49].title,
        "Sentiment Analysis of Students\u{2019} Feedback with NLP and Deep Learning: A Systematic Mapping Study"
    );
}

#[test]
fn empty_result_has_no_data_key() {
    let p = page("paper_search_empty_total0.json");
    assert_eq!(
        (p.total, p.token, p.next, p.papers.len()),
        (Some(0), None, None, 0)
    );
}

#[test]
fn both_error_shapes() {
    let cases = [
        (
            "error_400_offset_limit_not_available.json",
            "Requested data for this limit and/or offset is not available",
        ),
        (
            "error_400_unrecognized_fields.json",
            "Unrecognized or unsupported fields: [unknown]",
        ),
        ("error_403_forbidden_gateway.json", "Forbidden"),
        (
            "error_404_paper_not_found.json",
            "Paper with id 0 not found",
        ),
    ];
    for (name, message) in cases {
        let body = fixture(&format!("semantic_scholar/{name}"));
        assert_eq!(
            parse_search(&body),
            Err(ParseError::Api(message.into())),
            "{name}"
        );
        assert_eq!(error_message(&body).as_deref(), Some(message));
    }
    assert!(matches!(
        parse_search(b"<html>502 Bad Gateway</html>"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse_search(b"{\"total\": 3, \"data\": [{\"paperId\": "),
        Err(ParseError::Malformed(_))
    ));
}
