//! The one place requests go out: pacing, timeouts, retries with backoff,
//! classification of failures into [`SourceError`], metrics and tracing.

mod describe;
mod wait;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use tracing::Instrument;
use url::Url;

pub(crate) use describe::sanitize_url;
use describe::{describe_body, redact};

use crate::config::{ConfigError, SourceConfig};
use crate::{RequestPacer, SourceError};

/// Ceiling of one computed backoff step (server-requested waits may be longer,
/// up to `max_retry_wait`).
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// Inspects a 2xx body for an error the API sent with a success status
/// (NCBI's `API rate limit exceeded`); `Some(message)` makes it retryable.
pub(crate) type BodyCheck = fn(&[u8]) -> Option<String>;

/// Sends GET requests for one source.
pub(crate) struct HttpExecutor {
    source: &'static str,
    client: reqwest::Client,
    pacer: Arc<dyn RequestPacer>,
    max_attempts: u32,
    base_backoff: Duration,
    max_retry_wait: Duration,
    /// Values scrubbed from every message (API key, contact address).
    secrets: Vec<String>,
    rate_limit_in_body: Option<BodyCheck>,
}

/// How one attempt ended.
enum Outcome {
    /// A 2xx body.
    Body(Vec<u8>),
    /// Retrying cannot help (client error, quota beyond the cap).
    Fatal(SourceError),
    /// Worth another try after a wait.
    Retry(Retry),
}

/// A failed attempt that is worth another try.
struct Retry {
    reason: &'static str,
    wait: Duration,
    /// The error to report if this was the last attempt.
    error: SourceError,
}

