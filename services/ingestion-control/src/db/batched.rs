//! The statements of a start and of a read, coalesced across concurrent calls
//! (ADR-038): a start's insert, its publish mark and a read by id each run as one
//! statement for every call waiting at that moment, instead of one per call.
//!
//! Each call keeps its own meaning: a start's run is committed before its job is
//! published (the insert answers only after its batch commits), and a read sees only
//! its organisation's run. A batch that fails for a reason of its own rows (not an
//! unavailable database) is run again call by call, so one bad row fails only its
//! own call.

use crate::coalesce::{Coalescer, Stopped};
use crate::db::{is_unavailable, runs};
use crate::domain::run::{NewRun, RunRecord};
use sqlx::PgPool;
use std::collections::HashMap;
use std::future::Future;
use uuid::Uuid;

/// The most calls one statement answers.
const MAX_BATCH: usize = 64;

type Answer<T> = Result<T, sqlx::Error>;

pub struct RunBatches {
    inserts: Coalescer<NewRun, Answer<RunRecord>>,
    marks: Coalescer<(Uuid, i32), Answer<bool>>,
    reads: Coalescer<(Uuid, Uuid), Answer<Option<RunRecord>>>,
}

impl RunBatches {
    /// Spawns the workers; needs a Tokio runtime. Each kind runs a quarter of the
    /// pool's `max_connections` batches at once (4 of the default 16): a start uses
    /// two kinds (insert, then mark), so starts hold at most half the pool and reads a
    /// quarter, leaving the rest to pages, claims and the reconciler.
    pub fn spawn(pool: PgPool, max_connections: u32) -> RunBatches {
        let workers = (max_connections as usize / 4).max(1);
        let inserts = Coalescer::spawn("run_insert", workers, MAX_BATCH, {
            let pool = pool.clone();
            move |runs: Vec<NewRun>| insert_batch(pool.clone(), runs)
        });
        let marks = Coalescer::spawn("run_published_mark", workers, MAX_BATCH, {
            let pool = pool.clone();
            move |jobs: Vec<(Uuid, i32)>| mark_batch(pool.clone(), jobs)
        });
        let reads = Coalescer::spawn(
            "run_read",
            workers,
            MAX_BATCH,
            move |keys: Vec<(Uuid, Uuid)>| read_batch(pool.clone(), keys),
        );
        RunBatches {
            inserts,
            marks,
            reads,
        }
    }

    /// Inserts `run` (which has no idempotency key) and commits it.
    pub async fn insert(&self, run: NewRun) -> Answer<RunRecord> {
        debug_assert!(run.idempotency_key.is_none());
        self.inserts.call(run).await.unwrap_or_else(stopped)
    }

    /// [`runs::mark_published`]: whether this call marked the run.
    pub async fn mark_published(&self, id: Uuid, attempt: i32) -> Answer<bool> {
        self.marks.call((id, attempt)).await.unwrap_or_else(stopped)
    }

    /// [`runs::get`]: the run `id` if it belongs to `org`.
    pub async fn get(&self, org: Uuid, id: Uuid) -> Answer<Option<RunRecord>> {
        self.reads.call((org, id)).await.unwrap_or_else(stopped)
    }
}

fn stopped<T>(_: Stopped) -> Answer<T> {
    Err(sqlx::Error::WorkerCrashed)
}

/// What a failed batch answers: an unavailable database is every call's answer;
/// anything else may be one call's fault, so each call runs alone and gets its own.
async fn after_failure<'a, K, T, Fut>(
    err: sqlx::Error,
    calls: &'a [K],
    alone: impl Fn(&'a K) -> Fut,
) -> Vec<Answer<T>>
where
    Fut: Future<Output = Answer<T>>,
{
    if calls.len() == 1 {
        return vec![Err(err)];
    }
    if is_unavailable(&err) {
        return calls
            .iter()
            .map(|_| Err(sqlx::Error::Io(std::io::Error::other(err.to_string()))))
            .collect();
    }
    tracing::warn!(error = %err, calls = calls.len(), "a batched statement failed; running its calls one by one");
    futures::future::join_all(calls.iter().map(alone)).await
}

async fn insert_batch(pool: PgPool, runs: Vec<NewRun>) -> Vec<Answer<RunRecord>> {
    match runs::insert_many(&pool, &runs).await {
        Ok(rows) => {
            let mut by_id: HashMap<Uuid, RunRecord> = rows.into_iter().map(|r| (r.id, r)).collect();
            runs.iter()
                .map(|run| by_id.remove(&run.id).ok_or(sqlx::Error::RowNotFound))
                .collect()
        }
        Err(e) => {
            after_failure(e, &runs, |run| async {
                let mut rows = runs::insert_many(&pool, std::slice::from_ref(run)).await?;
                rows.pop().ok_or(sqlx::Error::RowNotFound)
            })
            .await
        }
    }
}

async fn mark_batch(pool: PgPool, jobs: Vec<(Uuid, i32)>) -> Vec<Answer<bool>> {
    match runs::mark_published_many(&pool, &jobs).await {
        Ok(marked) => jobs.iter().map(|(id, _)| Ok(marked.contains(id))).collect(),
        Err(e) => {
            after_failure(e, &jobs, |&(id, attempt)| {
                runs::mark_published(&pool, id, attempt)
            })
            .await
        }
    }
}

