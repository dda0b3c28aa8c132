//! Issue 3 end to end: each source's client against the replayed API through the
//! whole stack, with faults, resumption and the shared polite rate.

use e2e::{StackOptions, TestStack, org_a, replay_fault, token};
use platform::Source;
use platform::auth::Role;
use replay_server::FaultKind;
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn id_column(source: Source) -> &'static str {
    match source {
        Source::OpenAlex => "SELECT count(*) FROM papers WHERE openalex_id IS NOT NULL",
        Source::Pubmed => "SELECT count(*) FROM papers WHERE pmid IS NOT NULL",
        Source::Arxiv => "SELECT count(*) FROM papers WHERE arxiv_id IS NOT NULL",
        Source::SemanticScholar => "SELECT count(*) FROM papers WHERE s2_id IS NOT NULL",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_source_completes_a_run_with_its_papers_and_ids() {
    let stack = TestStack::start(StackOptions::default()).await;
    let mut runs = Vec::new();
    for source in [Source::Pubmed, Source::Arxiv, Source::SemanticScholar] {
        runs.push((
            source,
            stack.start_ok(source, "cancer immunotherapy", 1000).await,
        ));
    }
    for (source, id) in runs {
        let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
        let corpus = stack.replay.corpus_len(source.as_str()) as u64;
        assert_eq!(run["status"], "completed", "{source}: {run}");
        assert_eq!(run["papers_found"].as_u64(), Some(corpus), "{source}");
        assert_eq!(
            run["expected_total"].as_u64(),
            Some(corpus),
            "{source}: the source's total is recorded"
        );
        assert!(
            stack.count(id_column(source)).await as u64 >= corpus.min(1),
            "{source}: ids stored"
        );
        let linked: (i64,) =
            sqlx::query_as("SELECT count(*) FROM run_papers WHERE run_id = $1::uuid")
                .bind(&id)
                .fetch_one(&stack.db)
                .await
                .unwrap();
        assert!(
            linked.0 > 0 && linked.0 as u64 <= corpus,
            "{source}: link rows {}",
            linked.0
        );
    }
    // arXiv ids are stored without version; PubMed's come from PubmedData only.
    assert_eq!(
        stack
            .count("SELECT count(*) FROM papers WHERE arxiv_id ~ 'v[0-9]+$'")
            .await,
        0
    );
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_with_retry_after_then_success_completes_for_every_source() {
    let stack = TestStack::start(StackOptions::default()).await;
    for source in Source::ALL {
        stack.replay.inject(
            replay_fault(source, FaultKind::RateLimited)
                .retry_after(1)
                .times(2),
        );
    }
    let mut runs = Vec::new();
    for source in Source::ALL {
        runs.push((source, stack.start_ok(source, "retry me", 50).await));
    }
    for (source, id) in runs {
        let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
        assert_eq!(run["status"], "completed", "{source}: {run}");
        let statuses: Vec<u16> = stack
            .replay
            .requests(source.as_str())
            .iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(
            &statuses[..3],
            &[429, 429, 200],
            "{source}: retried after the 429s"
        );
    }
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_page_fails_the_run_with_a_clear_message() {
    let stack = TestStack::start(StackOptions::default()).await;
    for source in Source::ALL {
        // PubMed's first call is esearch; break the efetch page.
        let mut fault = replay_fault(source, FaultKind::Malformed);
        if source == Source::Pubmed {
            fault = fault.endpoint("efetch");
        }
        stack.replay.inject(fault);
    }
    let mut runs = Vec::new();
    for source in Source::ALL {
        runs.push((source, stack.start_ok(source, "broken", 50).await));
    }
    for (source, id) in runs {
        let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
        assert_eq!(run["status"], "failed", "{source}: {run}");
        let message = run["error_message"].as_str().unwrap().to_lowercase();
        assert!(message.contains("malformed"), "{source}: {message}");
        assert!(
            message.contains(source.as_str()) || message.contains(source.path_segment()),
            "{source} named: {message}"
        );
    }
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exhausted_quota_fails_the_run_at_once_saying_when_it_resets() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::OpenAlex],
        ..Default::default()
    })
    .await;
    stack
        .replay
        .inject(replay_fault(Source::OpenAlex, FaultKind::QuotaExhausted));
    let started = std::time::Instant::now();
    let id = stack.start_ok(Source::OpenAlex, "quota", 50).await;
    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no sleeping on a day-long Retry-After"
    );
    assert_eq!(run["status"], "failed");
    let message = run["error_message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("quota"), "{message}");
    assert!(message.contains("reset"), "{message}");
    stack.teardown().await;
}

