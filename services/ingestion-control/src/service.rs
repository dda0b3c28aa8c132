//! The run lifecycle: what each RunService and WorkerService call does, in terms
//! of the repositories and the publisher. gRPC handlers translate to and from this.

use crate::clock::SharedClock;
use crate::db::batched::RunBatches;
use crate::db::papers::{self, ImportMode};
use crate::db::runs;
use crate::domain::cursor::{Cursor, page_limit};
use crate::domain::records::{ImportRecord, MAX_RECORDS_PER_PAGE};
use crate::domain::run::{NewRun, RunRecord};
use crate::error::{ControlError, Result};
use crate::page_order::{self, ARRIVAL_GRACE, InFlightPages};
use crate::publish::{Job, Publisher};
use ingestion_proto::v1;
use platform::auth::{Permission, Principal};
use platform::failpoints::Failpoints;
use platform::{RunStatus, Source};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Everything a call needs; cheap to clone.
#[derive(Clone)]
pub struct Control {
    pub pool: PgPool,
    pub publisher: Arc<Publisher>,
    pub clock: SharedClock,
    pub lease: Duration,
    pub max_claims: i32,
    pub failpoints: Failpoints,
    /// The pages of each run being recorded here now (ADR-037).
    pub pages: Arc<InFlightPages>,
    /// Starts' and reads' statements, coalesced across concurrent calls (ADR-038).
    pub batches: Arc<RunBatches>,
}

pub struct Created {
    pub run: RunRecord,
    pub replayed: bool,
}

pub enum ClaimOutcome {
    Claimed(RunRecord),
    NotClaimable(RunRecord),
    SourceMismatch(RunRecord),
    UnknownRun,
}

pub enum PageOutcome {
    Recorded(Box<RunRecord>),
    Cancelled,
}

