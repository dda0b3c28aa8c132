//! The closed loop shared by `loadgen` and `floors`, so a scenario and its floor are
//! measured the same way: N workers, each sending its next operation as soon as the
//! previous one answered, for a fixed time after a warm-up.

use crate::stats::{latency_histogram, latency_json, record};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long and how wide a closed loop runs.
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    /// Concurrent workers (each with at most one operation in flight).
    pub concurrency: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Unmeasured time first (connections, caches, JIT-free but pool-filling).
    pub warmup: Duration,
}

/// What a closed loop measured.
#[derive(Debug)]
pub struct LoopResult {
    /// Operations that started after the warm-up, finished before the end and succeeded.
    pub ok: u64,
    /// Operations in the same window that failed.
    pub errors: u64,
    /// Failures by kind (HTTP status, error class).
    pub error_kinds: BTreeMap<String, u64>,
    /// The measured window.
    pub window: Duration,
    /// Latencies of the successful operations, in microseconds.
    pub latency: Histogram<u64>,
}

impl LoopResult {
    /// Successful operations per second of the window.
    pub fn ops_per_sec(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// The JSON every closed-loop tool prints.
    pub fn to_json(&self, cfg: &LoopConfig) -> Value {
        json!({
            "concurrency": cfg.concurrency,
            "duration_s": cfg.duration.as_secs_f64(),
            "warmup_s": cfg.warmup.as_secs_f64(),
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "ops_per_s": self.ops_per_sec(),
            "latency_ms": latency_json(&self.latency),
        })
    }
}

struct WorkerResult {
    ok: u64,
    errors: u64,
    kinds: BTreeMap<String, u64>,
    latency: Histogram<u64>,
}

/// Runs `op(worker, sequence)` in a closed loop. An `Err` carries the failure kind.
pub async fn run<F, Fut>(cfg: LoopConfig, op: F) -> LoopResult
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut r = WorkerResult {
                    ok: 0,
                    errors: 0,
                    kinds: BTreeMap::new(),
                    latency: latency_histogram(),
                };
                let mut seq = 0u64;
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let outcome = op(w, seq).await;
                    seq += 1;
                    let t1 = Instant::now();
                    if t0 < measure_from || t1 > end {
                        continue;
                    }
                    match outcome {
                        Ok(()) => {
                            r.ok += 1;
                            record(&mut r.latency, t1 - t0);
                        }
                        Err(kind) => {
                            r.errors += 1;
                            *r.kinds.entry(kind).or_default() += 1;
                        }
                    }
                }
                r
            })
        })
        .collect();
    let mut total = LoopResult {
        ok: 0,
        errors: 0,
        error_kinds: BTreeMap::new(),
        window: cfg.duration,
        latency: latency_histogram(),
    };
    for w in workers {
        match w.await {
            Ok(r) => {
                total.ok += r.ok;
                total.errors += r.errors;
                for (k, n) in r.kinds {
                    *total.error_kinds.entry(k).or_default() += n;
                }
                // Same bounds everywhere, so adding cannot fail.
                let _ = total.latency.add(&r.latency);
            }
            Err(e) => {
                total.errors += 1;
                *total
                    .error_kinds
                    .entry(format!("worker panicked: {e}"))
                    .or_default() += 1;
            }
        }
    }
    total
}

/// A cheap per-worker pseudo-random index in `0..n` (xorshift on worker and sequence),
/// so readers spread over the ids without a shared generator.
pub fn spread_index(worker: usize, seq: u64, n: usize) -> usize {
    let mut x = (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq.wrapping_add(1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_only_the_measured_window() {
        let cfg = LoopConfig {
            concurrency: 2,
            duration: Duration::from_millis(200),
            warmup: Duration::from_millis(50),
        };
        let r = run(cfg, |_, seq| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if seq % 2 == 0 {
                Ok(())
            } else {
                Err("odd".to_string())
            }
        })
        .await;
        assert!(r.ok > 5 && r.errors > 5, "{r:?}");
        assert!(r.ops_per_sec() < 2.0 * 100.0);
        assert_eq!(r.error_kinds.len(), 1);
    }

    #[test]
    fn spread_stays_in_range() {
        for s in 0..1000 {
            assert!(spread_index(3, s, 17) < 17);
        }
    }
}
