//! Issue 2's acceptance list, end to end: HTTP → gRPC → PostgreSQL → RabbitMQ →
//! fetcher → replayed source API → back, on the real local servers.

use e2e::{StackOptions, TestStack, org_a, token};
use lapin::types::FieldTable;
use platform::Source;
use platform::auth::Role;
use serde_json::json;
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_openalex_run_goes_from_post_to_completed_with_the_replayed_papers() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::OpenAlex],
        ..Default::default()
    })
    .await;
    let res = stack
        .start_run(
            Source::OpenAlex,
            json!({"query": "graphene", "max_results": 1000}),
            &token(org_a(), Role::Member),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["source"], "openalex");
    assert_eq!(body["status"], "queued");
    let id = body["ingest_run_id"].as_str().unwrap().to_owned();

    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    let corpus = stack.replay.corpus_len("openalex") as u64;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["papers_found"].as_u64(), Some(corpus));
    assert_eq!(run["papers_imported"].as_u64(), Some(corpus));
    assert_eq!(run["expected_total"].as_u64(), Some(corpus));
    assert_eq!(
        stack
            .count("SELECT count(*) FROM papers WHERE openalex_id IS NOT NULL")
            .await as u64,
        corpus
    );
    // The abstract was rebuilt from the inverted index for at least some works.
    assert!(
        stack
            .count("SELECT count(*) FROM papers WHERE abstract IS NOT NULL")
            .await
            > 0
    );

    // The papers of the run through the API, paged.
    let mut listed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/papers?run_id={id}&limit=50", stack.gateway_url);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value = stack
            .http
            .get(url)
            .bearer_auth(token(org_a(), Role::Viewer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed += page["items"].as_array().unwrap().len() as u64;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, corpus);
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_results_caps_the_run_across_pages() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::OpenAlex],
        page_size: Some(20),
        ..Default::default()
    })
    .await;
    let id = stack.start_ok(Source::OpenAlex, "graphene", 45).await;
    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["papers_found"], 45);
    assert_eq!(
        run["expected_total"], 45,
        "the source total capped by max_results"
    );
    assert_eq!(run["pages_done"], 3);
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unroutable_publish_answers_503_with_the_failed_runs_id() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![],
        ..Default::default()
    })
    .await;
    let (_conn, channel) = test_support::amqp_channel().await;
    channel
        .queue_unbind(
            format!("{}.pubmed", stack.exchange).as_str().into(),
            stack.exchange.as_str().into(),
            "pubmed".into(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let res = stack
        .start_run(
            Source::Pubmed,
            json!({"query": "malaria"}),
            &token(org_a(), Role::Member),
        )
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = res.json().await.unwrap();
    let id = problem["ingest_run_id"]
        .as_str()
        .expect("the 503 names the run")
        .to_owned();
    let run = stack.wait_terminal(&id, Duration::from_secs(5)).await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error_message"]
            .as_str()
            .unwrap()
            .contains("could not publish")
    );
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_delivery_is_processed_once() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::Arxiv],
        ..Default::default()
    })
    .await;
    let id = stack.start_ok(Source::Arxiv, "transformers", 200).await;
    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    assert_eq!(run["status"], "completed", "{run}");
    let requests_before = stack.replay.requests("arxiv").len();
    stack
        .publish_raw(
            "arxiv",
            json!({"run_id": id, "source": "arxiv", "attempt": 1}),
        )
        .await;
    stack.wait_queue_drained(Source::Arxiv).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stack.queue_depth(Source::Arxiv).await,
        0,
        "the duplicate was acknowledged"
    );
    assert_eq!(
        stack.replay.requests("arxiv").len(),
        requests_before,
        "and not fetched again"
    );
    let again = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    assert_eq!(again["papers_found"], run["papers_found"]);
    assert_eq!(again["status"], "completed");
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_reaching_another_sources_fetcher_fails_its_run_naming_both() {
    // Only the PubMed fetcher runs; the OpenAlex run's job is copied to PubMed's queue.
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::Pubmed],
        ..Default::default()
    })
    .await;
    let id = stack.start_ok(Source::OpenAlex, "graphene", 10).await;
    stack
        .publish_raw(
            "pubmed",
            json!({"run_id": id, "source": "openalex", "attempt": 1}),
        )
        .await;
    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    assert_eq!(run["status"], "failed");
    let message = run["error_message"].as_str().unwrap();
    assert!(
        message.contains("openalex") && message.contains("pubmed"),
        "{message}"
    );
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_for_an_unknown_run_is_acknowledged_and_creates_nothing() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::SemanticScholar],
        ..Default::default()
    })
    .await;
    stack
        .publish_raw(
            "semantic_scholar",
            json!({"run_id": uuid::Uuid::new_v4(), "source": "semantic_scholar", "attempt": 1}),
        )
        .await;
    stack
        .publish_raw(
            "semantic_scholar",
            json!({"run_id": "not-a-uuid", "source": "x"}),
        )
        .await;
    stack.wait_queue_drained(Source::SemanticScholar).await;
    assert_eq!(stack.queue_depth(Source::SemanticScholar).await, 0);
    assert_eq!(stack.count("SELECT count(*) FROM ingest_runs").await, 0);
    assert_eq!(stack.count("SELECT count(*) FROM papers").await, 0);
    assert!(
        stack.replay.requests("semantic_scholar").is_empty(),
        "no source call for a job with no run"
    );
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_idempotency_key_twice_starts_one_run() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![],
        ..Default::default()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = stack
            .http
            .post(format!("{}/papers/ingest/pubmed/async", stack.gateway_url))
            .bearer_auth(token(org_a(), Role::Member))
            .header("Idempotency-Key", "form-submit-1234")
            .json(&json!({"query": "zika"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let body: serde_json::Value = res.json().await.unwrap();
        ids.push(body["ingest_run_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(stack.count("SELECT count(*) FROM ingest_runs").await, 1);
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_waits_queued_until_its_fetcher_starts_then_completes() {
    let mut stack = TestStack::start(StackOptions {
        fetchers: vec![],
        ..Default::default()
    })
    .await;
    let id = stack
        .start_ok(Source::SemanticScholar, "protein folding", 100)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, run) = stack.get_run(&id, &token(org_a(), Role::Viewer)).await;
    assert_eq!(run["status"], "queued");
    assert_eq!(
        stack.queue_depth(Source::SemanticScholar).await,
        1,
        "the job waits in its queue"
    );
    let fetcher = stack.spawn_fetcher(Source::SemanticScholar).await;
    stack.fetchers.push(fetcher);
    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["papers_found"], 100);
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_run_is_a_404_problem_document() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![],
        ..Default::default()
    })
    .await;
    let res = stack
        .http
        .get(format!(
            "{}/ingestion/runs/{}",
            stack.gateway_url,
            uuid::Uuid::new_v4()
        ))
        .bearer_auth(token(org_a(), Role::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    assert!(problem["title"].is_string() && problem["type"].is_string());
    stack.teardown().await;
}
