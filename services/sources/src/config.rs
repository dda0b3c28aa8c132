//! Per-source client settings: built-in polite defaults, environment overrides,
//! and the factory that turns a source name into its client.

use std::sync::Arc;
use std::time::Duration;

use crate::{RequestPacer, SourceClient};

/// The four sources, by their stored names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    OpenAlex,
    Pubmed,
    Arxiv,
    SemanticScholar,
}

impl SourceKind {
    pub(crate) fn parse(name: &str) -> Result<Self, ConfigError> {
        match name.trim() {
            "openalex" => Ok(SourceKind::OpenAlex),
            "pubmed" => Ok(SourceKind::Pubmed),
            "arxiv" => Ok(SourceKind::Arxiv),
            "semantic_scholar" | "semantic-scholar" => Ok(SourceKind::SemanticScholar),
            other => Err(ConfigError::UnknownSource(other.to_string())),
        }
    }

    /// Prefix of this source's environment variables.
    fn env_prefix(self) -> &'static str {
        match self {
            SourceKind::OpenAlex => "OPENALEX",
            SourceKind::Pubmed => "PUBMED",
            SourceKind::Arxiv => "ARXIV",
            SourceKind::SemanticScholar => "SEMANTIC_SCHOLAR",
        }
    }

    /// Largest page the API serves.
    pub(crate) fn max_page_size(self) -> u32 {
        match self {
            SourceKind::OpenAlex => 200,
            SourceKind::Pubmed => 10_000,
            SourceKind::Arxiv => 2_000,
            SourceKind::SemanticScholar => 1_000,
        }
    }
}

