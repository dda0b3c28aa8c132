//! ESearch (history server) then EFetch pages.
//!
//! **The 10,000-record window.** PubMed serves only the first 10,000 records
//! of a query through the E-utilities ("`retstart` cannot be larger than 9998").
//! Runs ask for at most 10,000 records, so instead of splitting the query by
//! date range this client caps a run at [`PUBMED_WINDOW`] (9,999) records and
//! logs a warning when the cap cuts a run short; `Page::source_total` still
//! reports PubMed's full count so the caller can tell.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::efetch::parse_efetch;
use super::esearch::parse_esearch;
use crate::config::{ConfigError, SourceConfig, SourceKind};
use crate::filters::RunFilters;
use crate::http::{HttpExecutor, endpoint};
use crate::{Page, Paper, RequestPacer, RunSpec, SourceClient, SourceError, read_checkpoint};

const SOURCE: &str = "pubmed";

/// Most records one PubMed query can yield through the E-utilities.
pub const PUBMED_WINDOW: u64 = 9_999;

/// Where a PubMed run continues: `{"webenv", "query_key", "retstart", "count"}`.
/// `retstart` is also the number of records consumed so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubmedCheckpoint {
    /// History server session (`WebEnv`).
    pub webenv: String,
    /// The query's key in that session.
    pub query_key: String,
    /// Offset of the next EFetch page.
    pub retstart: u64,
    /// PubMed's count for the query at ESearch time.
    pub count: u64,
}

/// PubMed client: one ESearch with `usehistory=y`, then EFetch pages.
pub struct PubmedClient {
    http: HttpExecutor,
    esearch_url: Url,
    efetch_url: Url,
    page_size: u32,
    api_key: Option<String>,
    email: Option<String>,
    tool: String,
}

/// NCBI sometimes reports `{"error":"API rate limit exceeded",…}` with a 2xx
/// status. Only a small JSON body counts, so an XML answer that merely quotes
/// those words (a query about rate limits) is not mistaken for one.
fn rate_limit_in_body(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let looks_like_it = text.len() < 1024
        && text.starts_with('{')
        && text.to_ascii_lowercase().contains("rate limit exceeded");
    looks_like_it.then(|| text.to_string())
}

impl PubmedClient {
    /// Builds the client; `tool`, `email` and `api_key` go on every request.
    pub fn new(cfg: SourceConfig, pacer: Arc<dyn RequestPacer>) -> Result<Self, ConfigError> {
        cfg.validate(SourceKind::Pubmed)?;
        Ok(PubmedClient {
            http: HttpExecutor::new(
                SOURCE,
                &cfg,
                pacer,
                HeaderMap::new(),
                Some(rate_limit_in_body),
            )?,
            esearch_url: endpoint(&cfg.base_url, "esearch.fcgi")?,
            efetch_url: endpoint(&cfg.base_url, "efetch.fcgi")?,
            page_size: cfg.page_size,
            api_key: cfg.api_key,
            email: cfg.mailto,
            tool: cfg.tool,
        })
    }

    fn identity(&self, q: &mut url::form_urlencoded::Serializer<'_, url::UrlQuery<'_>>) {
        q.append_pair("tool", &self.tool);
        if let Some(email) = &self.email {
            q.append_pair("email", email);
        }
        if let Some(key) = &self.api_key {
            q.append_pair("api_key", key);
        }
    }

