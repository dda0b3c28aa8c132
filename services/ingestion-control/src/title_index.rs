//! Keeps the title search's word index merged, off the import's path (ADR-036).
//!
//! A page's new titles are appended to the GIN index's pending list. Merging that list
//! into the index is the expensive part, and left to PostgreSQL it runs inside the
//! page transaction whose insert filled the list. This task merges it on its own
//! connection instead, so a fetcher's page never waits for it. Searches read the
//! pending list too: a title is found as soon as its page commits. Safe with several
//! replicas (PostgreSQL merges one at a time; the others wait their turn).

use crate::db;
use platform::shutdown::Shutdown;
use sqlx::PgPool;
use std::time::Duration;

pub struct TitleIndexMerger {
    pub pool: PgPool,
    pub interval: Duration,
}

impl TitleIndexMerger {
    pub fn spawn(self, shutdown: Shutdown) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.wait() => return,
                }
                match self.run_once().await {
                    Ok(_) => failing = false,
                    // Once per outage, not every tick: the import goes on without the
                    // merger (PostgreSQL merges inline past the list's limit).
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "title index merge failed; retrying every tick");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// One merge; returns the pending-list pages it emptied.
    pub async fn run_once(&self) -> Result<i64, sqlx::Error> {
        let pages = db::papers::merge_title_index(&self.pool).await?;
        if pages > 0 {
            metrics::counter!("title_index_merged_pages_total").increment(pages as u64);
            tracing::debug!(pages, "merged the title index's pending list");
        }
        Ok(pages)
    }
}
