//! The one normalised paper shape every source produces.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    pub title: String,
    /// Plain text (markup removed; OpenAlex's inverted index rebuilt; PubMed's
    /// labelled sections kept in order as "LABEL: text" paragraphs).
    pub abstract_text: Option<String>,
    pub authors: Vec<Author>,
    pub publication_date: Option<PublicationDate>,
    pub venue: Option<String>,
    /// Normalised: lower case, no `https://doi.org/` / `doi:` prefix, trimmed.
    pub doi: Option<String>,
    pub external_ids: ExternalIds,
    pub url: Option<String>,
    pub citation_count: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    /// Bare ORCID iD (`0000-0002-1825-0097`), no URL prefix.
    pub orcid: Option<String>,
    pub affiliations: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIds {
    /// `W2741809807` (no URL prefix).
    pub openalex: Option<String>,
    pub pmid: Option<String>,
    /// `PMC1234567`.
    pub pmcid: Option<String>,
    /// Without version: `2202.12139`, `astro-ph/0601001`.
    pub arxiv: Option<String>,
    /// Semantic Scholar paperId (40 hex).
    pub s2: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePrecision {
    Year,
    Month,
    Day,
    /// Free text such as PubMed's MedlineDate `1998 Dec-1999 Jan`.
    Text,
}

/// A date as precise as the source gave it: `value` is `YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD`, or the source's free text when `precision` is `Text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationDate {
    pub value: String,
    pub precision: DatePrecision,
}
