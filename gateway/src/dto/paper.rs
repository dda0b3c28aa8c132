//! A paper as JSON: one per work per organisation, merged across sources.

use super::run::{source_name, timestamp};
use chrono::{DateTime, Utc};
use ingestion_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One stored paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaperView {
    /// The paper's id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Title.
    pub title: String,
    /// Plain-text abstract.
    #[serde(rename = "abstract")]
    pub abstract_text: Option<String>,
    /// Authors in order.
    pub authors: Vec<AuthorView>,
    /// As precise as the source gave it: `2021`, `2021-03`, `2021-03-04`, or free text.
    pub publication_date: Option<String>,
    /// `year`, `month`, `day` or `text`; null when unknown.
    pub date_precision: Option<String>,
    /// Journal, conference or archive.
    pub venue: Option<String>,
    /// Normalised DOI (lower case, without `https://doi.org/`).
    pub doi: Option<String>,
    /// The paper's id in each source that has it.
    pub external_ids: ExternalIdsView,
    /// Landing page.
    pub url: Option<String>,
    /// Citations, when a source reports them.
    pub citation_count: Option<u64>,
    /// Stored names of the sources that found it.
    pub sources: Vec<String>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

/// An author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuthorView {
    /// Display name.
    pub name: String,
    /// ORCID iD, when known.
    pub orcid: Option<String>,
    /// Affiliations as given.
    pub affiliations: Vec<String>,
}

/// Source-specific ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExternalIdsView {
    /// OpenAlex work id.
    pub openalex: Option<String>,
    /// PubMed id.
    pub pmid: Option<String>,
    /// PubMed Central id.
    pub pmcid: Option<String>,
    /// arXiv id without version.
    pub arxiv: Option<String>,
    /// Semantic Scholar paperId.
    pub s2: Option<String>,
}

/// A page of papers, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaperPage {
    /// The papers of this page.
    pub items: Vec<PaperView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

fn precision(value: i32) -> Option<String> {
    let name = match v1::DatePrecision::try_from(value).ok()? {
        v1::DatePrecision::Year => "year",
        v1::DatePrecision::Month => "month",
        v1::DatePrecision::Day => "day",
        v1::DatePrecision::Text => "text",
        v1::DatePrecision::Unspecified => return None,
    };
    Some(name.to_owned())
}

impl From<v1::Paper> for PaperView {
    fn from(p: v1::Paper) -> Self {
        let ids = p.external_ids.unwrap_or_default();
        PaperView {
            id: p.id,
            title: p.title,
            abstract_text: p.abstract_text,
            authors: p
                .authors
                .into_iter()
                .map(|a| AuthorView {
                    name: a.name,
                    orcid: a.orcid,
                    affiliations: a.affiliations,
                })
                .collect(),
            publication_date: p.publication_date,
            date_precision: precision(p.date_precision),
            venue: p.venue,
            doi: p.doi,
            external_ids: ExternalIdsView {
                openalex: ids.openalex,
                pmid: ids.pmid,
                pmcid: ids.pmcid,
                arxiv: ids.arxiv,
                s2: ids.s2,
            },
            url: p.url,
            citation_count: p.citation_count,
            sources: p.sources.into_iter().map(source_name).collect(),
            created_at: timestamp(p.created_at.as_ref()).unwrap_or(DateTime::UNIX_EPOCH),
            updated_at: timestamp(p.updated_at.as_ref()).unwrap_or(DateTime::UNIX_EPOCH),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_json_uses_contract_names() {
        let paper = v1::Paper {
            id: "p1".into(),
            title: "T".into(),
            abstract_text: Some("A".into()),
            date_precision: v1::DatePrecision::Month as i32,
            sources: vec![
                v1::Source::Pubmed as i32,
                v1::Source::SemanticScholar as i32,
            ],
            external_ids: Some(v1::ExternalIds {
                pmid: Some("123".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = serde_json::to_value(PaperView::from(paper)).unwrap();
        assert_eq!(json["abstract"], "A");
        assert_eq!(json["date_precision"], "month");
        assert_eq!(
            json["sources"],
            serde_json::json!(["pubmed", "semantic_scholar"])
        );
        assert_eq!(json["external_ids"]["pmid"], "123");
        assert!(json["external_ids"]["s2"].is_null());
    }
}