impl Control {
    fn lease_until(&self) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60));
        (now, now + lease)
    }

    /// Insert `queued`, commit, then publish; a failed publish fails the run.
    pub async fn create_run(
        &self,
        principal: &Principal,
        req: v1::CreateRunRequest,
    ) -> Result<Created> {
        principal.require(Permission::PapersWrite)?;
        let new = NewRun::parse(principal, req)?;
        let inserted = if new.idempotency_key.is_none() {
            runs::Inserted::New(self.batches.insert(new).await?)
        } else {
            runs::insert(&self.pool, &new).await?
        };
        let run = match inserted {
            runs::Inserted::Replayed(run) => {
                tracing::info!(run_id = %run.id, "idempotency key matched an earlier run");
                return Ok(Created {
                    run,
                    replayed: true,
                });
            }
            runs::Inserted::New(run) => run,
        };
        metrics::counter!("runs_created_total", "source" => run.source.clone()).increment(1);
        tracing::info!(run_id = %run.id, source = %run.source, "run created");
        self.failpoints.hit("create_run.after_commit");
        let run = self.publish_job(run).await?;
        Ok(Created {
            run,
            replayed: false,
        })
    }

    /// Publishes the run's job; on failure marks the run failed and says so.
    pub async fn publish_job(&self, run: RunRecord) -> Result<RunRecord> {
        let job = Job {
            run_id: run.id,
            source: run.source.clone(),
            attempt: run.attempt.max(1) as u32,
        };
        match self.publisher.publish(&job).await {
            Ok(()) => {
                self.batches.mark_published(run.id, run.attempt).await?;
                Ok(run)
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(run_id = %run.id, error = %reason, "publish failed; failing the run");
                runs::mark_publish_failed(&self.pool, run.id, run.attempt, &reason).await?;
                metrics::counter!("runs_finished_total", "source" => run.source.clone(), "status" => "failed")
                    .increment(1);
                Err(ControlError::PublishFailed {
                    run_id: run.id,
                    reason,
                })
            }
        }
    }

    pub async fn get_run(&self, principal: &Principal, id: Uuid) -> Result<RunRecord> {
        principal.require(Permission::PapersRead)?;
        self.batches
            .get(principal.organization_id, id)
            .await?
            .ok_or(ControlError::NotFound("run"))
    }

    pub async fn list_runs(
        &self,
        principal: &Principal,
        req: v1::ListRunsRequest,
    ) -> Result<(Vec<RunRecord>, Option<String>)> {
        principal.require(Permission::PapersRead)?;
        let limit = page_limit(req.limit).map_err(|m| ControlError::invalid("limit", m))?;
        let filter = runs::ListFilter {
            source: Source::from_proto(req.source),
            status: RunStatus::from_proto(req.status),
            after: decode_cursor(&req.cursor)?,
            limit,
        };
        let mut rows = runs::list(&self.pool, principal.organization_id, &filter).await?;
        let next = next_cursor(&mut rows, limit, |r| Cursor {
            created_at: r.created_at,
            id: r.id,
        });
        Ok((rows, next))
    }

    pub async fn cancel_run(&self, principal: &Principal, id: Uuid) -> Result<RunRecord> {
        principal.require(Permission::DeveloperManage)?;
        match runs::cancel(&self.pool, principal.organization_id, id).await? {
            Some(run) => {
                metrics::counter!("runs_finished_total", "source" => run.source.clone(), "status" => "cancelled")
                    .increment(1);
                Ok(run)
            }
            None => Err(self
                .conflict_or_missing(principal, id, "cancel", "queued or running")
                .await),
        }
    }

    /// `failed | cancelled → queued` with attempt + 1, then republished like a start.
    pub async fn retry_run(&self, principal: &Principal, id: Uuid) -> Result<RunRecord> {
        principal.require(Permission::DeveloperManage)?;
        match runs::retry(&self.pool, principal.organization_id, id).await? {
            Some(run) => self.publish_job(run).await,
            None => Err(self
                .conflict_or_missing(principal, id, "retry", "failed or cancelled")
                .await),
        }
    }

    async fn conflict_or_missing(
        &self,
        principal: &Principal,
        id: Uuid,
        action: &str,
        allowed: &str,
    ) -> ControlError {
        match runs::get(&self.pool, principal.organization_id, id).await {
            Ok(Some(run)) => ControlError::Conflict(format!(
                "cannot {action} a {} run; only {allowed} runs can be {action}ed",
                run.status
            )),
            Ok(None) => ControlError::NotFound("run"),
            Err(e) => e.into(),
        }
    }

    pub async fn list_papers(
        &self,
        principal: &Principal,
        req: v1::ListPapersRequest,
    ) -> Result<(Vec<papers::PaperRow>, Option<String>)> {
        principal.require(Permission::PapersRead)?;
        let limit = page_limit(req.limit).map_err(|m| ControlError::invalid("limit", m))?;
        let run_id = match req.run_id.as_deref().filter(|s| !s.is_empty()) {
            Some(raw) => Some(
                Uuid::parse_str(raw)
                    .map_err(|_| ControlError::invalid("run_id", "must be a uuid"))?,
            ),
            None => None,
        };
        let doi = match req.doi.as_deref().filter(|s| !s.is_empty()) {
            Some(raw) => Some(
                crate::domain::records::normalize_doi(raw)
                    .ok_or_else(|| ControlError::invalid("doi", "not a DOI"))?,
            ),
            None => None,
        };
        let title_search = req
            .title_search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if title_search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            return Err(ControlError::invalid("q", "must be at most 200 characters"));
        }
        let filter = papers::PaperFilter {
            run_id,
            source: Source::from_proto(req.source),
            doi,
            title_search,
            after: decode_cursor(&req.cursor)?,
            limit,
        };
        let mut rows = papers::list(&self.pool, principal.organization_id, &filter).await?;
        let next = next_cursor(&mut rows, limit, |p| Cursor {
            created_at: p.created_at,
            id: p.id,
        });
        Ok((rows, next))
    }

    pub async fn get_paper(&self, principal: &Principal, id: Uuid) -> Result<papers::PaperRow> {
        principal.require(Permission::PapersRead)?;
        papers::get(&self.pool, principal.organization_id, id)
            .await?
            .ok_or(ControlError::NotFound("paper"))
    }

    // ----- WorkerService -----

    pub async fn claim_run(
        &self,
        run_id: Uuid,
        source: Source,
        worker: &str,
    ) -> Result<ClaimOutcome> {
        let (now, until) = self.lease_until();
        Ok(
            match runs::claim(
                &self.pool,
                run_id,
                source,
                worker,
                now,
                until,
                self.max_claims,
            )
            .await?
            {
                runs::Claim::Claimed(run) => {
                    tracing::info!(run_id = %run.id, worker, attempt = run.attempt, "run claimed");
                    ClaimOutcome::Claimed(run)
                }
                runs::Claim::Unknown => ClaimOutcome::UnknownRun,
                runs::Claim::SourceMismatch(run) => {
                    tracing::warn!(run_id = %run.id, run_source = %run.source, fetcher_source = %source, "source mismatch; run failed");
                    ClaimOutcome::SourceMismatch(run)
                }
                runs::Claim::NotClaimable(run) => ClaimOutcome::NotClaimable(run),
            },
        )
    }

    /// Why a lease write was refused: `Ok` when the run was cancelled (the fetcher
    /// stops quietly), `LeaseLost` when this worker is a stale owner (refused, logged).
    async fn refused(&self, lease: &runs::Lease) -> Result<()> {
        let run = runs::get_any_org(&self.pool, lease.run_id)
            .await?
            .ok_or(ControlError::NotFound("run"))?;
        if run.status() == RunStatus::Cancelled {
            return Ok(());
        }
        tracing::warn!(
            run_id = %lease.run_id, worker = %lease.worker_id, attempt = lease.attempt,
            status = %run.status, owner = ?run.lease_owner, "refused a write from a worker without the lease"
        );
        Err(ControlError::LeaseLost(format!(
            "run {} is {} (owner {:?}, attempt {}); this worker no longer holds it",
            run.id, run.status, run.lease_owner, run.attempt
        )))
    }

    /// Renews the lease. Returns whether the run was cancelled.
    pub async fn heartbeat(
        &self,
        lease: &runs::Lease,
    ) -> Result<(bool, chrono::DateTime<chrono::Utc>)> {
        let (_, until) = self.lease_until();
        match runs::renew_lease(&self.pool, lease, until).await? {
            Some(_) => Ok((false, until)),
            None => self.refused(lease).await.map(|()| (true, until)),
        }
    }

    /// Papers, counters and checkpoint of one page in one transaction, fenced by the
    /// lease and committed in the page's place in the run; a retried call for a page
    /// already recorded changes nothing. Pages of one run may arrive together: each
    /// imports at once under its organisation's shared lock, and commits after the page
    /// ahead of it (ADR-037).
    pub async fn record_page(
        &self,
        lease: &runs::Lease,
        records: Vec<v1::PaperRecord>,
        checkpoint: serde_json::Value,
        source_total: Option<u64>,
        page_index: Option<u64>,
    ) -> Result<PageOutcome> {
        if records.len() > MAX_RECORDS_PER_PAGE {
            return Err(ControlError::invalid(
                "papers",
                format!("at most {MAX_RECORDS_PER_PAGE} records per page"),
            ));
        }
        let records: Vec<ImportRecord> =
            records.into_iter().map(ImportRecord::from_proto).collect();
        let Some(run) = runs::get_leased(&self.pool, lease).await? else {
            self.refused(lease).await?;
            return Ok(PageOutcome::Cancelled);
        };
        let recorded = i64::from(run.pages_done);
        let index = match page_index {
            Some(i) => i64::try_from(i).unwrap_or(i64::MAX),
            None => recorded,
        };
        // Recorded already: an earlier attempt of this call committed the page but its
        // answer was lost (ingestion-control stopped, the connection broke) and the
        // fetcher retried. Answer as then; counting the page again would inflate the
        // run's counters. Without a page index, the page is known by its checkpoint.
        if index < recorded
            || (page_index.is_none() && run.checkpoint_data.as_ref() == Some(&checkpoint))
        {
            tracing::info!(run_id = %run.id, pages = run.pages_done, index, "page already recorded; answering the retry");
            return Ok(PageOutcome::Recorded(Box::new(run)));
        }
        if index > recorded + MAX_PAGES_AHEAD {
            return Err(ControlError::PageOutOfOrder(format!(
                "page {index} of run {} is more than {MAX_PAGES_AHEAD} pages ahead of the {recorded} recorded",
                run.id
            )));
        }
        let source = run.source().ok_or(ControlError::NotFound("source"))?;
        let keys = page_order::page_keys(&records);
        let after_unrecorded = index > recorded;
        let Some((ticket, mut ahead)) = self
            .pages
            .enter(run.id, index as u64, keys, after_unrecorded, ARRIVAL_GRACE)
            .await
        else {
            return Err(ControlError::PageOutOfOrder(format!(
                "page {index} of run {} is already being recorded",
                run.id
            )));
        };
        let page = Page {
            run: &run,
            source,
            index,
            // The page ahead may still be importing (here, or in another replica).
            follows_unrecorded: after_unrecorded,
        };

        // Records that share a key with a page still in flight import after it.
        let (now, after): (Vec<&ImportRecord>, Vec<&ImportRecord>) = records
            .iter()
            .partition(|r| !page_order::waits_for(r, &ahead.keys));
        tracing::debug!(
            run_id = %run.id, index, recorded, pages_ahead = ahead.keys.len(),
            waiting_records = after.len(), "page entered"
        );
        ahead.previous_locked().await;
        let mut tx = self.pool.begin().await?;
        runs::lock_page(&mut tx, run.id, index).await?;
        ticket.locked();
        let counts = match page.import_shared(&mut tx, &now, &after).await {
            Ok(counts) => counts,
            Err(e) if papers::must_import_exclusively(&e) => {
                tracing::info!(run_id = %run.id, index, reason = %e, "page imports again, alone in its organisation");
                metrics::counter!("import_pages_exclusive_total", "source" => run.source.clone())
                    .increment(1);
                tx.rollback().await?;
                tx = self.pool.begin().await?;
                let all: Vec<&ImportRecord> = records.iter().collect();
                page.import_exclusive(&mut tx, &all).await?
            }
            Err(e) => return Err(e.into()),
        };
        let (found, imported) = counts;
        let total = source_total.map(|t| t.min(i64::MAX as u64) as i64);
        let (_, until) = self.lease_until();
        let Some(run) = runs::add_page(
            &mut tx,
            lease,
            index,
            found,
            imported,
            &checkpoint,
            total,
            until,
        )
        .await?
        else {
            tx.rollback().await?;
            return self.page_not_added(lease, index).await;
        };
        tx.commit().await?;
        drop(ticket);
        metrics::counter!("papers_found_total", "source" => run.source.clone())
            .increment(found as u64);
        metrics::counter!("papers_imported_total", "source" => run.source.clone())
            .increment(imported as u64);
        tracing::debug!(run_id = %run.id, found, imported, pages = run.pages_done, "page recorded");
        Ok(PageOutcome::Recorded(Box::new(run)))
    }

    /// Why a page's final, fenced update matched no row: the lease is gone, the page
    /// was recorded meanwhile (a concurrent retry), or the page ahead is not recorded.
    async fn page_not_added(&self, lease: &runs::Lease, index: i64) -> Result<PageOutcome> {
        let Some(run) = runs::get_leased(&self.pool, lease).await? else {
            self.refused(lease).await?;
            return Ok(PageOutcome::Cancelled);
        };
        if index < i64::from(run.pages_done) {
            return Ok(PageOutcome::Recorded(Box::new(run)));
        }
        Err(ControlError::PageOutOfOrder(format!(
            "page {index} of run {} follows page {} which is not recorded; resend it after that one",
            run.id,
            index - 1
        )))
    }

    /// Hands the run back to the queue; refused unless the caller holds the lease.
    pub async fn release_run(&self, lease: &runs::Lease) -> Result<RunRecord> {
        if let Some(run) = runs::release(&self.pool, lease).await? {
            tracing::info!(run_id = %run.id, worker = %lease.worker_id, "run released for another fetcher");
            return Ok(run);
        }
        self.refused(lease).await?;
        runs::get_any_org(&self.pool, lease.run_id)
            .await?
            .ok_or(ControlError::NotFound("run"))
    }

    /// A request slot for `source` at `requests_per_second` (capped at 1000/s).
    pub async fn acquire_permit(
        &self,
        source: Source,
        requests_per_second: f64,
    ) -> Result<Duration> {
        if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
            return Err(ControlError::invalid(
                "requests_per_second",
                "must be a positive number",
            ));
        }
        let spacing_us = (1e6 / requests_per_second.min(1000.0)).round() as i64;
        let wait_us = crate::db::pacing::reserve_slot(&self.pool, source, spacing_us).await?;
        Ok(Duration::from_micros(wait_us.max(0) as u64))
    }

    /// `running → completed | failed` for the lease holder; a repeat by the same
    /// holder answers with the run as it is.
    pub async fn finish_run(
        &self,
        lease: &runs::Lease,
        status: RunStatus,
        error_message: Option<&str>,
    ) -> Result<RunRecord> {
        if let Some(run) = runs::finish(&self.pool, lease, status, error_message).await? {
            let secs = run
                .started_at
                .zip(run.completed_at)
                .map(|(s, c)| (c - s).num_milliseconds() as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::counter!("runs_finished_total", "source" => run.source.clone(), "status" => status.as_str())
                .increment(1);
            metrics::histogram!("run_duration_seconds", "source" => run.source.clone(), "status" => status.as_str())
                .record(secs);
            tracing::info!(run_id = %run.id, status = %status, found = run.papers_found, imported = run.papers_imported, "run finished");
            return Ok(run);
        }
        let run = runs::get_any_org(&self.pool, lease.run_id)
            .await?
            .ok_or(ControlError::NotFound("run"))?;
        let same_holder = run.lease_owner.as_deref() == Some(lease.worker_id.as_str())
            && run.attempt == lease.attempt;
        if same_holder && (run.status() == status || run.status() == RunStatus::Cancelled) {
            return Ok(run);
        }
        self.refused(lease).await?;
        Ok(run)
    }
}

