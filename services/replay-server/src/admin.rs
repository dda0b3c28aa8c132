//! The admin API under `/_admin`: fault injection, the request log, reset, the corpus
//! and the latency setting.

use crate::{Fault, Shared, Source, lock};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

type St = State<Arc<Shared>>;

/// `POST /_admin/faults` takes one fault or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct SourceFilter {
    source: Option<String>,
}

#[derive(Deserialize)]
struct Latency {
    latency_ms: u64,
}

/// Routes: `POST|GET|DELETE /_admin/faults`, `GET /_admin/requests[?source=]`,
/// `POST /_admin/reset`, `GET /_admin/corpus`, `GET|POST /_admin/latency`.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_admin/faults",
            post(add_faults).get(list_faults).delete(clear_faults),
        )
        .route("/_admin/requests", get(requests))
        .route("/_admin/reset", post(reset))
        .route("/_admin/corpus", get(corpus))
        .route("/_admin/latency", get(get_latency).post(set_latency))
}

async fn add_faults(State(s): St, Json(body): Json<OneOrMany>) -> (StatusCode, Json<Value>) {
    let faults = match body {
        OneOrMany::One(f) => vec![f],
        OneOrMany::Many(fs) => fs,
    };
    let mut queue = lock(&s.faults);
    let added = faults.len();
    for f in faults {
        queue.push(f);
    }
    (
        StatusCode::CREATED,
        Json(json!({"queued": added, "pending": queue.pending().len()})),
    )
}

async fn list_faults(State(s): St) -> Json<Vec<Fault>> {
    Json(lock(&s.faults).pending())
}

async fn clear_faults(State(s): St) -> StatusCode {
    lock(&s.faults).clear();
    StatusCode::NO_CONTENT
}

/// The request log grouped by source name (every source present, possibly empty).
async fn requests(
    State(s): St,
    Query(filter): Query<SourceFilter>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let wanted = match filter.source.as_deref() {
        None => None,
        Some(name) => Some(
            Source::parse(name)
                .ok_or((StatusCode::BAD_REQUEST, format!("unknown source {name:?}")))?,
        ),
    };
    let mut out = Map::new();
    for source in Source::ALL
        .into_iter()
        .filter(|src| wanted.is_none_or(|w| w == *src))
    {
        let records = s.requests(source);
        out.insert(
            source.name().to_owned(),
            serde_json::to_value(records).unwrap_or(Value::Null),
        );
    }
    Ok(Json(Value::Object(out)))
}

async fn reset(State(s): St) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}

/// Corpus sizes and primary ids per source.
async fn corpus(State(s): St) -> Json<Value> {
    let mut out = Map::new();
    for source in Source::ALL {
        let ids = s.corpus.ids(source.name());
        out.insert(
            source.name().to_owned(),
            json!({"len": ids.len(), "ids": ids}),
        );
    }
    Json(Value::Object(out))
}

async fn get_latency(State(s): St) -> Json<Value> {
    Json(json!({"latency_ms": s.latency().as_millis() as u64}))
}

async fn set_latency(State(s): St, Json(l): Json<Latency>) -> StatusCode {
    s.set_latency(Duration::from_millis(l.latency_ms));
    StatusCode::NO_CONTENT
}
