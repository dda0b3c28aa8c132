//! Concurrent calls coalesced into batches (ADR-038).
//!
//! A few worker tasks take calls from one queue. A worker that is free takes the
//! first waiting call at once, with every call queued behind it (up to a batch's
//! size), and answers each from one batch call. Calls queue only while every worker
//! is busy, so a quiet service adds no delay and a busy one runs fewer, larger
//! statements: under load the per-statement costs (a round trip, the pool, the
//! server's per-statement and per-commit work) are paid once per batch, not per call.

use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

type Waiting<Req, Resp> = (Req, oneshot::Sender<Resp>);

/// The workers stopped (their batch call panicked, or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the batch worker stopped before answering")]
pub struct Stopped;

pub struct Coalescer<Req, Resp> {
    queue: mpsc::Sender<Waiting<Req, Resp>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> Coalescer<Req, Resp> {
    /// Spawns `workers` tasks, each running `batch` on up to `max_batch` calls at a
    /// time. `batch` answers its calls in their order, one answer each. `name` labels
    /// the `coalesced_batch_size` histogram.
    pub fn spawn<F, Fut>(name: &'static str, workers: usize, max_batch: usize, batch: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Resp>> + Send + 'static,
    {
        let max_batch = max_batch.max(1);
        // Bounded: a flood waits here rather than growing the queue without end.
        let (queue, receiver) = mpsc::channel::<Waiting<Req, Resp>>(workers.max(1) * max_batch);
        let receiver = Arc::new(Mutex::new(receiver));
        let batch = Arc::new(batch);
        for _ in 0..workers.max(1) {
            let receiver = receiver.clone();
            let batch = batch.clone();
            tokio::spawn(async move {
                while let Some(calls) = next_batch(&receiver, max_batch).await {
                    metrics::histogram!("coalesced_batch_size", "batch" => name)
                        .record(calls.len() as f64);
                    let (requests, replies): (Vec<_>, Vec<_>) = calls.into_iter().unzip();
                    // A panicking batch drops its replies (its callers see `Stopped`);
                    // the worker goes on with the next. The call is made inside the
                    // guarded future, so a panic before its first await is caught too.
                    let guarded = AssertUnwindSafe(async { batch(requests).await });
                    let Ok(answers) = guarded.catch_unwind().await else {
                        tracing::error!("a batch call panicked; its callers get an error");
                        continue;
                    };
                    debug_assert_eq!(answers.len(), replies.len());
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // A caller that went away no longer needs its answer.
                        let _ = reply.send(answer);
                    }
                }
            });
        }
        Coalescer { queue }
    }

    /// Queues `request` and waits for its answer.
    pub async fn call(&self, request: Req) -> Result<Resp, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }
}

/// The first waiting call (waiting for one if none is) and those queued behind it.
async fn next_batch<T>(receiver: &Mutex<mpsc::Receiver<T>>, max_batch: usize) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut calls = Vec::with_capacity(max_batch.min(16));
    calls.push(first);
    while calls.len() < max_batch {
        match receiver.try_recv() {
            Ok(next) => calls.push(next),
            Err(_) => break,
        }
    }
    Some(calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn each_call_gets_its_own_answer() {
        let doubler = Coalescer::spawn("test", 2, 8, |xs: Vec<u32>| async move {
            xs.into_iter().map(|x| x * 2).collect::<Vec<_>>()
        });
        let answers = futures::future::join_all((0..100).map(|x| doubler.call(x))).await;
        let answers: Vec<u32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..100).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn calls_waiting_behind_a_busy_worker_share_one_batch() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = batches.clone();
        let slow = Arc::new(Coalescer::spawn("test", 1, 64, move |xs: Vec<u32>| {
            let seen = seen.clone();
            async move {
                seen.lock().await.push(xs.len());
                tokio::time::sleep(Duration::from_millis(50)).await;
                xs
            }
        }));
        // The first call occupies the only worker; the next ten queue behind it.
        let first = tokio::spawn({
            let slow = slow.clone();
            async move { slow.call(0).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let rest = futures::future::join_all((1..=10).map(|x| slow.call(x))).await;
        assert_eq!(first.await.unwrap().unwrap(), 0);
        assert_eq!(
            rest.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(*batches.lock().await, vec![1, 10]);
    }

    #[tokio::test]
    async fn a_batch_never_exceeds_its_size() {
        let largest = Arc::new(AtomicUsize::new(0));
        let seen = largest.clone();
        let capped = Coalescer::spawn("test", 1, 4, move |xs: Vec<u32>| {
            seen.fetch_max(xs.len(), Ordering::SeqCst);
            async move { xs }
        });
        let answers = futures::future::join_all((0..50).map(|x| capped.call(x))).await;
        assert!(answers.into_iter().all(|a| a.is_ok()));
        assert!(largest.load(Ordering::SeqCst) <= 4);
    }

    #[tokio::test]
    async fn a_batch_that_panics_before_its_future_fails_its_callers_only() {
        let fragile = Coalescer::spawn("test", 1, 1, |xs: Vec<u32>| {
            assert!(xs[0] != 13, "unlucky");
            async move { xs }
        });
        assert!(matches!(fragile.call(13).await, Err(Stopped)));
        assert_eq!(fragile.call(7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_panicking_batch_fails_its_callers_and_the_worker_goes_on() {
        let fragile = Coalescer::spawn("test", 1, 1, |xs: Vec<u32>| async move {
            assert!(xs[0] != 13, "unlucky");
            xs
        });
        assert!(matches!(fragile.call(13).await, Err(Stopped)));
        assert_eq!(fragile.call(7).await.unwrap(), 7);
    }
}
