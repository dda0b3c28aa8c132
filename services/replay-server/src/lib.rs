//! A local HTTP server replaying the real recorded source API responses in `fixtures/`
//! as OpenAlex, PubMed E-utilities, arXiv and Semantic Scholar: each API's paging
//! envelope is synthesised around the recorded records, a `synthetic:N` query serves N
//! generated records with distinct identifiers, and faults can be injected. For
//! tests, benchmarks and the offline demo: nothing here reaches the internet.
//!
//! Base URLs: `{base}/openalex`, `{base}/pubmed`, `{base}/arxiv`, `{base}/s2` (also
//! `{base}/semantic_scholar`); see the crate README for endpoints and data sets. Admin: `POST|GET|DELETE /_admin/faults`,
//! `GET /_admin/requests`, `POST /_admin/reset`, `GET /_admin/corpus`,
//! `GET|POST /_admin/latency`.

pub mod admin;
mod arxiv;
pub mod corpus;
pub mod dataset;
pub mod faults;
pub mod json_scan;
mod openalex;
mod pubmed;
pub mod reply;
mod routes;
mod semantic_scholar;
pub mod template;
pub mod xml_scan;

pub use corpus::{Corpus, Record, Source};
pub use dataset::Dataset;
pub use faults::{Fault, FaultKind, RequestRecord};
pub use template::{synthetic_arxiv, synthetic_doi, synthetic_pmid, synthetic_s2_paper};

use faults::FaultQueue;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Recorded bodies served verbatim (or with the query substituted).
struct Recorded {
    openalex_empty: String,
    openalex_not_found: String,
    pubmed_no_results: String,
    arxiv_empty: String,
    arxiv_error: String,
    s2_empty: String,
    s2_bad_fields: String,
    s2_offset_unavailable: String,
}

impl Recorded {
    fn load(dir: &Path) -> anyhow::Result<Recorded> {
        let read = |rel: &str| corpus::read(dir, rel);
        Ok(Recorded {
            openalex_empty: read("openalex/works_filter_cites_empty_count0.json")?,
            openalex_not_found: read("openalex/error_404_work_not_found.html")?,
            pubmed_no_results: read("pubmed/esearch_no_results_errorlist.xml")?,
            arxiv_empty: read("arxiv/idlist_0000.0000_empty.xml")?,
            arxiv_error: read("arxiv/error_400_incorrect_id_format.xml")?,
            s2_empty: read("semantic_scholar/paper_search_empty_total0.json")?,
            s2_bad_fields: read("semantic_scholar/error_400_unrecognized_fields.json")?,
            s2_offset_unavailable: read(
                "semantic_scholar/error_400_offset_limit_not_available.json",
            )?,
        })
    }
}

/// State shared by the handlers and the [`ReplayServer`] handle.
pub(crate) struct Shared {
    corpus: Arc<Corpus>,
    recorded: Recorded,
    /// WebEnv → the esearch term it was issued for.
    webenvs: Mutex<HashMap<String, String>>,
    faults: Mutex<FaultQueue>,
    log: Mutex<Vec<RequestRecord>>,
    started: Instant,
    latency_ms: AtomicU64,
    /// Becomes true on shutdown; cuts injected delays short.
    stopping: watch::Sender<bool>,
}

/// Locks a mutex, recovering the data if a holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    /// Sleeps for `d`, or less if the server is shutting down.
    async fn pause(&self, d: Duration) {
        let mut stopping = self.stopping.subscribe();
        if *stopping.borrow_and_update() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = stopping.changed() => {}
        }
    }

    fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    fn requests(&self, source: Source) -> Vec<RequestRecord> {
        let mut out: Vec<RequestRecord> = lock(&self.log)
            .iter()
            .filter(|r| r.source == source)
            .cloned()
            .collect();
        out.sort_by_key(|r| r.at_us);
        out
    }

    fn reset(&self) {
        lock(&self.faults).clear();
        lock(&self.log).clear();
    }
}

/// Start-up options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A fixed delay before every API answer (0 = as fast as possible).
    pub latency: Duration,
}

/// A running replay server.
pub struct ReplayServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReplayServer {
    /// Loads the fixtures under `fixtures_dir` and serves on `addr` (port 0 picks a
    /// free port).
    pub async fn start(addr: SocketAddr, fixtures_dir: &Path) -> anyhow::Result<ReplayServer> {
        Self::start_with(addr, fixtures_dir, Options::default()).await
    }

    /// As [`ReplayServer::start`], with options.
    pub async fn start_with(
        addr: SocketAddr,
        fixtures_dir: &Path,
        options: Options,
    ) -> anyhow::Result<ReplayServer> {
        let shared = Arc::new(Shared {
            corpus: Corpus::load_shared(fixtures_dir)?,
            recorded: Recorded::load(fixtures_dir)?,
            webenvs: Mutex::default(),
            faults: Mutex::default(),
            log: Mutex::default(),
            started: Instant::now(),
            latency_ms: AtomicU64::new(options.latency.as_millis() as u64),
            stopping: watch::Sender::new(false),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = routes::router(shared.clone());
        let task = tokio::spawn(async move {
            // Nagle off, as the services do (platform::net::without_nagle): the
            // benchmarks must not measure delayed ACKs.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "replay server stopped");
            }
        });
        Ok(ReplayServer {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL a source client is configured with, e.g. `http://HOST:PORT/openalex`;
    /// `semantic_scholar` (or `s2`) maps to `/s2`. Unknown names are appended as given.
    pub fn source_base_url(&self, source: &str) -> String {
        match Source::parse(source) {
            Some(s) => format!("{}/{}", self.base_url(), s.path_segment()),
            None => format!("{}/{source}", self.base_url()),
        }
    }

    /// Queues a fault for the next matching requests.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// The faults still pending.
    pub fn pending_faults(&self) -> Vec<Fault> {
        lock(&self.shared.faults).pending()
    }

    /// Drops every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Clears the request log and the pending faults.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Requests served for `source` (a name or alias), by arrival time.
    pub fn requests(&self, source: &str) -> Vec<RequestRecord> {
        Source::parse(source).map_or_else(Vec::new, |s| self.shared.requests(s))
    }

    /// Changes the fixed delay before every API answer.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    /// The loaded corpus.
    pub fn corpus(&self) -> &Corpus {
        &self.shared.corpus
    }

    /// Number of distinct records of `source` (a name or alias).
    pub fn corpus_len(&self, source: &str) -> usize {
        self.shared.corpus.len(source)
    }

    /// Stops accepting connections, cuts injected delays short and waits (at most five
    /// seconds) for in-flight requests.
    pub async fn shutdown(mut self) {
        self.shared.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.shared.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
