//! `ingest_runs`: creation, reads, and every state transition, each a single
//! conditional UPDATE so the database decides (never a read, then a write).

use crate::domain::cursor::Cursor;
use crate::domain::run::{NewRun, RunRecord};
use chrono::{DateTime, Utc};
use platform::{RunStatus, Source};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The outcome of inserting a run with an optional idempotency key.
pub enum Inserted {
    New(RunRecord),
    /// An earlier run with the same key (same organisation, within 24 hours).
    Replayed(RunRecord),
}

pub async fn insert(pool: &PgPool, run: &NewRun) -> Result<Inserted, sqlx::Error> {
    let Some(key) = &run.idempotency_key else {
        // A single statement commits by itself: no BEGIN and COMMIT round trips.
        return insert_run(pool, run).await.map(Inserted::New);
    };
    let mut tx = pool.begin().await?;
    let record = insert_run(&mut *tx, run).await?;
    // Takes the key unless a fresh one exists; a concurrent holder of the same key
    // makes this wait for its commit, then see the key as taken.
    let took: Option<(Uuid,)> = sqlx::query_as(
        "INSERT INTO idempotency_keys (organization_id, key, run_id) VALUES ($1, $2, $3)
         ON CONFLICT (organization_id, key) DO UPDATE
            SET run_id = EXCLUDED.run_id, created_at = now()
            WHERE idempotency_keys.created_at <= now() - interval '24 hours'
         RETURNING run_id",
    )
    .bind(run.organization_id)
    .bind(key)
    .bind(run.id)
    .fetch_optional(&mut *tx)
    .await?;
    if took.is_none() {
        tx.rollback().await?;
        let earlier: RunRecord = sqlx::query_as(
            "SELECT r.* FROM idempotency_keys k JOIN ingest_runs r ON r.id = k.run_id
             WHERE k.organization_id = $1 AND k.key = $2",
        )
        .bind(run.organization_id)
        .bind(key)
        .fetch_one(pool)
        .await?;
        return Ok(Inserted::Replayed(earlier));
    }
    tx.commit().await?;
    Ok(Inserted::New(record))
}

async fn insert_run<'e>(
    executor: impl PgExecutor<'e>,
    run: &NewRun,
) -> Result<RunRecord, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO ingest_runs (id, organization_id, requested_by, source, query, filters, max_results)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
    )
    .bind(run.id)
    .bind(run.organization_id)
    .bind(&run.requested_by)
    .bind(run.source.as_str())
    .bind(&run.query)
    .bind(&run.filters)
    .bind(run.max_results as i32)
    .fetch_one(executor)
    .await
}

/// Records the broker's confirm for the current attempt.
///
/// Committed without waiting for the WAL flush (ADR-028): the job is already durable
/// in the broker, so a crash that loses this mark costs one redundant re-publish by the
/// reconciler, which fetchers already absorb, while waiting for the flush (~3.5 ms on
/// the benchmark machine's disk) was one of the three durable waits of every start.
/// `set_config(…, true)` lasts until the end of this statement's own transaction, whose
/// commit reads it; the connection goes back to the pool with `synchronous_commit` as
/// it was. Inside a transaction it relaxes that whole transaction's commit: run it only
/// in one whose other writes may be lost the same way (the reconciler's re-publish is
/// one).
pub async fn mark_published<'e, E>(executor: E, id: Uuid, attempt: i32) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let done = sqlx::query(
        "WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
         UPDATE ingest_runs SET published_at = now(), publish_attempts = publish_attempts + 1
         WHERE id = $1 AND attempt = $2 AND published_at IS NULL AND status IN ('queued', 'running')
           AND EXISTS (SELECT FROM relaxed)",
    )
    .bind(id)
    .bind(attempt)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The seed's rule: a run whose job could not be published is failed, with the reason.
pub async fn mark_publish_failed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE ingest_runs
            SET status = 'failed', completed_at = now(), publish_attempts = publish_attempts + 1,
                error_message = 'could not publish the job: ' || $3
          WHERE id = $1 AND attempt = $2 AND status = 'queued'",
    )
    .bind(id)
    .bind(attempt)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM ingest_runs WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .fetch_optional(pool)
        .await
}

