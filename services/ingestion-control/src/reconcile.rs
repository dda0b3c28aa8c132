//! The reconciler closes the two holes of "commit, then publish":
//! - a process that died between the commit and the publish leaves a `queued` run
//!   whose job never reached the broker: re-published after `republish_after`;
//! - a fetcher that died mid-run leaves a `running` run whose lease expires: it goes
//!   back to `queued` (checkpoint kept) and is re-published, or is failed once it has
//!   used up its claims, so a job that kills its fetcher every time cannot loop.
//!
//! Safe with several replicas: rows are taken `FOR UPDATE SKIP LOCKED`.

use crate::db::runs;
use crate::domain::run::RunRecord;
use crate::publish::Job;
use crate::service::Control;
use platform::shutdown::Shutdown;
use std::time::Duration;

const BATCH: i64 = 100;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub republished: usize,
    pub requeued: usize,
    pub failed: usize,
}

pub struct Reconciler {
    pub control: Control,
    pub republish_after: Duration,
    pub interval: Duration,
}

impl Reconciler {
    pub fn spawn(self, shutdown: Shutdown) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.wait() => return,
                }
                match self.run_once().await {
                    Ok(r) if r != Report::default() => tracing::info!(?r, "reconciled runs"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
                }
            }
        });
    }

    /// One pass; public so tests drive it with an injected clock instead of waiting.
    pub async fn run_once(&self) -> Result<Report, sqlx::Error> {
        let mut report = Report::default();
        let requeued = self.expire_leases(&mut report).await?;
        for run in requeued {
            // Best effort: a failure leaves it unpublished for the next pass.
            if self.publish(&run).await {
                runs::mark_published(&self.control.pool, run.id, run.attempt).await?;
                report.republished += 1;
            }
        }
        self.republish_unconfirmed(&mut report).await?;
        self.export_oldest_open().await?;
        Ok(report)
    }

    /// `ingest_oldest_open_run_age_seconds{status}`: what the "runs too old" alert watches.
    async fn export_oldest_open(&self) -> Result<(), sqlx::Error> {
        let ages = runs::oldest_open_ages(&self.control.pool, self.control.clock.now()).await?;
        for status in ["queued", "running"] {
            let age = ages
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0.0, |(_, a)| *a);
            metrics::gauge!("ingest_oldest_open_run_age_seconds", "status" => status).set(age);
        }
        Ok(())
    }

    async fn publish(&self, run: &RunRecord) -> bool {
        let job = Job {
            run_id: run.id,
            source: run.source.clone(),
            attempt: run.attempt.max(1) as u32,
        };
        match self.control.publisher.publish(&job).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(run_id = %run.id, error = %e, "reconciler could not publish");
                false
            }
        }
    }

    async fn expire_leases(&self, report: &mut Report) -> Result<Vec<RunRecord>, sqlx::Error> {
        let now = self.control.clock.now();
        let mut tx = self.control.pool.begin().await?;
        let expired = runs::lock_expired_leases(&mut tx, now, BATCH).await?;
        let mut requeued = Vec::new();
        for run in expired {
            if run.claims >= self.control.max_claims {
                let reason = format!(
                    "gave up after {} claims: the fetcher stopped (lease expired) every time; last owner {}",
                    run.claims,
                    run.lease_owner.as_deref().unwrap_or("unknown")
                );
                runs::fail_open(&mut *tx, run.id, &reason).await?;
                metrics::counter!("runs_finished_total", "source" => run.source.clone(), "status" => "failed")
                    .increment(1);
                report.failed += 1;
            } else if runs::requeue_expired(&mut tx, run.id, now).await? {
                tracing::warn!(run_id = %run.id, owner = ?run.lease_owner, "lease expired; run re-queued from its checkpoint");
                report.requeued += 1;
                requeued.push(run);
            }
        }
        tx.commit().await?;
        Ok(requeued)
    }

    async fn republish_unconfirmed(&self, report: &mut Report) -> Result<(), sqlx::Error> {
        let cutoff = self.control.clock.now()
            - chrono::Duration::from_std(self.republish_after)
                .unwrap_or(chrono::Duration::seconds(30));
        let mut tx = self.control.pool.begin().await?;
        let stale = runs::lock_unpublished(&mut tx, cutoff, BATCH).await?;
        for run in stale {
            if !self.publish(&run).await {
                break; // the broker is down; try again next pass
            }
            runs::mark_published(&mut *tx, run.id, run.attempt).await?;
            tracing::info!(run_id = %run.id, "re-published a run whose job was never confirmed");
            report.republished += 1;
        }
        tx.commit().await?;
        Ok(())
    }
}
