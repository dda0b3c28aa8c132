//! Start endpoints: one typed body per source, validated into a `CreateRunRequest`.

use super::rules::{date_range, is_arxiv_category, is_field_of_study, list, max_results, query};
use crate::extract::BodyShape;
use crate::problem::ApiError;
use ingestion_proto::v1::{self, run_filters::Filters};
use platform::Source;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default `max_results`.
pub const DEFAULT_MAX_RESULTS: u32 = 100;
/// Largest `max_results`.
pub const MAX_MAX_RESULTS: u32 = 10_000;
/// Longest query, in characters after trimming.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Most entries in a list filter.
pub const MAX_LIST_ENTRIES: usize = 20;

/// A start request of one source, ready for ingestion-control.
pub trait StartRequest: serde::de::DeserializeOwned + BodyShape {
    /// The source this body starts.
    const SOURCE: Source;

    /// Checks every rule and builds the gRPC request (without the idempotency key).
    fn into_create(self) -> Result<v1::CreateRunRequest, ApiError>;
}

/// Start an OpenAlex run.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": "graph neural networks", "max_results": 200,
    "filters": {"from_date": "2023-01-01", "work_type": "article", "open_access": true}}))]
pub struct OpenAlexStart {
    /// Search terms, 1 to 1000 characters after trimming.
    #[schema(min_length = 1, max_length = 1000)]
    pub query: String,
    /// How many records to fetch at most (default 100).
    #[schema(minimum = 1, maximum = 10000, default = 100)]
    pub max_results: Option<u32>,
    /// OpenAlex filters.
    pub filters: Option<OpenAlexFilters>,
}

/// OpenAlex filters.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAlexFilters {
    /// Earliest publication date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from_date: Option<String>,
    /// Latest publication date, `YYYY-MM-DD`, not before `from_date`.
    #[schema(format = Date)]
    pub to_date: Option<String>,
    /// OpenAlex work type, e.g. `article`, `preprint` (lowercase letters and hyphens, at most 40).
    #[schema(pattern = "^[a-z-]{1,40}$")]
    pub work_type: Option<String>,
    /// Only open-access works.
    pub open_access: Option<bool>,
}

/// Start a PubMed run.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": "crispr off-target", "filters": {"from_date": "2020-01-01", "to_date": "2024-12-31"}}))]
pub struct PubmedStart {
    /// Search terms (PubMed query syntax), 1 to 1000 characters after trimming.
    #[schema(min_length = 1, max_length = 1000)]
    pub query: String,
    /// How many records to fetch at most (default 100).
    #[schema(minimum = 1, maximum = 10000, default = 100)]
    pub max_results: Option<u32>,
    /// PubMed filters.
    pub filters: Option<PubmedFilters>,
}

/// PubMed filters.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PubmedFilters {
    /// Earliest publication date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from_date: Option<String>,
    /// Latest publication date, `YYYY-MM-DD`, not before `from_date`.
    #[schema(format = Date)]
    pub to_date: Option<String>,
}

/// Start an arXiv run.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": "retrieval augmented generation", "filters": {"categories": ["cs.CL", "cs.IR"]}}))]
pub struct ArxivStart {
    /// Search terms, 1 to 1000 characters after trimming.
    #[schema(min_length = 1, max_length = 1000)]
    pub query: String,
    /// How many records to fetch at most (default 100).
    #[schema(minimum = 1, maximum = 10000, default = 100)]
    pub max_results: Option<u32>,
    /// arXiv filters.
    pub filters: Option<ArxivFilters>,
}

/// arXiv filters.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArxivFilters {
    /// Earliest submission date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from_date: Option<String>,
    /// Latest submission date, `YYYY-MM-DD`, not before `from_date`.
    #[schema(format = Date)]
    pub to_date: Option<String>,
    /// Up to 20 categories such as `cs.CL`, `astro-ph.GA` or `math`, OR-ed together.
    #[schema(max_items = 20, pattern = "^[a-z-]+(\\.[A-Za-z-]+)?$")]
    pub categories: Option<Vec<String>>,
}

/// Start a Semantic Scholar run.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": "protein folding", "max_results": 500,
    "filters": {"fields_of_study": ["Biology"], "min_citation_count": 10}}))]
pub struct SemanticScholarStart {
    /// Search terms, 1 to 1000 characters after trimming.
    #[schema(min_length = 1, max_length = 1000)]
    pub query: String,
    /// How many records to fetch at most (default 100).
    #[schema(minimum = 1, maximum = 10000, default = 100)]
    pub max_results: Option<u32>,
    /// Semantic Scholar filters.
    pub filters: Option<SemanticScholarFilters>,
}

/// Semantic Scholar filters.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SemanticScholarFilters {
    /// Earliest publication date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from_date: Option<String>,
    /// Latest publication date, `YYYY-MM-DD`, not before `from_date`.
    #[schema(format = Date)]
    pub to_date: Option<String>,
    /// Up to 20 fields of study (letters, digits, spaces, hyphens; at most 64 characters each).
    #[schema(max_items = 20)]
    pub fields_of_study: Option<Vec<String>>,
    /// Only papers with an open-access PDF.
    pub open_access_pdf: Option<bool>,
    /// Only papers cited at least this often.
    pub min_citation_count: Option<u32>,
}

