//! Injected faults, consumed by the next matching requests, what each does to a
//! response, and the request log.

use crate::Source;
use crate::reply::{JSON, Reply, TEXT};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 (or `status`) with the source's own body and `Retry-After` when given.
    RateLimited,
    /// 500 (or `status`, e.g. 503).
    ServerError,
    /// Waits `delay_ms` (default 1,000), then answers normally.
    Slow,
    /// The normal body cut in half (Content-Length matches the cut body).
    Truncated,
    /// 200 with a syntactically broken body.
    Malformed,
    /// 429 with `Retry-After: 86400` (or `retry_after_secs`).
    QuotaExhausted,
}

/// A queued fault. JSON form: `{"source":"openalex","kind":"rate_limited","count":2,
/// "retry_after_secs":1}`; optional `after`, `status`, `delay_ms`, `endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The source whose requests it hits.
    pub source: Source,
    /// What it does.
    pub kind: FaultKind,
    /// How many matching requests it hits (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Matching requests to let through first (counted from injection).
    #[serde(default)]
    pub after: u32,
    /// `Retry-After` seconds to send.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Status override (e.g. 503 for `server_error`).
    #[serde(default)]
    pub status: Option<u16>,
    /// Delay for `slow`.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Only this endpoint: `works`, `work`, `esearch`, `efetch`, `query`, `bulk`.
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault hitting the next request of `source`.
    pub fn new(source: Source, kind: FaultKind) -> Fault {
        Fault {
            source,
            kind,
            count: 1,
            after: 0,
            retry_after_secs: None,
            status: None,
            delay_ms: None,
            endpoint: None,
        }
    }

    /// Hits `count` requests.
    pub fn times(mut self, count: u32) -> Fault {
        self.count = count;
        self
    }

    /// Lets `after` matching requests through first.
    pub fn after(mut self, after: u32) -> Fault {
        self.after = after;
        self
    }

    /// Sends `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Fault {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Answers with `status`.
    pub fn status(mut self, status: u16) -> Fault {
        self.status = Some(status);
        self
    }

    /// Delays by `ms` (for `slow`).
    pub fn delay_ms(mut self, ms: u64) -> Fault {
        self.delay_ms = Some(ms);
        self
    }

    /// Only requests to `endpoint`.
    pub fn endpoint(mut self, endpoint: &str) -> Fault {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    fn matches(&self, source: Source, endpoint: &str) -> bool {
        self.source == source
            && self
                .endpoint
                .as_deref()
                .is_none_or(|e| e.eq_ignore_ascii_case(endpoint))
    }
}

/// Pending faults, in injection order.
#[derive(Debug, Default)]
pub struct FaultQueue(Vec<Fault>);

impl FaultQueue {
    /// Queues a fault (a `count` of 0 is ignored).
    pub fn push(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.0.push(fault);
        }
    }

    /// Drops every pending fault.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The pending faults.
    pub fn pending(&self) -> Vec<Fault> {
        self.0.clone()
    }

    /// The fault this request meets, if any: the first matching fault that has no
    /// requests left to skip. Every other matching fault counts the request as skipped.
    pub fn take(&mut self, source: Source, endpoint: &str) -> Option<Fault> {
        let chosen = self
            .0
            .iter()
            .position(|f| f.matches(source, endpoint) && f.after == 0);
        for (i, f) in self.0.iter_mut().enumerate() {
            if Some(i) != chosen && f.matches(source, endpoint) && f.after > 0 {
                f.after -= 1;
            }
        }
        let i = chosen?;
        let hit = self.0[i].clone();
        self.0[i].count -= 1;
        if self.0[i].count == 0 {
            self.0.remove(i);
        }
        Some(hit)
    }
}

