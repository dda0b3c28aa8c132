//! `GET /paper/search/bulk` with token paging.

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::parse::parse_search;
use crate::config::{ConfigError, SourceConfig, SourceKind};
use crate::filters::RunFilters;
use crate::http::{HttpExecutor, endpoint};
use crate::{Page, RequestPacer, RunSpec, SourceClient, SourceError, read_checkpoint};

const SOURCE: &str = "semantic_scholar";

/// The fields the parser reads.
const FIELDS: &str = "paperId,externalIds,title,abstract,authors,year,publicationDate,venue,journal,url,citationCount";

/// Where a Semantic Scholar run continues: `{"token": "…", "fetched": n}`;
/// `token` is `null` once the last page was handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SemanticScholarCheckpoint {
    /// Bulk search continuation token of the next page.
    pub token: Option<String>,
    /// Records handed out so far, so `max_results` holds across a resume.
    pub fetched: u64,
}

/// Semantic Scholar bulk search client (up to 1,000 papers per call).
pub struct SemanticScholarClient {
    http: HttpExecutor,
    search_url: Url,
}

impl SemanticScholarClient {
    /// Builds the client; the API key goes in the `x-api-key` header.
    pub fn new(cfg: SourceConfig, pacer: Arc<dyn RequestPacer>) -> Result<Self, ConfigError> {
        cfg.validate(SourceKind::SemanticScholar)?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &cfg.api_key {
            headers.insert(
                HeaderName::from_static("x-api-key"),
                HttpExecutor::secret_header(key)?,
            );
        }
        Ok(SemanticScholarClient {
            http: HttpExecutor::new(SOURCE, &cfg, pacer, headers, None)?,
            search_url: endpoint(&cfg.base_url, "paper/search/bulk")?,
        })
    }

    fn request_url(&self, spec: &RunSpec, filters: &RunFilters, token: Option<&str>) -> Url {
        let mut url = self.search_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("query", &spec.query);
            q.append_pair("fields", FIELDS);
            if let Some(token) = token {
                q.append_pair("token", token);
            }
            if filters.from_date.is_some() || filters.to_date.is_some() {
                let end =
                    |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
                q.append_pair(
                    "publicationDateOrYear",
                    &format!("{}:{}", end(filters.from_date), end(filters.to_date)),
                );
            }
            if let Some(fields) = filters.fields_of_study.as_ref().filter(|f| !f.is_empty()) {
                q.append_pair("fieldsOfStudy", &fields.join(","));
            }
            if filters.open_access_pdf == Some(true) {
                // A flag: present means "only papers with a public PDF".
                q.append_pair("openAccessPdf", "");
            }
            if let Some(n) = filters.min_citation_count {
                q.append_pair("minCitationCount", &n.to_string());
            }
        }
        url
    }
}

#[async_trait::async_trait]
impl SourceClient for SemanticScholarClient {
    fn name(&self) -> &'static str {
        SOURCE
    }

    async fn fetch_page(
        &self,
        spec: &RunSpec,
        checkpoint: Option<&serde_json::Value>,
    ) -> Result<Page, SourceError> {
        let filters = RunFilters::from_value(SOURCE, &spec.filters)?;
        let resumed = read_checkpoint::<SemanticScholarCheckpoint>(SOURCE, checkpoint)?;
        let max = u64::from(spec.max_results);
        let token = match &resumed {
            None => None,
            Some(state) => match state.token.as_deref().filter(|t| !t.is_empty()) {
                Some(token) if state.fetched < max => Some(token),
                // The last page was already handed out.
                _ => {
                    return Ok(Page {
                        papers: Vec::new(),
                        checkpoint: json!(state),
                        done: true,
                        source_total: None,
                    });
                }
            },
        };
        let fetched_before = resumed.as_ref().map_or(0, |s| s.fetched);
        let url = self.request_url(spec, &filters, token);
        let body = self.http.get(&url).await?;
        let page = parse_search(&body)
            .map_err(|e| e.into_source_error(SOURCE, self.http.display_url(&url)))?;
        let remaining = max.saturating_sub(fetched_before);
        let mut papers = page.papers;
        // Bulk search has no page size: each call returns up to 1,000 papers.
        papers.truncate(usize::try_from(remaining).unwrap_or(usize::MAX));
        let fetched = fetched_before + papers.len() as u64;
        let done = page.token.is_none() || papers.is_empty() || fetched >= max;
        let checkpoint = SemanticScholarCheckpoint {
            token: page.token,
            fetched,
        };
        Ok(Page {
            papers,
            checkpoint: json!(checkpoint),
            done,
            source_total: page.total,
        })
    }
}