/// The 202 answer of a start endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"ingest_run_id": "0192f5d2-8c1e-7a41-9a0e-3f5b8e2d1c44", "source": "pubmed",
    "status": "queued", "message": "Run queued; follow it at /ingestion/runs/0192f5d2-8c1e-7a41-9a0e-3f5b8e2d1c44"}))]
pub struct StartRunResponse {
    /// The run's id.
    #[schema(format = Uuid)]
    pub ingest_run_id: String,
    /// Stored source name (`openalex`, `pubmed`, `arxiv`, `semantic_scholar`).
    pub source: String,
    /// `queued` for a new run; the run's current status for an idempotent replay.
    pub status: String,
    /// What happened, for a human.
    pub message: String,
}

fn create(
    source: Source,
    query_raw: String,
    max: Option<u32>,
    filters: Option<Filters>,
) -> Result<v1::CreateRunRequest, ApiError> {
    Ok(v1::CreateRunRequest {
        source: source.to_proto() as i32,
        query: query(query_raw)?,
        max_results: max_results(max)?,
        filters: filters.map(|f| v1::RunFilters { filters: Some(f) }),
        idempotency_key: None,
    })
}

impl BodyShape for OpenAlexStart {
    const OBJECT_MEMBERS: &'static [&'static str] = &["filters"];
}

impl BodyShape for PubmedStart {
    const OBJECT_MEMBERS: &'static [&'static str] = &["filters"];
}

impl BodyShape for ArxivStart {
    const OBJECT_MEMBERS: &'static [&'static str] = &["filters"];
}

impl BodyShape for SemanticScholarStart {
    const OBJECT_MEMBERS: &'static [&'static str] = &["filters"];
}

impl StartRequest for OpenAlexStart {
    const SOURCE: Source = Source::OpenAlex;

    fn into_create(self) -> Result<v1::CreateRunRequest, ApiError> {
        let filters = self
            .filters
            .map(|f| -> Result<Filters, ApiError> {
                let (from_date, to_date) = date_range(f.from_date, f.to_date)?;
                if let Some(t) = &f.work_type
                    && (t.is_empty()
                        || t.len() > 40
                        || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
                {
                    return Err(ApiError::validation(
                        "filters.work_type",
                        "lowercase letters and hyphens, at most 40",
                    ));
                }
                Ok(Filters::Openalex(v1::OpenAlexFilters {
                    from_date,
                    to_date,
                    work_type: f.work_type,
                    open_access: f.open_access,
                }))
            })
            .transpose()?;
        create(Self::SOURCE, self.query, self.max_results, filters)
    }
}

impl StartRequest for PubmedStart {
    const SOURCE: Source = Source::Pubmed;

    fn into_create(self) -> Result<v1::CreateRunRequest, ApiError> {
        let filters = self
            .filters
            .map(|f| -> Result<Filters, ApiError> {
                let (from_date, to_date) = date_range(f.from_date, f.to_date)?;
                Ok(Filters::Pubmed(v1::PubmedFilters { from_date, to_date }))
            })
            .transpose()?;
        create(Self::SOURCE, self.query, self.max_results, filters)
    }
}

impl StartRequest for ArxivStart {
    const SOURCE: Source = Source::Arxiv;

    fn into_create(self) -> Result<v1::CreateRunRequest, ApiError> {
        let filters = self
            .filters
            .map(|f| -> Result<Filters, ApiError> {
                let (from_date, to_date) = date_range(f.from_date, f.to_date)?;
                let categories = list(
                    "filters.categories",
                    f.categories,
                    is_arxiv_category,
                    "must be an arXiv category such as cs.CL, astro-ph.GA or math",
                )?;
                Ok(Filters::Arxiv(v1::ArxivFilters {
                    from_date,
                    to_date,
                    categories,
                }))
            })
            .transpose()?;
        create(Self::SOURCE, self.query, self.max_results, filters)
    }
}

impl StartRequest for SemanticScholarStart {
    const SOURCE: Source = Source::SemanticScholar;

    fn into_create(self) -> Result<v1::CreateRunRequest, ApiError> {
        let filters = self
            .filters
            .map(|f| -> Result<Filters, ApiError> {
                let (from_date, to_date) = date_range(f.from_date, f.to_date)?;
                let fields_of_study = list(
                    "filters.fields_of_study",
                    f.fields_of_study,
                    is_field_of_study,
                    "1 to 64 letters, digits, spaces or hyphens",
                )?;
                Ok(Filters::SemanticScholar(v1::SemanticScholarFilters {
                    from_date,
                    to_date,
                    fields_of_study,
                    open_access_pdf: f.open_access_pdf,
                    min_citation_count: f.min_citation_count,
                }))
            })
            .transpose()?;
        create(Self::SOURCE, self.query, self.max_results, filters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_body_gets_the_defaults() {
        let req = PubmedStart {
            query: "  crispr  ".into(),
            max_results: None,
            filters: None,
        }
        .into_create()
        .unwrap();
        assert_eq!(req.query, "crispr");
        assert_eq!(req.max_results, 100);
        assert_eq!(req.source, v1::Source::Pubmed as i32);
        assert!(req.filters.is_none());
    }
}
