//! PubMed ESearch/EFetch parsers over every recorded PubMed response, plus the
//! shapes no recording covers (MedlineDate, `<ERROR>`, the 10,000 window).

mod common;

use common::{fixture, fixture_names};
use sources::pubmed::{is_window_message, parse_efetch, parse_esearch};
use sources::{DatePrecision, Paper, ParseError};

fn efetch(name: &str) -> Vec<Paper> {
    parse_efetch(&fixture(&format!("pubmed/{name}"))).unwrap()
}

fn date(p: &Paper) -> (&str, DatePrecision) {
    let d = p.publication_date.as_ref().unwrap();
    (d.value.as_str(), d.precision)
}

#[test]
fn every_pubmed_fixture_is_covered() {
    assert_eq!(
        fixture_names("pubmed"),
        [
            "efetch_2_articles_rettype_abstract.xml",
            "efetch_50_articles.xml",
            "efetch_book_article_genereviews.xml",
            "efetch_collective_name_unicode_mathml.xml",
            "efetch_structured_abstract_collective_author.xml",
            "esearch_json_pdat_range_retmax50_reserialized.json",
            "esearch_no_results_errorlist.xml",
            "esearch_retstart6_retmax6.xml",
            "esearch_simple_count63.xml",
            "esearch_usehistory_webenv_retmax100.xml",
        ]
    );
}

#[test]
fn fifty_articles_with_references_that_must_not_leak() {
    let papers = efetch("efetch_50_articles.xml");
    assert_eq!(papers.len(), 50);
    let first = &papers[0];
    assert_eq!(first.external_ids.pmid.as_deref(), Some("36006759"));
    assert_eq!(
        first.title,
        "Using natural language processing and machine learning to replace human content coders."
    );
    assert_eq!(first.venue.as_deref(), Some("Psychological methods"));
    assert_eq!(first.doi.as_deref(), Some("10.1037/met0000518"));
    assert_eq!(date(first), ("2024-12", DatePrecision::Month));
    assert_eq!(
        first.url.as_deref(),
        Some("https://pubmed.ncbi.nlm.nih.gov/36006759/")
    );
    assert_eq!(first.citation_count, None);
    let abs = first.abstract_text.as_deref().unwrap();
    assert!(abs.starts_with("Content analysis is a common and flexible technique to quantify"));
    assert_eq!(abs.chars().count(), 1500);

    let second = &papers[1];
    assert_eq!(second.external_ids.pmcid.as_deref(), Some("PMC11114038"));
    assert_eq!(second.doi.as_deref(), Some("10.1177/0739456x21995890"));
    assert_eq!(second.authors.len(), 2);
    assert_eq!(second.authors[0].name, "Catherine Brinkley");
    assert_eq!(
        second.authors[0].affiliations,
        ["University of California, Davis, Davis, CA, USA."]
    );
    assert_eq!(
        second.abstract_text.as_deref().unwrap().chars().count(),
        1672
    );

    // <sup> inside the title: all descendant text, no markup.
    assert_eq!(
        papers[3].title,
        "MTTLm6A: A multi-task transfer learning approach for base-resolution mRNA m6A site prediction based on an improved transformer."
    );
    assert_eq!(papers[28].external_ids.pmid.as_deref(), Some("36550327"));
    assert_eq!(papers[28].abstract_text, None);
    let last = papers.last().unwrap();
    assert_eq!(last.external_ids.pmid.as_deref(), Some("36495082"));
    assert_eq!(last.doi.as_deref(), Some("10.1177/02692163221141969"));
    assert_eq!(last.external_ids.pmcid, None);

    // Aggregates cross-checked against an independent reading of the XML. The
    // file has 359 IdType="pmc" ids, nearly all in ReferenceLists; only the
    // articles' own 21 may come through.
    let count = |f: &dyn Fn(&Paper) -> bool| papers.iter().filter(|p| f(p)).count();
    assert_eq!(count(&|p| p.external_ids.pmcid.is_some()), 21);
    assert_eq!(count(&|p| p.doi.is_some()), 45);
    assert_eq!(count(&|p| p.abstract_text.is_some()), 49);
    assert_eq!(papers.iter().map(|p| p.authors.len()).sum::<usize>(), 282);
    assert_eq!(
        papers
            .iter()
            .flat_map(|p| &p.authors)
            .filter(|a| a.orcid.is_some())
            .count(),
        42
    );
    let by_precision = |prec| papers.iter().filter(|p| date(p).1 == prec).count();
    assert_eq!(
        (
            by_precision(DatePrecision::Year),
            by_precision(DatePrecision::Month),
            by_precision(DatePrecision::Day)
        ),
        (7, 37, 6)
    );
    // 100 labelled sections across the structured abstracts.
    let labelled: usize = papers
        .iter()
        .filter_map(|p| p.abstract_text.as_deref())
        .map(|a| {
            a.split("\n\n")
                .filter(|s| {
                    s.split_once(": ")
                        .is_some_and(|(l, _)| l.chars().all(|c| !c.is_lowercase()))
                })
                .count()
        })
        .sum();
    assert!(labelled >= 100, "{labelled}");
    assert!(papers.iter().all(|p| p.url.as_deref()
        == Some(&format!(
            "https://pubmed.ncbi.nlm.nih.gov/{}/",
            p.external_ids.pmid.as_deref().unwrap()
        ))));
}

