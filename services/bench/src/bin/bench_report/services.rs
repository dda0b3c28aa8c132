//! Per-service scenarios: watchers, start-up, parser throughput.

use super::Run;
use super::scenarios::{Check, Report};
use super::table::{jnum, num, pick, pick1, table};
use serde_json::{Value, json};

pub fn watch(run: &Run, r: &mut Report) {
    let docs = run.series("watch");
    if docs.is_empty() {
        return;
    }
    let title = "4. Watch";
    let top = |d: &Value| {
        d["levels"]
            .as_array()
            .and_then(|l| l.last())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let level = |d: &Value, n: u64| {
        d["levels"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["watchers"].as_u64() == Some(n)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let tops: Vec<Value> = docs.iter().map(top).collect();
    let most = tops
        .first()
        .map(|t| t["watchers"].clone())
        .unwrap_or(Value::Null);
    let extra = pick(&tops, &["gateway", "rss_mib_over_first_level"]);
    r.checks.push(Check::new(
        title,
        &format!("gateway RSS, {most} watchers minus none, MiB"),
        &extra,
        "≤ 64",
        |x| x <= 64.0,
    ));
    let growth: Vec<f64> = docs
        .iter()
        .filter_map(|d| {
            Some(
                top(d)["queries_per_update"].as_f64()?
                    / level(d, 10)["queries_per_update"].as_f64()?,
            )
        })
        .collect();
    r.checks.push(Check::new(
        title,
        &format!("DB queries per update, {most} watchers ÷ 10 watchers"),
        &growth,
        "≈ 1 (no growth)",
        |x| x <= 1.1,
    ));
    r.checks.push(Check::info(
        title,
        &format!("events delivered / expected, {most} watchers"),
        &pick(&tops, &["delivery_ratio"]),
    ));
    let mut rows = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        for l in d["levels"].as_array().into_iter().flatten() {
            rows.push(vec![
                (i + 1).to_string(),
                jnum(&l["watchers"]),
                format!(
                    "{} ({} s)",
                    l["connected"],
                    num(l["open_s"].as_f64().unwrap_or(f64::NAN))
                ),
                jnum(&l["updates_per_s"]),
                jnum(&l["queries_per_update"]),
                jnum(&l["delivery_ratio"]),
                format!(
                    "{} / {}",
                    jnum(&l["update_to_event_ms"]["p50"]),
                    jnum(&l["update_to_event_ms"]["p99"])
                ),
                jnum(&l["gateway"]["rss_mib"]),
                jnum(&l["gateway"]["rss_mib_over_first_level"]),
                jnum(&l["gateway"]["cpu_share_of_one_core"]),
                jnum(&l["control"]["rss_mib"]),
                jnum(&l["control"]["cpu_share_of_one_core"]),
            ]);
        }
    }
    let d0 = &docs[0];
    r.markdown.push_str(&format!("\n### {title}\n\n{} running runs, each recording an empty page every {} ms (one UPDATE + NOTIFY per update), watched through `GET /ingestion/runs/{{id}}/events` by 0, 10 and {most} SSE clients spread evenly over the runs, {} s per level; the gateway is restarted before each repetition. Queries = `watch_db_queries_total` of ingestion-control; latency = from the `RecordPage` call to the SSE event with that `pages_done`. CPU is a share of one core.\n\n", d0["runs"], d0["update_interval_ms"], d0["duration_s"]));
    r.markdown.push_str(&table(
        &[
            "rep",
            "watchers",
            "connected (open time)",
            "updates/s",
            "queries/update",
            "delivered",
            "latency p50 / p99 ms",
            "gateway RSS MiB",
            "Δ vs none",
            "gateway CPU",
            "control RSS MiB",
            "control CPU",
        ],
        &rows,
    ));
    r.json["watch"] = json!(docs);
}

pub fn startup(run: &Run, r: &mut Report) {
    let mut docs: Vec<Value> = ["ingestion-control", "gateway"]
        .iter()
        .filter_map(|s| run.json(&format!("startup-{s}.json")))
        .collect();
    docs.extend(
        ["openalex", "pubmed", "arxiv", "semantic_scholar"]
            .iter()
            .filter_map(|s| run.json(&format!("startup-fetcher-{s}.json"))),
    );
    if docs.is_empty() {
        return;
    }
    let sizes: Vec<(String, f64)> = run
        .text("binary-sizes.txt")
        .lines()
        .filter_map(|l| {
            let (name, bytes) = l.split_once(' ')?;
            Some((name.to_owned(), bytes.parse::<f64>().ok()? / 1_048_576.0))
        })
        .collect();
    let mut rows = Vec::new();
    for d in &docs {
        let name = d["service"].as_str().unwrap_or("?");
        let ms: Vec<f64> = d["runs_ms"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        r.checks.push(Check::new(
            "5. Start-up",
            &format!("{name}: process start → /readyz 200, ms"),
            &ms,
            "< 1000",
            |x| x < 1000.0,
        ));
        let bin = name.split(' ').next().unwrap_or(name);
        let size = sizes
            .iter()
            .find(|(n, _)| n == bin)
            .map(|(_, s)| num(*s))
            .unwrap_or_default();
        let runs: Vec<String> = d["runs_ms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(jnum)
            .collect();
        rows.push(vec![
            name.to_owned(),
            jnum(&d["ready_ms"]["median"]),
            runs.join(", "),
            size,
        ]);
    }
    r.markdown.push_str("\n### 5. Start-up\n\nFrom spawning the release binary to the first 200 of its `/readyz` (polled every 2 ms): control's on `METRICS_ADDR` (database pool, migrations checked, broker topology declared, gRPC serving), the gateway's (control's gRPC health SERVING), a fetcher's on its `METRICS_ADDR` (consuming its queue). Control's first start applied the migrations to the fresh database.\n\n");
    r.markdown.push_str(&table(
        &["service", "median ms", "runs ms", "binary MiB"],
        &rows,
    ));
    r.json["startup"] = json!({"runs": docs, "binary_mib": sizes.iter().map(|(n, s)| json!({"binary": n, "mib": s})).collect::<Vec<_>>()});
}

pub fn parsers(run: &Run, r: &mut Report) {
    let Some(doc) = run.json("parsers.json") else {
        return;
    };
    let mut rows = Vec::new();
    for p in doc["results"].as_array().into_iter().flatten() {
        let name = p["parser"].as_str().unwrap_or("?");
        let target = p["target_mb_per_s"].as_f64().unwrap_or(0.0);
        let cpu = pick1(p, &["cpu_mb_per_s", "median"]);
        r.checks.push(Check::new(
            "Parsers (issue 3)",
            &format!("{name}: MB/s per CPU second"),
            &cpu,
            &format!("≥ {}", num(target)),
            |x| x >= target,
        ));
        rows.push(vec![
            name.to_owned(),
            jnum(&p["bytes"]),
            jnum(&p["records"]),
            format!(
                "{} ({}–{})",
                jnum(&p["cpu_mb_per_s"]["median"]),
                jnum(&p["cpu_mb_per_s"]["min"]),
                jnum(&p["cpu_mb_per_s"]["max"])
            ),
            format!(
                "{} ({}–{})",
                jnum(&p["wall_mb_per_s"]["median"]),
                jnum(&p["wall_mb_per_s"]["min"]),
                jnum(&p["wall_mb_per_s"]["max"])
            ),
            num(target),
        ]);
    }
    r.markdown.push_str(&format!("\n### Parser throughput (issue 3)\n\n`cargo bench -p sources --bench parsers`: the largest recorded response of each source parsed over and over, {} repetitions of {} s; MB/s = 10^6 bytes per second of the thread's CPU time (steady on a shared machine) and per wall-clock second.\n\n", doc["repetitions"], doc["seconds_per_repetition"]));
    r.markdown.push_str(&table(
        &[
            "parser",
            "bytes",
            "records",
            "CPU MB/s median (min–max)",
            "wall MB/s median (min–max)",
            "target",
        ],
        &rows,
    ));
    r.json["parsers"] = doc;
}