async fn read_batch(pool: PgPool, keys: Vec<(Uuid, Uuid)>) -> Vec<Answer<Option<RunRecord>>> {
    let ids: Vec<Uuid> = keys.iter().map(|&(_, id)| id).collect();
    match runs::get_many(&pool, &ids).await {
        Ok(rows) => {
            let by_id: HashMap<Uuid, RunRecord> = rows.into_iter().map(|r| (r.id, r)).collect();
            keys.iter()
                .map(|(org, id)| {
                    Ok(by_id
                        .get(id)
                        .filter(|run| run.organization_id == *org)
                        .cloned())
                })
                .collect()
        }
        Err(e) => after_failure(e, &keys, |&(org, id)| runs::get(&pool, org, id)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::Source;
    use serde_json::json;
    use test_support::{TestDatabase, org_a, org_b};

    fn new_run(org: Uuid, query: &str) -> NewRun {
        NewRun {
            id: Uuid::now_v7(),
            organization_id: org,
            requested_by: "test".into(),
            source: Source::Pubmed,
            query: query.into(),
            filters: json!({}),
            max_results: 10,
            idempotency_key: None,
        }
    }

    async fn database() -> (TestDatabase, PgPool) {
        let database = TestDatabase::create().await;
        let pool = crate::db::pool(&database.url, 4).unwrap();
        crate::db::MIGRATOR.run(&pool).await.unwrap();
        (database, pool)
    }

    #[tokio::test]
    async fn a_refused_row_fails_only_its_own_call_in_a_batch() {
        let (database, pool) = database().await;
        // The row trigger refuses an empty query (`ingest_runs_query_check`).
        let runs = vec![
            new_run(org_a(), "one"),
            new_run(org_a(), ""),
            new_run(org_b(), "three"),
        ];
        let answers = insert_batch(pool.clone(), runs.clone()).await;
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].as_ref().unwrap().id, runs[0].id);
        let refused = answers[1].as_ref().expect_err("the empty query is refused");
        assert_eq!(
            refused
                .as_database_error()
                .and_then(|e| e.code())
                .as_deref(),
            Some("23514")
        );
        assert_eq!(answers[2].as_ref().unwrap().query, "three");
        let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM ingest_runs")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 2, "the good rows are stored once each");

        // Marks answer per call: marked now, not again, and not another attempt's.
        let marks = mark_batch(
            pool.clone(),
            vec![(runs[0].id, 1), (runs[2].id, 2), (runs[1].id, 1)],
        )
        .await;
        let marks: Vec<bool> = marks.into_iter().map(Result::unwrap).collect();
        assert_eq!(marks, vec![true, false, false]);
        let again = mark_batch(pool.clone(), vec![(runs[0].id, 1), (runs[2].id, 1)]).await;
        let again: Vec<bool> = again.into_iter().map(Result::unwrap).collect();
        assert_eq!(again, vec![false, true]);
        pool.close().await;
        database.drop().await;
    }

    #[tokio::test]
    async fn a_batched_read_answers_each_organisation_only_its_own_runs() {
        let (database, pool) = database().await;
        let (a, b) = (new_run(org_a(), "a"), new_run(org_b(), "b"));
        for answer in insert_batch(pool.clone(), vec![a.clone(), b.clone()]).await {
            answer.unwrap();
        }
        let keys = vec![
            (org_a(), a.id),
            (org_b(), a.id),
            (org_b(), b.id),
            (org_a(), b.id),
            (org_a(), a.id),
            (org_a(), Uuid::now_v7()),
        ];
        let found: Vec<Option<Uuid>> = read_batch(pool.clone(), keys)
            .await
            .into_iter()
            .map(|answer| answer.unwrap().map(|run| run.id))
            .collect();
        assert_eq!(
            found,
            vec![Some(a.id), None, Some(b.id), None, Some(a.id), None]
        );
        pool.close().await;
        database.drop().await;
    }

    #[tokio::test]
    async fn batched_lookups_are_planned_for_each_batch_not_cached() {
        // One connection, so the statements below all run where the check looks.
        let database = TestDatabase::create().await;
        let pool = crate::db::pool(&database.url, 1).unwrap();
        crate::db::MIGRATOR.run(&pool).await.unwrap();
        let run = new_run(org_a(), "planned");
        for _ in 0..6 {
            insert_batch(pool.clone(), vec![new_run(org_a(), "more")]).await;
            read_batch(pool.clone(), vec![(org_a(), run.id)]).await;
            mark_batch(pool.clone(), vec![(run.id, 1)]).await;
        }
        // A cached plan made while the table was tiny would stay a sequential scan as
        // it grows (`runs::BATCH_PLANS`); the inserts' plan has no scan to go wrong.
        let cached: Vec<(String,)> = sqlx::query_as(
            "SELECT statement FROM pg_prepared_statements
              WHERE statement NOT LIKE '%pg_prepared_statements%'
                AND (statement LIKE '%ANY($1)%' OR statement LIKE '%unnest($1::uuid[], $2::int[])%')",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(cached.is_empty(), "cached batch lookups: {cached:?}");
        let (inserts,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO ingest_runs%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            inserts, 1,
            "the check sees this connection's prepared statements"
        );
        pool.close().await;
        database.drop().await;
    }

    #[tokio::test]
    async fn an_unavailable_database_is_every_calls_answer() {
        // Nothing listens on port 1: the batch fails to connect.
        let pool = crate::db::pool("postgres://postgres@127.0.0.1:1/none", 1).unwrap();
        let answers = read_batch(
            pool,
            vec![(org_a(), Uuid::now_v7()), (org_b(), Uuid::now_v7())],
        )
        .await;
        assert_eq!(answers.len(), 2);
        for answer in answers {
            assert!(is_unavailable(&answer.expect_err("no database")));
        }
    }
}