#[test]
fn rettype_abstract_pair_with_season_date_and_no_doi() {
    let papers = efetch("efetch_2_articles_rettype_abstract.xml");
    assert_eq!(papers.len(), 2);
    assert_eq!(papers[0].external_ids.pmid.as_deref(), Some("12091962"));
    assert_eq!(
        papers[0].title,
        "The treatment of AIDS behind the walls of correctional facilities."
    );
    assert_eq!(papers[0].authors[0].name, "J Michael Olivero");
    // <Year>1990</Year><Season>Spring</Season>: year precision.
    assert_eq!(date(&papers[0]), ("1990", DatePrecision::Year));
    assert_eq!(
        (papers[0].doi.as_deref(), papers[0].abstract_text.as_deref()),
        (None, None)
    );
    assert_eq!(papers[1].external_ids.pmid.as_deref(), Some("9997"));
    assert_eq!(date(&papers[1]), ("1976-09-28", DatePrecision::Day));
    assert_eq!(
        papers[1].doi.as_deref(),
        Some("10.1016/0005-2795(76)90109-4")
    );
    assert_eq!(
        papers[1].venue.as_deref(),
        Some("Biochimica et biophysica acta")
    );
}

#[test]
fn structured_abstract_and_collective_author() {
    let p = &efetch("efetch_structured_abstract_collective_author.xml")[0];
    assert_eq!(p.external_ids.pmid.as_deref(), Some("38534005"));
    assert_eq!(p.title, "The EFLM European Urinalysis Guideline 2023.");
    assert_eq!(date(p), ("2024-08-27", DatePrecision::Day));
    assert_eq!(p.doi.as_deref(), Some("10.1515/cclm-2024-0070"));
    let abs = p.abstract_text.as_deref().unwrap();
    let sections: Vec<&str> = abs.split("\n\n").collect();
    assert_eq!(sections.len(), 7);
    assert!(
        sections[0]
            .starts_with("BACKGROUND: The EFLM Task and Finish Group Urinalysis has updated")
    );
    assert_eq!(
        sections[1],
        "RECOMMENDATIONS: Graded recommendations were built in the following areas."
    );
    assert!(
        sections[4].starts_with(
            "CHEMISTRY: Measurements of both urine albumin and \u{3b1}1-microglobulin"
        )
    );
    assert!(
        sections[6]
            .contains("Aerococcus urinae, A. sanguinicola and Actinotignum schaalii are taken")
    );
    assert_eq!(abs.chars().count(), 1921);
    assert_eq!(p.authors.len(), 9);
    assert_eq!(p.authors[0].name, "Timo T Kouri");
    assert_eq!(p.authors[0].orcid.as_deref(), Some("0000-0002-3282-232X"));
    assert_eq!(p.authors[0].affiliations.len(), 2);
    assert_eq!(p.authors[4].name, "S\u{f6}ren Schubert");
    assert_eq!(p.authors.iter().filter(|a| a.orcid.is_some()).count(), 6);
    let collective = p.authors.last().unwrap();
    assert_eq!(
        collective.name,
        "Task and Finish Group for Urinalysis (TFG-U), European Federation of Clinical Chemistry and Laboratory Medicine (EFLM)"
    );
    assert!(collective.affiliations.is_empty());
}

