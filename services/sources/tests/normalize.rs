//! Identifier normalisation: DOI, arXiv id, PMCID, PMID, ORCID, dates.

use proptest::prelude::*;
use sources::{
    DatePrecision, PublicationDate, normalize_arxiv_id, normalize_doi, normalize_orcid,
    normalize_pmcid, normalize_pmid,
};

#[test]
fn doi_prefixes_case_and_whitespace() {
    let want = Some("10.1371/journal.pone.0000030".to_string());
    for raw in [
        "10.1371/journal.pone.0000030",
        "10.1371/JOURNAL.PONE.0000030",
        "  10.1371/journal.pone.0000030\n",
        "https://doi.org/10.1371/journal.pone.0000030",
        "HTTPS://DOI.ORG/10.1371/journal.pone.0000030",
        "http://doi.org/10.1371/journal.pone.0000030",
        "http://dx.doi.org/10.1371/journal.pone.0000030",
        "https://dx.doi.org/10.1371/journal.pone.0000030",
        "doi:10.1371/journal.pone.0000030",
        "DOI: 10.1371/journal.pone.0000030",
        "\t doi:10.1371/Journal.Pone.0000030 ",
    ] {
        assert_eq!(normalize_doi(raw), want, "{raw:?}");
    }
    assert_eq!(
        normalize_doi("10.1016/0005-2795(76)90109-4").as_deref(),
        Some("10.1016/0005-2795(76)90109-4")
    );
    assert_eq!(
        normalize_doi("10.1000.10/abc").as_deref(),
        Some("10.1000.10/abc")
    );
}

#[test]
fn doi_garbage_is_rejected() {
    for raw in [
        "",
        "   ",
        "11.1000/abc",
        "10.1000",
        "10./abc",
        "10.1000/",
        "https://example.org/10.1000/abc",
        "doi.org",
        "10.abc/def",
        "10.1000/a b",
        "https://doi.org/",
        "not a doi",
        "10,1000/abc",
    ] {
        assert_eq!(normalize_doi(raw), None, "{raw:?}");
    }
}

#[test]
fn arxiv_ids() {
    for (raw, want) in [
        ("2202.12139", "2202.12139"),
        ("2202.12139v1", "2202.12139"),
        ("arXiv:2202.12139v12", "2202.12139"),
        ("http://arxiv.org/abs/2202.12139v1", "2202.12139"),
        ("https://arxiv.org/pdf/2202.12139v2.pdf", "2202.12139"),
        ("https://export.arxiv.org/abs/1707.08567", "1707.08567"),
        ("0704.0001", "0704.0001"),
        ("astro-ph/0601001v1", "astro-ph/0601001"),
        (
            "http://arxiv.org/abs/astro-ph/0601001v1",
            "astro-ph/0601001",
        ),
        ("math.GT/0309136", "math.GT/0309136"),
        ("gr-qc/0103067v1", "gr-qc/0103067"),
    ] {
        assert_eq!(normalize_arxiv_id(raw).as_deref(), Some(want), "{raw:?}");
    }
    for raw in [
        "",
        "abc",
        "0000",
        "https://arxiv.org/api/errors#incorrect_id_format_for_abc",
        "12345.678",
        "astro-ph/06",
    ] {
        assert_eq!(normalize_arxiv_id(raw), None, "{raw:?}");
    }
}

#[test]
fn pubmed_ids_and_orcids() {
    assert_eq!(normalize_pmcid("PMC6022861").as_deref(), Some("PMC6022861"));
    assert_eq!(normalize_pmcid("pmc6022861").as_deref(), Some("PMC6022861"));
    assert_eq!(normalize_pmcid("3804860").as_deref(), Some("PMC3804860"));
    assert_eq!(
        normalize_pmcid("https://www.ncbi.nlm.nih.gov/pmc/articles/5815332").as_deref(),
        Some("PMC5815332")
    );
    assert_eq!(
        normalize_pmcid("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5815332/").as_deref(),
        Some("PMC5815332")
    );
    assert_eq!(normalize_pmcid("PMC"), None);
    assert_eq!(normalize_pmcid("PMCx1"), None);
    assert_eq!(
        normalize_pmid("https://pubmed.ncbi.nlm.nih.gov/17183658").as_deref(),
        Some("17183658")
    );
    assert_eq!(normalize_pmid(" 9997 ").as_deref(), Some("9997"));
    assert_eq!(normalize_pmid("abc"), None);
    assert_eq!(
        normalize_orcid("https://orcid.org/0000-0003-2538-607x").as_deref(),
        Some("0000-0003-2538-607X")
    );
    assert_eq!(
        normalize_orcid("0000-0002-3282-232X").as_deref(),
        Some("0000-0002-3282-232X")
    );
    assert_eq!(normalize_orcid("0000-0002-3282"), None);
}

#[test]
fn dates_keep_their_precision() {
    let d = |s: &str| PublicationDate::parse_iso(s).map(|d| (d.value, d.precision));
    assert_eq!(
        d("2021-10-23"),
        Some(("2021-10-23".into(), DatePrecision::Day))
    );
    assert_eq!(
        d("2022-02-24T15:05:19Z"),
        Some(("2022-02-24".into(), DatePrecision::Day))
    );
    assert_eq!(d("2018-04"), Some(("2018-04".into(), DatePrecision::Month)));
    assert_eq!(d("1993"), Some(("1993".into(), DatePrecision::Year)));
    assert_eq!(d("2021-02-30"), None);
    assert_eq!(d("21-02-03"), None);
    assert_eq!(d(""), None);
}

proptest! {
    #[test]
    fn doi_normalisation_is_idempotent_and_canonical(raw in "\\PC{0,40}") {
        if let Some(doi) = normalize_doi(&raw) {
            prop_assert!(doi.starts_with("10."));
            prop_assert_eq!(doi.to_lowercase(), doi.clone());
            prop_assert!(!doi.chars().any(char::is_whitespace));
            prop_assert_eq!(normalize_doi(&doi), Some(doi.clone()));
        }
    }

    #[test]
    fn every_prefix_form_gives_the_same_doi(
        registrant in "[0-9]{4,5}",
        suffix in "[A-Za-z0-9._;()/:-]{1,30}",
        prefix in prop::sample::select(vec!["", "doi:", "DOI:", "https://doi.org/", "http://dx.doi.org/", "https://dx.doi.org/", "HTTPS://DOI.ORG/"]),
        pad in "[ \t\n]{0,3}",
    ) {
        let bare = format!("10.{registrant}/{suffix}");
        let want = bare.to_lowercase();
        prop_assert_eq!(normalize_doi(&format!("{pad}{prefix}{bare}{pad}")), Some(want));
    }

    #[test]
    fn arxiv_versions_never_matter(yymm in "[0-9]{4}", num in "[0-9]{5}", v in 1u32..40) {
        let id = format!("{yymm}.{num}");
        prop_assert_eq!(normalize_arxiv_id(&format!("http://arxiv.org/abs/{id}v{v}")), Some(id.clone()));
        prop_assert_eq!(normalize_arxiv_id(&format!("arXiv:{id}")), Some(id));
    }
}