/// Why a configuration or client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not one of the four sources.
    #[error("unknown source `{0}` (expected one of openalex, pubmed, arxiv, semantic_scholar)")]
    UnknownSource(String),
    /// A setting (or environment variable) with an unusable value.
    #[error("{name}={value:?} is invalid: {reason}")]
    InvalidValue {
        /// Setting or variable name.
        name: String,
        /// The value given.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The HTTP client library refused the settings.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// How one source's client talks to its API.
#[derive(Clone)]
pub struct SourceConfig {
    /// Everything before the endpoint path (`https://api.openalex.org`); the
    /// client appends `/works`, `/esearch.fcgi`, `/query`, `/paper/search/bulk`.
    pub base_url: String,
    /// Polite request rate (fractional allowed: arXiv is `1/3`).
    pub requests_per_second: f64,
    /// Records asked for per request (clamped to what the API serves).
    pub page_size: u32,
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Longest server-requested wait (`Retry-After`, rate-limit reset) we sit
    /// out; a longer one fails the run with [`crate::SourceError::QuotaExhausted`].
    pub max_retry_wait: Duration,
    /// First backoff step; attempt `n` waits a random time up to `base * 2^(n-1)`.
    pub base_backoff: Duration,
    /// OpenAlex `api_key`, NCBI `api_key`, Semantic Scholar `x-api-key`.
    pub api_key: Option<String>,
    /// Contact address: OpenAlex `mailto`, NCBI `email`.
    pub mailto: Option<String>,
    /// NCBI `tool` (no spaces).
    pub tool: String,
    /// `User-Agent` header (with the contact address when one is set).
    pub user_agent: String,
}

impl std::fmt::Debug for SourceConfig {
    /// Never prints the API key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("base_url", &self.base_url)
            .field("requests_per_second", &self.requests_per_second)
            .field("page_size", &self.page_size)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("base_backoff", &self.base_backoff)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("mailto", &self.mailto)
            .field("tool", &self.tool)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

const DEFAULT_TOOL: &str = "foundations-pipeline";

impl SourceConfig {
    /// Built-in defaults: OpenAlex 10 rps, 100 per page; PubMed 3 rps, 200 per
    /// page; arXiv one request per 3 s, 100 per page; Semantic Scholar 1 rps,
    /// 1000 per page. Timeout 30 s (arXiv 60 s), 5 attempts, 1 s base backoff
    /// (arXiv 3 s), 300 s retry-wait cap.
    pub fn default_for(source: &str) -> Result<Self, ConfigError> {
        Ok(Self::defaults(SourceKind::parse(source)?))
    }

    pub(crate) fn defaults(kind: SourceKind) -> Self {
        let (base_url, rps, page_size, timeout, backoff) = match kind {
            SourceKind::OpenAlex => ("https://api.openalex.org", 10.0, 100, 30, 1_000),
            SourceKind::Pubmed => (
                "https://eutils.ncbi.nlm.nih.gov/entrez/eutils",
                3.0,
                200,
                30,
                1_000,
            ),
            SourceKind::Arxiv => ("https://export.arxiv.org/api", 1.0 / 3.0, 100, 60, 3_000),
            SourceKind::SemanticScholar => (
                "https://api.semanticscholar.org/graph/v1",
                1.0,
                1_000,
                30,
                1_000,
            ),
        };
        SourceConfig {
            base_url: base_url.to_string(),
            requests_per_second: rps,
            page_size,
            timeout: Duration::from_secs(timeout),
            max_attempts: 5,
            max_retry_wait: Duration::from_secs(300),
            base_backoff: Duration::from_millis(backoff),
            api_key: None,
            mailto: None,
            tool: DEFAULT_TOOL.to_string(),
            user_agent: format!("{DEFAULT_TOOL}/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Defaults overridden by the process environment (see [`Self::from_lookup`]).
    pub fn from_env(source: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(source, |name| std::env::var(name).ok())
    }

    /// Defaults overridden by `lookup` (empty values count as unset):
    /// `<SOURCE>_BASE_URL`, `<SOURCE>_REQUESTS_PER_SECOND`, `<SOURCE>_PAGE_SIZE`
    /// (`<SOURCE>` = `OPENALEX`, `PUBMED`, `ARXIV`, `SEMANTIC_SCHOLAR`),
    /// `OPENALEX_MAILTO`, `OPENALEX_API_KEY`, `NCBI_API_KEY` (raises PubMed's
    /// default to 10 rps), `NCBI_EMAIL`, `SEMANTIC_SCHOLAR_API_KEY`,
    /// `SOURCE_MAX_RETRY_WAIT_SECS`.
    pub fn from_lookup(
        source: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let kind = SourceKind::parse(source)?;
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut cfg = Self::defaults(kind);
        let prefix = kind.env_prefix();
        let (key_var, mail_var) = match kind {
            SourceKind::OpenAlex => (Some("OPENALEX_API_KEY"), Some("OPENALEX_MAILTO")),
            SourceKind::Pubmed => (Some("NCBI_API_KEY"), Some("NCBI_EMAIL")),
            SourceKind::Arxiv => (None, None),
            SourceKind::SemanticScholar => (Some("SEMANTIC_SCHOLAR_API_KEY"), None),
        };
        cfg.api_key = key_var.and_then(get);
        cfg.mailto = mail_var.and_then(get);
        if kind == SourceKind::Pubmed && cfg.api_key.is_some() {
            cfg.requests_per_second = 10.0;
        }
        if let Some(mailto) = &cfg.mailto {
            // Contact in the User-Agent too, as OpenAlex and NCBI ask.
            cfg.user_agent = format!("{} (mailto:{mailto})", cfg.user_agent);
        }
        let var = |suffix: &str| format!("{prefix}_{suffix}");
        if let Some(v) = get(&var("BASE_URL")) {
            cfg.base_url = v;
        }
        if let Some(v) = get(&var("REQUESTS_PER_SECOND")) {
            cfg.requests_per_second = parse_num(&var("REQUESTS_PER_SECOND"), &v)?;
        }
        if let Some(v) = get(&var("PAGE_SIZE")) {
            cfg.page_size = parse_num(&var("PAGE_SIZE"), &v)?;
        }
        if let Some(v) = get("SOURCE_MAX_RETRY_WAIT_SECS") {
            cfg.max_retry_wait = Duration::from_secs(parse_num("SOURCE_MAX_RETRY_WAIT_SECS", &v)?);
        }
        cfg.validate(kind)?;
        Ok(cfg)
    }

    /// Checks the values a client relies on.
    pub(crate) fn validate(&self, kind: SourceKind) -> Result<(), ConfigError> {
        let invalid = |name: &str, value: String, reason: &str| ConfigError::InvalidValue {
            name: name.to_string(),
            value,
            reason: reason.to_string(),
        };
        let url = url::Url::parse(&self.base_url)
            .map_err(|e| invalid("base_url", self.base_url.clone(), &e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                "base_url",
                self.base_url.clone(),
                "must be an http(s) URL",
            ));
        }
        if !(self.requests_per_second.is_finite() && self.requests_per_second > 0.0) {
            return Err(invalid(
                "requests_per_second",
                self.requests_per_second.to_string(),
                "must be > 0",
            ));
        }
        if self.page_size == 0 || self.page_size > kind.max_page_size() {
            return Err(invalid(
                "page_size",
                self.page_size.to_string(),
                &format!("must be 1..={} for this source", kind.max_page_size()),
            ));
        }
        if self.max_attempts == 0 {
            return Err(invalid("max_attempts", "0".into(), "must be at least 1"));
        }
        if self.tool.is_empty() || self.tool.contains(char::is_whitespace) {
            return Err(invalid(
                "tool",
                self.tool.clone(),
                "must be one word (NCBI rejects spaces)",
            ));
        }
        Ok(())
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// Builds the client for `source` (stored name, or `semantic-scholar`).
pub fn client_for(
    source: &str,
    cfg: SourceConfig,
    pacer: Arc<dyn RequestPacer>,
) -> Result<Box<dyn SourceClient>, ConfigError> {
    Ok(match SourceKind::parse(source)? {
        SourceKind::OpenAlex => Box::new(crate::openalex::OpenAlexClient::new(cfg, pacer)?),
        SourceKind::Pubmed => Box::new(crate::pubmed::PubmedClient::new(cfg, pacer)?),
        SourceKind::Arxiv => Box::new(crate::arxiv::ArxivClient::new(cfg, pacer)?),
        SourceKind::SemanticScholar => Box::new(
            crate::semantic_scholar::SemanticScholarClient::new(cfg, pacer)?,
        ),
    })
}
