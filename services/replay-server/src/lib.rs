//! A local HTTP server replaying the recorded source API responses (`fixtures/`) as
//! OpenAlex, PubMed E-utilities, arXiv and Semantic Scholar, with paging, a synthetic
//! mode for large runs, injected faults and a request log. For tests, benchmarks and
//! the offline demo: nothing here reaches the internet.
//!
//! Base URLs: `{base}/openalex`, `{base}/pubmed`, `{base}/arxiv`, `{base}/s2` (also
//! `{base}/semantic_scholar`). Admin: `POST|DELETE /_admin/faults`,
//! `GET /_admin/requests`, `POST /_admin/reset`.

pub mod apis;
pub mod corpus;
pub mod faults;

pub use corpus::Corpus;
pub use faults::{Fault, FaultKind, RequestRecord};

use apis::Reply;
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use faults::FaultQueue;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

struct Inner {
    corpus: Corpus,
    arxiv_error_feed: String,
    faults: Mutex<FaultQueue>,
    log: Mutex<Vec<RequestRecord>>,
    webenvs: Mutex<HashMap<String, String>>,
    started: Instant,
    latency: Duration,
}

type Shared = Arc<Inner>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running replay server.
pub struct ReplayServer {
    addr: SocketAddr,
    inner: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReplayServer {
    /// Loads the fixtures and serves on `addr` (port 0 picks a free one).
    pub async fn start(addr: SocketAddr, fixtures_dir: &Path) -> anyhow::Result<ReplayServer> {
        Self::start_with_latency(addr, fixtures_dir, Duration::ZERO).await
    }

    /// As [`ReplayServer::start`], answering every request after `latency`.
    pub async fn start_with_latency(
        addr: SocketAddr,
        fixtures_dir: &Path,
        latency: Duration,
    ) -> anyhow::Result<ReplayServer> {
        let corpus = Corpus::load(fixtures_dir)?;
        let arxiv_error_feed =
            std::fs::read_to_string(fixtures_dir.join("arxiv/error_400_incorrect_id_format.xml"))?;
        let inner = Arc::new(Inner {
            corpus,
            arxiv_error_feed,
            faults: Mutex::default(),
            log: Mutex::default(),
            webenvs: Mutex::default(),
            started: Instant::now(),
            latency,
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(ReplayServer {
            addr,
            inner,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL a source client is configured with.
    pub fn source_base_url(&self, source: &str) -> String {
        let segment = match source {
            "semantic_scholar" | "semantic-scholar" | "s2" => "s2",
            other => other,
        };
        format!("{}/{segment}", self.base_url())
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Requests served for `source` (stored name), in order.
    pub fn requests(&self, source: &str) -> Vec<RequestRecord> {
        lock(&self.inner.log)
            .iter()
            .filter(|r| r.source == source)
            .cloned()
            .collect()
    }

    pub fn corpus(&self) -> &Corpus {
        &self.inner.corpus
    }

    pub fn corpus_len(&self, source: &str) -> usize {
        self.inner.corpus.len(source)
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

fn router(inner: Shared) -> Router {
    let s2 = get(
        |State(s): State<Shared>, raw: RawQuery, q: Query<HashMap<String, String>>| async move {
            serve(
                &s,
                "semantic_scholar",
                "bulk",
                "/paper/search/bulk",
                raw,
                q.0,
                |c, p| apis::s2_bulk(c, p),
            )
            .await
        },
    );
    let efetch = |State(s): State<Shared>, raw: RawQuery, q: Query<HashMap<String, String>>| async move {
        let term =
            q.0.get("WebEnv")
                .and_then(|w| lock(&s.webenvs).get(w).cloned());
        serve(
            &s,
            "pubmed",
            "efetch",
            "/efetch.fcgi",
            raw,
            q.0,
            move |c, p| apis::pubmed_efetch(c, p, term.as_deref()),
        )
        .await
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/openalex/works",
            get(|State(s): State<Shared>, raw: RawQuery, q: Query<HashMap<String, String>>| async move {
                serve(&s, "openalex", "works", "/works", raw, q.0, |c, p| apis::openalex_works(c, p)).await
            }),
        )
        .route(
            "/pubmed/esearch.fcgi",
            get(|State(s): State<Shared>, raw: RawQuery, q: Query<HashMap<String, String>>| async move {
                let term = q.0.get("term").cloned().unwrap_or_default();
                let webenv = {
                    let mut envs = lock(&s.webenvs);
                    let w = format!("MCID_replay_{}", envs.len() + 1);
                    envs.insert(w.clone(), term);
                    w
                };
                serve(&s, "pubmed", "esearch", "/esearch.fcgi", raw, q.0, move |c, p| apis::pubmed_esearch(c, p, &webenv)).await
            }),
        )
        .route("/pubmed/efetch.fcgi", get(efetch).post(efetch))
        .route(
            "/arxiv/query",
            get(|State(s): State<Shared>, raw: RawQuery, q: Query<HashMap<String, String>>| async move {
                let feed = s.arxiv_error_feed.clone();
                serve(&s, "arxiv", "query", "/query", raw, q.0, move |c, p| apis::arxiv_query(c, p, &feed)).await
            }),
        )
        .route("/s2/paper/search/bulk", s2.clone())
        .route("/semantic_scholar/paper/search/bulk", s2)
        .route(
            "/_admin/faults",
            post(|State(s): State<Shared>, axum::Json(f): axum::Json<Fault>| async move {
                lock(&s.faults).push(f);
                StatusCode::NO_CONTENT
            })
            .delete(|State(s): State<Shared>| async move {
                lock(&s.faults).clear();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_admin/requests",
            get(|State(s): State<Shared>| async move { axum::Json(lock(&s.log).clone()) }),
        )
        .route(
            "/_admin/reset",
            post(|State(s): State<Shared>| async move {
                lock(&s.faults).clear();
                lock(&s.log).clear();
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(inner)
}

/// Answers one API request: faults first, then the normal reply.
async fn serve(
    s: &Shared,
    source: &'static str,
    endpoint: &str,
    path: &str,
    RawQuery(raw): RawQuery,
    params: HashMap<String, String>,
    reply: impl FnOnce(&Corpus, &HashMap<String, String>) -> Reply,
) -> Response {
    if !s.latency.is_zero() {
        tokio::time::sleep(s.latency).await;
    }
    let fault = lock(&s.faults).take(source, endpoint);
    let reply = match &fault {
        Some(f)
            if matches!(
                f.kind,
                FaultKind::RateLimited | FaultKind::QuotaExhausted | FaultKind::ServerError
            ) =>
        {
            error_reply(source, f)
        }
        Some(f) => {
            if f.kind == FaultKind::Slow {
                tokio::time::sleep(Duration::from_millis(f.delay_ms.unwrap_or(1_000))).await;
            }
            let mut r = reply(&s.corpus, &params);
            match f.kind {
                FaultKind::Truncated => r.body.truncate(r.body.len() / 2),
                FaultKind::Malformed => r.body = malformed_body(source).into(),
                _ => {}
            }
            r
        }
        None => reply(&s.corpus, &params),
    };
    lock(&s.log).push(RequestRecord {
        at_ms: s.started.elapsed().as_millis() as u64,
        source: source.to_owned(),
        path: path.to_owned(),
        query: raw.unwrap_or_default(),
        status: reply.status,
    });
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response();
    if let Some(secs) = fault.as_ref().and_then(|f| match f.kind {
        FaultKind::QuotaExhausted => Some(f.retry_after_secs.unwrap_or(86_400)),
        FaultKind::RateLimited => f.retry_after_secs,
        _ => None,
    }) && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn error_reply(source: &str, f: &Fault) -> Reply {
    let (status, body, content_type): (u16, &str, &'static str) = match f.kind {
        FaultKind::ServerError => (
            f.status.unwrap_or(500),
            "Internal Server Error",
            "text/plain",
        ),
        _ => match source {
            "pubmed" => (
                429,
                r#"{"error":"API rate limit exceeded","count":"11"}"#,
                "application/json",
            ),
            "semantic_scholar" => (
                429,
                r#"{"message":"Too Many Requests. Please wait and try again or apply for a key for higher rate limits."}"#,
                "application/json",
            ),
            "openalex" => (
                429,
                r#"{"error":"Rate limit exceeded","message":"Too many requests; slow down."}"#,
                "application/json",
            ),
            _ => (429, "Rate exceeded.", "text/plain"),
        },
    };
    Reply {
        status,
        content_type,
        body: body.as_bytes().to_vec(),
    }
}

fn malformed_body(source: &str) -> &'static str {
    match source {
        "openalex" => r#"{"meta": {"count": 3, "next_cursor": "#,
        "pubmed" => "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>",
        "arxiv" => {
            "<?xml version='1.0'?><feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>"
        }
        _ => r#"{"total": 5, "token": "#,
    }
}
