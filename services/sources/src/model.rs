//! The one normalised paper shape every source produces.

use serde::{Deserialize, Serialize};

/// One work as every source reports it after normalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    /// Plain-text title (markup removed, whitespace collapsed).
    pub title: String,
    /// Plain text (markup removed; OpenAlex's inverted index rebuilt; PubMed's
    /// labelled sections kept in order as "LABEL: text" paragraphs).
    pub abstract_text: Option<String>,
    /// Authors in the source's order.
    pub authors: Vec<Author>,
    /// Publication date with its precision.
    pub publication_date: Option<PublicationDate>,
    /// Journal, conference or book (arXiv: the journal reference, if any).
    pub venue: Option<String>,
    /// Normalised: lower case, no `https://doi.org/` / `doi:` prefix, trimmed.
    pub doi: Option<String>,
    /// The work's ids in each source, normalised.
    pub external_ids: ExternalIds,
    /// A landing page (the source's record or the publisher's).
    pub url: Option<String>,
    /// Citations as the source counts them (OpenAlex, Semantic Scholar only).
    pub citation_count: Option<u64>,
}

/// One author (a person or a collective).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Display name (`ForeName LastName` for PubMed).
    pub name: String,
    /// Bare ORCID iD (`0000-0002-1825-0097`), no URL prefix.
    pub orcid: Option<String>,
    /// Affiliation names, in the source's order.
    pub affiliations: Vec<String>,
}

/// Source identifiers of one work; the de-duplication keys besides the DOI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIds {
    /// `W2741809807` (no URL prefix).
    pub openalex: Option<String>,
    /// PubMed id, digits only.
    pub pmid: Option<String>,
    /// `PMC1234567`.
    pub pmcid: Option<String>,
    /// Without version: `2202.12139`, `astro-ph/0601001`.
    pub arxiv: Option<String>,
    /// Semantic Scholar paperId (40 hex).
    pub s2: Option<String>,
}

/// How precise a [`PublicationDate`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePrecision {
    /// `YYYY`.
    Year,
    /// `YYYY-MM`.
    Month,
    /// `YYYY-MM-DD`.
    Day,
    /// Free text such as PubMed's MedlineDate `1998 Dec-1999 Jan`.
    Text,
}

/// A date as precise as the source gave it: `value` is `YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD`, or the source's free text when `precision` is `Text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationDate {
    /// The date as text, see the type's description.
    pub value: String,
    /// What `value` holds.
    pub precision: DatePrecision,
}

impl PublicationDate {
    /// A year-only date (`YYYY`).
    pub fn year(year: i32) -> Option<Self> {
        (1..=9999).contains(&year).then(|| PublicationDate {
            value: format!("{year:04}"),
            precision: DatePrecision::Year,
        })
    }

    /// A date from its parts, as precise as the parts allow: an invalid month drops
    /// the month and day (Year precision), an invalid day drops the day (Month).
    pub fn from_parts(year: i32, month: Option<u32>, day: Option<u32>) -> Option<Self> {
        let year_only = Self::year(year)?;
        let Some(month) = month.filter(|m| (1..=12).contains(m)) else {
            return Some(year_only);
        };
        if let Some(day) = day
            && chrono::NaiveDate::from_ymd_opt(year, month, day).is_some()
        {
            return Some(PublicationDate {
                value: format!("{year:04}-{month:02}-{day:02}"),
                precision: DatePrecision::Day,
            });
        }
        Some(PublicationDate {
            value: format!("{year:04}-{month:02}"),
            precision: DatePrecision::Month,
        })
    }

