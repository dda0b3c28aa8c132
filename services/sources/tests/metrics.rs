//! The request metrics, observed through a recorder installed for this test
//! binary only.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::client::{client, config, no_filters, spec};
use common::fixture;
use common::server::{Reply, ScriptedServer};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Counts counter increments and histogram samples per metric name and labels.
#[derive(Default)]
struct Collect {
    values: Mutex<HashMap<String, Arc<Cell>>>,
}

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl HistogramFn for Cell {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Collect {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.values.lock().unwrap().entry(name).or_default().clone()
    }
    fn get(&self, name: &str) -> u64 {
        self.values
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |c| c.0.load(Ordering::SeqCst))
    }
}

struct Shared(Arc<Collect>);

impl Recorder for Shared {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.cell(key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.cell(key))
    }
}

#[tokio::test]
async fn requests_retries_and_rate_limits_are_counted() {
    let collect = Arc::new(Collect::default());
    metrics::set_global_recorder(Shared(collect.clone())).unwrap();

    let server = ScriptedServer::start(|_, i| match i {
        0 => Reply::status(429, "{}").header("Retry-After", "0"),
        1 => Reply::status(500, "oops"),
        _ => Reply::ok(fixture("semantic_scholar/paper_search_empty_total0.json")),
    })
    .await;
    let client = client(
        "semantic_scholar",
        config("semantic_scholar", &server.base_url),
    );
    client
        .fetch_page(&spec("x", 10, no_filters()), None)
        .await
        .unwrap();

    assert_eq!(
        collect.get("source_requests_total{source=semantic_scholar,status=429}"),
        1
    );
    assert_eq!(
        collect.get("source_requests_total{source=semantic_scholar,status=500}"),
        1
    );
    assert_eq!(
        collect.get("source_requests_total{source=semantic_scholar,status=200}"),
        1
    );
    assert_eq!(
        collect.get("source_retries_total{reason=rate_limited,source=semantic_scholar}"),
        1
    );
    assert_eq!(
        collect.get("source_retries_total{reason=server_error,source=semantic_scholar}"),
        1
    );
    assert_eq!(
        collect.get("source_rate_limited_total{source=semantic_scholar}"),
        1
    );
    assert_eq!(
        collect.get("source_request_duration_seconds{source=semantic_scholar}"),
        3
    );
}
