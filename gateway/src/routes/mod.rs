//! HTTP handlers: each parses its input, calls ingestion-control, and maps the answer.

pub mod events;
pub mod health;
pub mod ingest;
pub mod papers;
pub mod runs;

use crate::problem::ApiError;

/// Default page size of the list endpoints.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size of the list endpoints.
pub const MAX_LIMIT: u32 = 200;
/// Longest cursor accepted (cursors are opaque and short).
const MAX_CURSOR_LEN: usize = 512;

/// An optional query parameter; empty counts as absent.
fn present(raw: Option<String>) -> Option<String> {
    raw.filter(|v| !v.is_empty())
}

/// `limit`: 1 to 200, default 50.
fn page_limit(raw: Option<String>) -> Result<u32, ApiError> {
    match present(raw) {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
            }),
    }
}

/// `cursor`: opaque, passed through; only its length is checked here.
fn cursor(raw: Option<String>) -> Result<String, ApiError> {
    let c = present(raw).unwrap_or_default();
    if c.len() > MAX_CURSOR_LEN {
        return Err(ApiError::bad_request("cursor", "invalid cursor"));
    }
    Ok(c)
}

/// `source`: a stored name (`semantic_scholar`) or a path segment (`semantic-scholar`).
fn source(raw: Option<String>) -> Result<i32, ApiError> {
    match present(raw) {
        None => Ok(0),
        Some(v) => v
            .parse::<platform::Source>()
            .map(|s| s.to_proto() as i32)
            .map_err(|_| {
                ApiError::bad_request(
                    "source",
                    "must be one of openalex, pubmed, arxiv, semantic_scholar",
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_to_50_and_stays_within_1_to_200() {
        assert_eq!(page_limit(None).unwrap(), 50);
        assert_eq!(page_limit(Some(String::new())).unwrap(), 50);
        assert_eq!(page_limit(Some("200".into())).unwrap(), 200);
        for bad in ["0", "201", "-1", "ten", "1.5"] {
            assert!(page_limit(Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn source_accepts_stored_names_and_path_segments() {
        assert_eq!(source(Some("semantic-scholar".into())).unwrap(), 4);
        assert_eq!(source(Some("semantic_scholar".into())).unwrap(), 4);
        assert_eq!(source(None).unwrap(), 0);
        assert!(source(Some("crossref".into())).is_err());
    }
}
