//! Injected faults, consumed by the next matching requests, and the request log.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with an optional `Retry-After` and the source's own body.
    RateLimited,
    /// 500 (or `status`).
    ServerError,
    /// Waits `delay_ms`, then answers normally.
    Slow,
    /// The normal body cut in half.
    Truncated,
    /// 200 with a syntactically broken body.
    Malformed,
    /// 429 with `Retry-After: 86400`.
    QuotaExhausted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub source: String,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    /// Matching requests to let through first.
    #[serde(default)]
    pub after: u32,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Only this endpoint (`esearch`, `efetch`, `works`, `query`, `bulk`).
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(source: &str, kind: FaultKind) -> Fault {
        Fault {
            source: source.to_owned(),
            kind,
            count: 1,
            after: 0,
            retry_after_secs: None,
            status: None,
            delay_ms: None,
            endpoint: None,
        }
    }

    pub fn times(mut self, count: u32) -> Fault {
        self.count = count;
        self
    }

    pub fn after(mut self, after: u32) -> Fault {
        self.after = after;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Fault {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn delay(mut self, ms: u64) -> Fault {
        self.delay_ms = Some(ms);
        self
    }

    fn matches(&self, source: &str, endpoint: &str) -> bool {
        self.source == source && self.endpoint.as_deref().is_none_or(|e| e == endpoint)
    }
}

/// Pending faults, in injection order.
#[derive(Debug, Default)]
pub struct FaultQueue(Vec<Fault>);

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        self.0.push(fault);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The fault this request meets, if any (consuming one of its uses).
    pub fn take(&mut self, source: &str, endpoint: &str) -> Option<Fault> {
        let i = self.0.iter().position(|f| f.matches(source, endpoint))?;
        let f = &mut self.0[i];
        if f.after > 0 {
            f.after -= 1;
            return None;
        }
        let hit = f.clone();
        f.count = f.count.saturating_sub(1);
        if f.count == 0 {
            self.0.remove(i);
        }
        Some(hit)
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Milliseconds since the server started (monotonic).
    pub at_ms: u64,
    pub source: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_skip_after_then_apply_count_times() {
        let mut q = FaultQueue::default();
        q.push(
            Fault::new("pubmed", FaultKind::ServerError)
                .times(2)
                .after(1),
        );
        assert!(q.take("openalex", "works").is_none());
        assert!(
            q.take("pubmed", "efetch").is_none(),
            "the first is let through"
        );
        assert!(q.take("pubmed", "efetch").is_some());
        assert!(q.take("pubmed", "esearch").is_some());
        assert!(q.take("pubmed", "efetch").is_none(), "used up");
    }
}
