//! `GET /query` with `start`/`max_results` paging.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::parse::{ArxivFeed, parse_feed};
use super::query::build_search_query;
use crate::config::{ConfigError, SourceConfig, SourceKind};
use crate::filters::RunFilters;
use crate::http::{HttpExecutor, endpoint};
use crate::{Page, RequestPacer, RunSpec, SourceClient, SourceError, read_checkpoint};

const SOURCE: &str = "arxiv";

/// arXiv sometimes answers a page that should have entries with none; such a
/// page is asked for again this many times before it is taken as the end.
const EMPTY_PAGE_RETRIES: u32 = 3;

/// Where an arXiv run continues: `{"start": n}`; `start` is also the number of
/// records handed out so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArxivCheckpoint {
    /// Offset of the next page.
    pub start: u64,
}

/// arXiv export API client.
pub struct ArxivClient {
    http: HttpExecutor,
    query_url: Url,
    page_size: u32,
}

impl ArxivClient {
    /// Builds the client (no key; the pacer enforces one request per 3 s).
    pub fn new(cfg: SourceConfig, pacer: Arc<dyn RequestPacer>) -> Result<Self, ConfigError> {
        cfg.validate(SourceKind::Arxiv)?;
        Ok(ArxivClient {
            http: HttpExecutor::new(SOURCE, &cfg, pacer, HeaderMap::new(), None)?,
            query_url: endpoint(&cfg.base_url, "query")?,
            page_size: cfg.page_size,
        })
    }

    async fn fetch_feed(&self, url: &Url) -> Result<ArxivFeed, SourceError> {
        let body = self.http.get(url).await?;
        parse_feed(&body).map_err(|e| e.into_source_error(SOURCE, self.http.display_url(url)))
    }
}

#[async_trait::async_trait]
impl SourceClient for ArxivClient {
    fn name(&self) -> &'static str {
        SOURCE
    }

    async fn fetch_page(
        &self,
        spec: &RunSpec,
        checkpoint: Option<&serde_json::Value>,
    ) -> Result<Page, SourceError> {
        let filters = RunFilters::from_value(SOURCE, &spec.filters)?;
        let state = read_checkpoint::<ArxivCheckpoint>(SOURCE, checkpoint)?
            .unwrap_or(ArxivCheckpoint { start: 0 });
        let max = u64::from(spec.max_results);
        if state.start >= max {
            return Ok(Page {
                papers: Vec::new(),
                checkpoint: json!(state),
                done: true,
                source_total: None,
            });
        }
        let search_query = build_search_query(
            &spec.query,
            filters.from_date,
            filters.to_date,
            filters.categories.as_deref().unwrap_or_default(),
        );
        let wanted = (max - state.start).min(u64::from(self.page_size));
        let mut url = self.query_url.clone();
        url.query_pairs_mut()
            .append_pair("search_query", &search_query)
            .append_pair("start", &state.start.to_string())
            .append_pair("max_results", &wanted.to_string())
            .append_pair("sortBy", "relevance")
            .append_pair("sortOrder", "descending");

        let mut feed = self.fetch_feed(&url).await?;
        let mut retries = 0;
        while feed.papers.is_empty()
            && feed.total_results.is_some_and(|t| state.start < t)
            && retries < EMPTY_PAGE_RETRIES
        {
            retries += 1;
            tracing::warn!(source = SOURCE, start = state.start, total = ?feed.total_results, retries, "arXiv returned an empty page before the end; asking again");
            metrics::counter!("source_retries_total", "source" => SOURCE, "reason" => "empty_page")
                .increment(1);
            feed = self.fetch_feed(&url).await?;
        }
        let mut papers = feed.papers;
        papers.truncate(usize::try_from(wanted).unwrap_or(usize::MAX));
        // Advance by what came back, so a short page never skips records.
        let start = state.start + papers.len() as u64;
        let end = feed.total_results.map_or(max, |t| t.min(max));
        let done = papers.is_empty() || start >= end;
        Ok(Page {
            papers,
            checkpoint: json!(ArxivCheckpoint { start }),
            done,
            source_total: feed.total_results,
        })
    }
}
