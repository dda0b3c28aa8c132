//! Crash recovery seams driven with the injected clock: the reconciler and leases.

mod common;

use common::*;
use ingestion_control::db::runs;
use ingestion_control::domain::run::NewRun;
use ingestion_proto::v1;
use platform::Source;
use platform::auth::{Permission, Principal};
use std::time::Duration;

/// A PubMed run of organisation A, committed `queued` with no job published for it.
async fn insert_unpublished_run(t: &TestControl, query: &str) -> NewRun {
    let principal = Principal::new("u", org_a(), &[Permission::PapersWrite]);
    let new = NewRun::parse(
        &principal,
        v1::CreateRunRequest {
            source: v1::Source::Pubmed as i32,
            query: query.into(),
            ..Default::default()
        },
    )
    .unwrap();
    runs::insert(&t.db, &new).await.unwrap();
    new
}

#[tokio::test]
async fn a_run_committed_but_never_published_is_republished_by_the_reconciler() {
    let t = spawn(Options::default()).await;
    // What a process that died between commit and publish leaves behind.
    let new = insert_unpublished_run(&t, "orphan").await;
    assert_eq!(
        t.reconciler.run_once().await.unwrap().republished,
        0,
        "too young: its publish may be in flight"
    );
    t.clock.advance(Duration::from_secs(31));
    assert_eq!(t.reconciler.run_once().await.unwrap().republished, 1);
    let msg = t.take_message(Source::Pubmed).await.expect("job published");
    assert_eq!(
        msg.delivery
            .properties
            .message_id()
            .as_ref()
            .unwrap()
            .as_str(),
        new.id.to_string()
    );
    assert_eq!(
        t.reconciler.run_once().await.unwrap().republished,
        0,
        "published once"
    );
    t.teardown().await;
}

