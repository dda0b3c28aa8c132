//! The run lifecycle against the real PostgreSQL and RabbitMQ: create → publish →
//! claim → pages → finish, and every refusal along the way.

mod common;

use common::*;
use ingestion_proto::v1;
use platform::Source;
use platform::auth::Role;
use platform::failpoints::{Action, Failpoints};
use std::sync::{Arc, Mutex, mpsc};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_committed_queued_before_its_job_is_published_then_confirmed() {
    // The fail point pauses CreateRun right after the commit, before the publish.
    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let resume_rx = Arc::new(Mutex::new(resume_rx));
    let hook = Action::Hook(Arc::new(move || {
        let _ = reached_tx.send(());
        let rx = resume_rx.clone();
        tokio::task::block_in_place(|| {
            let _ = rx.lock().unwrap().recv();
        });
    }));
    let t = spawn(Options {
        failpoints: Failpoints::default().with("create_run.after_commit", hook),
        ..Default::default()
    })
    .await;

    let mut client = t.runs().await;
    let req = v1::CreateRunRequest {
        source: v1::Source::Pubmed as i32,
        query: "crispr".into(),
        ..Default::default()
    };
    let call = tokio::spawn(async move {
        client
            .create_run(with_auth(req, &token(org_a(), Role::Member)))
            .await
    });
    tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();

    // At the fail point: the run is committed and queued, and no message exists yet.
    let (status, published): (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT status, published_at FROM ingest_runs")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert_eq!(status, "queued");
    assert!(published.is_none());
    assert_eq!(t.queued_messages(Source::Pubmed).await, 0);

    resume_tx.send(()).unwrap();
    let run = call.await.unwrap().unwrap().into_inner().run.unwrap();
    assert_eq!(run.status, v1::RunStatus::Queued as i32);
    assert_eq!(run.max_results, 100, "max_results defaults to 100");

    let msg = t
        .take_message(Source::Pubmed)
        .await
        .expect("the job was published");
    let props = &msg.delivery.properties;
    assert_eq!(props.message_id().as_ref().unwrap().as_str(), run.id);
    assert_eq!(*props.delivery_mode(), Some(2), "persistent");
    assert_eq!(
        props.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    let body: serde_json::Value = serde_json::from_slice(&msg.delivery.data).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"run_id": run.id, "source": "pubmed", "attempt": 1})
    );
    let (published,): (Option<chrono::DateTime<chrono::Utc>>,) =
        sqlx::query_as("SELECT published_at FROM ingest_runs")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert!(published.is_some(), "the broker's confirm is recorded");
    t.teardown().await;
}

#[tokio::test]
async fn an_unreachable_broker_fails_the_run_and_answers_unavailable_with_its_id() {
    let t = spawn(Options {
        amqp_url: "amqp://guest:guest@127.0.0.1:1/%2f".into(),
        ..Default::default()
    })
    .await;
    let err = t
        .start(org_a(), Source::OpenAlex, "graphene")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let run_id = err
        .metadata()
        .get("x-ingest-run-id")
        .expect("run id in metadata")
        .to_str()
        .unwrap()
        .to_owned();
    let (status, message) = t.status_of(&run_id).await;
    assert_eq!(status, "failed");
    assert!(message.unwrap().contains("could not publish the job"));
    t.teardown().await;
}