#[test]
fn mathml_unicode_orcid_urls_and_pmc() {
    let p = &efetch("efetch_collective_name_unicode_mathml.xml")[0];
    assert_eq!(p.external_ids.pmid.as_deref(), Some("29963580"));
    assert_eq!(p.external_ids.pmcid.as_deref(), Some("PMC6022861"));
    assert_eq!(p.doi.as_deref(), Some("10.1117/1.jmi.5.2.026002"));
    assert_eq!(date(p), ("2018-04", DatePrecision::Month));
    assert_eq!(
        p.venue.as_deref(),
        Some("Journal of medical imaging (Bellingham, Wash.)")
    );
    let abs = p.abstract_text.as_deref().unwrap();
    assert!(
        abs.contains(
            "(1) inhaled He 3 / Xe 129 MRI ventilation and apparent diffusion coefficients"
        ),
        "{abs}"
    );
    assert!(!abs.contains('<') && !abs.contains("  ") && !abs.contains('\n'));
    assert_eq!(abs.chars().count(), 1474);
    assert_eq!(p.authors.len(), 9);
    assert_eq!(p.authors[0].affiliations.len(), 3);
    assert_eq!(
        p.authors[1].orcid.as_deref(),
        Some("0000-0002-4590-7461"),
        "URL prefix stripped"
    );
    assert_eq!(p.authors[8].name, "Canadian Respiratory Research Network");
}

#[test]
fn book_article_uses_book_fields_and_skips_editors() {
    let papers = efetch("efetch_book_article_genereviews.xml");
    assert_eq!(papers.len(), 1);
    let p = &papers[0];
    assert_eq!(p.external_ids.pmid.as_deref(), Some("20301577"));
    assert_eq!(p.title, "CACNA1C-Related Disorders");
    assert_eq!(p.venue.as_deref(), Some("GeneReviews\u{ae}"));
    assert_eq!(date(p), ("1993", DatePrecision::Year));
    assert_eq!(p.doi, None);
    assert_eq!(
        p.external_ids.pmcid, None,
        "PMC ids of the references must not leak"
    );
    let names: Vec<&str> = p.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["Carlo Napolitano", "Silvia G Priori"],
        "editors are not authors"
    );
    assert_eq!(p.authors[0].affiliations.len(), 2);
    let abs = p.abstract_text.as_deref().unwrap();
    let labels: Vec<&str> = abs
        .split("\n\n")
        .map(|s| s.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "CLINICAL CHARACTERISTICS",
            "DIAGNOSIS/TESTING",
            "MANAGEMENT",
            "GENETIC COUNSELING"
        ]
    );
    assert!(abs.contains("(QTc interval >480 ms)") || abs.contains("interval >480 ms"));
    assert_eq!(abs.chars().count(), 5820);
}

#[test]
fn esearch_history_result() {
    let r = parse_esearch(&fixture("pubmed/esearch_usehistory_webenv_retmax100.xml")).unwrap();
    assert_eq!(r.count, 42249);
    assert_eq!((r.retmax, r.retstart), (100, 0));
    assert_eq!(r.query_key.as_deref(), Some("1"));
    assert_eq!(r.web_env.as_deref(), Some("MCID_6927d6e7fee3e90f880ec190"));
    assert_eq!(r.ids.len(), 100);
    assert_eq!(r.ids[0], "41297076");
    assert!(r.errors.is_empty() && !r.window_exceeded);
}

#[test]
fn esearch_simple_paged_and_empty() {
    let r = parse_esearch(&fixture("pubmed/esearch_simple_count63.xml")).unwrap();
    assert_eq!(
        (r.count, r.retmax, r.ids.len(), r.web_env),
        (63, 20, 20, None)
    );
    assert_eq!(r.ids.last().map(String::as_str), Some("37810457"));

    let r = parse_esearch(&fixture("pubmed/esearch_retstart6_retmax6.xml")).unwrap();
    assert_eq!((r.count, r.retstart, r.retmax), (2651, 6, 6));
    assert_eq!(
        r.ids,
        [
            "11121077", "11121076", "11121075", "11121074", "11121073", "11121072"
        ]
    );

    let r = parse_esearch(&fixture("pubmed/esearch_no_results_errorlist.xml")).unwrap();
    assert_eq!(r.count, 0);
    assert_eq!(r.not_found, ["abcXYZ"]);
    assert_eq!(r.warnings, ["No items found."]);
    assert!(r.ids.is_empty() && r.errors.is_empty());
}

#[test]
fn esearch_json_variant() {
    let r = parse_esearch(&fixture(
        "pubmed/esearch_json_pdat_range_retmax50_reserialized.json",
    ))
    .unwrap();
    assert_eq!((r.count, r.retmax, r.retstart), (1834, 50, 0));
    assert_eq!(r.ids.len(), 50);
    assert_eq!(r.ids[0], "36006759");
    assert_eq!(r.ids[49], "36495082");
    assert_eq!(r.web_env, None);
}

