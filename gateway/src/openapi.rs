//! The OpenAPI document, generated from the handlers and DTOs.

use crate::dto;
use crate::problem::Problem;
use crate::routes::{events, health, ingest, papers, runs};
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::LazyLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The gateway's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Foundations Pipeline gateway",
        description = "Start paper ingestions from OpenAlex, PubMed, arXiv and Semantic Scholar, \
                       follow their runs, and read the papers they brought in. Every endpoint but \
                       the operational ones needs `Authorization: Bearer <JWT>`; errors are \
                       `application/problem+json`."
    ),
    paths(
        ingest::start_openalex,
        ingest::start_pubmed,
        ingest::start_arxiv,
        ingest::start_semantic_scholar,
        runs::list_runs,
        runs::get_run,
        events::run_events,
        runs::retry_run,
        runs::cancel_run,
        papers::list_papers,
        papers::get_paper,
        health::healthz,
        health::readyz,
        health::metrics,
        openapi_json,
    ),
    components(schemas(
        Problem,
        dto::OpenAlexStart, dto::OpenAlexFilters,
        dto::PubmedStart, dto::PubmedFilters,
        dto::ArxivStart, dto::ArxivFilters,
        dto::SemanticScholarStart, dto::SemanticScholarFilters,
        dto::StartRunResponse,
        dto::RunView, dto::Progress, dto::RunPage,
        dto::PaperView, dto::AuthorView, dto::ExternalIdsView, dto::PaperPage,
    )),
    modifiers(&SecurityAndProblems),
    tags(
        (name = "ingestion", description = "Start runs, one endpoint per source"),
        (name = "runs", description = "Follow, retry and cancel runs"),
        (name = "papers", description = "The organisation's papers"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer scheme and adds the problem responses every authenticated
/// operation can give (401, 403, 500, 503, 504) where a path did not declare its own.
struct SecurityAndProblems;

impl Modify for SecurityAndProblems {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "HS256 or RS256 JWT with `sub`, `org` (UUID), `exp`, and `permissions` \
             (PAPERS_READ, PAPERS_WRITE, DEVELOPER_MANAGE) or `roles` (viewer, member, admin)"
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));

        let common = [
            (
                "401",
                "Missing, expired or invalid bearer token (with `WWW-Authenticate: Bearer`)",
            ),
            ("403", "The token lacks this endpoint's permission"),
            (
                "500",
                "Unexpected failure; details are logged, not returned",
            ),
            ("503", "ingestion-control is unavailable"),
            ("504", "ingestion-control did not answer in time"),
        ];
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                if op.security.is_none() {
                    continue;
                }
                for (code, description) in common {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| problem_response(description).into());
                }
            }
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            crate::problem::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"openapi serialisation failed: {e}\"}}"))
});

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
