//! Work a job starts ahead of the page in hand: the next page's fetch, and the
//! `RecordPage` of a page whose answer is awaited only after the next page is sent.

use crate::control_client::ControlClient;
use ingestion_proto::v1;
use sources::{Page, RunSpec, SourceClient, SourceError};
use std::sync::Arc;
use tracing::Instrument as _;

/// The next page's fetch, started while the current page is being recorded, so the
/// source and ingestion-control work at the same time. Dropping it aborts the fetch:
/// a run that stops (cancelled, lease lost, shutdown) simply never records that page,
/// and the stored checkpoint still points at it.
pub(crate) struct Prefetch {
    fetch: tokio::task::JoinHandle<Result<Page, SourceError>>,
    source_name: &'static str,
}

impl Prefetch {
    pub(crate) fn start(
        client: Arc<dyn SourceClient>,
        spec: RunSpec,
        checkpoint: serde_json::Value,
    ) -> Self {
        let source_name = client.name();
        let fetch = async move { client.fetch_page(&spec, Some(&checkpoint)).await };
        Prefetch {
            fetch: tokio::spawn(fetch.instrument(tracing::Span::current())),
            source_name,
        }
    }

    pub(crate) async fn page(mut self) -> Result<Page, SourceError> {
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

/// A page's `RecordPage`, sent as a task so the next page is fetched meanwhile and
/// sent before this one is answered (at most two in flight; their `page_index` keeps
/// them in order). Dropping it aborts the call: a run that stops does not wait for the
/// answer, and a page ingestion-control did not commit is fetched again from the
/// stored checkpoint.
pub(crate) struct InFlightRecord {
    call: tokio::task::JoinHandle<Result<v1::RecordPageResponse, tonic::Status>>,
    pub(crate) page_index: u64,
    pub(crate) papers: usize,
}

impl InFlightRecord {
    pub(crate) fn start(control: ControlClient, req: v1::RecordPageRequest) -> Self {
        let page_index = req.page_index.unwrap_or_default();
        let papers = req.papers.len();
        let call = async move {
            control
                .call("RecordPage", |mut c| {
                    let req = req.clone();
                    async move { c.record_page(req).await }
                })
                .await
        };
        InFlightRecord {
            call: tokio::spawn(call.instrument(tracing::Span::current())),
            page_index,
            papers,
        }
    }

    pub(crate) async fn answer(mut self) -> Result<v1::RecordPageResponse, tonic::Status> {
        match (&mut self.call).await {
            Ok(answer) => answer,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(tonic::Status::cancelled(format!(
                "RecordPage task ended: {e}"
            ))),
        }
    }
}

impl Drop for InFlightRecord {
    fn drop(&mut self) {
        self.call.abort();
    }
}