#[test]
fn esearch_errors_and_the_window() {
    let window = br#"<?xml version="1.0" encoding="UTF-8" ?>
<eSearchResult><Count>120000</Count><RetMax>0</RetMax><RetStart>10000</RetStart><IdList/>
<ERROR>'retstart' cannot be larger than 9998. For PubMed, ESearch can only retrieve the first 9,999 records matching the query.</ERROR></eSearchResult>"#;
    let r = parse_esearch(window).unwrap();
    assert!(r.window_exceeded);
    assert_eq!(r.count, 120000);
    assert!(is_window_message(&r.errors[0]));

    let only_error = b"<eSearchResult><ERROR>Invalid query</ERROR></eSearchResult>";
    assert_eq!(
        parse_esearch(only_error),
        Err(ParseError::Api("Invalid query".into()))
    );
    let json_error = br#"{"header":{},"esearchresult":{"ERROR":"Search Backend failed"}}"#;
    assert_eq!(
        parse_esearch(json_error),
        Err(ParseError::Api("Search Backend failed".into()))
    );
    assert!(matches!(
        parse_esearch(b"<html><body>oops</body></html>"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse_esearch(b"<eSearchResult><Count>12"),
        Err(ParseError::Malformed(_))
    ));
}

#[test]
fn efetch_error_html_and_truncation() {
    let error = b"<?xml version=\"1.0\"?>\n<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>";
    assert_eq!(
        parse_efetch(error),
        Err(ParseError::Api("Unable to obtain query #1".into()))
    );
    assert!(matches!(
        parse_efetch(b"<!DOCTYPE html><html><body><h1>Bad Request</h1></body></html>"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse_efetch(b"not xml at all"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(parse_efetch(b""), Err(ParseError::Malformed(_))));
    let full = fixture("pubmed/efetch_structured_abstract_collective_author.xml");
    assert!(matches!(
        parse_efetch(&full[..full.len() / 2]),
        Err(ParseError::Malformed(_))
    ));
    assert_eq!(
        parse_efetch(b"<PubmedArticleSet></PubmedArticleSet>"),
        Ok(vec![])
    );
}

#[test]
fn medline_date_elocation_doi_and_numeric_months() {
    let xml = br#"<PubmedArticleSet>
<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate></JournalIssue><Title>J</Title></Journal>
<ArticleTitle>A <i>b</i>  c<sub>2</sub>.</ArticleTitle><ELocationID EIdType="pii">x</ELocationID><ELocationID EIdType="doi">10.1000/ELOC</ELocationID>
<Abstract><AbstractText>Plain.</AbstractText><AbstractText Label="METHODS">M &amp; N.</AbstractText></Abstract>
<AuthorList><Author><LastName>Solo</LastName></Author><Author><ForeName>No</ForeName><LastName>Orcid</LastName><Identifier Source="ORCID">junk</Identifier></Author></AuthorList></Article>
<CommentsCorrectionsList><CommentsCorrections><PMID>999</PMID></CommentsCorrections></CommentsCorrectionsList></MedlineCitation>
<PubmedData><ArticleIdList><ArticleId IdType="pubmed">1</ArticleId></ArticleIdList></PubmedData></PubmedArticle>
<PubmedArticle><MedlineCitation><PMID>2</PMID><Article><Journal><JournalIssue><PubDate><Year>2020</Year><Month>02</Month><Day>30</Day></PubDate></JournalIssue></Journal><ArticleTitle>B</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>"#;
    let papers = parse_efetch(xml).unwrap();
    let a = &papers[0];
    assert_eq!(date(a), ("1998 Dec-1999 Jan", DatePrecision::Text));
    assert_eq!(a.title, "A b c2.");
    assert_eq!(a.doi.as_deref(), Some("10.1000/eloc"));
    assert_eq!(
        a.abstract_text.as_deref(),
        Some("Plain.\n\nMETHODS: M & N.")
    );
    assert_eq!(a.external_ids.pmid.as_deref(), Some("1"));
    assert_eq!(a.authors[0].name, "Solo");
    assert_eq!(
        (a.authors[1].name.as_str(), a.authors[1].orcid.as_deref()),
        ("No Orcid", None)
    );
    // Day 30 of February is dropped, the month kept.
    assert_eq!(date(&papers[1]), ("2020-02", DatePrecision::Month));
    assert_eq!(papers[1].venue, None);
}