impl HttpExecutor {
    pub(crate) fn new(
        source: &'static str,
        cfg: &SourceConfig,
        pacer: Arc<dyn RequestPacer>,
        headers: HeaderMap,
        rate_limit_in_body: Option<BodyCheck>,
    ) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(cfg.user_agent.clone())
            .default_headers(headers)
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(HttpExecutor {
            source,
            client,
            pacer,
            max_attempts: cfg.max_attempts.max(1),
            base_backoff: cfg.base_backoff,
            max_retry_wait: cfg.max_retry_wait,
            secrets: cfg
                .api_key
                .iter()
                .chain(cfg.mailto.iter())
                .cloned()
                .collect(),
            rate_limit_in_body,
        })
    }

    /// A header value for a secret (marked sensitive so it is never logged).
    pub(crate) fn secret_header(value: &str) -> Result<HeaderValue, ConfigError> {
        let mut v = HeaderValue::from_str(value).map_err(|_| ConfigError::InvalidValue {
            name: "api_key".into(),
            value: "[redacted]".into(),
            reason: "not a valid header value".into(),
        })?;
        v.set_sensitive(true);
        Ok(v)
    }

    /// The URL as it may appear in logs and errors.
    pub(crate) fn display_url(&self, url: &Url) -> String {
        redact(sanitize_url(url), &self.secrets)
    }

    /// Scrubs secrets from a message built outside this module.
    pub(crate) fn redact(&self, text: String) -> String {
        redact(text, &self.secrets)
    }

    /// GETs `url` and returns the body of a 2xx response, retrying timeouts,
    /// connection failures, 429 and 5xx up to `max_attempts` times.
    pub(crate) async fn get(&self, url: &Url) -> Result<Vec<u8>, SourceError> {
        let shown = self.display_url(url);
        let mut attempt = 1;
        loop {
            let span =
                tracing::info_span!("source_request", source = self.source, url = %shown, attempt);
            let outcome = self
                .attempt(url, &shown, attempt)
                .instrument(span.clone())
                .await;
            let retry = match outcome {
                Outcome::Body(body) => return Ok(body),
                Outcome::Fatal(error) => return Err(error),
                Outcome::Retry(retry) => retry,
            };
            if attempt >= self.max_attempts {
                return Err(gave_up(retry.error, attempt));
            }
            metrics::counter!("source_retries_total", "source" => self.source, "reason" => retry.reason).increment(1);
            span.in_scope(|| {
                tracing::warn!(reason = retry.reason, wait_ms = retry.wait.as_millis() as u64, error = %retry.error, "retrying source request")
            });
            tokio::time::sleep(retry.wait).await;
            attempt += 1;
        }
    }

    /// One paced request.
    async fn attempt(&self, url: &Url, shown: &str, attempt: u32) -> Outcome {
        self.pacer.wait_turn().await;
        let started = Instant::now();
        let result = self.send(url).await;
        metrics::histogram!("source_request_duration_seconds", "source" => self.source)
            .record(started.elapsed().as_secs_f64());
        let (status, headers, body) = match result {
            Ok(parts) => parts,
            Err(err) => {
                let (label, reason) = if err.is_timeout() {
                    ("timeout", "timeout")
                } else if err.is_connect() {
                    ("connect_error", "connect")
                } else {
                    ("transport_error", "transport")
                };
                metrics::counter!("source_requests_total", "source" => self.source, "status" => label).increment(1);
                let error = SourceError::Transport {
                    source_name: self.source,
                    request: shown.to_string(),
                    detail: self.redact(describe_reqwest_error(err)),
                };
                let wait = self.backoff_for(attempt);
                return Outcome::Retry(Retry {
                    reason,
                    wait,
                    error,
                });
            }
        };
        metrics::counter!("source_requests_total", "source" => self.source, "status" => status.as_str().to_owned())
            .increment(1);
        let http_error = |detail: String| SourceError::Http {
            source_name: self.source,
            status: status.as_u16(),
            request: shown.to_string(),
            detail: self.redact(detail),
        };
        if status.is_success() {
            return match self.rate_limit_in_body.and_then(|check| check(&body)) {
                None => {
                    tracing::debug!(
                        status = status.as_u16(),
                        bytes = body.len(),
                        "source response"
                    );
                    Outcome::Body(body)
                }
                Some(message) => {
                    metrics::counter!("source_rate_limited_total", "source" => self.source)
                        .increment(1);
                    Outcome::Retry(Retry {
                        reason: "rate_limited",
                        wait: self.backoff_for(attempt),
                        error: http_error(format!(
                            "rate limited (reported in a {status} body): {message}"
                        )),
                    })
                }
            };
        }
        let detail = describe_body(&body);
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
        if !(rate_limited || status.is_server_error()) {
            return Outcome::Fatal(http_error(detail));
        }
        if rate_limited {
            metrics::counter!("source_rate_limited_total", "source" => self.source).increment(1);
        }
        let now = chrono::Utc::now();
        let asked = wait::server_wait(&headers, rate_limited, now);
        if let Some(asked) = asked.filter(|w| *w > self.max_retry_wait) {
            return Outcome::Fatal(SourceError::QuotaExhausted {
                source_name: self.source,
                resets_at: chrono::Duration::from_std(asked).ok().and_then(|d| now.checked_add_signed(d)),
                detail: self.redact(format!(
                    "HTTP {} from {shown}: the server asks to wait {} s, more than the {} s we wait: {detail}",
                    status.as_u16(),
                    asked.as_secs(),
                    self.max_retry_wait.as_secs()
                )),
            });
        }
        let reason = if rate_limited {
            "rate_limited"
        } else {
            "server_error"
        };
        Outcome::Retry(Retry {
            reason,
            wait: asked.unwrap_or_else(|| self.backoff_for(attempt)),
            error: http_error(detail),
        })
    }

    async fn send(&self, url: &Url) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let response = self.client.get(url.clone()).send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok((status, headers, Vec::from(body)))
    }

    /// Backoff after failed attempt number `attempt` when the server gave no wait.
    fn backoff_for(&self, attempt: u32) -> Duration {
        wait::backoff(
            self.base_backoff,
            attempt,
            self.max_retry_wait.min(MAX_BACKOFF),
        )
    }
}

/// `base` + `/path`, tolerating a trailing slash on `base`.
pub(crate) fn endpoint(base: &str, path: &str) -> Result<Url, ConfigError> {
    let joined = format!("{}/{path}", base.trim_end_matches('/'));
    Url::parse(&joined).map_err(|e| ConfigError::InvalidValue {
        name: "base_url".into(),
        value: base.to_string(),
        reason: e.to_string(),
    })
}

/// The last attempt's error, saying that it was the last of `attempts`.
fn gave_up(error: SourceError, attempts: u32) -> SourceError {
    let note = |detail: String| format!("{detail} (gave up after {attempts} attempts)");
    match error {
        SourceError::Http {
            source_name,
            status,
            request,
            detail,
        } => SourceError::Http {
            source_name,
            status,
            request,
            detail: note(detail),
        },
        SourceError::Transport {
            source_name,
            request,
            detail,
        } => SourceError::Transport {
            source_name,
            request,
            detail: note(detail),
        },
        other => other,
    }
}

/// A reqwest error without its URL (which may carry the API key) and with its
/// causes, e.g. "error sending request: connection refused".
fn describe_reqwest_error(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
