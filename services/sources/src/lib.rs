//! Source API clients: one per bibliographic source, each a real HTTP client of the
//! real API (base URL configurable), turning every record into one normalised [`Paper`].
//!
//! The fetcher's loop is one code path over [`SourceClient`]: ask for the page after a
//! checkpoint, hand the papers and the new checkpoint to ingestion-control, repeat until
//! [`Page::done`].

#![warn(missing_docs)]

pub mod arxiv;
pub mod config;
mod filters;
mod http;
pub mod model;
pub mod openalex;
pub mod pacer;
pub mod pubmed;
pub mod semantic_scholar;
mod text;
mod xml;

pub use config::{ConfigError, SourceConfig, client_for};
pub use model::{
    Author, DatePrecision, ExternalIds, Paper, PublicationDate, normalize_arxiv_id, normalize_doi,
    normalize_orcid, normalize_pmcid, normalize_pmid,
};
pub use pacer::LocalPacer;

use serde_json::Value;

/// What a run asks of a source: taken from the stored run record.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The user's query, 1..=1000 characters, already trimmed.
    pub query: String,
    /// Upper bound on the records a run fetches (1..=10_000).
    pub max_results: u32,
    /// The source's typed filters as stored (a JSON object; keys per source, see
    /// `docs/architecture.md`): `from_date`, `to_date` (YYYY-MM-DD) for all; OpenAlex
    /// `work_type`, `open_access`; arXiv `categories`; Semantic Scholar
    /// `fields_of_study`, `open_access_pdf`, `min_citation_count`.
    pub filters: Value,
}

/// One page of results and where to continue after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records of this page, normalised, at most `max_results` in total over a run.
    pub papers: Vec<Paper>,
    /// Where a resumed run continues after this page (source-specific JSON).
    pub checkpoint: Value,
    /// True when this is the last page (source exhausted or `max_results` reached).
    pub done: bool,
    /// The source's total for the query, when it reports one (first page at least).
    pub source_total: Option<u64>,
}

/// A run-fatal source failure: retries already happened inside the client.
/// Every message names the source, and where relevant the HTTP status and the
/// request (with secrets such as `api_key` removed from the URL).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source asked us to wait longer than `max_retry_wait` (a daily quota,
    /// a long `Retry-After`): the run fails now and can be retried after `resets_at`.
    #[error("{source_name}: quota exhausted ({detail}); resets {}", resets_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "at an unknown time".into()))]
    QuotaExhausted {
        /// Stored source name.
        source_name: &'static str,
        /// When the server said the quota resets, if it said.
        resets_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Status, request and the server's message.
        detail: String,
    },
    /// A non-2xx answer: a client error (at once) or a 429/5xx that outlasted
    /// the retries.
    #[error("{source_name}: HTTP {status} from {request}: {detail}")]
    Http {
        /// Stored source name.
        source_name: &'static str,
        /// HTTP status of the last answer.
        status: u16,
        /// The request URL without secrets.
        request: String,
        /// The body's error message (JSON `error`/`message`, HTML title…).
        detail: String,
    },
    /// No HTTP answer (timeout, connection refused, broken body) after the retries.
    #[error("{source_name}: request {request} failed: {detail}")]
    Transport {
        /// Stored source name.
        source_name: &'static str,
        /// The request URL without secrets.
        request: String,
        /// What went wrong, without the URL.
        detail: String,
    },
    /// A 2xx body that is not the document expected (not JSON/XML, truncated).
    #[error("{source_name}: malformed response from {request}: {detail}")]
    Malformed {
        /// Stored source name.
        source_name: &'static str,
        /// The request URL without secrets.
        request: String,
        /// What the parser found.
        detail: String,
    },
    /// A well-formed answer that reports an error (NCBI `<ERROR>`, the arXiv
    /// error entry, a JSON error document with a 2xx status).
    #[error("{source_name}: the API reported an error for {request}: {detail}")]
    Api {
        /// Stored source name.
        source_name: &'static str,
        /// The request URL without secrets.
        request: String,
        /// The API's message.
        detail: String,
    },
    /// The stored checkpoint is not this source's shape.
    #[error("{source_name}: invalid checkpoint: {detail}")]
    BadCheckpoint {
        /// Stored source name.
        source_name: &'static str,
        /// The decoding error and the value.
        detail: String,
    },
    /// The run's query or filters cannot be turned into a request (for example a
    /// `from_date` that is not `YYYY-MM-DD`); retrying cannot help.
    #[error("{source_name}: invalid run request: {detail}")]
    InvalidRequest {
        /// Stored source name.
        source_name: &'static str,
        /// Which filter or value is wrong.
        detail: String,
    },
}

/// Why a response body could not be turned into records. The parsers are pure
/// (bytes in, records out); the clients wrap this into a [`SourceError`] that names
/// the source and the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not the document we expected: not JSON/XML, truncated, wrong shape.
    #[error("{0}")]
    Malformed(String),
    /// A well-formed document in which the API reports an error (NCBI `<ERROR>`,
    /// the arXiv error entry, a Semantic Scholar `{"error": …}` body).
    #[error("{0}")]
    Api(String),
}

impl ParseError {
    pub(crate) fn json(err: serde_json::Error) -> Self {
        ParseError::Malformed(format!("invalid JSON: {err}"))
    }

    pub(crate) fn xml(err: impl std::fmt::Display, position: u64) -> Self {
        ParseError::Malformed(format!("invalid XML at byte {position}: {err}"))
    }

    /// The run-level error for a body from `request` that did not parse.
    pub(crate) fn into_source_error(
        self,
        source_name: &'static str,
        request: String,
    ) -> SourceError {
        match self {
            ParseError::Malformed(detail) => SourceError::Malformed {
                source_name,
                request,
                detail,
            },
            ParseError::Api(detail) => SourceError::Api {
                source_name,
                request,
                detail,
            },
        }
    }
}

/// Reads a stored checkpoint (`None`: start from the beginning).
pub(crate) fn read_checkpoint<T: serde::de::DeserializeOwned>(
    source_name: &'static str,
    checkpoint: Option<&Value>,
) -> Result<Option<T>, SourceError> {
    match checkpoint {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|e| SourceError::BadCheckpoint {
                source_name,
                detail: format!("{e} in {value}"),
            }),
    }
}

/// One source API. Implementations page through results up to `spec.max_results`,
/// pace their requests through their [`RequestPacer`], retry transient failures,
/// and normalise records.
#[async_trait::async_trait]
pub trait SourceClient: Send + Sync {
    /// The stored source name (`openalex`, `pubmed`, `arxiv`, `semantic_scholar`).
    fn name(&self) -> &'static str;

    /// Fetches the page after `checkpoint` (`None`: the first page).
    async fn fetch_page(
        &self,
        spec: &RunSpec,
        checkpoint: Option<&Value>,
    ) -> Result<Page, SourceError>;
}

/// Hands out request permits so a source's polite rate holds. The local pacer
/// (governor) paces one process; a shared pacer can spread one source's budget
/// across replicas.
#[async_trait::async_trait]
pub trait RequestPacer: Send + Sync {
    /// Returns when the next request may go out.
    async fn wait_turn(&self);
}
