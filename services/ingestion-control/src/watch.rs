//! Live run snapshots for `WatchRun`, driven by PostgreSQL `LISTEN/NOTIFY`.
//!
//! A trigger notifies `ingest_run_changed` with the run id on every update (a watcher
//! reads the run after subscribing, so creation needs no notice: ADR-031). One
//! listener task per process fetches the row once per notification, and only for
//! runs somebody watches, then fans it out over a `watch` channel: the database
//! work per update does not grow with the number of watchers.

use crate::db::runs;
use crate::domain::run::RunRecord;
use platform::shutdown::Shutdown;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

pub const CHANNEL: &str = "ingest_run_changed";

type Snapshot = Option<Arc<RunRecord>>;

pub struct WatchHub {
    pool: PgPool,
    channels: Mutex<HashMap<Uuid, watch::Sender<Snapshot>>>,
}

impl WatchHub {
    /// Starts the listener task; it reconnects by itself and stops on shutdown.
    pub fn start(pool: PgPool, shutdown: Shutdown) -> Arc<WatchHub> {
        let hub = Arc::new(WatchHub {
            pool,
            channels: Mutex::new(HashMap::new()),
        });
        let task_hub = hub.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = task_hub.listen_forever() => {}
                () = shutdown.wait() => {}
            }
        });
        hub
    }

    /// A receiver of snapshots of run `id`; subscribe before reading the first
    /// snapshot so no change in between is missed.
    pub fn subscribe(&self, id: Uuid) -> watch::Receiver<Snapshot> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(id)
            .or_insert_with(|| watch::channel(None).0)
            .subscribe()
    }

    /// Records a snapshot a watcher read itself, so an older notification finding the
    /// same state does not send it again.
    pub fn seed(&self, run: &RunRecord) {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = channels.get(&run.id) {
            tx.send_if_modified(|current| match current {
                None => {
                    *current = Some(Arc::new(run.clone()));
                    true
                }
                Some(_) => false,
            });
        }
    }

    fn watched(&self) -> Vec<Uuid> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels.keys().copied().collect()
    }

    async fn refresh(&self, id: Uuid) {
        let wanted = {
            let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            channels.get(&id).is_some_and(|tx| tx.receiver_count() > 0)
        };
        if !wanted {
            return;
        }
        metrics::counter!("watch_db_queries_total").increment(1);
        match runs::get_any_org(&self.pool, id).await {
            Ok(Some(run)) => {
                let run = Arc::new(run);
                let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(tx) = channels.get(&id) {
                    // Several notifications can find the same row state: send changes only.
                    tx.send_if_modified(|current| {
                        if current.as_deref() == Some(&*run) {
                            return false;
                        }
                        *current = Some(run.clone());
                        true
                    });
                    if run.status().is_terminal() {
                        channels.remove(&id);
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(run_id = %id, error = %e, "could not read a changed run"),
        }
    }

    async fn listen_forever(&self) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANNEL).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        backoff = Duration::from_millis(200);
                        // Changes made while we were not listening.
                        for id in self.watched() {
                            self.refresh(id).await;
                        }
                        self.drain(&mut listener).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot connect the run-change listener"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Handles notifications until the connection is lost.
    async fn drain(&self, listener: &mut PgListener) {
        loop {
            match listener.try_recv().await {
                Ok(Some(note)) => {
                    if let Ok(id) = Uuid::parse_str(note.payload()) {
                        self.refresh(id).await;
                    }
                }
                Ok(None) => {
                    tracing::warn!("run-change listener lost its connection; reconnecting");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "run-change listener failed; reconnecting");
                    return;
                }
            }
        }
    }
}