/// Kills the fetcher in the middle of a run (its source call hangs), lets the lease
/// expire, and checks a new fetcher imports the rest and nothing twice.
async fn killed_mid_run_resumes_from_the_checkpoint(
    source: Source,
    page_size: u32,
    pages_before_kill: u32,
) {
    let mut stack = TestStack::start(StackOptions {
        fetchers: vec![source],
        page_size: Some(page_size),
        ..Default::default()
    })
    .await;
    let mut hang = replay_fault(source, FaultKind::Slow)
        .delay_ms(60_000)
        .after(pages_before_kill);
    if source == Source::Pubmed {
        hang = hang.endpoint("efetch");
    }
    stack.replay.inject(hang);
    let id = stack.start_ok(source, "resume me", 1000).await;
    let viewer = token(org_a(), Role::Viewer);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, run) = stack.get_run(&id, &viewer).await;
        if run["pages_done"].as_u64() == Some(u64::from(pages_before_kill)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached {pages_before_kill} pages: {run}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stack.fetchers.pop().unwrap().abort();
    stack.replay.clear_faults();
    stack.clock.advance(Duration::from_secs(31));
    stack.reconciler.run_once().await.unwrap();
    let fresh = stack.spawn_fetcher(source).await;
    stack.fetchers.push(fresh);
    let run = stack.wait_terminal(&id, RUN_TIMEOUT).await;
    let corpus = stack.replay.corpus_len(source.as_str()) as i64;
    assert_eq!(run["status"], "completed", "{source}: {run}");
    assert_eq!(
        run["papers_found"].as_i64(),
        Some(corpus),
        "{source}: the rest imported, nothing twice"
    );
    let linked: (i64,) = sqlx::query_as("SELECT count(*) FROM run_papers WHERE run_id = $1::uuid")
        .bind(&id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(
        linked.0,
        run["papers_imported"].as_i64().unwrap(),
        "{source}: counters equal the link table"
    );
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openalex_run_killed_after_some_pages_resumes_and_imports_nothing_twice() {
    killed_mid_run_resumes_from_the_checkpoint(Source::OpenAlex, 20, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pubmed_run_killed_after_some_pages_resumes_and_imports_nothing_twice() {
    killed_mid_run_resumes_from_the_checkpoint(Source::Pubmed, 10, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn arxiv_run_killed_after_some_pages_resumes_and_imports_nothing_twice() {
    killed_mid_run_resumes_from_the_checkpoint(Source::Arxiv, 30, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn semantic_scholar_run_killed_after_some_pages_resumes_and_imports_nothing_twice() {
    killed_mid_run_resumes_from_the_checkpoint(Source::SemanticScholar, 100, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_fetchers_of_one_source_together_stay_within_its_rate() {
    const RPS: f64 = 4.0;
    let mut stack = TestStack::start(StackOptions {
        fetchers: vec![],
        requests_per_second: RPS,
        page_size: Some(10),
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        let f = stack.spawn_fetcher(Source::Arxiv).await;
        stack.fetchers.push(f);
    }
    // Three runs of 5 pages of 10: 15 requests, one run per fetcher at a time.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(stack.start_ok(Source::Arxiv, "synthetic:1000", 50).await);
    }
    for id in &ids {
        let run = stack.wait_terminal(id, RUN_TIMEOUT).await;
        assert_eq!(run["status"], "completed", "{run}");
    }
    let log = stack.replay.requests("arxiv");
    let times: Vec<u64> = log.iter().map(|r| r.at_ms).collect();
    assert_eq!(times.len(), 15, "{log:?}");
    let busiest = times
        .iter()
        .map(|&t| times.iter().filter(|&&u| u >= t && u < t + 1000).count())
        .max()
        .unwrap();
    assert!(
        busiest <= RPS as usize + 1,
        "at most {RPS}/s together (+1 for window edges); saw {busiest} in one second"
    );
    let span = times.last().unwrap() - times.first().unwrap();
    assert!(
        span as f64 >= (times.len() as f64 - 1.0) / RPS * 1000.0 * 0.9,
        "15 requests spread over {span} ms"
    );
    stack.teardown().await;
}
