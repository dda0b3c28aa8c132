//! Building clients against the scripted server and running them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sources::{LocalPacer, Page, RequestPacer, RunSpec, SourceClient, SourceConfig, SourceError};

/// Test settings: the scripted server as base URL, fast pacing, millisecond backoff.
pub fn config(source: &str, base_url: &str) -> SourceConfig {
    let mut cfg = SourceConfig::default_for(source).unwrap();
    cfg.base_url = base_url.to_string();
    cfg.requests_per_second = 1000.0;
    cfg.base_backoff = Duration::from_millis(5);
    cfg.timeout = Duration::from_secs(5);
    cfg.max_attempts = 4;
    cfg
}

pub fn pacer(rps: f64) -> Arc<dyn RequestPacer> {
    Arc::new(LocalPacer::new(rps))
}

pub fn client(source: &str, cfg: SourceConfig) -> Box<dyn SourceClient> {
    let rps = cfg.requests_per_second;
    sources::client_for(source, cfg, pacer(rps)).unwrap()
}

pub fn spec(query: &str, max_results: u32, filters: Value) -> RunSpec {
    RunSpec {
        query: query.to_string(),
        max_results,
        filters,
    }
}

pub fn no_filters() -> Value {
    json!({})
}

/// Fetches pages, feeding each checkpoint back, until `done` (at most 50 pages).
pub async fn run_to_end(
    client: &dyn SourceClient,
    spec: &RunSpec,
    start: Option<Value>,
) -> Result<Vec<Page>, SourceError> {
    let mut pages = Vec::new();
    let mut checkpoint = start;
    for _ in 0..50 {
        let page = client.fetch_page(spec, checkpoint.as_ref()).await?;
        checkpoint = Some(page.checkpoint.clone());
        let done = page.done;
        pages.push(page);
        if done {
            return Ok(pages);
        }
    }
    panic!("no end after 50 pages");
}
