//! Records from fetchers, normalised into the keys papers are matched on.
//! ingestion-control does not trust fetchers to have normalised: the unique keys
//! are only as good as the normalisation in front of them.

use ingestion_proto::v1;
use serde::Serialize;

/// Bounds on what one record may carry; longer values are cut, not refused, so a
/// single odd record does not fail a whole run.
const MAX_TITLE_CHARS: usize = 2_000;
const MAX_ABSTRACT_CHARS: usize = 100_000;
const MAX_AUTHORS: usize = 2_000;
const MAX_SHORT_CHARS: usize = 500;
/// Records per page accepted by `RecordPage`.
pub const MAX_RECORDS_PER_PAGE: usize = 2_000;

/// One record as `import_papers()` reads it: each field becomes one element of that
/// field's array (migrations/0005_import_papers_typed_arrays.sql).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    pub title: String,
    pub abstract_text: Option<String>,
    pub authors: Vec<AuthorJson>,
    pub publication_date: Option<String>,
    pub date_precision: Option<&'static str>,
    pub venue: Option<String>,
    pub doi: Option<String>,
    pub openalex_id: Option<String>,
    pub pmid: Option<String>,
    pub pmcid: Option<String>,
    pub arxiv_id: Option<String>,
    pub s2_id: Option<String>,
    pub url: Option<String>,
    pub citation_count: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AuthorJson {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orcid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affiliations: Vec<String>,
}

/// Trimmed, without NUL characters (PostgreSQL's text cannot hold them, and one would
/// fail the whole page), and at most `max` characters. Works in the string it is given:
/// a page is a thousand records of a dozen fields, and copying each field and counting
/// every abstract's characters took about a sixth of ingestion-control's CPU per page
/// (BENCHMARKS.md, "Import").
fn clip(mut s: String, max: usize) -> String {
    if s.contains('\0') {
        s.retain(|c| c != '\0');
    }
    s.truncate(s.trim_end().len());
    let leading = s.len() - s.trim_start().len();
    s.drain(..leading);
    // At most `max` bytes is at most `max` characters: only longer strings are counted.
    if s.len() > max
        && let Some((cut, _)) = s.char_indices().nth(max)
    {
        s.truncate(cut);
    }
    s
}

fn non_empty(s: Option<String>, max: usize) -> Option<String> {
    s.map(|v| clip(v, max)).filter(|v| !v.is_empty())
}

/// Lower case, trimmed, without resolver prefixes; `None` unless it looks like a DOI.
pub fn normalize_doi(raw: &str) -> Option<String> {
    let lower = raw.trim().to_lowercase();
    let mut s = lower.as_str();
    for prefix in [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi.org/",
        "doi:",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.trim_start();
            break;
        }
    }
    (s.starts_with("10.")
        && s.contains('/')
        && s.len() <= 300
        && !s.chars().any(|c| c.is_whitespace() || c.is_control()))
    .then(|| s.to_owned())
}

/// arXiv id without version, prefix or URL: `2202.12139`, `astro-ph/0601001`.
pub fn normalize_arxiv_id(raw: &str) -> Option<String> {
    let s = raw.trim();
    let s = s
        .rsplit_once("arxiv.org/abs/")
        .map(|(_, id)| id)
        .unwrap_or(s);
    let s = s
        .strip_prefix("arXiv:")
        .or_else(|| s.strip_prefix("arxiv:"))
        .unwrap_or(s);
    let s = match s.rfind('v') {
        Some(i) if i + 1 < s.len() && s[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i > 0 => {
            &s[..i]
        }
        _ => s,
    };
    let valid = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"./-".contains(&b));
    valid.then(|| s.to_owned())
}

fn simple_id(raw: Option<String>, valid: fn(&str) -> bool) -> Option<String> {
    raw.map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64 && valid(v))
}