#[tokio::test]
async fn a_dead_fetchers_run_is_requeued_from_its_checkpoint_and_given_up_after_max_claims() {
    let t = spawn(Options {
        max_claims: 2,
        ..Default::default()
    })
    .await;
    let run = t.start(org_a(), Source::OpenAlex, "q").await.unwrap();
    t.take_message(Source::OpenAlex).await.unwrap();
    let claimed = t
        .claim(&run.id, Source::OpenAlex, "dies")
        .await
        .run
        .unwrap();
    t.record_page(
        &lease(&claimed, "dies"),
        vec![],
        r#"{"cursor":"c1","fetched":25}"#,
    )
    .await
    .unwrap();

    t.clock.advance(Duration::from_secs(31));
    let report = t.reconciler.run_once().await.unwrap();
    assert_eq!((report.requeued, report.republished), (1, 1));
    assert_eq!(t.status_of(&run.id).await.0, "queued");
    t.take_message(Source::OpenAlex)
        .await
        .expect("re-published");
    let second = t.claim(&run.id, Source::OpenAlex, "dies-too").await;
    assert_eq!(second.checkpoint_json, r#"{"cursor":"c1","fetched":25}"#);

    t.clock.advance(Duration::from_secs(31));
    let report = t.reconciler.run_once().await.unwrap();
    assert_eq!(report.failed, 1, "out of claims: failed, not looped");
    let (status, message) = t.status_of(&run.id).await;
    assert_eq!(status, "failed");
    assert!(message.unwrap().contains("gave up after 2 claims"));
    t.teardown().await;
}

#[tokio::test]
async fn watch_run_streams_snapshots_until_the_run_ends() {
    use futures::StreamExt as _;
    let t = spawn(Options::default()).await;
    let run = t.start(org_a(), Source::Arxiv, "q").await.unwrap();
    let mut stream = t
        .runs()
        .await
        .watch_run(with_auth(
            v1::WatchRunRequest { id: run.id.clone() },
            &token(org_a(), platform::auth::Role::Viewer),
        ))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.status, v1::RunStatus::Queued as i32);
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a snapshot within 5 s")
    };
    let claimed = t.claim(&run.id, Source::Arxiv, "w").await.run.unwrap();
    let running = next().await.unwrap().unwrap();
    assert_eq!(running.status, v1::RunStatus::Running as i32);
    assert_eq!(running.papers_found, 0);
    let l = lease(&claimed, "w");
    t.record_page(
        &l,
        vec![paper("A", Some("10.1/a"), Default::default())],
        "{}",
    )
    .await
    .unwrap();
    let progressed = next().await.unwrap().unwrap();
    assert_eq!(
        (
            progressed.status,
            progressed.papers_found,
            progressed.pages_done
        ),
        (v1::RunStatus::Running as i32, 1, 1)
    );
    t.complete(&l).await.unwrap();
    let last = next().await.unwrap().unwrap();
    assert_eq!(last.status, v1::RunStatus::Completed as i32);
    assert!(
        next().await.is_none(),
        "the stream closes after the terminal snapshot"
    );
    // Another organisation's watcher: not found.
    let other = t
        .runs()
        .await
        .watch_run(with_auth(
            v1::WatchRunRequest { id: run.id.clone() },
            &token(org_b(), platform::auth::Role::Admin),
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), tonic::Code::NotFound);
    t.teardown().await;
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_dead_lettered_and_its_run_failed_with_the_reason() {
    use lapin::options::{BasicGetOptions, BasicNackOptions};
    let t = spawn(Options::default()).await; // delivery limit 3 in the test config
    let run = t.start(org_a(), Source::Pubmed, "poison").await.unwrap();
    // A consumer that gives the job back every time, as a crashing fetcher would.
    let mut returned = 0;
    for _ in 0..50 {
        match t
            .amqp_channel
            .basic_get(
                t.queue(Source::Pubmed).as_str().into(),
                BasicGetOptions::default(),
            )
            .await
            .unwrap()
        {
            Some(msg) => {
                msg.delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                returned += 1;
            }
            None if returned > 0 => break,
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(
        returned >= 3,
        "redelivered up to the limit, then dead-lettered ({returned})"
    );
    let mut status = t.status_of(&run.id).await;
    for _ in 0..100 {
        if status.0 == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = t.status_of(&run.id).await;
    }
    assert_eq!(status.0, "failed");
    assert!(
        status.1.unwrap().contains("dead-lettered"),
        "the reason is recorded"
    );
    assert_eq!(
        t.queued_messages(Source::Pubmed).await,
        0,
        "no hot loop: the job left the queue"
    );
    t.teardown().await;
}

#[tokio::test]
async fn a_statement_cut_off_by_a_server_shutdown_is_unavailable_so_callers_retry() {
    use sqlx::Connection as _;
    let url = test_support::admin_url();
    let mut victim = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut killer = sqlx::PgConnection::connect(&url).await.unwrap();
    let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut victim)
        .await
        .unwrap();
    let statement = tokio::spawn(async move {
        sqlx::query("SELECT pg_sleep(30)")
            .execute(&mut victim)
            .await
    });
    // What a restart does to statements in flight (`pg_ctl stop -m fast`): 57P01.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (sleeping,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                             WHERE pid = $1 AND state = 'active' AND wait_event = 'PgSleep')",
        )
        .bind(pid)
        .fetch_one(&mut killer)
        .await
        .unwrap();
        if sleeping {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the statement never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut killer)
        .await
        .unwrap();
    let err = statement
        .await
        .unwrap()
        .expect_err("the statement is cut off");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("57P01"),
        "{err}"
    );
    assert!(ingestion_control::db::is_unavailable(&err));
    let status = tonic::Status::from(ingestion_control::error::ControlError::Database(err));
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn the_published_mark_relaxes_only_its_own_commit() {
    let t = spawn(Options::default()).await;
    let new = insert_unpublished_run(&t, "mark").await;
    let mut conn = t.db.acquire().await.unwrap();
    assert!(runs::mark_published(&mut *conn, new.id, 1).await.unwrap());
    assert!(
        !runs::mark_published(&mut *conn, new.id, 1).await.unwrap(),
        "marked once"
    );
    // ADR-028: the setting lasted only for the mark's own transaction; the next
    // statement on this pooled connection commits durably again.
    let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(setting, "on");
    let published: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT published_at FROM ingest_runs WHERE id = $1")
            .bind(new.id)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(published.is_some());
    drop(conn);
    t.teardown().await;
}

#[tokio::test]
async fn a_new_run_is_not_announced_to_watchers_but_its_changes_are() {
    let t = spawn(Options::default()).await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&t.db)
        .await
        .unwrap();
    listener
        .listen(ingestion_control::watch::CHANNEL)
        .await
        .unwrap();
    // ADR-031: an insert takes no notify lock (nobody can watch a run before it exists).
    let new = insert_unpublished_run(&t, "announce").await;
    let heard = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(heard.is_err(), "the insert notified: {heard:?}");
    assert!(runs::mark_published(&t.db, new.id, 1).await.unwrap());
    let change = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("the update notifies")
        .unwrap();
    assert_eq!(change.payload(), new.id.to_string());
    drop(listener);
    t.teardown().await;
}
