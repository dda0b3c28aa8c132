//! `GET /ingestion/runs/{id}/events`: Server-Sent Events over `WatchRun`.

use crate::fake_control::{Fail, Received, Watch, run};
use crate::helpers::{RUN_ID, problem, spawn_app, spawn_app_with, token};
use gateway::dto::RunView;
use ingestion_proto::v1::RunStatus;
use platform::auth::Role;
use std::time::Duration;
use tonic::Code;

fn events_path() -> String {
    format!("/ingestion/runs/{RUN_ID}/events")
}

/// (event name, data) of each frame; comments are skipped.
fn frames(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .filter_map(|frame| {
            let mut event = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_owned());
                }
            }
            Some((event?, data?))
        })
        .collect()
}

#[tokio::test]
async fn snapshots_are_run_events_and_the_stream_closes_when_the_run_ends() {
    let app = spawn_app().await;
    let resp = app.get(&events_path(), &token(Role::Viewer)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = tokio::time::timeout(Duration::from_secs(10), resp.text())
        .await
        .expect("the stream ends with the run")
        .unwrap();
    let frames = frames(&body);
    assert_eq!(frames.len(), 3, "{body}");
    let statuses: Vec<String> = frames
        .iter()
        .map(|(event, data)| {
            assert_eq!(event, "run");
            let run: RunView = serde_json::from_str(data).expect("data is the run JSON");
            assert_eq!(run.id, RUN_ID);
            run.status
        })
        .collect();
    assert_eq!(statuses, ["queued", "running", "completed"]);
    let last: RunView = serde_json::from_str(&frames[2].1).unwrap();
    assert_eq!(last.progress.percent, Some(100.0));
    assert!(matches!(app.fake.last_call().1, Received::Watch(w) if w.id == RUN_ID));
}

#[tokio::test]
async fn not_found_before_the_first_snapshot_is_a_404_problem() {
    let app = spawn_app().await;
    app.fake
        .script(|s| s.watch = Some(Watch::Fail(Fail(Code::NotFound, "run not found", vec![]))));
    problem(app.get(&events_path(), &token(Role::Viewer)).await, 404).await;
}

#[tokio::test]
async fn an_error_mid_stream_is_one_error_event_then_the_end() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.watch = Some(Watch::SnapshotsThenFail(
            vec![run(RUN_ID, RunStatus::Running)],
            Fail::code(Code::Unavailable),
        ))
    });
    let body = app
        .get(&events_path(), &token(Role::Viewer))
        .await
        .text()
        .await
        .unwrap();
    let frames = frames(&body);
    assert_eq!(frames.len(), 2, "{body}");
    assert_eq!(frames[0].0, "run");
    assert_eq!(frames[1].0, "error");
    let problem: gateway::Problem = serde_json::from_str(&frames[1].1).unwrap();
    assert_eq!(problem.status, 503);
}

#[tokio::test]
async fn keep_alive_comments_flow_while_the_run_is_quiet() {
    let app = spawn_app_with(|c| c.sse_keep_alive = Duration::from_millis(100)).await;
    app.fake.script(|s| {
        s.watch = Some(Watch::SnapshotsThenHang(vec![run(
            RUN_ID,
            RunStatus::Running,
        )]))
    });
    let mut resp = app.get(&events_path(), &token(Role::Viewer)).await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains(": keep-alive") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("a keep-alive within 5 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.starts_with("event: run\n"), "{seen}");
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let app = spawn_app().await;
    app.fake.script(|s| {
        s.watch = Some(Watch::SnapshotsThenHang(vec![run(
            RUN_ID,
            RunStatus::Running,
        )]))
    });
    let mut resp = app.get(&events_path(), &token(Role::Viewer)).await;
    let first = resp.chunk().await.unwrap().expect("the first snapshot");
    assert!(String::from_utf8_lossy(&first).contains("event: run"));
    app.shutdown.trigger();
    let rest = tokio::time::timeout(Duration::from_secs(5), resp.text())
        .await
        .expect("the stream ends on shutdown");
    assert!(rest.is_ok());
}