/// Whether the batched lookups keep a prepared statement (`false`: they do not).
///
/// A prepared statement's plan is cached, and PostgreSQL settles on a generic plan
/// after five executions. For a join of a batch to `ingest_runs` planned while the table
/// was a few pages (a fresh deployment, not analysed yet), that plan is a sequential
/// scan, and it stays cached until the next ANALYZE while the table grows: in the start
/// benchmark every publish mark came to read the whole table (`perf`: PostgreSQL 55 % of
/// the samples, in heap scans; starts/s falling by half within 20 s). An unnamed
/// statement is planned for its own parameters and the table's current size each time,
/// a planning paid once per batch rather than per call.
const BATCH_PLANS: bool = false;

/// Many runs inserted by one statement, committed together; the rows come back in
/// no particular order (callers match them by id). A start's batched insert
/// (ADR-038): the same columns and row trigger as [`insert_run`].
pub async fn insert_many(pool: &PgPool, runs: &[NewRun]) -> Result<Vec<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO ingest_runs (id, organization_id, requested_by, source, query, filters, max_results)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::int[])
         RETURNING *",
    )
    .bind(runs.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.organization_id).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.requested_by.as_str()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.source.as_str()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.query.as_str()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| &r.filters).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.max_results as i32).collect::<Vec<_>>())
    .fetch_all(pool)
    .await
}

/// [`mark_published`] for many `(id, attempt)` pairs in one statement, relaxed the
/// same way; returns the ids it marked.
///
/// Planned afresh for each batch (an unnamed statement, [`BATCH_PLANS`]).
pub async fn mark_published_many(
    pool: &PgPool,
    jobs: &[(Uuid, i32)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let marked: Vec<(Uuid,)> = sqlx::query_as(
        "WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
         UPDATE ingest_runs r SET published_at = now(), publish_attempts = r.publish_attempts + 1
           FROM unnest($1::uuid[], $2::int[]) AS j(id, attempt)
          WHERE r.id = j.id AND r.attempt = j.attempt AND r.published_at IS NULL
            AND r.status IN ('queued', 'running') AND EXISTS (SELECT FROM relaxed)
         RETURNING r.id",
    )
    .bind(jobs.iter().map(|j| j.0).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.1).collect::<Vec<_>>())
    .persistent(BATCH_PLANS)
    .fetch_all(pool)
    .await?;
    Ok(marked.into_iter().map(|(id,)| id).collect())
}

/// The runs with these ids, of whichever organisation (callers check it). Planned
/// afresh for each batch ([`BATCH_PLANS`]).
pub async fn get_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<RunRecord>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM ingest_runs WHERE id = ANY($1)")
        .bind(ids)
        .persistent(BATCH_PLANS)
        .fetch_all(pool)
        .await
}

pub async fn get_any_org(pool: &PgPool, id: Uuid) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM ingest_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub struct ListFilter {
    pub source: Option<Source>,
    pub status: Option<RunStatus>,
    pub after: Option<Cursor>,
    pub limit: i64,
}

/// Newest first, keyset-paginated; fetches one extra row to know if there is more.
pub async fn list(pool: &PgPool, org: Uuid, f: &ListFilter) -> Result<Vec<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM ingest_runs
          WHERE organization_id = $1
            AND ($2::text IS NULL OR source = $2)
            AND ($3::text IS NULL OR status = $3)
            AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
          ORDER BY created_at DESC, id DESC
          LIMIT $6",
    )
    .bind(org)
    .bind(f.source.map(Source::as_str))
    .bind(f.status.map(RunStatus::as_str))
    .bind(f.after.map(|c| c.created_at))
    .bind(f.after.map(|c| c.id))
    .bind(f.limit + 1)
    .fetch_all(pool)
    .await
}

/// What a claim attempt found.
pub enum Claim {
    Claimed(RunRecord),
    Unknown,
    /// The run belongs to another source; it was failed (if it was still open).
    SourceMismatch(RunRecord),
    /// Running under a live lease, terminal, or out of claims.
    NotClaimable(RunRecord),
}

