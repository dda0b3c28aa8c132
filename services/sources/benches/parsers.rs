//! Parser throughput: parses the largest recorded response of each source over
//! and over for ~2 s, five times, and prints MB/s (10^6 bytes per second)
//! median, min and max; also writes them to `<target dir>/bench-parsers.json`.
//!
//! Two rates per parser: per second of this thread's CPU time (Linux
//! schedstat), which holds steady on a shared machine, and per wall-clock
//! second, which drops whenever other work takes the core.
//!
//! `cargo bench -p sources --bench parsers` (release profile). Set
//! `BENCH_SECONDS` to change the length of one repetition.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const REPETITIONS: usize = 5;

struct Case {
    name: &'static str,
    fixture: &'static str,
    target_mb_s: f64,
    parse: fn(&[u8]) -> usize,
}

const CASES: [Case; 4] = [
    Case {
        name: "openalex_json",
        fixture: "openalex/works_search_filter_sort_page1_per_page50_2026.json",
        target_mb_s: 150.0,
        parse: |b| {
            sources::openalex::parse_works_page(b)
                .map(|p| p.papers.len())
                .unwrap_or(0)
        },
    },
    Case {
        name: "pubmed_efetch_xml",
        fixture: "pubmed/efetch_50_articles.xml",
        target_mb_s: 100.0,
        parse: |b| {
            sources::pubmed::parse_efetch(b)
                .map(|p| p.len())
                .unwrap_or(0)
        },
    },
    Case {
        name: "arxiv_atom_xml",
        fixture: "arxiv/query_all_testing_start0_max100.xml",
        target_mb_s: 100.0,
        parse: |b| {
            sources::arxiv::parse_feed(b)
                .map(|f| f.papers.len())
                .unwrap_or(0)
        },
    },
    Case {
        name: "semantic_scholar_json",
        fixture: "semantic_scholar/paper_search_full_fields_last_page_no_next.json",
        target_mb_s: 150.0,
        parse: |b| {
            sources::semantic_scholar::parse_search(b)
                .map(|p| p.papers.len())
                .unwrap_or(0)
        },
    },
];

fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
}

/// CPU time this thread has run, from Linux's `/proc/thread-self/schedstat`
/// (first field, nanoseconds); `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// (wall-clock MB/s, CPU-time MB/s) of one repetition lasting about `span`.
fn repetition(case: &Case, body: &[u8], span: Duration) -> (f64, f64) {
    let cpu_start = thread_cpu_time();
    let started = Instant::now();
    let mut bytes = 0usize;
    while started.elapsed() < span {
        black_box((case.parse)(black_box(body)));
        bytes += body.len();
    }
    let wall = started.elapsed();
    let cpu = match (cpu_start, thread_cpu_time()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    (
        bytes as f64 / wall.as_secs_f64() / 1e6,
        bytes as f64 / cpu.as_secs_f64() / 1e6,
    )
}

/// (median, min, max) of five or so numbers.
fn summary(mut runs: Vec<f64>) -> (f64, f64, f64) {
    runs.sort_by(f64::total_cmp);
    (runs[runs.len() / 2], runs[0], runs[runs.len() - 1])
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks cases by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let span = Duration::from_secs_f64(seconds);
    let mut results = Vec::new();
    println!(
        "{:<24} {:>9} {:>8}  {:>26}  {:>26}  records",
        "parser", "bytes", "target", "CPU MB/s median (min-max)", "wall MB/s median (min-max)"
    );
    for case in CASES
        .iter()
        .filter(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str())))
    {
        let path = fixtures_dir().join(case.fixture);
        let body = match std::fs::read(&path) {
            Ok(body) => body,
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                std::process::exit(1);
            }
        };
        let records = (case.parse)(&body);
        // Warm caches and the allocator before measuring.
        repetition(case, &body, span / 4);
        let runs: Vec<(f64, f64)> = (0..REPETITIONS)
            .map(|_| repetition(case, &body, span))
            .collect();
        let wall_runs: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let cpu_runs: Vec<f64> = runs.iter().map(|r| r.1).collect();
        let (wall, wall_min, wall_max) = summary(wall_runs.clone());
        let (cpu, cpu_min, cpu_max) = summary(cpu_runs.clone());
        println!(
            "{:<24} {:>9} {:>8.0}  {:>8.1} ({:>7.1}-{:>7.1})  {:>8.1} ({:>7.1}-{:>7.1})  {records}{}",
            case.name,
            body.len(),
            case.target_mb_s,
            cpu,
            cpu_min,
            cpu_max,
            wall,
            wall_min,
            wall_max,
            if cpu >= case.target_mb_s {
                ""
            } else {
                "  BELOW TARGET"
            }
        );
        results.push(serde_json::json!({
            "parser": case.name,
            "fixture": case.fixture,
            "bytes": body.len(),
            "records": records,
            "cpu_mb_per_s": {"median": cpu, "min": cpu_min, "max": cpu_max, "runs": cpu_runs},
            "wall_mb_per_s": {"median": wall, "min": wall_min, "max": wall_max, "runs": wall_runs},
            "target_mb_per_s": case.target_mb_s,
            "meets_target": cpu >= case.target_mb_s,
        }));
    }
    let out = target_dir().join("bench-parsers.json");
    let report = serde_json::json!({"unit": "MB/s (10^6 bytes per second)", "repetitions": REPETITIONS, "seconds_per_repetition": seconds, "results": results});
    match std::fs::write(&out, format!("{report:#}\n")) {
        Ok(()) => println!("wrote {}", out.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out.display()),
    }
}
