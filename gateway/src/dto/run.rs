//! A run as JSON: the same object in `GET /ingestion/runs/{id}`, in lists, and in
//! every SSE `data:` line.

use chrono::{DateTime, Utc};
use ingestion_proto::v1;
use platform::{RunStatus, Source};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One ingestion run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    /// The run's id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Stored source name: `openalex`, `pubmed`, `arxiv` or `semantic_scholar`.
    pub source: String,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The query as stored (trimmed).
    pub query: String,
    /// The source's filters as stored.
    #[schema(value_type = Object)]
    pub filters: Value,
    /// The cap on records fetched.
    pub max_results: u32,
    /// Records the source returned so far.
    pub papers_found: u64,
    /// Papers that were new to the organisation.
    pub papers_imported: u64,
    /// The source's total for the query, capped by `max_results`; null until the first page.
    pub expected_total: Option<u64>,
    /// Pages stored so far.
    pub pages_done: u32,
    /// Derived progress.
    pub progress: Progress,
    /// 1 for the first attempt, +1 per retry.
    pub attempt: u32,
    /// Why the run failed (or why it is waiting).
    pub error_message: Option<String>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339; null while queued.
    pub started_at: Option<DateTime<Utc>>,
    /// RFC 3339; null until terminal.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Progress derived from the counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// `papers_found / expected_total * 100` (at most 100; exactly 100 once completed);
    /// null while the total is unknown.
    pub percent: Option<f64>,
    /// Seconds left at the rate observed since `started_at`; 0 once completed;
    /// null when there is no rate to go by.
    pub eta_seconds: Option<f64>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunPage {
    /// The runs of this page.
    pub items: Vec<RunView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// A protobuf timestamp as UTC; out-of-range values are treated as absent.
pub fn timestamp(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

/// The stored name of a wire source.
pub fn source_name(value: i32) -> String {
    Source::from_proto(value).map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned())
}

/// Progress of a run at `now`.
pub fn progress(
    status: Option<RunStatus>,
    found: u64,
    expected_total: Option<u64>,
    started_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Progress {
    if status == Some(RunStatus::Completed) {
        return Progress {
            percent: Some(100.0),
            eta_seconds: Some(0.0),
        };
    }
    let percent = match expected_total {
        Some(0) | None => None,
        Some(total) => Some((found as f64 / total as f64 * 100.0).min(100.0)),
    };
    let eta_seconds = match (status, expected_total, started_at) {
        (Some(RunStatus::Running), Some(total), Some(started)) if found > 0 && total > found => {
            let elapsed = (now - started).num_milliseconds() as f64 / 1000.0;
            (elapsed > 0.0).then(|| {
                let rate = found as f64 / elapsed;
                ((total - found) as f64 / rate).round()
            })
        }
        _ => None,
    };
    Progress {
        percent,
        eta_seconds,
    }
}

impl RunView {
    /// The JSON view of a run as ingestion-control sent it, at `now`.
    pub fn from_proto(run: v1::Run, now: DateTime<Utc>) -> Self {
        let status = RunStatus::from_proto(run.status);
        let started_at = timestamp(run.started_at.as_ref());
        // The stored filters are a JSON object; anything else shows as empty.
        let filters = serde_json::from_str::<Value>(&run.filters_json)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        RunView {
            progress: progress(
                status,
                run.papers_found,
                run.expected_total,
                started_at,
                now,
            ),
            id: run.id,
            source: source_name(run.source),
            status: status.map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
            query: run.query,
            filters,
            max_results: run.max_results,
            papers_found: run.papers_found,
            papers_imported: run.papers_imported,
            expected_total: run.expected_total,
            pages_done: run.pages_done,
            attempt: run.attempt,
            error_message: run.error_message,
            created_at: timestamp(run.created_at.as_ref()).unwrap_or(DateTime::UNIX_EPOCH),
            started_at,
            completed_at: timestamp(run.completed_at.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn percent_is_exact_and_unknown_until_the_total_is() {
        let p = progress(Some(RunStatus::Running), 40, Some(160), Some(t0()), t0());
        assert_eq!(p.percent, Some(25.0));
        let p = progress(Some(RunStatus::Running), 1, Some(3), None, t0());
        assert_eq!(p.percent, Some(1.0 / 3.0 * 100.0));
        assert_eq!(
            progress(Some(RunStatus::Queued), 0, None, None, t0()).percent,
            None
        );
        assert_eq!(
            progress(Some(RunStatus::Running), 120, Some(100), None, t0()).percent,
            Some(100.0)
        );
    }

    #[test]
    fn eta_follows_the_observed_rate() {
        // 40 papers in 20 s = 2/s; 60 left = 30 s.
        let p = progress(
            Some(RunStatus::Running),
            40,
            Some(100),
            Some(t0()),
            t0() + Duration::seconds(20),
        );
        assert_eq!(p.eta_seconds, Some(30.0));
        let none_yet = progress(
            Some(RunStatus::Running),
            0,
            Some(100),
            Some(t0()),
            t0() + Duration::seconds(5),
        );
        assert_eq!(none_yet.eta_seconds, None);
        let failed = progress(
            Some(RunStatus::Failed),
            40,
            Some(100),
            Some(t0()),
            t0() + Duration::seconds(5),
        );
        assert_eq!(failed.eta_seconds, None);
    }

    #[test]
    fn completed_is_one_hundred_percent_with_no_time_left() {
        let p = progress(Some(RunStatus::Completed), 7, Some(100), Some(t0()), t0());
        assert_eq!(
            p,
            Progress {
                percent: Some(100.0),
                eta_seconds: Some(0.0)
            }
        );
    }

    #[test]
    fn run_json_has_every_contract_member() {
        let run = v1::Run {
            id: "0192f5d2-8c1e-7a41-9a0e-3f5b8e2d1c44".into(),
            source: v1::Source::SemanticScholar as i32,
            status: v1::RunStatus::Queued as i32,
            query: "q".into(),
            filters_json: r#"{"from_date":"2024-01-01"}"#.into(),
            max_results: 100,
            created_at: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let json = serde_json::to_value(RunView::from_proto(run, t0())).unwrap();
        assert_eq!(json["source"], "semantic_scholar");
        assert_eq!(json["filters"]["from_date"], "2024-01-01");
        assert_eq!(json["created_at"], "2027-01-15T08:00:00Z");
        assert!(json["expected_total"].is_null());
        assert!(json["progress"]["percent"].is_null());
        for key in [
            "id",
            "source",
            "status",
            "query",
            "filters",
            "max_results",
            "papers_found",
            "papers_imported",
            "expected_total",
            "pages_done",
            "progress",
            "attempt",
            "error_message",
            "created_at",
            "started_at",
            "completed_at",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
