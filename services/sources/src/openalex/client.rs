//! `GET /works` with cursor paging.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::parse::parse_works_page;
use crate::config::{ConfigError, SourceConfig, SourceKind};
use crate::filters::RunFilters;
use crate::http::{HttpExecutor, endpoint};
use crate::{Page, RequestPacer, RunSpec, SourceClient, SourceError, read_checkpoint};

const SOURCE: &str = "openalex";

/// Only the root fields the parser reads: a works page without them is a
/// fraction of the size (no references, concepts, counts by year…).
const SELECT: &str = "id,doi,title,display_name,publication_year,publication_date,ids,authorships,primary_location,cited_by_count,abstract_inverted_index";

/// Where an OpenAlex run continues: `{"cursor": "…", "fetched": n}`. `cursor` is
/// `null` once OpenAlex reported no further page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAlexCheckpoint {
    /// `cursor=` of the next page.
    pub cursor: Option<String>,
    /// Records handed out so far, so `max_results` holds across a resume.
    pub fetched: u64,
}

/// OpenAlex works client (`search=` plus `filter=`, cursor paging).
pub struct OpenAlexClient {
    http: HttpExecutor,
    works_url: Url,
    page_size: u32,
    api_key: Option<String>,
    mailto: Option<String>,
}

impl OpenAlexClient {
    /// Builds the client; the API key and `mailto` are sent as query parameters.
    pub fn new(cfg: SourceConfig, pacer: Arc<dyn RequestPacer>) -> Result<Self, ConfigError> {
        cfg.validate(SourceKind::OpenAlex)?;
        let works_url = endpoint(&cfg.base_url, "works")?;
        Ok(OpenAlexClient {
            http: HttpExecutor::new(SOURCE, &cfg, pacer, HeaderMap::new(), None)?,
            works_url,
            page_size: cfg.page_size,
            api_key: cfg.api_key,
            mailto: cfg.mailto,
        })
    }

    fn request_url(
        &self,
        spec: &RunSpec,
        filters: &RunFilters,
        cursor: &str,
        per_page: u64,
    ) -> Url {
        let mut url = self.works_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("search", &spec.query);
            let filter = filter_param(filters);
            if !filter.is_empty() {
                q.append_pair("filter", &filter);
            }
            q.append_pair("select", SELECT);
            q.append_pair("per_page", &per_page.to_string());
            q.append_pair("cursor", cursor);
            if let Some(mailto) = &self.mailto {
                q.append_pair("mailto", mailto);
            }
            if let Some(key) = &self.api_key {
                q.append_pair("api_key", key);
            }
        }
        url
    }
}

/// `filter=` value: `from_publication_date:…,to_publication_date:…,type:…,is_oa:…`.
fn filter_param(filters: &RunFilters) -> String {
    let mut parts = Vec::new();
    if let Some(d) = filters.from_date {
        parts.push(format!("from_publication_date:{d}"));
    }
    if let Some(d) = filters.to_date {
        parts.push(format!("to_publication_date:{d}"));
    }
    if let Some(t) = &filters.work_type {
        parts.push(format!("type:{t}"));
    }
    if let Some(oa) = filters.open_access {
        parts.push(format!("is_oa:{oa}"));
    }
    parts.join(",")
}

#[async_trait::async_trait]
impl SourceClient for OpenAlexClient {
    fn name(&self) -> &'static str {
        SOURCE
    }

    async fn fetch_page(
        &self,
        spec: &RunSpec,
        checkpoint: Option<&serde_json::Value>,
    ) -> Result<Page, SourceError> {
        let filters = RunFilters::from_value(SOURCE, &spec.filters)?;
        let state = read_checkpoint::<OpenAlexCheckpoint>(SOURCE, checkpoint)?.unwrap_or(
            OpenAlexCheckpoint {
                cursor: Some("*".into()),
                fetched: 0,
            },
        );
        let max = u64::from(spec.max_results);
        let cursor = match state.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(cursor) if state.fetched < max => cursor.to_string(),
            // Already finished: a resumed run that had reached its end.
            _ => {
                return Ok(Page {
                    papers: Vec::new(),
                    checkpoint: json!(state),
                    done: true,
                    source_total: None,
                });
            }
        };
        let remaining = max - state.fetched;
        // Ask only for what is still wanted; the cursor marks a position, not a
        // page number, so a smaller last page does not disturb it.
        let per_page = remaining.min(u64::from(self.page_size));
        let url = self.request_url(spec, &filters, &cursor, per_page);
        let body = self.http.get(&url).await?;
        let page = parse_works_page(&body)
            .map_err(|e| e.into_source_error(SOURCE, self.http.display_url(&url)))?;
        let mut papers = page.papers;
        papers.truncate(usize::try_from(remaining).unwrap_or(usize::MAX));
        let fetched = state.fetched + papers.len() as u64;
        let done = page.next_cursor.is_none() || papers.is_empty() || fetched >= max;
        let checkpoint = OpenAlexCheckpoint {
            cursor: page.next_cursor,
            fetched,
        };
        tracing::debug!(source = SOURCE, fetched, done, "page fetched");
        Ok(Page {
            papers,
            checkpoint: json!(checkpoint),
            done,
            source_total: page.count,
        })
    }
}
