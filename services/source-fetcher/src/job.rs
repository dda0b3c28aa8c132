//! One job: claim the run, page through the source, hand each page and its
//! checkpoint to ingestion-control, finish. Returns what to do with the delivery.

use crate::control_client::ControlClient;
use crate::convert::paper_record;
use ingestion_proto::v1;
use platform::Source;
use platform::failpoints::Failpoints;
use platform::shutdown::Shutdown;
use serde::Deserialize;
use sources::{Page, RunSpec, SourceClient, SourceError};
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use tracing::Instrument as _;
use uuid::Uuid;

/// The job message body (`docs/architecture.md`, "Messages").
#[derive(Debug, Clone, Deserialize)]
pub struct JobMessage {
    pub run_id: String,
    pub source: String,
    #[serde(default)]
    pub attempt: u32,
}

/// What to do with the delivery once the job has been handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The outcome is stored (or there is nothing to do): acknowledge.
    Ack,
    /// Let another delivery try again (ingestion-control unreachable, or shutting down).
    Requeue,
    /// The message itself is unreadable: to the dead-letter queue.
    DeadLetter,
}

pub struct JobRunner {
    pub source: Source,
    pub worker_id: String,
    pub control: ControlClient,
    pub client: Arc<dyn SourceClient>,
    pub heartbeat: Duration,
    pub shutdown: Shutdown,
    pub failpoints: Failpoints,
}

enum Step {
    Continue,
    Stop(Disposition),
}

/// The next page's fetch, started while the current page is being recorded, so the
/// source and ingestion-control work at the same time. Dropping it aborts the fetch:
/// a run that stops (cancelled, lease lost, shutdown) simply never records that page,
/// and the stored checkpoint still points at it.
struct Prefetch {
    fetch: tokio::task::JoinHandle<Result<Page, SourceError>>,
    source_name: &'static str,
}

impl Prefetch {
    fn start(client: Arc<dyn SourceClient>, spec: RunSpec, checkpoint: serde_json::Value) -> Self {
        let source_name = client.name();
        let fetch = async move { client.fetch_page(&spec, Some(&checkpoint)).await };
        Prefetch {
            fetch: tokio::spawn(fetch.instrument(tracing::Span::current())),
            source_name,
        }
    }