fn decode_cursor(raw: &str) -> Result<Option<Cursor>> {
    if raw.is_empty() {
        return Ok(None);
    }
    Cursor::decode(raw)
        .map(Some)
        .map_err(|_| ControlError::invalid("cursor", "invalid cursor"))
}

/// Trims the probe row and returns the cursor of the last kept row when there is more.
fn next_cursor<T>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Option<String> {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| key(r).encode())
    } else {
        None
    }
}

/// How many pages past the recorded ones a page may be sent (pipelined fetchers send
/// one ahead).
const MAX_PAGES_AHEAD: i64 = 8;

/// One page being recorded, and where it stands in its run.
struct Page<'a> {
    run: &'a RunRecord,
    source: Source,
    index: i64,
    follows_unrecorded: bool,
}

impl Page<'_> {
    /// The records that share no key with a page ahead, then, once the page ahead has
    /// ended, the others; both under the organisation's shared lock.
    async fn import_shared(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        now: &[&ImportRecord],
        after: &[&ImportRecord],
    ) -> Result<(i64, i64), sqlx::Error> {
        let (org, run) = (self.run.organization_id, self.run.id);
        let (mut found, mut imported) =
            papers::import_page(tx, org, run, self.source, now, ImportMode::Shared).await?;
        self.await_previous(tx).await?;
        if !after.is_empty() {
            let (f, i) =
                papers::import_page(tx, org, run, self.source, after, ImportMode::Shared).await?;
            found += f;
            imported += i;
        }
        Ok((found, imported))
    }

    /// The whole page alone in its organisation, after the page ahead has ended: what
    /// a shared import could not do (ADR-037). It does not hold its place lock, so a
    /// page after it may be refused (ABORTED) and resent rather than wait in a cycle.
    async fn import_exclusive(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        records: &[&ImportRecord],
    ) -> Result<(i64, i64), sqlx::Error> {
        self.await_previous(tx).await?;
        let (org, run) = (self.run.organization_id, self.run.id);
        papers::import_page(tx, org, run, self.source, records, ImportMode::Exclusive).await
    }

    async fn await_previous(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<(), sqlx::Error> {
        if self.follows_unrecorded {
            runs::await_page(tx, self.run.id, self.index - 1).await?;
        }
        Ok(())
    }
}
