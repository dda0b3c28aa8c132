//! Live progress over Server-Sent Events, and the Prometheus counters one run moves.

use e2e::{StackOptions, TestStack, org_a, org_b, replay_fault, token};
use platform::Source;
use platform::auth::Role;
use replay_server::FaultKind;
use std::time::Duration;

/// Reads SSE `data:` payloads until the server closes the stream.
async fn read_events(mut res: reqwest::Response) -> Vec<serde_json::Value> {
    let mut buf = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), res.chunk())
        .await
        .expect("the stream moves")
        .unwrap()
    {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            for line in frame.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    events
                        .push(serde_json::from_str(data.trim()).expect("each data line is a run"));
                }
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_event_stream_shows_a_run_grow_then_complete_then_closes() {
    let mut stack = TestStack::start(StackOptions {
        fetchers: vec![],
        page_size: Some(20),
        ..Default::default()
    })
    .await;
    stack.replay.inject(
        replay_fault(Source::OpenAlex, FaultKind::Slow)
            .delay_ms(150)
            .times(100),
    );
    let id = stack.start_ok(Source::OpenAlex, "live", 100).await;
    let res = stack
        .http
        .get(format!("{}/ingestion/runs/{id}/events", stack.gateway_url))
        .bearer_auth(token(org_a(), Role::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let reader = tokio::spawn(read_events(res));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetcher = stack.spawn_fetcher(Source::OpenAlex).await;
    stack.fetchers.push(fetcher);
    let events = reader.await.unwrap();

    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"queued"), "{statuses:?}");
    assert!(statuses.contains(&"running"), "{statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&"completed"),
        "the final event is the terminal snapshot"
    );
    let found: Vec<u64> = events
        .iter()
        .map(|e| e["papers_found"].as_u64().unwrap())
        .collect();
    assert!(
        found.windows(2).all(|w| w[0] <= w[1]),
        "counters only grow: {found:?}"
    );
    let running_counts: std::collections::BTreeSet<u64> = events
        .iter()
        .filter(|e| e["status"] == "running")
        .map(|e| e["papers_found"].as_u64().unwrap())
        .collect();
    assert!(
        running_counts.len() >= 2,
        "growing counters while running: {running_counts:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["papers_found"], 100);
    assert_eq!(last["expected_total"], 100);
    assert_eq!(last["progress"]["percent"].as_f64(), Some(100.0));

    // Another organisation's watcher: 404, not a stream.
    let other = stack
        .http
        .get(format!("{}/ingestion/runs/{id}/events", stack.gateway_url))
        .bearer_auth(token(org_b(), Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    stack.teardown().await;
}

fn counter(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_metrics_endpoint_shows_the_counters_one_run_moved() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::Pubmed],
        ..Default::default()
    })
    .await;
    let scrape = |url: String| {
        let http = stack.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let fetcher_metrics = stack.fetchers[0].metrics_url.clone();
    let before = (
        scrape(format!("{}/metrics", stack.gateway_url)).await,
        scrape(format!("{}/metrics", stack.control_metrics_url)).await,
        scrape(format!("{fetcher_metrics}/metrics")).await,
    );
    let id = stack.start_ok(Source::Pubmed, "metrics", 30).await;
    let run = stack.wait_terminal(&id, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "completed");
    let after = (
        scrape(format!("{}/metrics", stack.gateway_url)).await,
        scrape(format!("{}/metrics", stack.control_metrics_url)).await,
        scrape(format!("{fetcher_metrics}/metrics")).await,
    );
    let moved = |m: (&str, &str), name: &str, labels: &[&str]| {
        counter(m.1, name, labels) - counter(m.0, name, labels)
    };
    // Gateway: the start request, by route and status.
    assert!(
        moved(
            (&before.0, &after.0),
            "http_requests_total",
            &["/papers/ingest/pubmed/async", "202"]
        ) >= 1.0
    );
    // ingestion-control: the run created and finished, papers found and imported, gRPC calls.
    assert!(
        moved(
            (&before.1, &after.1),
            "runs_created_total",
            &["source=\"pubmed\""]
        ) >= 1.0
    );
    assert!(
        moved(
            (&before.1, &after.1),
            "runs_finished_total",
            &["source=\"pubmed\"", "status=\"completed\""]
        ) >= 1.0
    );
    assert!(
        moved(
            (&before.1, &after.1),
            "papers_found_total",
            &["source=\"pubmed\""]
        ) >= 30.0
    );
    assert!(
        moved(
            (&before.1, &after.1),
            "papers_imported_total",
            &["source=\"pubmed\""]
        ) >= 1.0
    );
    assert!(
        moved(
            (&before.1, &after.1),
            "grpc_requests_total",
            &["RecordPage"]
        ) >= 1.0
    );
    assert!(after.1.contains("run_duration_seconds_bucket"));
    // The fetcher: deliveries and source API requests.
    assert!(
        moved(
            (&before.2, &after.2),
            "queue_deliveries_total",
            &[".pubmed\""]
        ) >= 1.0
    );
    assert!(
        moved(
            (&before.2, &after.2),
            "source_requests_total",
            &["source=\"pubmed\""]
        ) >= 2.0,
        "esearch and efetch"
    );
    assert!(after.2.contains("source_request_duration_seconds_bucket"));
    stack.teardown().await;
}