/// `queued → running`, or takeover of a `running` run whose lease expired, in one UPDATE.
pub async fn claim(
    pool: &PgPool,
    id: Uuid,
    source: Source,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    max_claims: i32,
) -> Result<Claim, sqlx::Error> {
    let claimed: Option<RunRecord> = sqlx::query_as(
        "UPDATE ingest_runs
            SET status = 'running', lease_owner = $3, lease_expires_at = $5,
                started_at = COALESCE(started_at, $4), claims = claims + 1
          WHERE id = $1 AND source = $2 AND claims < $6
            AND (status = 'queued' OR (status = 'running' AND lease_expires_at < $4))
          RETURNING *",
    )
    .bind(id)
    .bind(source.as_str())
    .bind(worker)
    .bind(now)
    .bind(lease_until)
    .bind(max_claims)
    .fetch_optional(pool)
    .await?;
    if let Some(run) = claimed {
        return Ok(Claim::Claimed(run));
    }
    let Some(run) = get_any_org(pool, id).await? else {
        return Ok(Claim::Unknown);
    };
    if run.source != source.as_str() {
        let failed: Option<RunRecord> = sqlx::query_as(
            "UPDATE ingest_runs
                SET status = 'failed', completed_at = now(),
                    error_message = 'source mismatch: the run is for ' || source ||
                                    ' but its job reached the ' || $2 || ' fetcher'
              WHERE id = $1 AND status IN ('queued', 'running') RETURNING *",
        )
        .bind(id)
        .bind(source.as_str())
        .fetch_optional(pool)
        .await?;
        return Ok(Claim::SourceMismatch(failed.unwrap_or(run)));
    }
    Ok(Claim::NotClaimable(run))
}

/// A worker's lease: fencing for every write a fetcher makes.
#[derive(Debug, Clone)]
pub struct Lease {
    pub run_id: Uuid,
    pub worker_id: String,
    pub attempt: i32,
}

/// Renews a lease. `Ok(None)`: the lease is not held (lost, or the run ended).
pub async fn renew_lease<'e, E>(
    executor: E,
    lease: &Lease,
    lease_until: DateTime<Utc>,
) -> Result<Option<RunRecord>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    sqlx::query_as(
        "UPDATE ingest_runs SET lease_expires_at = $4
          WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempt = $3
          RETURNING *",
    )
    .bind(lease.run_id)
    .bind(&lease.worker_id)
    .bind(lease.attempt)
    .bind(lease_until)
    .fetch_optional(executor)
    .await
}

/// The run if `lease` holds it, read without locking its row: a page's import must
/// not hold the run's row, which the page ahead of it updates last.
pub async fn get_leased(pool: &PgPool, lease: &Lease) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM ingest_runs
          WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempt = $3",
    )
    .bind(lease.run_id)
    .bind(&lease.worker_id)
    .bind(lease.attempt)
    .fetch_optional(pool)
    .await
}

/// Takes the advisory lock on page `index` of a run (ADR-037) for the transaction:
/// exclusively to hold the page's place, shared to wait for the page holding it.
async fn page_lock(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    index: i64,
    shared: bool,
) -> Result<(), sqlx::Error> {
    let sql = if shared {
        "SELECT pg_advisory_xact_lock_shared(hashtextextended('record_page:' || $1::text || ':' || $2::text, 0))"
    } else {
        "SELECT pg_advisory_xact_lock(hashtextextended('record_page:' || $1::text || ':' || $2::text, 0))"
    };
    sqlx::query(sql)
        .bind(run_id)
        .bind(index)
        .execute(&mut **tx)
        .await
        .map(drop)
}

/// Holds page `index` of the run's place until the transaction ends: the page after
/// it waits for this ([`await_page`]).
pub async fn lock_page(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    index: i64,
) -> Result<(), sqlx::Error> {
    page_lock(tx, run_id, index, false).await
}

/// Waits until the transaction recording page `index` of the run (if one holds its
/// place) has ended, committed or not.
pub async fn await_page(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    index: i64,
) -> Result<(), sqlx::Error> {
    page_lock(tx, run_id, index, true).await
}

