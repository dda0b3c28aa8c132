//! OpenAlex parser over every recorded OpenAlex response.

mod common;

use common::{fixture, fixture_names};
use sources::openalex::{parse_work, parse_works_page};
use sources::{DatePrecision, Paper, ParseError};

fn page(name: &str) -> sources::openalex::WorksPage {
    parse_works_page(&fixture(&format!("openalex/{name}"))).unwrap()
}

fn count(papers: &[Paper], f: impl Fn(&Paper) -> bool) -> usize {
    papers.iter().filter(|p| f(p)).count()
}

#[test]
fn every_openalex_fixture_is_covered() {
    assert_eq!(
        fixture_names("openalex"),
        [
            "error_404_work_not_found.html",
            "work_by_doi_10.1371_journal.pone.0000030.json",
            "works_filter_author_cursor_page1.json",
            "works_filter_cites_empty_count0.json",
            "works_filter_doi_cursor_end_null.json",
            "works_filter_doi_cursor_page1.json",
            "works_search_filter_sort_page1_per_page50_2026.json",
            "works_search_page1_per_page200.json",
        ]
    );
}

#[test]
fn legacy_2022_cursor_page_with_host_venue() {
    let p = page("works_filter_author_cursor_page1.json");
    assert_eq!(p.count, Some(50));
    assert_eq!(
        p.next_cursor.as_deref(),
        Some("IlsxMzEwNTE1MjAwMDAwLCAnaHR0cHM6Ly9vcGVuYWxleC5vcmcvVzIwNjY0MTU3MTknXSI=")
    );
    assert_eq!(p.papers.len(), 25);
    let w = &p.papers[0];
    assert_eq!(w.external_ids.openalex.as_deref(), Some("W3208256308"));
    assert_eq!(w.doi.as_deref(), Some("10.1145/3462204.3482889"));
    assert_eq!(
        w.title,
        "CiteAs: Better Software through Sociotechnical Change for Better Software Citation"
    );
    let date = w.publication_date.as_ref().unwrap();
    assert_eq!(
        (date.value.as_str(), date.precision),
        ("2021-10-23", DatePrecision::Day)
    );
    assert_eq!(
        w.venue.as_deref(),
        Some("conference on computer supported cooperative work")
    );
    assert_eq!(
        w.url.as_deref(),
        Some("https://doi.org/10.1145/3462204.3482889")
    );
    assert_eq!(w.citation_count, Some(1));
    assert_eq!(w.authors.len(), 6);
    assert_eq!(w.authors[0].name, "Caifan Du");
    assert_eq!(w.authors[0].orcid.as_deref(), Some("0000-0003-2538-607X"));
    assert_eq!(
        w.authors[0].affiliations,
        ["The University of Texas at Austin"]
    );
    let abs = w.abstract_text.as_deref().unwrap();
    assert!(abs.starts_with(
        "Research increasingly depends on software, yet software work is often relatively invisible"
    ));
    assert!(abs.ends_with("incentives for the software work needed to advance research."));
    assert_eq!(abs.chars().count(), 904);

    let last = p.papers.last().unwrap();
    assert_eq!(last.external_ids.openalex.as_deref(), Some("W2066415719"));
    assert_eq!(last.external_ids.pmid.as_deref(), Some("21765886"));
    assert_eq!(last.external_ids.pmcid.as_deref(), Some("PMC3135593"));
    assert_eq!(last.doi.as_deref(), Some("10.1371/journal.pone.0018657"));

    // Aggregates cross-checked against an independent reading of the JSON.
    assert_eq!(count(&p.papers, |w| w.doi.is_some()), 16);
    assert_eq!(count(&p.papers, |w| w.external_ids.pmid.is_some()), 4);
    assert_eq!(count(&p.papers, |w| w.external_ids.pmcid.is_some()), 3);
    assert_eq!(count(&p.papers, |w| w.abstract_text.is_some()), 18);
    assert_eq!(p.papers.iter().map(|w| w.authors.len()).sum::<usize>(), 97);
    assert_eq!(
        p.papers
            .iter()
            .flat_map(|w| &w.authors)
            .filter(|a| a.orcid.is_some())
            .count(),
        74
    );
    assert_eq!(
        p.papers
            .iter()
            .filter_map(|w| w.citation_count)
            .sum::<u64>(),
        1642
    );
}

