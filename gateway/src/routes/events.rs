//! `GET /ingestion/runs/{id}/events`: Server-Sent Events from `RunService.WatchRun`.
//!
//! The first snapshot is awaited before answering, so an error such as NOT_FOUND is
//! an ordinary problem response. After that each snapshot is an `event: run` whose
//! `data:` is the run JSON; the stream ends when the run is terminal (control ends
//! the gRPC stream), when the client goes away (the body is dropped, which drops the
//! gRPC stream), or when the gateway shuts down. A gRPC error mid-stream becomes one
//! `event: error` with a problem document, then the end.

use crate::app::AppState;
use crate::auth::AuthenticatedUser;
use crate::dto::RunView;
use crate::extract::resource_id;
use crate::problem::{ApiError, Problem};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures::{Stream, StreamExt as _};
use ingestion_proto::v1;
use std::convert::Infallible;
use tonic::Streaming;

fn run_event(run: v1::Run) -> Event {
    let view = RunView::from_proto(run, Utc::now());
    match Event::default().event("run").json_data(&view) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(error = %e, "run snapshot could not be serialised");
            error_event(&ApiError::Internal)
        }
    }
}

fn error_event(err: &ApiError) -> Event {
    let problem = err.to_problem();
    Event::default()
        .event("error")
        .json_data(&problem)
        .unwrap_or_else(|_| Event::default().event("error"))
}

/// The snapshots after the first; ends after an error.
fn rest(stream: Streaming<v1::Run>) -> impl Stream<Item = Event> {
    futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.message().await {
            Ok(Some(run)) => Some((run_event(run), Some(stream))),
            Ok(None) => None,
            Err(status) => Some((error_event(&ApiError::from(status)), None)),
        }
    })
}

/// Stream a run's snapshots until it ends.
#[utoipa::path(
    get, path = "/ingestion/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "The run's id (UUID)")),
    responses(
        (status = 200, content_type = "text/event-stream",
         description = "`event: run` + `data: <Run JSON>` per snapshot (the first at once), \
                        `: keep-alive` comments every 15 s, closed when the run ends; \
                        a failure mid-stream is one `event: error` with a problem document",
         body = RunView),
        (status = 404, description = "No such run in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn run_events(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = resource_id(&id, "run")?.to_string();
    let mut stream = state
        .control
        .watcher()
        .watch_run(user.request(v1::WatchRunRequest { id: id.clone() }))
        .await?
        .into_inner();
    let Some(first) = stream.message().await? else {
        tracing::error!(run_id = %id, "WatchRun ended before its first snapshot");
        return Err(ApiError::Internal);
    };
    let shutdown = state.shutdown.clone();
    let events = futures::stream::once(std::future::ready(run_event(first)))
        .chain(rest(stream))
        .map(Ok)
        .take_until(async move { shutdown.wait().await });
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(state.sse_keep_alive)
            .text("keep-alive"),
    ))
}
