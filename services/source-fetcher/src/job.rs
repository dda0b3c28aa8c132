//! One job: claim the run, page through the source, hand each page and its
//! checkpoint to ingestion-control, finish. Returns what to do with the delivery.

use crate::control_client::ControlClient;
use crate::convert::paper_record;
use crate::in_flight::{InFlightRecord, Prefetch};
use ingestion_proto::v1;
use platform::Source;
use platform::failpoints::Failpoints;
use platform::shutdown::Shutdown;
use serde::Deserialize;
use sources::{RunSpec, SourceClient};
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

/// Where the job stands in its run between pages.
struct Progress {
    /// Where the next page starts, when it is not prefetched.
    checkpoint: Option<serde_json::Value>,
    prefetch: Option<Prefetch>,
    /// The last page sent, not yet answered.
    recording: Option<InFlightRecord>,
    /// The next page's `page_index`: the run's `pages_done` at the claim plus the
    /// pages sent since.
    next_index: u64,
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
        let checkpoint: Option<serde_json::Value> = serde_json::from_str(&claim.checkpoint_json)
            .ok()
            .filter(|v: &serde_json::Value| v.is_object());
        if checkpoint.is_some() {
            tracing::info!(
                pages_done = run.pages_done,
                "resuming from the stored checkpoint"
            );
        }
        let mut progress = Progress {
            checkpoint,
            prefetch: None,
            recording: None,
            next_index: u64::from(run.pages_done),
        };
        loop {
            if let Step::Stop(d) = self.page(&lease, &spec, &mut progress).await {
                return d;
            }
            if self.shutdown.is_triggered() {
                // The page sent last is answered before the run is let go, so the
                // next fetcher resumes after it.
                progress.prefetch = None;
                if let Step::Stop(d) = self.settle(progress.recording.take()).await {
                    return d;
                }
                return self.release(&lease).await;
            }
        }
    }

    /// Fetches (or takes the prefetched) page, heartbeating while the source is slow;
    /// starts fetching the next page, sends this one to `RecordPage` and then waits
    /// for the previous page's answer, so one page is recorded while the next is
    /// fetched. The last page's answer is awaited before the run is completed.
    async fn page(&self, lease: &v1::Lease, spec: &RunSpec, progress: &mut Progress) -> Step {
        let current = progress.checkpoint.take();
        let pending = progress.prefetch.take();
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
                // The page before stands or falls first: a run that was cancelled or
                // lost meanwhile is not failed by this fetcher.
                if let Step::Stop(d) = self.settle(progress.recording.take()).await {
                    return Step::Stop(d);
                }
                let message = e.to_string();
                tracing::warn!(error = %message, "source failed; failing the run");
                return Step::Stop(self.finish(lease, Some(message)).await);
            }
        };
        self.failpoints.hit("fetcher.after_fetch");
        if !page.done && !self.shutdown.is_triggered() {
            progress.prefetch = Some(Prefetch::start(
                self.client.clone(),
                spec.clone(),
                page.checkpoint.clone(),
            ));
        }
        let done = page.done;
        let req = v1::RecordPageRequest {
            lease: Some(lease.clone()),
            papers: page.papers.into_iter().map(paper_record).collect(),
            checkpoint_json: page.checkpoint.to_string(),
            source_total: page.source_total,
            page_index: Some(progress.next_index),
        };
        progress.next_index += 1;
        progress.checkpoint = Some(page.checkpoint);
        let previous = progress
            .recording
            .replace(InFlightRecord::start(self.control.clone(), req));
        if let Step::Stop(d) = self.settle(previous).await {
            return Step::Stop(d);
        }
        if done {
            if let Step::Stop(d) = self.settle(progress.recording.take()).await {
                return Step::Stop(d);
            }
            return Step::Stop(self.finish(lease, None).await);
        }
        Step::Continue
    }

    /// Waits for a sent page's answer (if there is one) and acts on it.
    async fn settle(&self, record: Option<InFlightRecord>) -> Step {
        let Some(record) = record else {
            return Step::Continue;
        };
        let (page_index, count) = (record.page_index, record.papers);
        match record.answer().await {
            Ok(r) if r.cancelled => {
                tracing::info!(page_index, "run cancelled; stopping at this page");
                Step::Stop(Disposition::Ack)
            }
            Ok(r) => {
                metrics::counter!("fetcher_papers_total", "source" => self.source.as_str())
                    .increment(count as u64);
                tracing::debug!(
                    page_index,
                    count,
                    found = r.papers_found,
                    imported = r.papers_imported,
                    "page recorded"
                );
                Step::Continue
            }
            Err(status) => Step::Stop(self.lease_error("RecordPage", &status)),
        }
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
