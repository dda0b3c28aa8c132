//! How long to wait before the next attempt: server instructions first
//! (`Retry-After`, `X-RateLimit-Reset`), otherwise exponential backoff with full
//! jitter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::HeaderMap;

/// Values of `X-RateLimit-Reset` above this are Unix timestamps, below it a
/// number of seconds (OpenAlex sends seconds, e.g. `64147`).
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// The wait the server asks for, if any: `Retry-After` (seconds or HTTP date);
/// for a 429 also `X-RateLimit-Reset` (seconds or Unix time).
pub(crate) fn server_wait(
    headers: &HeaderMap,
    rate_limited: bool,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header("retry-after") {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(secs) = value.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Some(Duration::from_secs_f64(secs.min(1e9)));
        }
        if let Some(at) = parse_http_date(value) {
            return Some(until(at, now));
        }
    }
    if rate_limited
        && let Some(value) = header("x-ratelimit-reset")
        && let Ok(n) = value.parse::<u64>()
    {
        return Some(if n > EPOCH_THRESHOLD {
            let at = DateTime::from_timestamp(n.min(i64::MAX as u64) as i64, 0).unwrap_or(now);
            until(at, now)
        } else {
            Duration::from_secs(n)
        });
    }
    None
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`). The weekday is not checked:
/// a server that gets it wrong still means the date.
fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    let rest = value.split_once(',').map_or(value, |(_, rest)| rest).trim();
    chrono::NaiveDateTime::parse_from_str(rest, "%d %b %Y %H:%M:%S GMT")
        .ok()
        .map(|t| t.and_utc())
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// Full-jitter backoff: a uniform random wait in `0..=min(cap, base * 2^(attempt-1))`.
pub(crate) fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let ceiling = base.saturating_mul(factor).min(cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            server_wait(&headers(&[("retry-after", "7")]), false, now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "Sun, 29 Nov 2026 10:01:00 GMT")]),
                false,
                now
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "Sun, 29 Nov 2026 09:00:00 GMT")]),
                false,
                now
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            server_wait(&headers(&[("retry-after", "soon")]), false, now),
            None
        );
        // Wrong weekday (29 Nov 2026 is a Sunday): the date still counts.
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "Mon, 29 Nov 2026 10:00:30 GMT")]),
                false,
                now
            ),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn rate_limit_reset_only_when_rate_limited() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let h = headers(&[("x-ratelimit-reset", "64147")]);
        assert_eq!(server_wait(&h, true, now), Some(Duration::from_secs(64147)));
        assert_eq!(server_wait(&h, false, now), None);
        let epoch = headers(&[("x-ratelimit-reset", "1800000030")]);
        assert_eq!(
            server_wait(&epoch, true, now),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 1..10 {
            let d = backoff(
                Duration::from_millis(10),
                attempt,
                Duration::from_millis(500),
            );
            assert!(
                d <= Duration::from_millis(10 * 2u64.pow(attempt - 1))
                    .min(Duration::from_millis(500))
            );
        }
    }
}
