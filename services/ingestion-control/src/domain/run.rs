//! A run as the domain sees it: validated input and the stored record.

use crate::error::{ControlError, Result};
use chrono::{DateTime, NaiveDate, Utc};
use ingestion_proto::v1;
use platform::auth::Principal;
use platform::{RunStatus, Source};
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub const DEFAULT_MAX_RESULTS: u32 = 100;
pub const MAX_MAX_RESULTS: u32 = 10_000;
pub const MAX_QUERY_CHARS: usize = 1_000;

/// A validated request to start a run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub requested_by: String,
    pub source: Source,
    pub query: String,
    pub filters: Value,
    pub max_results: u32,
    pub idempotency_key: Option<String>,
}

impl NewRun {
    /// Validates a `CreateRunRequest` from `principal`. Internal callers reach this
    /// without the gateway, so every rule the REST layer applies holds here too.
    pub fn parse(principal: &Principal, req: v1::CreateRunRequest) -> Result<NewRun> {
        let source = Source::from_proto(req.source)
            .ok_or_else(|| ControlError::invalid("source", "unknown or unspecified source"))?;
        let query = req.query.trim();
        if query.is_empty() {
            return Err(ControlError::invalid("query", "must not be empty"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ControlError::invalid(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        if query
            .chars()
            .any(|c| c.is_control() && c != '\t' && c != '\n')
        {
            return Err(ControlError::invalid(
                "query",
                "must not contain control characters",
            ));
        }
        let max_results = match req.max_results {
            0 => DEFAULT_MAX_RESULTS,
            n if n > MAX_MAX_RESULTS => {
                return Err(ControlError::invalid(
                    "max_results",
                    format!("must be between 1 and {MAX_MAX_RESULTS}"),
                ));
            }
            n => n,
        };
        let idempotency_key = match req.idempotency_key {
            Some(k)
                if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                return Err(ControlError::invalid(
                    "idempotency_key",
                    "must be 1 to 255 visible ASCII characters",
                ));
            }
            other => other,
        };
        let filters = filters_json(source, req.filters.and_then(|f| f.filters))?;
        Ok(NewRun {
            id: Uuid::now_v7(),
            organization_id: principal.organization_id,
            requested_by: principal.subject.clone(),
            source,
            query: query.to_owned(),
            filters,
            max_results,
            idempotency_key,
        })
    }
}

fn date(field: &'static str, value: Option<String>) -> Result<Option<NaiveDate>> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| ControlError::invalid(field, "must be a date YYYY-MM-DD"))
        })
        .transpose()
}

fn date_range(
    obj: &mut Map<String, Value>,
    from: Option<String>,
    to: Option<String>,
) -> Result<()> {
    let from = date("filters.from_date", from)?;
    let to = date("filters.to_date", to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ControlError::invalid(
            "filters.from_date",
            "must not be after to_date",
        ));
    }
    if let Some(f) = from {
        obj.insert("from_date".into(), json!(f.to_string()));
    }
    if let Some(t) = to {
        obj.insert("to_date".into(), json!(t.to_string()));
    }
    Ok(())
}

fn short_list(field: &'static str, items: Vec<String>, valid: fn(&str) -> bool) -> Result<Value> {
    if items.len() > 20 {
        return Err(ControlError::invalid(field, "at most 20 entries"));
    }
    if let Some(bad) = items
        .iter()
        .find(|c| c.is_empty() || c.len() > 64 || !valid(c))
    {
        let shown: String = bad.chars().take(64).collect();
        return Err(ControlError::invalid(
            field,
            format!("invalid entry `{shown}`"),
        ));
    }
    Ok(json!(items))
}

fn is_arxiv_category(c: &str) -> bool {
    let (archive, sub) = match c.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (c, None),
    };
    !archive.is_empty()
        && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && sub.is_none_or(|s| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
        })
}

