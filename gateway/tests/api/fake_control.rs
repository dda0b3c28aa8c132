//! A fake ingestion-control: a real tonic `RunService` server on a local port that
//! answers from a script and records every call with the metadata it received.

#![allow(dead_code)]

use crate::helpers::{ORG, PAPER_ID, RUN_ID};
use ingestion_proto::v1::{
    self,
    run_service_server::{RunService, RunServiceServer},
};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio_stream::Stream;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

/// A scripted failure: code, message, metadata.
#[derive(Clone, Debug)]
pub struct Fail(pub Code, pub &'static str, pub Vec<(&'static str, String)>);

impl Fail {
    pub fn code(code: Code) -> Self {
        Fail(code, "scripted failure", vec![])
    }

    fn status(&self) -> Status {
        let mut status = Status::new(self.0, self.1);
        for (k, v) in &self.2 {
            status
                .metadata_mut()
                .insert(*k, v.parse().expect("ascii metadata"));
        }
        status
    }
}

/// How `WatchRun` answers.
#[derive(Clone, Debug)]
pub enum Watch {
    /// These snapshots, then the end of the stream.
    Snapshots(Vec<v1::Run>),
    /// These snapshots, then nothing, for ever.
    SnapshotsThenHang(Vec<v1::Run>),
    /// These snapshots, then this error.
    SnapshotsThenFail(Vec<v1::Run>, Fail),
    /// An error before the first snapshot.
    Fail(Fail),
}

/// Overrides of the fake's default answers; `None` keeps the default.
#[derive(Default, Clone, Debug)]
pub struct Script {
    pub create: Option<Result<v1::CreateRunResponse, Fail>>,
    pub get_run: Option<Result<v1::Run, Fail>>,
    pub list_runs: Option<Result<v1::ListRunsResponse, Fail>>,
    pub watch: Option<Watch>,
    pub cancel: Option<Result<v1::Run, Fail>>,
    pub retry: Option<Result<v1::Run, Fail>>,
    pub list_papers: Option<Result<v1::ListPapersResponse, Fail>>,
    pub get_paper: Option<Result<v1::Paper, Fail>>,
}

/// One call the fake received.
#[derive(Clone, Debug)]
pub enum Received {
    Create(v1::CreateRunRequest),
    GetRun(v1::GetRunRequest),
    ListRuns(v1::ListRunsRequest),
    Watch(v1::WatchRunRequest),
    Cancel(v1::CancelRunRequest),
    Retry(v1::RetryRunRequest),
    ListPapers(v1::ListPapersRequest),
    GetPaper(v1::GetPaperRequest),
}

#[derive(Clone, Default)]
pub struct FakeControl {
    script: Arc<Mutex<Script>>,
    calls: Arc<Mutex<Vec<(MetadataMap, Received)>>>,
}

impl FakeControl {
    pub fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.script.lock().unwrap());
    }

    pub fn calls(&self) -> Vec<(MetadataMap, Received)> {
        self.calls.lock().unwrap().clone()
    }

    pub fn last_call(&self) -> (MetadataMap, Received) {
        self.calls().pop().expect("ingestion-control was called")
    }

    fn record<T: Clone>(&self, req: &Request<T>, wrap: fn(T) -> Received) {
        self.calls
            .lock()
            .unwrap()
            .push((req.metadata().clone(), wrap(req.get_ref().clone())));
    }

    fn current(&self) -> Script {
        self.script.lock().unwrap().clone()
    }
}

fn now() -> prost_types::Timestamp {
    let now = chrono::Utc::now();
    prost_types::Timestamp {
        seconds: now.timestamp(),
        nanos: 0,
    }
}

/// A run with `id` and `status`, 40 of 100 found.
pub fn run(id: &str, status: v1::RunStatus) -> v1::Run {
    v1::Run {
        id: id.to_owned(),
        organization_id: ORG.to_owned(),
        source: v1::Source::Pubmed as i32,
        status: status as i32,
        query: "crispr".into(),
        filters_json: r#"{"from_date":"2024-01-01"}"#.into(),
        max_results: 100,
        papers_found: if status == v1::RunStatus::Queued {
            0
        } else {
            40
        },
        papers_imported: if status == v1::RunStatus::Queued {
            0
        } else {
            37
        },
        expected_total: (status != v1::RunStatus::Queued).then_some(100),
        pages_done: 2,
        attempt: 1,
        error_message: None,
        requested_by: "u1".into(),
        created_at: Some(now()),
        started_at: (status != v1::RunStatus::Queued).then(now),
        completed_at: None,
        updated_at: Some(now()),
    }
}

pub fn paper(id: &str) -> v1::Paper {
    v1::Paper {
        id: id.to_owned(),
        organization_id: ORG.to_owned(),
        title: "A paper".into(),
        abstract_text: Some("Abstract.".into()),
        authors: vec![v1::Author {
            name: "Ada Lovelace".into(),
            orcid: Some("0000-0002-1825-0097".into()),
            affiliations: vec!["Analytical Society".into()],
        }],
        publication_date: Some("2024-03".into()),
        date_precision: v1::DatePrecision::Month as i32,
        venue: Some("Nature".into()),
        doi: Some("10.1000/xyz".into()),
        external_ids: Some(v1::ExternalIds {
            pmid: Some("123".into()),
            ..Default::default()
        }),
        url: None,
        citation_count: Some(3),
        sources: vec![v1::Source::Pubmed as i32],
        created_at: Some(now()),
        updated_at: Some(now()),
    }
}

