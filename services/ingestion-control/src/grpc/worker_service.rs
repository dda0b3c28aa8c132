//! `WorkerService`: for source fetchers only.

use crate::db::runs::Lease;
use crate::domain::run::timestamp;
use crate::error::ControlError;
use crate::service::{ClaimOutcome, Control, PageOutcome};
use ingestion_proto::v1::{self, worker_service_server::WorkerService};
use platform::auth::WorkerCredential;
use platform::{RunStatus, Source};
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub struct WorkerApi {
    pub control: Control,
    pub credential: WorkerCredential,
}

/// Checkpoints are small JSON objects; anything else is refused.
const MAX_CHECKPOINT_BYTES: usize = 16 * 1024;
const MAX_ERROR_MESSAGE_CHARS: usize = 2_000;

fn lease(raw: Option<v1::Lease>) -> Result<Lease, ControlError> {
    let raw = raw.ok_or_else(|| ControlError::invalid("lease", "required"))?;
    let run_id = Uuid::parse_str(&raw.run_id)
        .map_err(|_| ControlError::invalid("lease.run_id", "must be a uuid"))?;
    if raw.worker_id.is_empty() || raw.worker_id.len() > 200 {
        return Err(ControlError::invalid(
            "lease.worker_id",
            "1 to 200 characters",
        ));
    }
    Ok(Lease {
        run_id,
        worker_id: raw.worker_id,
        attempt: i32::try_from(raw.attempt)
            .map_err(|_| ControlError::invalid("lease.attempt", "out of range"))?,
    })
}

fn checkpoint(raw: &str) -> Result<serde_json::Value, ControlError> {
    if raw.len() > MAX_CHECKPOINT_BYTES {
        return Err(ControlError::invalid("checkpoint_json", "too large"));
    }
    match serde_json::from_str(raw) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(ControlError::invalid(
            "checkpoint_json",
            "must be a JSON object",
        )),
    }
}

#[tonic::async_trait]
impl WorkerService for WorkerApi {
    async fn claim_run(
        &self,
        req: Request<v1::ClaimRunRequest>,
    ) -> Result<Response<v1::ClaimRunResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let req = req.into_inner();
        let source = Source::from_proto(req.source)
            .ok_or_else(|| ControlError::invalid("source", "unknown"))?;
        let Ok(run_id) = Uuid::parse_str(&req.run_id) else {
            return Ok(Response::new(v1::ClaimRunResponse {
                outcome: v1::ClaimOutcome::UnknownRun as i32,
                detail: "not a run id".into(),
                ..Default::default()
            }));
        };
        if req.worker_id.is_empty() || req.worker_id.len() > 200 {
            return Err(ControlError::invalid("worker_id", "1 to 200 characters").into());
        }
        let response = match self
            .control
            .claim_run(run_id, source, &req.worker_id)
            .await?
        {
            ClaimOutcome::Claimed(run) => v1::ClaimRunResponse {
                outcome: v1::ClaimOutcome::Claimed as i32,
                checkpoint_json: run
                    .checkpoint_data
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                lease_expires_at: run.lease_expires_at.map(timestamp),
                run: Some(run.to_proto()),
                detail: String::new(),
            },
            ClaimOutcome::NotClaimable(run) => v1::ClaimRunResponse {
                outcome: v1::ClaimOutcome::NotClaimable as i32,
                detail: format!("run is {} (attempt {})", run.status, run.attempt),
                run: Some(run.to_proto()),
                ..Default::default()
            },
            ClaimOutcome::SourceMismatch(run) => v1::ClaimRunResponse {
                outcome: v1::ClaimOutcome::SourceMismatch as i32,
                detail: run.error_message.clone().unwrap_or_default(),
                run: Some(run.to_proto()),
                ..Default::default()
            },
            ClaimOutcome::UnknownRun => v1::ClaimRunResponse {
                outcome: v1::ClaimOutcome::UnknownRun as i32,
                detail: format!("no run {run_id}"),
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }

    async fn heartbeat(
        &self,
        req: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let lease = lease(req.into_inner().lease)?;
        let (cancelled, until) = self.control.heartbeat(&lease).await?;
        Ok(Response::new(v1::HeartbeatResponse {
            cancelled,
            lease_expires_at: Some(timestamp(until)),
        }))
    }

    async fn record_page(
        &self,
        req: Request<v1::RecordPageRequest>,
    ) -> Result<Response<v1::RecordPageResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let req = req.into_inner();
        let lease = lease(req.lease)?;
        let checkpoint = checkpoint(&req.checkpoint_json)?;
        let response = match self
            .control
            .record_page(
                &lease,
                req.papers,
                checkpoint,
                req.source_total,
                req.page_index,
            )
            .await?
        {
            PageOutcome::Recorded(run) => v1::RecordPageResponse {
                cancelled: false,
                papers_found: run.papers_found.max(0) as u64,
                papers_imported: run.papers_imported.max(0) as u64,
            },
            PageOutcome::Cancelled => v1::RecordPageResponse {
                cancelled: true,
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }

    async fn complete_run(
        &self,
        req: Request<v1::CompleteRunRequest>,
    ) -> Result<Response<v1::FinishRunResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let lease = lease(req.into_inner().lease)?;
        let run = self
            .control
            .finish_run(&lease, RunStatus::Completed, None)
            .await?;
        Ok(Response::new(v1::FinishRunResponse {
            run: Some(run.to_proto()),
        }))
    }

    async fn fail_run(
        &self,
        req: Request<v1::FailRunRequest>,
    ) -> Result<Response<v1::FinishRunResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let req = req.into_inner();
        let lease = lease(req.lease)?;
        let message: String = req
            .error_message
            .trim()
            .chars()
            .take(MAX_ERROR_MESSAGE_CHARS)
            .collect();
        let message = if message.is_empty() {
            "the fetcher reported a failure without a message".to_owned()
        } else {
            message
        };
        let run = self
            .control
            .finish_run(&lease, RunStatus::Failed, Some(&message))
            .await?;
        Ok(Response::new(v1::FinishRunResponse {
            run: Some(run.to_proto()),
        }))
    }

    async fn release_run(
        &self,
        req: Request<v1::ReleaseRunRequest>,
    ) -> Result<Response<v1::FinishRunResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let lease = lease(req.into_inner().lease)?;
        let run = self.control.release_run(&lease).await?;
        Ok(Response::new(v1::FinishRunResponse {
            run: Some(run.to_proto()),
        }))
    }

    async fn acquire_permit(
        &self,
        req: Request<v1::AcquirePermitRequest>,
    ) -> Result<Response<v1::AcquirePermitResponse>, Status> {
        super::worker(&self.credential, &req)?;
        let req = req.into_inner();
        let source = Source::from_proto(req.source)
            .ok_or_else(|| ControlError::invalid("source", "unknown"))?;
        let wait = self
            .control
            .acquire_permit(source, req.requests_per_second)
            .await?;
        Ok(Response::new(v1::AcquirePermitResponse {
            wait_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
        }))
    }
}