impl ImportRecord {
    pub fn from_proto(record: v1::PaperRecord) -> ImportRecord {
        let ids = record.external_ids.unwrap_or_default();
        let mut doi = record.doi.as_deref().and_then(normalize_doi);
        let mut arxiv_id = ids.arxiv.as_deref().and_then(normalize_arxiv_id);
        // arXiv's own DataCite DOI names the preprint, which the arXiv id already keys
        // (ADR-006): keep the DOI column for the published version's DOI.
        if let Some(d) = doi.as_deref()
            && let Some(id) = d.strip_prefix("10.48550/arxiv.")
        {
            arxiv_id = arxiv_id.or_else(|| normalize_arxiv_id(id));
            doi = None;
        }
        let date_precision = match v1::DatePrecision::try_from(record.date_precision) {
            Ok(v1::DatePrecision::Year) => Some("year"),
            Ok(v1::DatePrecision::Month) => Some("month"),
            Ok(v1::DatePrecision::Day) => Some("day"),
            Ok(v1::DatePrecision::Text) => Some("text"),
            _ => None,
        };
        let publication_date = non_empty(record.publication_date, 64);
        ImportRecord {
            title: clip(record.title, MAX_TITLE_CHARS),
            abstract_text: non_empty(record.abstract_text, MAX_ABSTRACT_CHARS),
            authors: record
                .authors
                .into_iter()
                .take(MAX_AUTHORS)
                .filter(|a| !a.name.trim().is_empty())
                .map(|a| AuthorJson {
                    name: clip(a.name, MAX_SHORT_CHARS),
                    orcid: non_empty(a.orcid, 64),
                    affiliations: a
                        .affiliations
                        .into_iter()
                        .take(50)
                        .map(|s| clip(s, MAX_SHORT_CHARS))
                        .filter(|s| !s.is_empty())
                        .collect(),
                })
                .collect(),
            date_precision: publication_date.as_ref().and(date_precision),
            publication_date,
            venue: non_empty(record.venue, MAX_SHORT_CHARS),
            doi,
            openalex_id: simple_id(
                ids.openalex.map(|v| {
                    v.trim()
                        .trim_start_matches("https://openalex.org/")
                        .to_uppercase()
                }),
                |v| v.starts_with('W') && v[1..].bytes().all(|b| b.is_ascii_digit()),
            ),
            pmid: simple_id(ids.pmid, |v| v.bytes().all(|b| b.is_ascii_digit())),
            pmcid: simple_id(
                ids.pmcid.map(|v| {
                    let v = v.trim().to_uppercase();
                    if v.starts_with("PMC") {
                        v
                    } else {
                        format!("PMC{v}")
                    }
                }),
                |v| v[3..].bytes().all(|b| b.is_ascii_digit()) && v.len() > 3,
            ),
            arxiv_id,
            s2_id: simple_id(ids.s2.map(|v| v.to_lowercase()), |v| {
                v.bytes().all(|b| b.is_ascii_hexdigit())
            }),
            url: non_empty(record.url, 2_000),
            citation_count: record.citation_count.map(|c| c.min(i64::MAX as u64) as i64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doi_normalisation_handles_case_prefixes_whitespace_and_url_forms() {
        for (raw, want) in [
            (
                "10.1371/journal.pone.0000030",
                Some("10.1371/journal.pone.0000030"),
            ),
            (
                "  10.1371/JOURNAL.PONE.0000030 ",
                Some("10.1371/journal.pone.0000030"),
            ),
            ("https://doi.org/10.1000/XYZ", Some("10.1000/xyz")),
            ("http://dx.doi.org/10.1000/xyz", Some("10.1000/xyz")),
            ("HTTPS://DOI.ORG/10.1000/xyz", Some("10.1000/xyz")),
            ("doi:10.1000/xyz", Some("10.1000/xyz")),
            ("DOI: 10.1000/xyz", Some("10.1000/xyz")),
            ("doi.org/10.1000/xyz", Some("10.1000/xyz")),
            ("", None),
            ("not a doi", None),
            ("11.1000/xyz", None),
            ("10.1000", None),
            ("10.1000/a b", None),
        ] {
            assert_eq!(normalize_doi(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn arxiv_ids_lose_versions_prefixes_and_urls() {
        for (raw, want) in [
            ("2202.12139v1", Some("2202.12139")),
            ("2202.12139", Some("2202.12139")),
            ("http://arxiv.org/abs/2202.12139v3", Some("2202.12139")),
            ("arXiv:1707.08567v2", Some("1707.08567")),
            ("astro-ph/0601001v1", Some("astro-ph/0601001")),
            ("", None),
            ("2202.12139; drop table", None),
        ] {
            assert_eq!(normalize_arxiv_id(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn arxiv_datacite_doi_is_folded_into_the_arxiv_id() {
        let rec = ImportRecord::from_proto(v1::PaperRecord {
            title: "T".into(),
            doi: Some("https://doi.org/10.48550/arXiv.2202.12139".into()),
            ..Default::default()
        });
        assert_eq!(rec.doi, None);
        assert_eq!(rec.arxiv_id.as_deref(), Some("2202.12139"));
    }

    #[test]
    fn hostile_values_are_clipped_or_dropped() {
        let rec = ImportRecord::from_proto(v1::PaperRecord {
            title: "x".repeat(10_000),
            external_ids: Some(v1::ExternalIds {
                openalex: Some("https://openalex.org/W123".into()),
                pmid: Some("12a".into()),
                pmcid: Some("1234".into()),
                s2: Some("ZZZ".into()),
                ..Default::default()
            }),
            authors: vec![v1::Author {
                name: "  ".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(rec.title.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(rec.openalex_id.as_deref(), Some("W123"));
        assert_eq!(rec.pmid, None);
        assert_eq!(rec.pmcid.as_deref(), Some("PMC1234"));
        assert_eq!(rec.s2_id, None);
        assert!(rec.authors.is_empty());
    }

    #[test]
    fn nul_characters_are_dropped_so_a_page_cannot_fail_on_them() {
        let rec = ImportRecord::from_proto(v1::PaperRecord {
            title: "\0 Ti\0tle".into(),
            abstract_text: Some("\0".into()),
            doi: Some("10.1000/a\0b".into()),
            authors: vec![v1::Author {
                name: "A\0da".into(),
                affiliations: vec!["U\0ni".into()],
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(rec.title, "Title");
        assert_eq!(rec.abstract_text, None);
        assert_eq!(rec.doi, None);
        assert_eq!(rec.authors[0].name, "Ada");
        assert_eq!(rec.authors[0].affiliations, ["Uni"]);
    }

    #[test]
    fn clipping_trims_and_counts_characters_not_bytes() {
        assert_eq!(clip("  Ångström \n".into(), 100), "Ångström");
        assert_eq!(
            clip("ééééé".into(), 3),
            "ééé",
            "10 bytes, 5 characters, cut at 3"
        );
        assert_eq!(clip("éé".into(), 3), "éé", "4 bytes but only 2 characters");
        assert_eq!(clip("abc".into(), 3), "abc");
        assert_eq!(clip(" \0 ".into(), 3), "");
        assert_eq!(
            clip("\u{3000}中文\u{3000}".into(), 1),
            "中",
            "Unicode spaces trimmed"
        );
    }
}
