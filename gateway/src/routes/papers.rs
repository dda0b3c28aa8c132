//! `/papers`: the organisation's papers.

use super::{cursor, page_limit, present, source};
use crate::app::AppState;
use crate::auth::AuthenticatedUser;
use crate::dto::{PaperPage, PaperView};
use crate::extract::{QueryParams, resource_id};
use crate::problem::{ApiError, Problem};
use axum::Json;
use axum::extract::{Path, State};
use ingestion_proto::v1;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Longest `q` (title search) in characters, as ingestion-control bounds it.
const MAX_SEARCH_CHARS: usize = 200;
/// Longest `doi`.
const MAX_DOI_LEN: usize = 256;

/// Filters and paging of `GET /papers`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPapersParams {
    /// Only papers found by this run.
    #[param(value_type = Option<String>, format = Uuid)]
    pub run_id: Option<String>,
    /// Only papers found by this source (stored name or path segment).
    pub source: Option<String>,
    /// Only the paper with this DOI (any case, with or without `https://doi.org/`).
    pub doi: Option<String>,
    /// Title search, at most 200 characters: papers whose title has a word beginning
    /// with each word of `q`, in any case (`gene edit` finds "Gene editing …").
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
}

fn run_id(raw: Option<String>) -> Result<Option<String>, ApiError> {
    present(raw)
        .map(|v| {
            Uuid::parse_str(&v)
                .map(|id| id.to_string())
                .map_err(|_| ApiError::bad_request("run_id", "must be a UUID"))
        })
        .transpose()
}

fn bounded(field: &str, raw: Option<String>, max_chars: usize) -> Result<Option<String>, ApiError> {
    match present(raw)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        Some(v) if v.chars().count() > max_chars || v.chars().any(char::is_control) => Err(
            ApiError::bad_request(field, format!("at most {max_chars} printable characters")),
        ),
        other => Ok(other),
    }
}

/// The organisation's papers, newest first.
#[utoipa::path(
    get, path = "/papers", tag = "papers",
    params(ListPapersParams),
    responses(
        (status = 200, description = "One page of papers", body = PaperPage),
        (status = 400, description = "Bad filter, limit or cursor; `field` names it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_papers(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    QueryParams(params): QueryParams<ListPapersParams>,
) -> Result<Json<PaperPage>, ApiError> {
    let request = v1::ListPapersRequest {
        run_id: run_id(params.run_id)?,
        source: source(params.source)?,
        doi: bounded("doi", params.doi, MAX_DOI_LEN)?,
        title_search: bounded("q", params.q, MAX_SEARCH_CHARS)?,
        limit: page_limit(params.limit)?,
        cursor: cursor(params.cursor)?,
    };
    let answer = state
        .control
        .runs()
        .list_papers(user.request(request))
        .await?
        .into_inner();
    Ok(Json(PaperPage {
        items: answer.papers.into_iter().map(PaperView::from).collect(),
        next_cursor: answer.next_cursor.filter(|c| !c.is_empty()),
    }))
}

/// One paper. An id that is not a UUID is answered like an unknown paper: 404.
#[utoipa::path(
    get, path = "/papers/{id}", tag = "papers",
    params(("id" = String, Path, description = "The paper's id (UUID)")),
    responses(
        (status = 200, description = "The paper", body = PaperView),
        (status = 404, description = "No such paper in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_paper(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<PaperView>, ApiError> {
    let id = resource_id(&id, "paper")?.to_string();
    let paper = state
        .control
        .runs()
        .get_paper(user.request(v1::GetPaperRequest { id }))
        .await?
        .into_inner();
    Ok(Json(PaperView::from(paper)))
}