#[test]
fn cursor_page_then_null_cursor_end() {
    let first = page("works_filter_doi_cursor_page1.json");
    assert_eq!(first.count, Some(2));
    assert!(
        first.next_cursor.is_some(),
        "a set that fits one page still gets a cursor"
    );
    assert_eq!(first.papers.len(), 2);
    let w = &first.papers[0];
    assert_eq!(w.external_ids.openalex.as_deref(), Some("W4224016882"));
    assert_eq!(w.doi.as_deref(), Some("10.1371/journal.pone.0266781"));
    assert_eq!(w.venue.as_deref(), Some("PLOS ONE"));
    assert_eq!(w.external_ids.pmid.as_deref(), Some("35436296"));
    assert_eq!(w.authors.len(), 8);
    assert_eq!(
        w.authors[0].affiliations,
        ["Scripps Clinic", "Scripps Research Institute"]
    );
    assert_eq!(w.abstract_text.as_deref().unwrap().chars().count(), 1525);
    assert_eq!(
        first.papers[1].title,
        "Refractive and visual function changes in twilight conditions"
    );

    let end = page("works_filter_doi_cursor_end_null.json");
    assert_eq!(
        (end.count, end.next_cursor, end.papers.len()),
        (Some(2), None, 0)
    );
}

#[test]
fn current_2026_page_with_primary_location() {
    let p = page("works_search_filter_sort_page1_per_page50_2026.json");
    assert_eq!(
        (p.count, p.next_cursor.as_deref(), p.papers.len()),
        (Some(65899), None, 50)
    );
    let w = &p.papers[0];
    assert_eq!(w.external_ids.openalex.as_deref(), Some("W4327510205"));
    assert_eq!(
        w.title,
        "ELT in the Age of Arti\u{fb01}cial Intelligence (AI): Working with Machines"
    );
    assert_eq!(w.doi.as_deref(), Some("10.3126/nelta.v27i1-2.53203"));
    assert_eq!(w.venue.as_deref(), Some("Journal of NELTA"));
    assert_eq!(
        w.url.as_deref(),
        Some("http://dx.doi.org/10.3126/nelta.v27i1-2.53203")
    );
    assert_eq!(w.publication_date.as_ref().unwrap().value, "2022-12-31");
    assert_eq!(w.authors[0].orcid.as_deref(), Some("0000-0002-3723-640X"));
    let abs = w.abstract_text.as_deref().unwrap();
    assert!(abs.starts_with(
        "Since 2016, the development of arti\u{fb01}cial intelligence (AI) has been strong"
    ));
    assert_eq!(abs.chars().count(), 775);
    assert_eq!(count(&p.papers, |w| w.doi.is_some()), 50);
    assert_eq!(count(&p.papers, |w| w.abstract_text.is_some()), 49);
    assert_eq!(p.papers.iter().map(|w| w.authors.len()).sum::<usize>(), 144);
    assert_eq!(
        p.papers
            .iter()
            .filter_map(|w| w.citation_count)
            .sum::<u64>(),
        490
    );
    assert_eq!(p.papers[49].doi.as_deref(), Some("10.3390/jimaging9010011"));
    assert_eq!(p.papers[49].external_ids.pmid.as_deref(), Some("36662109"));
}