/// What a fault does to one request.
pub(crate) enum Effect {
    /// Answer this instead.
    Replace(Reply),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Answer normally with half the body.
    Truncate,
    /// Answer 200 with this broken body.
    Malform(&'static str),
}

fn rate_limit_body(source: Source, daily: bool) -> (&'static str, &'static str) {
    match source {
        Source::PubMed => (JSON, r#"{"error":"API rate limit exceeded","count":"11"}"#),
        Source::SemanticScholar => (
            JSON,
            r#"{"message":"Too Many Requests. Please wait and try again or apply for a key for higher rate limits."}"#,
        ),
        Source::OpenAlex if daily => (
            JSON,
            r#"{"error":"Rate limit exceeded","message":"Daily budget exhausted. It resets at midnight UTC; add an API key for a higher budget."}"#,
        ),
        Source::OpenAlex => (
            JSON,
            r#"{"error":"Rate limit exceeded","message":"Too many requests per second. Slow down and retry after the Retry-After interval."}"#,
        ),
        Source::Arxiv => (TEXT, "Rate exceeded."),
    }
}

fn malformed_body(source: Source, endpoint: &str) -> &'static str {
    match (source, endpoint) {
        (Source::OpenAlex, _) => r#"{"meta": {"#,
        (Source::PubMed, "esearch") => {
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<eSearchResult><Count>"
        }
        (Source::PubMed, _) => "<PubmedArticleSet><PubmedArticle>",
        (Source::Arxiv, _) => {
            "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>"
        }
        (Source::SemanticScholar, _) => r#"{"total": 1000, "token": "#,
    }
}

impl Fault {
    pub(crate) fn effect(&self, endpoint: &str) -> Effect {
        let with_retry_after = |mut reply: Reply, secs: Option<u64>| {
            if let Some(secs) = secs {
                reply.headers.push(("retry-after", secs.to_string()));
            }
            reply
        };
        match self.kind {
            FaultKind::RateLimited | FaultKind::QuotaExhausted => {
                let daily = self.kind == FaultKind::QuotaExhausted;
                let (content_type, body) = rate_limit_body(self.source, daily);
                let secs = if daily {
                    Some(self.retry_after_secs.unwrap_or(86_400))
                } else {
                    self.retry_after_secs
                };
                Effect::Replace(with_retry_after(
                    Reply::new(self.status.unwrap_or(429), content_type, body),
                    secs,
                ))
            }
            FaultKind::ServerError => {
                let status = self.status.unwrap_or(500);
                let reason = axum::http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Server Error");
                Effect::Replace(with_retry_after(
                    Reply::new(status, TEXT, reason),
                    self.retry_after_secs,
                ))
            }
            FaultKind::Slow => Effect::Delay(Duration::from_millis(self.delay_ms.unwrap_or(1_000))),
            FaultKind::Truncated => Effect::Truncate,
            FaultKind::Malformed => Effect::Malform(malformed_body(self.source, endpoint)),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Arrival time, milliseconds since the server started (monotonic clock).
    pub at_ms: u64,
    /// Arrival time in microseconds, for finer rate checks.
    pub at_us: u64,
    /// The source addressed.
    pub source: Source,
    /// `GET` or `POST`.
    pub method: String,
    /// Path below the source prefix, e.g. `/works`.
    pub path: String,
    /// The raw query string (form bodies of POSTs are not included).
    pub query: String,
    /// The status served.
    pub status: u16,
    /// The injected fault that shaped the answer, if any.
    pub fault: Option<FaultKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_skip_after_then_apply_count_times() {
        let mut q = FaultQueue::default();
        q.push(
            Fault::new(Source::PubMed, FaultKind::ServerError)
                .times(2)
                .after(1),
        );
        assert!(q.take(Source::OpenAlex, "works").is_none());
        assert!(
            q.take(Source::PubMed, "efetch").is_none(),
            "the first is let through"
        );
        assert!(q.take(Source::PubMed, "efetch").is_some());
        assert!(q.take(Source::PubMed, "esearch").is_some());
        assert!(q.take(Source::PubMed, "efetch").is_none(), "used up");
    }

    #[test]
    fn queued_faults_apply_in_order_and_after_counts_from_injection() {
        let mut q = FaultQueue::default();
        q.push(Fault::new(Source::Arxiv, FaultKind::RateLimited).times(2));
        q.push(Fault::new(Source::Arxiv, FaultKind::Malformed).after(2));
        q.push(Fault::new(Source::Arxiv, FaultKind::Slow).endpoint("other"));
        let kinds: Vec<Option<FaultKind>> = (0..4)
            .map(|_| q.take(Source::Arxiv, "query").map(|f| f.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(FaultKind::RateLimited),
                Some(FaultKind::RateLimited),
                Some(FaultKind::Malformed),
                None
            ]
        );
        assert_eq!(
            q.pending().len(),
            1,
            "the endpoint-bound fault is still pending"
        );
    }

    #[test]
    fn json_faults_use_source_names_and_defaults() {
        let f: Fault =
            serde_json::from_str(r#"{"source":"s2","kind":"quota_exhausted"}"#).expect("parse");
        assert_eq!(
            f,
            Fault::new(Source::SemanticScholar, FaultKind::QuotaExhausted)
        );
        let Effect::Replace(reply) = f.effect("bulk") else {
            panic!("quota is a replacement")
        };
        assert_eq!(reply.status, 429);
        assert_eq!(reply.headers, [("retry-after", "86400".to_owned())]);
    }
}