/// The stored filters object for `source`; a oneof of another source is refused.
pub fn filters_json(source: Source, filters: Option<v1::run_filters::Filters>) -> Result<Value> {
    use v1::run_filters::Filters;
    let mut obj = Map::new();
    match (source, filters) {
        (_, None) => {}
        (Source::OpenAlex, Some(Filters::Openalex(f))) => {
            date_range(&mut obj, f.from_date, f.to_date)?;
            if let Some(t) = f.work_type {
                if t.is_empty()
                    || t.len() > 40
                    || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                {
                    return Err(ControlError::invalid(
                        "filters.work_type",
                        "lowercase letters and hyphens, at most 40",
                    ));
                }
                obj.insert("work_type".into(), json!(t));
            }
            if let Some(oa) = f.open_access {
                obj.insert("open_access".into(), json!(oa));
            }
        }
        (Source::Pubmed, Some(Filters::Pubmed(f))) => date_range(&mut obj, f.from_date, f.to_date)?,
        (Source::Arxiv, Some(Filters::Arxiv(f))) => {
            date_range(&mut obj, f.from_date, f.to_date)?;
            if !f.categories.is_empty() {
                obj.insert(
                    "categories".into(),
                    short_list("filters.categories", f.categories, is_arxiv_category)?,
                );
            }
        }
        (Source::SemanticScholar, Some(Filters::SemanticScholar(f))) => {
            date_range(&mut obj, f.from_date, f.to_date)?;
            if !f.fields_of_study.is_empty() {
                obj.insert(
                    "fields_of_study".into(),
                    short_list("filters.fields_of_study", f.fields_of_study, |s| {
                        s.chars()
                            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
                    })?,
                );
            }
            if let Some(v) = f.open_access_pdf {
                obj.insert("open_access_pdf".into(), json!(v));
            }
            if let Some(v) = f.min_citation_count {
                obj.insert("min_citation_count".into(), json!(v));
            }
        }
        (source, Some(_)) => {
            return Err(ControlError::invalid(
                "filters",
                format!("filters of another source given for {source}"),
            ));
        }
    }
    Ok(Value::Object(obj))
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub requested_by: String,
    pub source: String,
    pub status: String,
    pub query: String,
    pub filters: Value,
    pub max_results: i32,
    pub papers_found: i64,
    pub papers_imported: i64,
    pub expected_total: Option<i64>,
    pub pages_done: i32,
    pub checkpoint_data: Option<Value>,
    pub error_message: Option<String>,
    pub attempt: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub claims: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RunRecord {
    pub fn status(&self) -> RunStatus {
        // The CHECK constraint admits only known values.
        self.status.parse().unwrap_or(RunStatus::Failed)
    }

    pub fn source(&self) -> Option<Source> {
        self.source.parse().ok()
    }

    pub fn to_proto(&self) -> v1::Run {
        v1::Run {
            id: self.id.to_string(),
            organization_id: self.organization_id.to_string(),
            source: self.source().map(Source::to_proto).unwrap_or_default() as i32,
            status: self.status().to_proto() as i32,
            query: self.query.clone(),
            filters_json: self.filters.to_string(),
            max_results: self.max_results.max(0) as u32,
            papers_found: self.papers_found.max(0) as u64,
            papers_imported: self.papers_imported.max(0) as u64,
            expected_total: self.expected_total.map(|t| t.max(0) as u64),
            pages_done: self.pages_done.max(0) as u32,
            attempt: self.attempt.max(1) as u32,
            error_message: self.error_message.clone(),
            requested_by: self.requested_by.clone(),
            created_at: Some(timestamp(self.created_at)),
            started_at: self.started_at.map(timestamp),
            completed_at: self.completed_at.map(timestamp),
            updated_at: Some(timestamp(self.updated_at)),
        }
    }
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Parses a run or paper id from the wire. A malformed id cannot name an existing
/// row, so it is NOT_FOUND rather than a hint about the id format.
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ControlError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::auth::Permission;

    fn principal() -> Principal {
        Principal::new("u1", Uuid::nil(), &[Permission::PapersWrite])
    }

    fn request(source: v1::Source, query: &str) -> v1::CreateRunRequest {
        v1::CreateRunRequest {
            source: source as i32,
            query: query.into(),
            ..Default::default()
        }
    }

    fn field_of(err: ControlError) -> &'static str {
        match err {
            ControlError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn query_is_trimmed_and_max_results_defaults_to_100() {
        let run = NewRun::parse(&principal(), request(v1::Source::Pubmed, "  crispr  ")).unwrap();
        assert_eq!(run.query, "crispr");
        assert_eq!(run.max_results, 100);
        assert_eq!(run.source, Source::Pubmed);
        assert_eq!(run.filters, json!({}));
    }

    #[test]
    fn empty_overlong_and_control_character_queries_are_refused() {
        for q in ["", "   ", &"x".repeat(1001), "a\u{0}b"] {
            let err = NewRun::parse(&principal(), request(v1::Source::Pubmed, q)).unwrap_err();
            assert_eq!(field_of(err), "query", "{q:?}");
        }
        assert!(
            NewRun::parse(&principal(), request(v1::Source::Pubmed, &"é".repeat(1000))).is_ok()
        );
    }

    #[test]
    fn max_results_above_10000_and_unspecified_source_are_refused() {
        let mut req = request(v1::Source::Arxiv, "q");
        req.max_results = 10_001;
        assert_eq!(
            field_of(NewRun::parse(&principal(), req).unwrap_err()),
            "max_results"
        );
        let req = request(v1::Source::Unspecified, "q");
        assert_eq!(
            field_of(NewRun::parse(&principal(), req).unwrap_err()),
            "source"
        );
    }

    #[test]
    fn filters_are_typed_per_source_and_dates_checked() {
        use v1::run_filters::Filters;
        let f = Filters::Arxiv(v1::ArxivFilters {
            from_date: Some("2024-01-01".into()),
            to_date: Some("2024-12-31".into()),
            categories: vec!["cs.CL".into(), "astro-ph.GA".into(), "math".into()],
        });
        assert_eq!(
            filters_json(Source::Arxiv, Some(f)).unwrap(),
            json!({"from_date": "2024-01-01", "to_date": "2024-12-31", "categories": ["cs.CL", "astro-ph.GA", "math"]})
        );
        let wrong = Filters::Pubmed(v1::PubmedFilters::default());
        assert_eq!(
            field_of(filters_json(Source::Arxiv, Some(wrong)).unwrap_err()),
            "filters"
        );
        let bad_date = Filters::Pubmed(v1::PubmedFilters {
            from_date: Some("2024-02-30".into()),
            to_date: None,
        });
        assert_eq!(
            field_of(filters_json(Source::Pubmed, Some(bad_date)).unwrap_err()),
            "filters.from_date"
        );
        let reversed = Filters::Pubmed(v1::PubmedFilters {
            from_date: Some("2024-02-02".into()),
            to_date: Some("2024-02-01".into()),
        });
        assert!(filters_json(Source::Pubmed, Some(reversed)).is_err());
        let bad_cat = Filters::Arxiv(v1::ArxivFilters {
            categories: vec!["cs.CL) OR (all:x".into()],
            ..Default::default()
        });
        assert_eq!(
            field_of(filters_json(Source::Arxiv, Some(bad_cat)).unwrap_err()),
            "filters.categories"
        );
    }

    #[test]
    fn idempotency_keys_must_be_visible_ascii() {
        let mut req = request(v1::Source::Pubmed, "q");
        req.idempotency_key = Some("has space".into());
        assert_eq!(
            field_of(NewRun::parse(&principal(), req).unwrap_err()),
            "idempotency_key"
        );
        let mut req = request(v1::Source::Pubmed, "q");
        req.idempotency_key = Some("retry-7f3a".into());
        assert_eq!(
            NewRun::parse(&principal(), req)
                .unwrap()
                .idempotency_key
                .as_deref(),
            Some("retry-7f3a")
        );
    }
}
