//! The run's `filters` object, read once into one typed struct; each source uses
//! the keys that apply to it and ignores the rest (the gateway already rejected
//! unknown keys for that source).

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::SourceError;

/// Filters as stored with the run (see [`crate::RunSpec::filters`]).
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct RunFilters {
    /// Inclusive lower bound on the publication (arXiv: submission) date.
    pub from_date: Option<NaiveDate>,
    /// Inclusive upper bound.
    pub to_date: Option<NaiveDate>,
    /// OpenAlex `type` (e.g. `article`).
    #[serde(alias = "type")]
    pub work_type: Option<String>,
    /// OpenAlex `is_oa`.
    #[serde(alias = "is_oa")]
    pub open_access: Option<bool>,
    /// arXiv categories, OR-ed (`cs.LG`, `astro-ph`).
    pub categories: Option<Vec<String>>,
    /// Semantic Scholar `fieldsOfStudy`.
    pub fields_of_study: Option<Vec<String>>,
    /// Semantic Scholar: only papers with an open-access PDF.
    pub open_access_pdf: Option<bool>,
    /// Semantic Scholar `minCitationCount`.
    pub min_citation_count: Option<u64>,
}

impl RunFilters {
    /// Reads and validates the run's filters (`null` means none).
    pub fn from_value(source_name: &'static str, value: &Value) -> Result<Self, SourceError> {
        let invalid = |detail: String| SourceError::InvalidRequest {
            source_name,
            detail,
        };
        let filters: RunFilters = match value {
            Value::Null => RunFilters::default(),
            Value::Object(_) => {
                RunFilters::deserialize(value).map_err(|e| invalid(format!("filters: {e}")))?
            }
            other => {
                return Err(invalid(format!(
                    "filters must be a JSON object, got {other}"
                )));
            }
        };
        if let (Some(from), Some(to)) = (filters.from_date, filters.to_date)
            && from > to
        {
            return Err(invalid(format!("from_date {from} is after to_date {to}")));
        }
        let word = |s: &String| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_. ".contains(&b))
        };
        if let Some(t) = &filters.work_type
            && !word(t)
        {
            return Err(invalid(format!("work_type `{t}` is not a plain word")));
        }
        for list in [&filters.categories, &filters.fields_of_study]
            .into_iter()
            .flatten()
        {
            if let Some(bad) = list.iter().find(|s| !word(s)) {
                return Err(invalid(format!(
                    "`{bad}` is not a plain category/field name"
                )));
            }
        }
        Ok(filters)
    }
}
