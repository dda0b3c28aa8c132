//! The in-process request pacer.

use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::RequestPacer;

/// Paces one process's requests to one source with a governor rate limiter:
/// one permit every `1 / requests_per_second`, no bursts, so arXiv's
/// "one request every three seconds" holds between any two requests.
pub struct LocalPacer {
    limiter: DefaultDirectRateLimiter,
    period: Duration,
}

impl LocalPacer {
    /// A pacer allowing `requests_per_second` (may be fractional, e.g. `1.0 / 3.0`).
    /// Non-positive or non-finite rates are treated as one request per second.
    pub fn new(requests_per_second: f64) -> Self {
        let rate = if requests_per_second.is_finite() && requests_per_second > 0.0 {
            requests_per_second
        } else {
            1.0
        };
        // Clamp to a sane window: at least 1 ns, at most one request a day.
        let period = Duration::from_secs_f64((1.0 / rate).clamp(1e-9, 86_400.0));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN));
        LocalPacer {
            limiter: RateLimiter::direct(quota),
            period,
        }
    }

    /// The minimum spacing between two requests.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl std::fmt::Debug for LocalPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPacer")
            .field("period", &self.period)
            .finish()
    }
}

#[async_trait::async_trait]
impl RequestPacer for LocalPacer {
    async fn wait_turn(&self) {
        self.limiter.until_ready().await;
    }
}
