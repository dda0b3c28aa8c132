//! Start endpoints: one typed body per source, validated into a `CreateRunRequest`.

use crate::extract::BodyShape;
use crate::problem::ApiError;
use chrono::NaiveDate;
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

fn query(raw: String) -> Result<String, ApiError> {
    let q = raw.trim();
    if q.is_empty() {
        return Err(ApiError::validation("query", "must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::validation(
            "query",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if q.chars().any(|c| c.is_control() && c != '\t' && c != '\n') {
        return Err(ApiError::validation(
            "query",
            "must not contain control characters",
        ));
    }
    Ok(q.to_owned())
}

fn max_results(raw: Option<u32>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_MAX_RESULTS),
        Some(n) if (1..=MAX_MAX_RESULTS).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation(
            "max_results",
            format!("must be between 1 and {MAX_MAX_RESULTS}"),
        )),
    }
}

fn date(field: &str, raw: Option<&String>) -> Result<Option<NaiveDate>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let parsed = shaped
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten();
    parsed
        .map(Some)
        .ok_or_else(|| ApiError::validation(field, "must be a calendar date YYYY-MM-DD"))
}

/// Validates the date range; returns the normalised pair.
fn date_range(
    from: Option<String>,
    to: Option<String>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let f = date("filters.from_date", from.as_ref())?;
    let t = date("filters.to_date", to.as_ref())?;
    if let (Some(f), Some(t)) = (f, t)
        && f > t
    {
        return Err(ApiError::validation(
            "filters.from_date",
            "must not be after filters.to_date",
        ));
    }
    Ok((from, to))
}

fn list(
    field: &str,
    items: Option<Vec<String>>,
    valid: fn(&str) -> bool,
    rule: &str,
) -> Result<Vec<String>, ApiError> {
    let items = items.unwrap_or_default();
    if items.len() > MAX_LIST_ENTRIES {
        return Err(ApiError::validation(
            field,
            format!("at most {MAX_LIST_ENTRIES} entries"),
        ));
    }
    if let Some(i) = items.iter().position(|s| !valid(s)) {
        return Err(ApiError::validation(format!("{field}[{i}]"), rule));
    }
    Ok(items)
}

/// `cs.CL`, `astro-ph.GA`, `math`: `^[a-z-]+(\.[A-Za-z-]+)?$`, at most 64 characters.
pub fn is_arxiv_category(c: &str) -> bool {
    let (archive, sub) = match c.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (c, None),
    };
    c.len() <= 64
        && !archive.is_empty()
        && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && sub.is_none_or(|s| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
        })
}

fn is_field_of_study(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars().count() <= 64
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
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
    fn arxiv_categories_follow_the_pattern() {
        for ok in ["cs.CL", "astro-ph.GA", "math", "q-bio.NC", "hep-th"] {
            assert!(is_arxiv_category(ok), "{ok}");
        }
        for bad in ["", "CS.CL", "cs.", ".CL", "cs.CL.x", "cs CL", "cs.C1"] {
            assert!(!is_arxiv_category(bad), "{bad}");
        }
    }

    #[test]
    fn dates_must_be_real_and_zero_padded() {
        assert!(date("d", Some(&"2024-02-29".into())).unwrap().is_some());
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-05",
            "20240105",
            "2024-01-05T00:00",
            " 2024-01-05",
        ] {
            assert!(date("d", Some(&bad.into())).is_err(), "{bad}");
        }
    }

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