/// One page's counters and checkpoint, and the lease renewed, inside the page's
/// transaction; fenced by the lease and by the page's place: `None` unless the lease
/// is held and the run has recorded exactly `index` pages.
#[allow(clippy::too_many_arguments)]
pub async fn add_page(
    tx: &mut Transaction<'_, Postgres>,
    lease: &Lease,
    index: i64,
    found: i64,
    imported: i64,
    checkpoint: &serde_json::Value,
    source_total: Option<i64>,
    lease_until: DateTime<Utc>,
) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE ingest_runs
            SET papers_found = papers_found + $5, papers_imported = papers_imported + $6,
                pages_done = pages_done + 1, checkpoint_data = $7,
                expected_total = COALESCE(LEAST($8::bigint, max_results::bigint), expected_total),
                lease_expires_at = $9
          WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempt = $3
            AND pages_done = $4
          RETURNING *",
    )
    .bind(lease.run_id)
    .bind(&lease.worker_id)
    .bind(lease.attempt)
    .bind(index)
    .bind(found)
    .bind(imported)
    .bind(checkpoint)
    .bind(source_total)
    .bind(lease_until)
    .fetch_optional(&mut **tx)
    .await
}

/// `running → completed | failed` for the lease holder.
pub async fn finish(
    pool: &PgPool,
    lease: &Lease,
    status: RunStatus,
    error_message: Option<&str>,
) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE ingest_runs
            SET status = $4, completed_at = now(), error_message = $5
          WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempt = $3
          RETURNING *",
    )
    .bind(lease.run_id)
    .bind(&lease.worker_id)
    .bind(lease.attempt)
    .bind(status.as_str())
    .bind(error_message)
    .fetch_optional(pool)
    .await
}

/// `queued | running → cancelled`. `Ok(None)` when the run is not open (or unknown).
pub async fn cancel(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE ingest_runs SET status = 'cancelled', completed_at = now()
          WHERE id = $1 AND organization_id = $2 AND status IN ('queued', 'running')
          RETURNING *",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(pool)
    .await
}

/// `failed | cancelled → queued`, attempt + 1, checkpoint and counters kept.
pub async fn retry(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE ingest_runs
            SET status = 'queued', attempt = attempt + 1, error_message = NULL, completed_at = NULL,
                published_at = NULL, lease_owner = NULL, lease_expires_at = NULL, claims = 0
          WHERE id = $1 AND organization_id = $2 AND status IN ('failed', 'cancelled')
          RETURNING *",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(pool)
    .await
}

/// Queued runs whose job was never confirmed, older than `before`; locked for this
/// transaction and skipped by other replicas' reconcilers.
pub async fn lock_unpublished(
    tx: &mut Transaction<'_, Postgres>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM ingest_runs
          WHERE status = 'queued' AND published_at IS NULL AND updated_at < $1
          ORDER BY created_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Running runs whose lease expired: their fetcher died or hangs.
pub async fn lock_expired_leases(
    tx: &mut Transaction<'_, Postgres>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM ingest_runs
          WHERE status = 'running' AND lease_expires_at < $1
          ORDER BY lease_expires_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// An expired lease goes back to the queue (to be re-published), keeping its checkpoint.
pub async fn requeue_expired(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE ingest_runs
            SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, published_at = NULL
          WHERE id = $1 AND status = 'running' AND lease_expires_at < $2",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Fails an open run for a reason outside any fetcher (reconciler, dead letters).
pub async fn fail_open<'e, E>(
    executor: E,
    id: Uuid,
    reason: &str,
) -> Result<Option<RunRecord>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    sqlx::query_as(
        "UPDATE ingest_runs SET status = 'failed', completed_at = now(), error_message = $2
          WHERE id = $1 AND status IN ('queued', 'running') RETURNING *",
    )
    .bind(id)
    .bind(reason)
    .fetch_optional(executor)
    .await
}

/// `running → queued` by the lease holder (graceful shutdown). The holder requeues
/// its delivery, so the job is already on its way: marked published.
pub async fn release(pool: &PgPool, lease: &Lease) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE ingest_runs
            SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, published_at = now()
          WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempt = $3
          RETURNING *",
    )
    .bind(lease.run_id)
    .bind(&lease.worker_id)
    .bind(lease.attempt)
    .fetch_optional(pool)
    .await
}

/// Age in seconds of the oldest open run per status (`queued`, `running`).
pub async fn oldest_open_ages(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Vec<(String, f64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, extract(epoch FROM ($1 - min(created_at)))::float8
           FROM ingest_runs WHERE status IN ('queued', 'running') GROUP BY status",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}