    async fn page(mut self) -> Result<Page, SourceError> {
        match (&mut self.fetch).await {
            Ok(page) => page,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(SourceError::Transport {
                source_name: self.source_name,
                request: "the next page".into(),
                detail: format!("prefetch task ended: {e}"),
            }),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.fetch.abort();
    }
}

impl JobRunner {
    /// Handles one delivery body; never panics on hostile input.
    pub async fn handle(&self, body: &[u8], parent: opentelemetry::Context) -> Disposition {
        let job: JobMessage = match serde_json::from_slice(body) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(error = %e, bytes = body.len(), "unreadable job message; dead-lettering it");
                return Disposition::DeadLetter;
            }
        };
        let span = tracing::info_span!("fetch.run", run_id = %job.run_id, source = %self.source, otel.kind = "consumer");
        platform::propagation::set_parent(&span, parent);
        self.run(job).instrument(span).await
    }

    async fn run(&self, job: JobMessage) -> Disposition {
        if Uuid::parse_str(&job.run_id).is_err() {
            tracing::error!(run_id = %job.run_id.chars().take(64).collect::<String>(), "job names no valid run id; dropping it");
            return Disposition::Ack;
        }
        let claim = self
            .control
            .call("ClaimRun", |mut c| {
                let req = v1::ClaimRunRequest {
                    run_id: job.run_id.clone(),
                    source: self.source.to_proto() as i32,
                    worker_id: self.worker_id.clone(),
                    attempt: job.attempt,
                };
                async move { c.claim_run(req).await }
            })
            .await;
        let claim = match claim {
            Ok(c) => c,
            Err(status) => return self.unreachable("ClaimRun", &status),
        };
        match v1::ClaimOutcome::try_from(claim.outcome) {
            Ok(v1::ClaimOutcome::Claimed) => {}
            Ok(v1::ClaimOutcome::UnknownRun) => {
                tracing::warn!(detail = %claim.detail, "job for an unknown run; acknowledged and dropped");
                return Disposition::Ack;
            }
            Ok(v1::ClaimOutcome::SourceMismatch) => {
                tracing::warn!(detail = %claim.detail, "job of another source; its run was failed");
                return Disposition::Ack;
            }
            _ => {
                tracing::info!(detail = %claim.detail, "duplicate delivery of a run that is not claimable; dropped");
                return Disposition::Ack;
            }
        }
        let Some(run) = claim.run else {
            tracing::error!("claim answered without the run");
            return Disposition::Requeue;
        };
        metrics::counter!("fetcher_runs_claimed_total", "source" => self.source.as_str())
            .increment(1);
        let lease = v1::Lease {
            run_id: run.id.clone(),
            worker_id: self.worker_id.clone(),
            attempt: run.attempt,
        };
        let spec = RunSpec {
            query: run.query.clone(),
            max_results: run.max_results,
            filters: serde_json::from_str(&run.filters_json)
                .unwrap_or_else(|_| serde_json::json!({})),
        };
        let mut checkpoint: Option<serde_json::Value> =
            serde_json::from_str(&claim.checkpoint_json)
                .ok()
                .filter(|v: &serde_json::Value| v.is_object());
        if checkpoint.is_some() {
            tracing::info!(
                pages_done = run.pages_done,
                "resuming from the stored checkpoint"
            );
        }
        let mut prefetch = None;
        loop {
            match self
                .page(&lease, &spec, &mut checkpoint, &mut prefetch)
                .await
            {
                Step::Continue => {}
                Step::Stop(d) => return d,
            }
            if self.shutdown.is_triggered() {
                return self.release(&lease).await;
            }
        }
    }

    /// Fetches (or takes the prefetched) page and records it, heartbeating while the
    /// source is slow; starts fetching the next page before recording this one.
    async fn page(
        &self,
        lease: &v1::Lease,
        spec: &RunSpec,
        checkpoint: &mut Option<serde_json::Value>,
        prefetch: &mut Option<Prefetch>,
    ) -> Step {
        let current = checkpoint.take();
        let pending = prefetch.take();
        let client = &self.client;
        let from = current.as_ref();
        let fetch = async move {
            match pending {
                Some(next) => next.page().await,
                None => client.fetch_page(spec, from).await,
            }
        };
        tokio::pin!(fetch);
        let mut beat = tokio::time::interval(self.heartbeat);
        beat.tick().await; // the first tick is immediate; the claim just set the lease
        let fetched = 'fetched: loop {
            tokio::select! {
                page = &mut fetch => break 'fetched page,
                _ = beat.tick() => {
                    let res = self.control.call("Heartbeat", |mut c| {
                        let req = v1::HeartbeatRequest { lease: Some(lease.clone()) };
                        async move { c.heartbeat(req).await }
                    }).await;
                    match res {
                        Ok(hb) if hb.cancelled => {
                            tracing::info!("run cancelled; stopping");
                            return Step::Stop(Disposition::Ack);
                        }
                        Ok(_) => {}
                        Err(status) => return Step::Stop(self.lease_error("Heartbeat", &status)),
                    }
                }
            }
        };
        let page = match fetched {
            Ok(page) => page,
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(error = %message, "source failed; failing the run");
                return Step::Stop(self.finish(lease, Some(message)).await);
            }
        };
        self.failpoints.hit("fetcher.after_fetch");
        if !page.done && !self.shutdown.is_triggered() {
            *prefetch = Some(Prefetch::start(
                self.client.clone(),
                spec.clone(),
                page.checkpoint.clone(),
            ));
        }
        let done = page.done;
        let count = page.papers.len();
        let checkpoint_json = page.checkpoint.to_string();
        let papers: Vec<v1::PaperRecord> = page.papers.into_iter().map(paper_record).collect();
        let recorded = self
            .control
            .call("RecordPage", |mut c| {
                let req = v1::RecordPageRequest {
                    lease: Some(lease.clone()),
                    papers: papers.clone(),
                    checkpoint_json: checkpoint_json.clone(),
                    source_total: page.source_total,
                    page_index: None,
                };
                async move { c.record_page(req).await }
            })
            .await;
        match recorded {
            Ok(r) if r.cancelled => {
                tracing::info!("run cancelled; stopping at this page");
                return Step::Stop(Disposition::Ack);
            }
            Ok(r) => {
                metrics::counter!("fetcher_papers_total", "source" => self.source.as_str())
                    .increment(count as u64);
                tracing::debug!(
                    count,
                    found = r.papers_found,
                    imported = r.papers_imported,
                    "page recorded"
                );
            }
            Err(status) => return Step::Stop(self.lease_error("RecordPage", &status)),
        }
        *checkpoint = Some(page.checkpoint);
        if done {
            return Step::Stop(self.finish(lease, None).await);
        }
        Step::Continue
    }

    /// `CompleteRun` (no error) or `FailRun`.
    async fn finish(&self, lease: &v1::Lease, error: Option<String>) -> Disposition {
        let res = match &error {
            None => {
                self.control
                    .call("CompleteRun", |mut c| {
                        let req = v1::CompleteRunRequest {
                            lease: Some(lease.clone()),
                        };
                        async move { c.complete_run(req).await }
                    })
                    .await
            }
            Some(message) => {
                self.control
                    .call("FailRun", |mut c| {
                        let req = v1::FailRunRequest {
                            lease: Some(lease.clone()),
                            error_message: message.clone(),
                        };
                        async move { c.fail_run(req).await }
                    })
                    .await
            }
        };
        match res {
            Ok(r) => {
                let status = r.run.map(|r| r.status).unwrap_or_default();
                tracing::info!(status = ?v1::RunStatus::try_from(status).unwrap_or_default(), "run finished");
                Disposition::Ack
            }
            Err(status) => self.lease_error("FinishRun", &status),
        }
    }

    async fn release(&self, lease: &v1::Lease) -> Disposition {
        let res = self
            .control
            .call("ReleaseRun", |mut c| {
                let req = v1::ReleaseRunRequest {
                    lease: Some(lease.clone()),
                };
                async move { c.release_run(req).await }
            })
            .await;
        match res {
            Ok(_) => {
                tracing::info!(
                    "shutting down: run released from its checkpoint for another fetcher"
                );
                Disposition::Requeue
            }
            Err(status) => self.lease_error("ReleaseRun", &status),
        }
    }

    fn lease_error(&self, call: &str, status: &tonic::Status) -> Disposition {
        if status.code() == Code::FailedPrecondition {
            tracing::warn!(
                call,
                message = status.message(),
                "lease lost; another fetcher owns the run now"
            );
            return Disposition::Ack;
        }
        self.unreachable(call, status)
    }

    /// The call could not be made. The job goes back to the queue: the broker's
    /// delivery limit bounds the retries, and a dead-lettered job fails its run.
    fn unreachable(&self, call: &str, status: &tonic::Status) -> Disposition {
        if status.code() == Code::NotFound {
            tracing::warn!(
                call,
                message = status.message(),
                "run vanished; dropping the job"
            );
            return Disposition::Ack;
        }
        tracing::error!(call, code = ?status.code(), message = status.message(), "ingestion-control call failed; requeueing the job");
        Disposition::Requeue
    }
}