#[test]
fn search_page_of_200_with_missing_sources() {
    let p = page("works_search_page1_per_page200.json");
    assert_eq!((p.count, p.papers.len()), (Some(49), 49));
    let w = &p.papers[0];
    assert_eq!(w.doi.as_deref(), Some("10.4081/gh.2014.294"));
    assert_eq!(w.venue.as_deref(), Some("Geospatial Health"));
    assert_eq!(w.authors[0].name, "Alexander Liss");
    assert_eq!(w.authors[0].orcid, None);
    assert_eq!(
        w.authors[0].affiliations,
        ["Institute for Forecasting", "Tufts University"]
    );
    assert_eq!(w.abstract_text.as_deref().unwrap().chars().count(), 1659);
    assert_eq!(count(&p.papers, |w| w.doi.is_some()), 47);
    assert_eq!(count(&p.papers, |w| w.external_ids.pmid.is_some()), 16);
    assert_eq!(count(&p.papers, |w| w.external_ids.pmcid.is_some()), 7);
    assert_eq!(count(&p.papers, |w| w.abstract_text.is_some()), 46);
    assert_eq!(
        p.papers
            .iter()
            .flat_map(|w| &w.authors)
            .filter(|a| a.orcid.is_some())
            .count(),
        120
    );
    // 16 works have a primary_location without a source: no venue from there.
    assert_eq!(count(&p.papers, |w| w.venue.is_none()), 16);
    let last = p.papers.last().unwrap();
    assert_eq!(
        (last.doi.as_deref(), last.external_ids.pmid.as_deref()),
        (Some("10.23889/suthesis.62363"), None)
    );
}

#[test]
fn empty_result_set() {
    let p = page("works_filter_cites_empty_count0.json");
    assert_eq!((p.count, p.next_cursor, p.papers.len()), (Some(0), None, 0));
}

#[test]
fn single_work_by_doi() {
    let body = fixture("openalex/work_by_doi_10.1371_journal.pone.0000030.json");
    let w = parse_work(&body).unwrap();
    assert_eq!(w.external_ids.openalex.as_deref(), Some("W1982728624"));
    assert_eq!(w.doi.as_deref(), Some("10.1371/journal.pone.0000030"));
    assert_eq!(w.external_ids.pmid.as_deref(), Some("17183658"));
    assert_eq!(
        w.title,
        "Triose Phosphate Isomerase Deficiency Is Caused by Altered Dimerization\u{2013}Not Catalytic Inactivity\u{2013}of the Mutant Enzymes"
    );
    assert_eq!(w.venue.as_deref(), Some("PLoS ONE"));
    assert_eq!(w.citation_count, Some(85));
    assert_eq!(w.authors.len(), 5);
    assert_eq!(w.authors[0].name, "Markus Ralser");
    assert_eq!(w.authors[0].orcid.as_deref(), Some("0000-0001-9535-7413"));
    assert_eq!(
        w.authors[0].affiliations,
        ["Max Planck Institute for Molecular Genetics"]
    );
    let abs = w.abstract_text.unwrap();
    assert!(abs.starts_with(
        "Triosephosphate isomerase (TPI) deficiency is an autosomal recessive disorder"
    ));
    assert_eq!(abs.chars().count(), 1831);
    // A single work is not a list page.
    assert!(matches!(
        parse_works_page(&body),
        Err(ParseError::Malformed(_))
    ));
}

#[test]
fn html_404_page_is_malformed_not_a_panic() {
    let body = fixture("openalex/error_404_work_not_found.html");
    assert!(matches!(
        parse_works_page(&body),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(parse_work(&body), Err(ParseError::Malformed(_))));
}

#[test]
fn error_document_is_an_api_error() {
    let body = br#"{"error":"Invalid or missing API key","message":"API key not found"}"#;
    assert_eq!(
        parse_works_page(body),
        Err(ParseError::Api(
            "Invalid or missing API key: API key not found".into()
        ))
    );
}

#[test]
fn abstract_is_rebuilt_in_position_order_and_year_only_dates() {
    let body = br#"{"meta":{"count":1,"next_cursor":null},"results":[{
        "id":"https://openalex.org/W1","title":"T","publication_year":1999,"publication_date":null,
        "abstract_inverted_index":{"world":[1,3],"hello":[0],"again":[2]},
        "doi":"HTTPS://DOI.ORG/10.1000/ABC"}]}"#;
    let p = parse_works_page(body).unwrap();
    let w = &p.papers[0];
    assert_eq!(w.abstract_text.as_deref(), Some("hello world again world"));
    let date = w.publication_date.as_ref().unwrap();
    assert_eq!(
        (date.value.as_str(), date.precision),
        ("1999", DatePrecision::Year)
    );
    assert_eq!(w.doi.as_deref(), Some("10.1000/abc"));
    assert_eq!(w.url.as_deref(), Some("https://doi.org/10.1000/abc"));
    assert_eq!(p.next_cursor, None);
}
