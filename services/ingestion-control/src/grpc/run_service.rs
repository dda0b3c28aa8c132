//! `RunService`: for the gateway and internal callers.

use crate::domain::run::parse_id;
use crate::error::ControlError;
use crate::service::Control;
use crate::watch::WatchHub;
use futures::Stream;
use ingestion_proto::v1::{self, run_service_server::RunService};
use platform::auth::{JwtVerifier, Permission};
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct RunApi {
    pub control: Control,
    pub verifier: JwtVerifier,
    pub watch: Arc<WatchHub>,
}

type RunStream = Pin<Box<dyn Stream<Item = Result<v1::Run, Status>> + Send>>;

#[tonic::async_trait]
impl RunService for RunApi {
    async fn create_run(
        &self,
        req: Request<v1::CreateRunRequest>,
    ) -> Result<Response<v1::CreateRunResponse>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let created = self
            .control
            .create_run(&principal, req.into_inner())
            .await?;
        Ok(Response::new(v1::CreateRunResponse {
            run: Some(created.run.to_proto()),
            replayed: created.replayed,
        }))
    }

    async fn get_run(&self, req: Request<v1::GetRunRequest>) -> Result<Response<v1::Run>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let id = parse_id(&req.get_ref().id, "run")?;
        Ok(Response::new(
            self.control.get_run(&principal, id).await?.to_proto(),
        ))
    }

    async fn list_runs(
        &self,
        req: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let (runs, next_cursor) = self.control.list_runs(&principal, req.into_inner()).await?;
        Ok(Response::new(v1::ListRunsResponse {
            runs: runs.iter().map(|r| r.to_proto()).collect(),
            next_cursor,
        }))
    }

    type WatchRunStream = RunStream;

    async fn watch_run(
        &self,
        req: Request<v1::WatchRunRequest>,
    ) -> Result<Response<Self::WatchRunStream>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        principal
            .require(Permission::PapersRead)
            .map_err(ControlError::from)?;
        let id = parse_id(&req.get_ref().id, "run")?;
        // Subscribe first: a change between the first read and the subscription is not lost.
        let mut rx = self.watch.subscribe(id);
        let first = self.control.get_run(&principal, id).await?;
        self.watch.seed(&first);
        rx.borrow_and_update();
        let org = principal.organization_id;
        let done = first.status().is_terminal();
        let initial = futures::stream::once(async move { Ok(first.to_proto()) });
        if done {
            return Ok(Response::new(Box::pin(initial)));
        }
        let updates = futures::stream::unfold((rx, false), move |(mut rx, finished)| async move {
            if finished {
                return None;
            }
            loop {
                rx.changed().await.ok()?;
                let snapshot = rx.borrow_and_update().clone();
                if let Some(run) = snapshot.filter(|r| r.organization_id == org) {
                    let terminal = run.status().is_terminal();
                    return Some((Ok(run.to_proto()), (rx, terminal)));
                }
            }
        });
        Ok(Response::new(Box::pin(futures::StreamExt::chain(
            initial, updates,
        ))))
    }

    async fn cancel_run(
        &self,
        req: Request<v1::CancelRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let id = parse_id(&req.get_ref().id, "run")?;
        Ok(Response::new(
            self.control.cancel_run(&principal, id).await?.to_proto(),
        ))
    }

    async fn retry_run(
        &self,
        req: Request<v1::RetryRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let id = parse_id(&req.get_ref().id, "run")?;
        Ok(Response::new(
            self.control.retry_run(&principal, id).await?.to_proto(),
        ))
    }

    async fn list_papers(
        &self,
        req: Request<v1::ListPapersRequest>,
    ) -> Result<Response<v1::ListPapersResponse>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let (papers, next_cursor) = self
            .control
            .list_papers(&principal, req.into_inner())
            .await?;
        Ok(Response::new(v1::ListPapersResponse {
            papers: papers.iter().map(|p| p.to_proto()).collect(),
            next_cursor,
        }))
    }

    async fn get_paper(
        &self,
        req: Request<v1::GetPaperRequest>,
    ) -> Result<Response<v1::Paper>, Status> {
        let principal = super::user(&self.verifier, &req)?;
        let id = parse_id(&req.get_ref().id, "paper")?;
        Ok(Response::new(
            self.control.get_paper(&principal, id).await?.to_proto(),
        ))
    }
}
