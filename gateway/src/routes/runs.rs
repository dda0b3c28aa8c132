//! `/ingestion/runs`: list, read, retry and cancel runs.

use super::{cursor, page_limit, present, source};
use crate::app::AppState;
use crate::auth::AuthenticatedUser;
use crate::dto::{RunPage, RunView};
use crate::extract::{QueryParams, resource_id};
use crate::problem::{ApiError, Problem};
use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use ingestion_proto::v1;
use platform::RunStatus;
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters and paging of `GET /ingestion/runs/`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRunsParams {
    /// Only runs of this source (stored name `semantic_scholar` or path segment `semantic-scholar`).
    #[param(example = "pubmed")]
    pub source: Option<String>,
    /// Only runs in this status: `queued`, `running`, `completed`, `failed`, `cancelled`.
    #[param(example = "running")]
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
}

fn status(raw: Option<String>) -> Result<i32, ApiError> {
    match present(raw) {
        None => Ok(0),
        Some(v) => v
            .parse::<RunStatus>()
            .map(|s| s.to_proto() as i32)
            .map_err(|_| {
                ApiError::bad_request(
                    "status",
                    "must be one of queued, running, completed, failed, cancelled",
                )
            }),
    }
}

/// The organisation's runs, newest first. Also served at `/ingestion/runs` (no slash).
#[utoipa::path(
    get, path = "/ingestion/runs/", tag = "runs",
    params(ListRunsParams),
    responses(
        (status = 200, description = "One page of runs", body = RunPage),
        (status = 400, description = "Bad filter, limit or cursor; `field` names it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_runs(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    QueryParams(params): QueryParams<ListRunsParams>,
) -> Result<Json<RunPage>, ApiError> {
    let request = v1::ListRunsRequest {
        source: source(params.source)?,
        status: status(params.status)?,
        limit: page_limit(params.limit)?,
        cursor: cursor(params.cursor)?,
    };
    let answer = state
        .control
        .runs()
        .list_runs(user.request(request))
        .await?
        .into_inner();
    let now = Utc::now();
    Ok(Json(RunPage {
        items: answer
            .runs
            .into_iter()
            .map(|r| RunView::from_proto(r, now))
            .collect(),
        next_cursor: answer.next_cursor.filter(|c| !c.is_empty()),
    }))
}

/// One run. An id that is not a UUID is answered like an unknown run: 404.
#[utoipa::path(
    get, path = "/ingestion/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run's id (UUID)")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_run(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let id = resource_id(&id, "run")?.to_string();
    let run = state
        .control
        .runs()
        .get_run(user.request(v1::GetRunRequest { id }))
        .await?
        .into_inner();
    Ok(Json(RunView::from_proto(run, Utc::now())))
}

/// Retry a failed or cancelled run (`DEVELOPER_MANAGE`): back to `queued`, attempt + 1,
/// checkpoint kept.
#[utoipa::path(
    post, path = "/ingestion/runs/{id}/retry", tag = "runs",
    params(("id" = String, Path, description = "The run's id (UUID)")),
    responses(
        (status = 200, description = "The run, queued again", body = RunView),
        (status = 404, description = "No such run in the caller's organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Only failed or cancelled runs can be retried", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn retry_run(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let id = resource_id(&id, "run")?.to_string();
    let run = state
        .control
        .runs()
        .retry_run(user.request(v1::RetryRunRequest { id }))
        .await?
        .into_inner();
    tracing::info!(run_id = %run.id, attempt = run.attempt, "run retried");
    Ok(Json(RunView::from_proto(run, Utc::now())))
}

/// Cancel a queued or running run (`DEVELOPER_MANAGE`); a running fetcher stops at its
/// next page.
#[utoipa::path(
    post, path = "/ingestion/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, description = "The run's id (UUID)")),
    responses(
        (status = 200, description = "The run, cancelled", body = RunView),
        (status = 404, description = "No such run in the caller's organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has already ended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_run(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let id = resource_id(&id, "run")?.to_string();
    let run = state
        .control
        .runs()
        .cancel_run(user.request(v1::CancelRunRequest { id }))
        .await?
        .into_inner();
    tracing::info!(run_id = %run.id, "run cancelled");
    Ok(Json(RunView::from_proto(run, Utc::now())))
}