#[tokio::test]
async fn an_unroutable_job_is_a_failed_publish_not_a_silent_drop() {
    let t = spawn(Options::default()).await;
    // Remove the only binding for arxiv: the broker returns the mandatory message.
    t.amqp_channel
        .queue_unbind(
            t.queue(Source::Arxiv).as_str().into(),
            t.exchange.as_str().into(),
            "arxiv".into(),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let err = t
        .start(org_a(), Source::Arxiv, "quantum")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let run_id = err
        .metadata()
        .get("x-ingest-run-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (status, message) = t.status_of(&run_id).await;
    assert_eq!(status, "failed");
    assert!(
        message.unwrap().contains("could not route"),
        "names the cause"
    );
    t.teardown().await;
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_first_run() {
    let t = spawn(Options::default()).await;
    let mut client = t.runs().await;
    let req = || v1::CreateRunRequest {
        source: v1::Source::Pubmed as i32,
        query: "malaria".into(),
        idempotency_key: Some("click-42".into()),
        ..Default::default()
    };
    let first = client
        .create_run(with_auth(req(), &token(org_a(), Role::Member)))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .create_run(with_auth(req(), &token(org_a(), Role::Member)))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed);
    assert!(second.replayed);
    assert_eq!(first.run.unwrap().id, second.run.unwrap().id);
    // Another organisation's identical key is its own.
    let other = client
        .create_run(with_auth(req(), &token(org_b(), Role::Member)))
        .await
        .unwrap()
        .into_inner();
    assert!(!other.replayed);
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM ingest_runs")
        .fetch_one(&t.db)
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(
        t.queued_messages(Source::Pubmed).await,
        2,
        "one job per run"
    );
    t.teardown().await;
}

#[tokio::test]
async fn claim_is_atomic_and_duplicates_unknown_runs_and_other_sources_are_refused() {
    let t = spawn(Options::default()).await;
    let run = t.start(org_a(), Source::OpenAlex, "q").await.unwrap();

    let first = t.claim(&run.id, Source::OpenAlex, "w1").await;
    assert_eq!(first.outcome, v1::ClaimOutcome::Claimed as i32);
    assert!(
        first.lease_expires_at.is_some(),
        "a claim sets the lease at once"
    );
    let dup = t.claim(&run.id, Source::OpenAlex, "w2").await;
    assert_eq!(dup.outcome, v1::ClaimOutcome::NotClaimable as i32);

    let unknown = t
        .claim(&uuid::Uuid::new_v4().to_string(), Source::OpenAlex, "w1")
        .await;
    assert_eq!(unknown.outcome, v1::ClaimOutcome::UnknownRun as i32);

    let other = t.start(org_a(), Source::Pubmed, "q").await.unwrap();
    let mismatch = t.claim(&other.id, Source::Arxiv, "w3").await;
    assert_eq!(mismatch.outcome, v1::ClaimOutcome::SourceMismatch as i32);
    let (status, message) = t.status_of(&other.id).await;
    assert_eq!(status, "failed");
    let message = message.unwrap();
    assert!(
        message.contains("pubmed") && message.contains("arxiv"),
        "{message}"
    );
    t.teardown().await;
}

#[tokio::test]
async fn pages_store_papers_checkpoint_and_counters_and_completion_is_final() {
    let t = spawn(Options::default()).await;
    let run = t.start(org_a(), Source::OpenAlex, "q").await.unwrap();
    let claimed = t.claim(&run.id, Source::OpenAlex, "w1").await.run.unwrap();
    let lease = lease(&claimed, "w1");
    let page = vec![
        paper(
            "One",
            Some("10.1/one"),
            v1::ExternalIds {
                openalex: Some("W1".into()),
                ..Default::default()
            },
        ),
        paper(
            "Two",
            Some("10.1/two"),
            v1::ExternalIds {
                openalex: Some("W2".into()),
                ..Default::default()
            },
        ),
    ];
    let res = t
        .record_page(&lease, page, r#"{"cursor":"abc","fetched":2}"#)
        .await
        .unwrap();
    assert_eq!(
        (res.papers_found, res.papers_imported, res.cancelled),
        (2, 2, false)
    );
    let (cp, total, pages): (serde_json::Value, Option<i64>, i32) =
        sqlx::query_as("SELECT checkpoint_data, expected_total, pages_done FROM ingest_runs")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert_eq!(cp["cursor"], "abc");
    assert_eq!(total, Some(50), "the source total capped by max_results");
    assert_eq!(pages, 1);

    let done = t.complete(&lease).await.unwrap();
    assert_eq!(done.status, v1::RunStatus::Completed as i32);
    // A late page after completion is refused, and the database refuses a direct change too.
    let late = t.record_page(&lease, vec![], r#"{}"#).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    let direct = sqlx::query("UPDATE ingest_runs SET status = 'running'")
        .execute(&t.db)
        .await;
    assert!(
        direct.is_err(),
        "terminal states are enforced by the database"
    );
    t.teardown().await;
}

/// The run's row invariants hold in the database, whoever writes: every broken one is
/// refused as a check violation naming it (migration 0007 moved them from CHECK
/// constraints into the row trigger; the names are the constraints' own).
#[tokio::test]
async fn the_database_refuses_a_run_row_that_breaks_an_invariant_and_names_it() {
    let t = spawn(Options::default()).await;
    let insert_as = |status: &'static str,
                     source: &'static str,
                     query: String,
                     max_results: i32| {
        let db = t.db.clone();
        async move {
            sqlx::query(
                "INSERT INTO ingest_runs (id, organization_id, requested_by, status, source, query, max_results)
                 VALUES (gen_random_uuid(), gen_random_uuid(), 'test', $1, $2, $3, $4) RETURNING id",
            )
            .bind(status)
            .bind(source)
            .bind(query)
            .bind(max_results)
            .fetch_one(&db)
            .await
        }
    };
    let insert = |source, query, max_results| insert_as("queued", source, query, max_results);
    let refused_by = |result: Result<_, sqlx::Error>| -> String {
        let err = result.expect_err("the database accepted a row that breaks an invariant");
        let db = err.as_database_error().expect("a database error");
        assert_eq!(db.code().as_deref(), Some("23514"), "check_violation: {db}");
        db.constraint()
            .expect("the error names the invariant")
            .to_owned()
    };

    let cases = [
        (
            insert("bogus", "q".into(), 10).await.map(drop),
            "ingest_runs_source_check",
        ),
        (
            insert_as("nonsense", "pubmed", "q".into(), 10)
                .await
                .map(drop),
            "ingest_runs_status_check",
        ),
        (
            insert_as("running", "pubmed", "q".into(), 10)
                .await
                .map(drop),
            "running_has_lease",
        ),
        (
            insert("pubmed", String::new(), 10).await.map(drop),
            "ingest_runs_query_check",
        ),
        (
            insert("pubmed", "q".repeat(1001), 10).await.map(drop),
            "ingest_runs_query_check",
        ),
        (
            insert("pubmed", "q".into(), 0).await.map(drop),
            "ingest_runs_max_results_check",
        ),
        (
            insert("pubmed", "q".into(), 10_001).await.map(drop),
            "ingest_runs_max_results_check",
        ),
    ];
    for (case, (result, invariant)) in cases.into_iter().enumerate() {
        assert_eq!(refused_by(result), invariant, "insert case {case}");
    }

    let row = insert("pubmed", "q".into(), 10)
        .await
        .expect("a valid run is accepted");
    let id: uuid::Uuid = sqlx::Row::get(&row, "id");
    let update = |set: &'static str| {
        let db = t.db.clone();
        async move {
            // `set` is one of this test's literals.
            let sql = format!("UPDATE ingest_runs SET {set} WHERE id = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&db)
                .await
                .map(drop)
        }
    };
    let updates = [
        ("papers_found = -1", "ingest_runs_papers_found_check"),
        ("papers_imported = -1", "ingest_runs_papers_imported_check"),
        ("attempt = 0", "ingest_runs_attempt_check"),
        ("status = 'running'", "running_has_lease"),
        ("status = 'cancelled'", "terminal_has_completed_at"),
        ("completed_at = now()", "terminal_has_completed_at"),
        ("status = 'failed', completed_at = now()", "failed_says_why"),
    ];
    for (set, invariant) in updates {
        assert_eq!(refused_by(update(set).await), invariant, "SET {set}");
    }
    // The same transitions with what they need are accepted: the refusals above were the
    // invariants, not the statements.
    update("status = 'running', lease_owner = 'w', lease_expires_at = now() + interval '1 minute'")
        .await
        .expect("running with a lease");
    update("status = 'failed', completed_at = now(), error_message = 'why'")
        .await
        .expect("failed with its reason and completion time");
    t.teardown().await;
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_stale_owner_is_fenced_off() {
    let t = spawn(Options::default()).await;
    let run = t.start(org_a(), Source::Arxiv, "q").await.unwrap();
    let claimed = t.claim(&run.id, Source::Arxiv, "old").await.run.unwrap();
    let stale = lease(&claimed, "old");
    // The lease is live: no takeover.
    assert_eq!(
        t.claim(&run.id, Source::Arxiv, "new").await.outcome,
        v1::ClaimOutcome::NotClaimable as i32
    );
    t.clock.advance(std::time::Duration::from_secs(31));
    let taken = t.claim(&run.id, Source::Arxiv, "new").await;
    assert_eq!(taken.outcome, v1::ClaimOutcome::Claimed as i32);
    let refused = t
        .record_page(
            &stale,
            vec![paper(
                "X",
                None,
                v1::ExternalIds {
                    arxiv: Some("2101.00001".into()),
                    ..Default::default()
                },
            )],
            "{}",
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM papers")
        .fetch_one(&t.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "the stale owner imported nothing");
    let fresh = lease(&taken.run.unwrap(), "new");
    assert!(
        t.record_page(&fresh, vec![], r#"{"start":0}"#)
            .await
            .is_ok()
    );
    t.teardown().await;
}

#[tokio::test]
async fn cancel_and_retry_follow_the_state_machine() {
    let t = spawn(Options::default()).await;
    let admin = token(org_a(), Role::Admin);
    let mut client = t.runs().await;
    let run = t.start(org_a(), Source::Pubmed, "q").await.unwrap();
    let claimed = t.claim(&run.id, Source::Pubmed, "w").await.run.unwrap();
    let l = lease(&claimed, "w");
    t.record_page(&l, vec![], r#"{"retstart":20}"#)
        .await
        .unwrap();

    let cancelled = client
        .cancel_run(with_auth(
            v1::CancelRunRequest { id: run.id.clone() },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, v1::RunStatus::Cancelled as i32);
    // The running fetcher learns it at its next page and stores nothing.
    let next = t
        .record_page(
            &l,
            vec![paper("late", Some("10.9/late"), Default::default())],
            "{}",
        )
        .await
        .unwrap();
    assert!(next.cancelled);
    let again = client
        .cancel_run(with_auth(
            v1::CancelRunRequest { id: run.id.clone() },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let retried = client
        .retry_run(with_auth(
            v1::RetryRunRequest { id: run.id.clone() },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.status, v1::RunStatus::Queued as i32);
    assert_eq!(retried.attempt, 2);
    let reclaimed = t.claim(&run.id, Source::Pubmed, "w2").await;
    assert_eq!(
        reclaimed.checkpoint_json, r#"{"retstart":20}"#,
        "the checkpoint is kept"
    );
    let retry_running = client
        .retry_run(with_auth(
            v1::RetryRunRequest { id: run.id.clone() },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(retry_running.code(), Code::FailedPrecondition);
    // Members cannot cancel or retry.
    let member = client
        .cancel_run(with_auth(
            v1::CancelRunRequest { id: run.id.clone() },
            &token(org_a(), Role::Member),
        ))
        .await
        .unwrap_err();
    assert_eq!(member.code(), Code::PermissionDenied);
    t.teardown().await;
}

#[tokio::test]
async fn runs_are_scoped_to_the_callers_organisation_and_listed_newest_first() {
    let t = spawn(Options::default()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            t.start(org_a(), Source::OpenAlex, &format!("q{i}"))
                .await
                .unwrap()
                .id,
        );
    }
    let b_run = t.start(org_b(), Source::OpenAlex, "b").await.unwrap();
    let mut client = t.runs().await;
    let viewer_a = token(org_a(), Role::Viewer);
    let missing = client
        .get_run(with_auth(
            v1::GetRunRequest {
                id: b_run.id.clone(),
            },
            &viewer_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        missing.code(),
        Code::NotFound,
        "another organisation's run does not exist for us"
    );

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = client
            .list_runs(with_auth(
                v1::ListRunsRequest {
                    limit: 2,
                    cursor: cursor.clone(),
                    ..Default::default()
                },
                &viewer_a,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.runs.into_iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => cursor = c,
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(
        seen, ids,
        "newest first, every run once, only organisation A"
    );
    let forged = client
        .list_runs(with_auth(
            v1::ListRunsRequest {
                cursor: "bm90LWEtY3Vyc29y".into(),
                ..Default::default()
            },
            &viewer_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::InvalidArgument);
    t.teardown().await;
}

/// Concurrent starts and reads share statements (ADR-038) but never each other's
/// answers: every start gets its own committed, published run, and every read sees
/// its own organisation's run and nothing of the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_and_reads_each_get_their_own_run() {
    let t = spawn(Options::default()).await;
    let org_of = |i: usize| {
        if i.is_multiple_of(2) {
            org_a()
        } else {
            org_b()
        }
    };
    let queries: Vec<String> = (0..40).map(|i| format!("concurrent {i}")).collect();
    let started = futures::future::join_all(
        queries
            .iter()
            .enumerate()
            .map(|(i, query)| t.start(org_of(i), Source::Pubmed, query)),
    )
    .await;
    let runs: Vec<v1::Run> = started.into_iter().map(Result::unwrap).collect();
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(
            run.query,
            format!("concurrent {i}"),
            "each start answers its own run"
        );
        assert_eq!(run.organization_id, org_of(i).to_string());
    }
    let distinct: std::collections::HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(distinct.len(), 40);
    let (published,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM ingest_runs WHERE published_at IS NOT NULL")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert_eq!(
        published, 40,
        "every run committed and its publish recorded"
    );
    assert_eq!(t.queued_messages(Source::Pubmed).await, 40);
    let metrics = platform::health::prometheus().render();
    assert!(
        metrics.contains(r#"coalesced_batch_size_bucket{batch="run_insert",le="64"}"#),
        "batch sizes are exported in calls, not seconds"
    );

    let client = t.runs().await;
    let reads = futures::future::join_all(runs.iter().enumerate().flat_map(|(i, run)| {
        [(org_of(i), true), (org_of(i + 1), false)].map(|(org, own)| {
            let mut client = client.clone();
            let id = run.id.clone();
            async move {
                let answer = client
                    .get_run(with_auth(
                        v1::GetRunRequest { id: id.clone() },
                        &token(org, Role::Viewer),
                    ))
                    .await;
                (id, own, answer)
            }
        })
    }))
    .await;
    for (id, own, answer) in reads {
        match answer {
            Ok(found) if own => assert_eq!(found.into_inner().id, id),
            Err(status) if !own => assert_eq!(status.code(), Code::NotFound),
            other => panic!("read of {id} by its own organisation = {own}: {other:?}"),
        }
    }
    t.teardown().await;
}

#[tokio::test]
async fn user_tokens_cannot_call_the_worker_service_and_worker_tokens_cannot_call_runs() {
    let t = spawn(Options::default()).await;
    let req = v1::ClaimRunRequest {
        run_id: uuid::Uuid::new_v4().to_string(),
        source: v1::Source::Pubmed as i32,
        worker_id: "w".into(),
        attempt: 1,
    };
    let err = t
        .workers()
        .await
        .claim_run(with_auth(req, &token(org_a(), Role::Admin)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = t
        .runs()
        .await
        .list_runs(with_auth(v1::ListRunsRequest::default(), WORKER_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let viewer_start = t
        .runs()
        .await
        .create_run(with_auth(
            v1::CreateRunRequest {
                source: 1,
                query: "q".into(),
                ..Default::default()
            },
            &token(org_a(), Role::Viewer),
        ))
        .await
        .unwrap_err();
    assert_eq!(viewer_start.code(), Code::PermissionDenied);
    t.teardown().await;
}

/// A RecordPage whose answer was lost is retried by the fetcher with the same page; the
/// page must count once (seen in the fault suite when ingestion-control died between
/// committing a page and answering).
#[tokio::test]
async fn a_retried_page_whose_answer_was_lost_counts_once() {
    let t = spawn(Options::default()).await;
    let run = t.start(org_a(), Source::OpenAlex, "q").await.unwrap();
    let claimed = t.claim(&run.id, Source::OpenAlex, "w1").await.run.unwrap();
    let lease = lease(&claimed, "w1");
    let page = || {
        vec![paper(
            "One",
            Some("10.1/one"),
            v1::ExternalIds {
                openalex: Some("W1".into()),
                ..Default::default()
            },
        )]
    };
    let first = t
        .record_page(&lease, page(), r#"{"cursor":"c1","fetched":1}"#)
        .await
        .unwrap();
    let retried = t
        .record_page(&lease, page(), r#"{"fetched":1,"cursor":"c1"}"#)
        .await
        .unwrap();
    assert_eq!(
        (
            retried.papers_found,
            retried.papers_imported,
            retried.cancelled
        ),
        (first.papers_found, first.papers_imported, false),
        "the retry is answered as the first call was"
    );
    let next = t
        .record_page(&lease, page(), r#"{"cursor":"c2","fetched":2}"#)
        .await
        .unwrap();
    assert_eq!(next.papers_found, 2, "a page with a new checkpoint counts");
    let (found, pages): (i64, i32) =
        sqlx::query_as("SELECT papers_found, pages_done FROM ingest_runs")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert_eq!((found, pages), (2, 2));
    t.teardown().await;
}
