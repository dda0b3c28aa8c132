//! Each scenario's figures, its checks against the targets, and its section.

use super::Run;
use super::table::{num, spread, table};
use super::{services, throughput};
use bench::stats::Summary;
use serde_json::{Map, Value, json};

/// One figure against its target.
pub struct Check {
    scenario: String,
    figure: String,
    summary: Option<Summary>,
    target: String,
    pass: Option<bool>,
}

impl Check {
    /// A figure with its target; passes when `ok(median)`.
    pub fn new(
        scenario: &str,
        figure: &str,
        values: &[f64],
        target: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Check {
        let summary = Summary::of(values);
        Check {
            scenario: scenario.into(),
            figure: figure.into(),
            pass: summary.map(|s| ok(s.median)),
            summary,
            target: target.into(),
        }
    }

    /// A figure shown for context, with no target.
    pub fn info(scenario: &str, figure: &str, values: &[f64]) -> Check {
        let mut c = Check::new(scenario, figure, values, "–", |_| true);
        c.pass = None;
        c
    }

    /// The check in `bench/results.json`.
    pub fn to_json(&self) -> Value {
        json!({"scenario": self.scenario, "figure": self.figure, "target": self.target,
               "summary": self.summary.map(|s| s.to_json()), "pass": self.pass})
    }
}

/// The summary table of every check.
pub fn checks_table(checks: &[Check]) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                c.scenario.clone(),
                c.figure.clone(),
                c.summary
                    .map(|s| format!("**{}**", num(s.median)))
                    .unwrap_or("not run".into()),
                c.summary.map(|s| spread(&s)).unwrap_or_default(),
                c.target.clone(),
                match c.pass {
                    Some(true) => "pass".into(),
                    Some(false) => "**MISS**".into(),
                    None => "–".into(),
                },
            ]
        })
        .collect();
    table(
        &[
            "scenario", "figure", "median", "spread", "target", "verdict",
        ],
        &rows,
    )
}

/// Everything the report needs.
pub struct Report {
    pub checks: Vec<Check>,
    pub json: Value,
    pub markdown: String,
}

/// All scenarios that ran.
pub fn all(run: &Run) -> Report {
    let mut r = Report {
        checks: Vec::new(),
        json: Value::Object(Map::new()),
        markdown: String::new(),
    };
    throughput::closed_loop(run, &mut r, "start", "1. Start runs", "runs/s", 0.6, 50.0);
    throughput::closed_loop(run, &mut r, "read", "2. Read runs", "reads/s", 0.3, 20.0);
    throughput::import(run, &mut r);
    throughput::ingest(run, &mut r);
    services::watch(run, &mut r);
    services::startup(run, &mut r);
    services::parsers(run, &mut r);
    r
}