    /// Runs the query on the history server: a fresh checkpoint at `retstart`.
    async fn esearch(
        &self,
        spec: &RunSpec,
        filters: &RunFilters,
        retstart: u64,
    ) -> Result<PubmedCheckpoint, SourceError> {
        let mut url = self.esearch_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("db", "pubmed");
            q.append_pair("term", &spec.query);
            q.append_pair("usehistory", "y");
            q.append_pair("retmax", "0");
            q.append_pair("retmode", "xml");
            if filters.from_date.is_some() || filters.to_date.is_some() {
                // NCBI needs both ends of a range.
                let fmt = |d: Option<chrono::NaiveDate>, default: &str| {
                    d.map(|d| d.format("%Y/%m/%d").to_string())
                        .unwrap_or_else(|| default.to_string())
                };
                q.append_pair("datetype", "pdat");
                q.append_pair("mindate", &fmt(filters.from_date, "1000/01/01"));
                q.append_pair("maxdate", &fmt(filters.to_date, "3000/12/31"));
            }
            self.identity(&mut q);
        }
        let body = self.http.get(&url).await?;
        let shown = || self.http.display_url(&url);
        let result = parse_esearch(&body).map_err(|e| e.into_source_error(SOURCE, shown()))?;
        if !result.not_found.is_empty() {
            tracing::info!(source = SOURCE, not_found = ?result.not_found, "PubMed ignored terms it did not find");
        }
        let (Some(webenv), Some(query_key)) = (result.web_env, result.query_key) else {
            if result.count == 0 {
                return Ok(PubmedCheckpoint {
                    webenv: String::new(),
                    query_key: String::new(),
                    retstart,
                    count: 0,
                });
            }
            return Err(SourceError::Malformed {
                source_name: SOURCE,
                request: shown(),
                detail: "ESearch returned no WebEnv/QueryKey for a history search".into(),
            });
        };
        Ok(PubmedCheckpoint {
            webenv,
            query_key,
            retstart,
            count: result.count,
        })
    }

    async fn efetch(
        &self,
        state: &PubmedCheckpoint,
        retmax: u64,
    ) -> Result<Vec<Paper>, SourceError> {
        let mut url = self.efetch_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("db", "pubmed");
            q.append_pair("query_key", &state.query_key);
            q.append_pair("WebEnv", &state.webenv);
            q.append_pair("retstart", &state.retstart.to_string());
            q.append_pair("retmax", &retmax.to_string());
            q.append_pair("retmode", "xml");
            self.identity(&mut q);
        }
        let body = self.http.get(&url).await?;
        parse_efetch(&body).map_err(|e| e.into_source_error(SOURCE, self.http.display_url(&url)))
    }
}

/// How many records this run takes: PubMed's count, `max_results` and the window.
fn target(count: u64, max_results: u32) -> u64 {
    count.min(u64::from(max_results)).min(PUBMED_WINDOW)
}

/// Errors after which the stored WebEnv may simply have expired (NCBI keeps
/// history for a limited time): an `<ERROR>` body or a client error.
fn may_be_expired_history(err: &SourceError) -> bool {
    match err {
        SourceError::Api { .. } => true,
        SourceError::Http { status, .. } => (400..500).contains(status) && *status != 429,
        _ => false,
    }
}

#[async_trait::async_trait]
impl SourceClient for PubmedClient {
    fn name(&self) -> &'static str {
        SOURCE
    }

    async fn fetch_page(
        &self,
        spec: &RunSpec,
        checkpoint: Option<&serde_json::Value>,
    ) -> Result<Page, SourceError> {
        let filters = RunFilters::from_value(SOURCE, &spec.filters)?;
        let resumed = read_checkpoint::<PubmedCheckpoint>(SOURCE, checkpoint)?;
        let mut state = match resumed {
            Some(state) => state,
            None => {
                let state = self.esearch(spec, &filters, 0).await?;
                if state.count.min(u64::from(spec.max_results)) > PUBMED_WINDOW {
                    tracing::warn!(
                        source = SOURCE,
                        count = state.count,
                        max_results = spec.max_results,
                        "PubMed serves only the first 9,999 records of a query; capping the run at 9,999"
                    );
                }
                state
            }
        };
        let limit = target(state.count, spec.max_results);
        if state.retstart >= limit || state.webenv.is_empty() {
            return Ok(Page {
                papers: Vec::new(),
                checkpoint: json!(state),
                done: true,
                source_total: Some(state.count),
            });
        }
        let retmax = (limit - state.retstart).min(u64::from(self.page_size));
        let mut papers = match self.efetch(&state, retmax).await {
            Ok(papers) => papers,
            Err(err) if may_be_expired_history(&err) => {
                tracing::warn!(source = SOURCE, error = %err, retstart = state.retstart, "EFetch failed; re-running ESearch in case the WebEnv expired");
                state = self.esearch(spec, &filters, state.retstart).await?;
                let limit = target(state.count, spec.max_results);
                if state.retstart >= limit || state.webenv.is_empty() {
                    return Ok(Page {
                        papers: Vec::new(),
                        checkpoint: json!(state),
                        done: true,
                        source_total: Some(state.count),
                    });
                }
                self.efetch(&state, retmax.min(limit - state.retstart))
                    .await?
            }
            Err(err) => return Err(err),
        };
        papers.truncate(usize::try_from(retmax).unwrap_or(usize::MAX));
        // Advance by what was asked for, not by what came back: records PubMed
        // skips (deleted citations) must not make the run ask for them forever.
        state.retstart += retmax;
        let done = state.retstart >= target(state.count, spec.max_results);
        Ok(Page {
            papers,
            checkpoint: json!(state),
            done,
            source_total: Some(state.count),
        })
    }
}