type RunStream = Pin<Box<dyn Stream<Item = Result<v1::Run, Status>> + Send>>;

#[tonic::async_trait]
impl RunService for FakeControl {
    async fn create_run(
        &self,
        req: Request<v1::CreateRunRequest>,
    ) -> Result<Response<v1::CreateRunResponse>, Status> {
        self.record(&req, Received::Create);
        match self.current().create {
            Some(Ok(answer)) => Ok(Response::new(answer)),
            Some(Err(fail)) => Err(fail.status()),
            None => {
                let r = req.into_inner();
                let mut created = run(&Uuid::new_v4().to_string(), v1::RunStatus::Queued);
                created.source = r.source;
                created.query = r.query;
                created.max_results = r.max_results;
                Ok(Response::new(v1::CreateRunResponse {
                    run: Some(created),
                    replayed: false,
                }))
            }
        }
    }

    async fn get_run(&self, req: Request<v1::GetRunRequest>) -> Result<Response<v1::Run>, Status> {
        self.record(&req, Received::GetRun);
        match self.current().get_run {
            Some(answer) => answer.map(Response::new).map_err(|f| f.status()),
            None => Ok(Response::new(run(
                &req.get_ref().id,
                v1::RunStatus::Running,
            ))),
        }
    }

    async fn list_runs(
        &self,
        req: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        self.record(&req, Received::ListRuns);
        match self.current().list_runs {
            Some(answer) => answer.map(Response::new).map_err(|f| f.status()),
            None => Ok(Response::new(v1::ListRunsResponse {
                runs: vec![
                    run(RUN_ID, v1::RunStatus::Running),
                    run(&Uuid::new_v4().to_string(), v1::RunStatus::Queued),
                ],
                next_cursor: Some("next-page".into()),
            })),
        }
    }

    type WatchRunStream = RunStream;

    async fn watch_run(
        &self,
        req: Request<v1::WatchRunRequest>,
    ) -> Result<Response<Self::WatchRunStream>, Status> {
        self.record(&req, Received::Watch);
        let id = req.get_ref().id.clone();
        let watch = self.current().watch.unwrap_or_else(|| {
            let mut done = run(&id, v1::RunStatus::Completed);
            done.papers_found = 100;
            Watch::Snapshots(vec![
                run(&id, v1::RunStatus::Queued),
                run(&id, v1::RunStatus::Running),
                done,
            ])
        });
        let items = |runs: Vec<v1::Run>| tokio_stream::iter(runs.into_iter().map(Ok));
        use tokio_stream::StreamExt as _;
        let stream: RunStream = match watch {
            Watch::Fail(fail) => return Err(fail.status()),
            Watch::Snapshots(runs) => Box::pin(items(runs)),
            Watch::SnapshotsThenHang(runs) => Box::pin(items(runs).chain(tokio_stream::pending())),
            Watch::SnapshotsThenFail(runs, fail) => {
                Box::pin(items(runs).chain(tokio_stream::once(Err(fail.status()))))
            }
        };
        Ok(Response::new(stream))
    }

    async fn cancel_run(
        &self,
        req: Request<v1::CancelRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        self.record(&req, Received::Cancel);
        match self.current().cancel {
            Some(answer) => answer.map(Response::new).map_err(|f| f.status()),
            None => Ok(Response::new(run(
                &req.get_ref().id,
                v1::RunStatus::Cancelled,
            ))),
        }
    }

    async fn retry_run(
        &self,
        req: Request<v1::RetryRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        self.record(&req, Received::Retry);
        match self.current().retry {
            Some(answer) => answer.map(Response::new).map_err(|f| f.status()),
            None => {
                let mut r = run(&req.get_ref().id, v1::RunStatus::Queued);
                r.attempt = 2;
                Ok(Response::new(r))
            }
        }
    }

    async fn list_papers(
        &self,
        req: Request<v1::ListPapersRequest>,
    ) -> Result<Response<v1::ListPapersResponse>, Status> {
        self.record(&req, Received::ListPapers);
        match self.current().list_papers {
            Some(answer) => answer.map(Response::new).map_err(|f| f.status()),
            None => Ok(Response::new(v1::ListPapersResponse {
                papers: vec![paper(PAPER_ID)],
                next_cursor: None,
            })),
        }
    }

    async fn get_paper(
        &self,
        req: Request<v1::GetPaperRequest>,
    ) -> Result<Response<v1::Paper>, Status> {
        self.record(&req, Received::GetPaper);
        match self.current().get_paper {
            Some(answer) => answer.map(Response::new).map_err(|f| f.status()),
            None => Ok(Response::new(paper(&req.get_ref().id))),
        }
    }
}

/// Serves `fake` (plus gRPC health, RunService SERVING) on a free port.
pub async fn spawn_fake_control(fake: FakeControl) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<RunServiceServer<FakeControl>>()
        .await;
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(RunServiceServer::new(fake))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    format!("http://{addr}")
}