    /// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or an RFC 3339 timestamp (only its
    /// date is kept). Anything else is `None`.
    pub fn parse_iso(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let date = raw.get(..10).filter(|_| raw.len() > 10).unwrap_or(raw);
        let mut parts = date.split('-');
        let year = parse_fixed_digits(parts.next()?, 4)?;
        let month = match parts.next() {
            Some(m) => Some(parse_fixed_digits(m, 2)?),
            None => None,
        };
        let day = match parts.next() {
            Some(d) => Some(parse_fixed_digits(d, 2)?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        let parsed = Self::from_parts(year as i32, month, day)?;
        // A date whose parts were present but invalid is rejected rather than
        // silently made less precise: `2021-02-30` is not "February 2021".
        let expected = match (month, day) {
            (None, _) => DatePrecision::Year,
            (Some(_), None) => DatePrecision::Month,
            (Some(_), Some(_)) => DatePrecision::Day,
        };
        (parsed.precision == expected).then_some(parsed)
    }
}

fn parse_fixed_digits(s: &str, len: usize) -> Option<u32> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Strips a case-insensitive ASCII prefix.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The last non-empty path segment of a URL-ish value (`https://x/y/123/` → `123`),
/// or the value itself when it has no `/`.
fn last_segment(s: &str) -> &str {
    s.trim_end_matches('/').rsplit('/').next().unwrap_or(s)
}

/// Normalises a DOI: trimmed, lower case, without `https://doi.org/`,
/// `http://dx.doi.org/`, `https://dx.doi.org/`, `doi:` (any case). Returns `None`
/// for anything that is not `10.<registrant>/<suffix>` afterwards.
pub fn normalize_doi(raw: &str) -> Option<String> {
    const PREFIXES: [&str; 7] = [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "https://www.doi.org/",
        "doi.org/",
        "doi:",
    ];
    let mut s = raw.trim();
    for prefix in PREFIXES {
        if let Some(rest) = strip_prefix_ci(s, prefix) {
            s = rest.trim_start();
            break;
        }
    }
    let (registrant, suffix) = s.strip_prefix("10.")?.split_once('/')?;
    let valid = !registrant.is_empty()
        && registrant.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !suffix.is_empty()
        && !s.chars().any(char::is_whitespace);
    valid.then(|| s.to_lowercase())
}

/// Normalises an arXiv identifier to its versionless form: strips `arXiv:`, an
/// `arxiv.org/abs/` or `/pdf/` URL, a `.pdf` suffix and the version (`v2`).
/// Accepts new-style (`2202.12139`) and old-style (`astro-ph/0601001`,
/// `math.GT/0309136`) identifiers; `None` for anything else.
pub fn normalize_arxiv_id(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = strip_prefix_ci(s, prefix) {
            s = rest;
        }
    }
    for prefix in ["export.arxiv.org/", "www.arxiv.org/", "arxiv.org/"] {
        if let Some(rest) = strip_prefix_ci(s, prefix) {
            s = rest;
            break;
        }
    }
    for prefix in ["abs/", "pdf/", "arxiv:"] {
        if let Some(rest) = strip_prefix_ci(s, prefix) {
            s = rest;
        }
    }
    let s = s.strip_suffix(".pdf").unwrap_or(s).trim_end_matches('/');
    let s = strip_version(s);
    is_arxiv_id(s).then(|| s.to_string())
}

fn strip_version(s: &str) -> &str {
    match s.rfind('v') {
        Some(i) if i + 1 < s.len() && s[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &s[..i],
        _ => s,
    }
}

fn is_arxiv_id(s: &str) -> bool {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some((archive, number)) = s.split_once('/') {
        // Old style: archive (optionally `.SUBJECT`) / YYMMNNN.
        let (name, subject) = archive.split_once('.').unwrap_or((archive, ""));
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && subject.bytes().all(|b| b.is_ascii_alphabetic())
            && number.len() == 7
            && digits(number)
    } else if let Some((yymm, number)) = s.split_once('.') {
        yymm.len() == 4 && digits(yymm) && (4..=5).contains(&number.len()) && digits(number)
    } else {
        false
    }
}

/// Normalises a PubMed Central id to `PMC<digits>`: accepts `PMC123`, `pmc123`,
/// `123` and PMC article URLs; `None` otherwise.
pub fn normalize_pmcid(raw: &str) -> Option<String> {
    let s = last_segment(raw.trim());
    let digits = strip_prefix_ci(s, "PMC").unwrap_or(s);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("PMC{digits}"))
}

/// Normalises a PubMed id: bare digits, from `123` or `https://pubmed.ncbi.nlm.nih.gov/123/`.
pub fn normalize_pmid(raw: &str) -> Option<String> {
    let s = last_segment(raw.trim());
    let s = strip_prefix_ci(s, "pmid:").unwrap_or(s).trim();
    (!s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_string())
}

/// Normalises an ORCID iD to its bare form `0000-0002-1825-0097` (URL prefixes
/// stripped, a final `x` upper-cased); `None` when it does not look like one.
pub fn normalize_orcid(raw: &str) -> Option<String> {
    let s = last_segment(raw.trim()).to_ascii_uppercase();
    let b = s.as_bytes();
    let well_formed = b.len() == 19
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 9 | 14 => c == b'-',
            18 => c.is_ascii_digit() || c == b'X',
            _ => c.is_ascii_digit(),
        });
    well_formed.then_some(s)
}
