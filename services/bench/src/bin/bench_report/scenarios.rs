//! Each scenario's figures, its checks against the targets, and its section.

use super::Run;
use super::table::{jnum, num, pick, pick1, spread, table};
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
    fn new(
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
    closed_loop(run, &mut r, "start", "1. Start runs", "runs/s", 0.6, 50.0);
    closed_loop(run, &mut r, "read", "2. Read runs", "reads/s", 0.3, 20.0);
    import(run, &mut r);
    ingest(run, &mut r);
    watch(run, &mut r);
    startup(run, &mut r);
    parsers(run, &mut r);
    r
}

fn ratio_pairs(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

fn closed_loop(
    run: &Run,
    r: &mut Report,
    key: &str,
    title: &str,
    unit: &str,
    min_ratio: f64,
    max_p99: f64,
) {
    let (service, floor) = (
        run.series(&format!("{key}-loadgen")),
        run.series(&format!("{key}-floor")),
    );
    if service.is_empty() {
        return;
    }
    let (rps, floor_rps) = (pick(&service, &["ops_per_s"]), pick(&floor, &["ops_per_s"]));
    let ratios = ratio_pairs(&rps, &floor_rps);
    let p99 = pick(&service, &["latency_ms", "p99"]);
    let errors: f64 = pick(&service, &["errors"]).iter().sum();
    r.checks.push(Check::new(
        title,
        &format!("{unit} through the gateway"),
        &rps,
        "–",
        |_| true,
    ));
    r.checks.push(Check::new(
        title,
        &format!("{unit} of the floor"),
        &floor_rps,
        "–",
        |_| true,
    ));
    r.checks.push(Check::new(
        title,
        "ratio to the floor (per pair)",
        &ratios,
        &format!("≥ {min_ratio}"),
        |x| x >= min_ratio,
    ));
    r.checks.push(Check::new(
        title,
        "p99 latency, ms",
        &p99,
        &format!("≤ {max_p99}"),
        |x| x <= max_p99,
    ));
    r.checks.push(Check::new(
        title,
        "errors (sum over repetitions)",
        &[errors],
        "0",
        |x| x == 0.0,
    ));
    let rows: Vec<Vec<String>> = service
        .iter()
        .zip(floor.iter().map(Some).chain(std::iter::repeat(None)))
        .enumerate()
        .map(|(i, (s, f))| {
            let f = f.cloned().unwrap_or(Value::Null);
            vec![
                (i + 1).to_string(),
                jnum(&s["duration_s"]),
                jnum(&s["ops_per_s"]),
                jnum(&s["latency_ms"]["p50"]),
                jnum(&s["latency_ms"]["p99"]),
                jnum(&s["latency_ms"]["p999"]),
                format!(
                    "{} {}",
                    s["errors"],
                    if s["errors"] == 0 {
                        String::new()
                    } else {
                        s["error_kinds"].to_string()
                    }
                ),
                jnum(&f["ops_per_s"]),
                jnum(&f["latency_ms"]["p50"]),
                jnum(&f["latency_ms"]["p99"]),
                ratios.get(i).map(|x| num(*x)).unwrap_or_default(),
            ]
        })
        .collect();
    r.markdown.push_str(&format!("\n### {title}\n\n64 concurrent clients in a closed loop (2 s warm-up not counted); the floor runs the same loop straight against PostgreSQL/RabbitMQ with a pool of 16 (control's `DATABASE_MAX_CONNECTIONS`).\n\n"));
    r.markdown.push_str(&table(
        &[
            "rep",
            "s",
            unit,
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "errors",
            &format!("floor {unit}"),
            "floor p50",
            "floor p99",
            "ratio",
        ],
        &rows,
    ));
    r.json[key] = json!({"service": service, "floor": floor, "ratios": ratios});
}

fn import(run: &Run, r: &mut Report) {
    let Some(doc) = run.json("import.json") else {
        return;
    };
    let ms: Vec<Value> = doc["measurements"].as_array().cloned().unwrap_or_default();
    let title = "Import (issue 4)";
    let mut sizes: Vec<u64> = ms.iter().filter_map(|m| m["page_size"].as_u64()).collect();
    sizes.dedup();
    sizes.sort_unstable();
    sizes.dedup();
    let mut summaries = Vec::new();
    for size in &sizes {
        let of: Vec<&Value> = ms
            .iter()
            .filter(|m| m["page_size"].as_u64() == Some(*size))
            .collect();
        let rate: Vec<f64> = of
            .iter()
            .filter_map(|m| m["record_page"]["papers_per_s"].as_f64())
            .collect();
        let ratio: Vec<f64> = of
            .iter()
            .filter_map(|m| m["ratio_to_copy"].as_f64())
            .collect();
        let (t, tr) = if *size >= 1000 {
            ("≥ 20,000", "≥ 0.333")
        } else {
            ("–", "–")
        };
        r.checks.push(Check::new(
            title,
            &format!("papers/s, pages of {size}"),
            &rate,
            t,
            |x| *size < 1000 || x >= 20_000.0,
        ));
        r.checks.push(Check::new(
            title,
            &format!("ratio to COPY, pages of {size}"),
            &ratio,
            tr,
            |x| *size < 1000 || x >= 1.0 / 3.0,
        ));
        summaries.push(json!({"page_size": size, "papers_per_s": Summary::of(&rate).map(|s| s.to_json()), "ratio_to_copy": Summary::of(&ratio).map(|s| s.to_json())}));
    }
    let copy: Vec<f64> = ms
        .iter()
        .filter_map(|m| m["copy"]["rows_per_s"].as_f64())
        .collect();
    r.checks.push(Check::new(
        title,
        "COPY rows/s (unindexed table)",
        &copy,
        "–",
        |_| true,
    ));
    let rows: Vec<Vec<String>> = ms
        .iter()
        .map(|m| {
            vec![
                jnum(&m["repeat"]),
                jnum(&m["page_size"]),
                jnum(&m["record_page"]["papers_per_s"]),
                jnum(&m["record_page"]["page_latency_ms"]["p50"]),
                jnum(&m["record_page"]["page_latency_ms"]["p99"]),
                format!(
                    "{} / {}",
                    m["record_page"]["papers_found"], m["record_page"]["papers_imported"]
                ),
                jnum(&m["copy"]["rows_per_s"]),
                jnum(&m["ratio_to_copy"]),
            ]
        })
        .collect();
    r.markdown.push_str(&format!(
        "\n### {title}\n\n{} papers (~{} bytes each as protobuf; half of them repeat an earlier paper's DOI and ids) sent through `WorkerService.RecordPage` of the running ingestion-control, one page after another as a fetcher does, each repetition in a fresh organisation; then `COPY … FROM STDIN` of the same rows into an unindexed table of the same database.\n\n",
        jnum(&doc["papers"]), jnum(&doc["avg_record_bytes_protobuf"])
    ));
    r.markdown.push_str(&table(
        &[
            "rep",
            "page size",
            "papers/s",
            "page p50 ms",
            "page p99 ms",
            "found / imported",
            "COPY rows/s",
            "ratio",
        ],
        &rows,
    ));
    r.json["import"] = json!({"summary": summaries, "raw": doc});
}

fn ingest(run: &Run, r: &mut Report) {
    let title = "3. Ingest";
    let mut rows = Vec::new();
    let mut all = Map::new();
    let mut control_peaks = Vec::new();
    for (source, json_source) in [
        ("openalex", true),
        ("pubmed", false),
        ("arxiv", false),
        ("semantic_scholar", true),
    ] {
        let Some(doc) = run.json(&format!("ingest-{source}.json")) else {
            continue;
        };
        let min = if json_source { 5000.0 } else { 3000.0 };
        let agg = doc["aggregate_papers_per_s"].as_f64().unwrap_or(f64::NAN);
        let per_run: Vec<f64> = doc["per_run"]
            .as_array()
            .map(|a| pick(a, &["papers_per_s"]))
            .unwrap_or_default();
        let proc_of = |name: &str| {
            doc["processes"]
                .as_array()
                .and_then(|p| p.iter().find(|x| x["name"] == name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (fetcher, control) = (proc_of("fetcher"), proc_of("ingestion-control"));
        r.checks.push(Check::new(
            title,
            &format!("{source}: papers/s, 100k (first created → last completed)"),
            &[agg],
            &format!("≥ {}", num(min)),
            |x| x >= min,
        ));
        r.checks.push(Check::new(
            title,
            &format!("{source}: fetcher peak RSS MiB"),
            &pick1(&fetcher, &["peak_rss_mib"]),
            "≤ 64",
            |x| x <= 64.0,
        ));
        control_peaks.extend(pick1(&control, &["peak_rss_mib"]));
        let ps = Summary::of(&per_run);
        rows.push(vec![
            source.to_owned(),
            format!("{}/{}", doc["completed"], doc["runs"]),
            jnum(&doc["papers_total"]),
            num(agg),
            ps.map(|s| format!("{} ({})", num(s.median), spread(&s)))
                .unwrap_or_default(),
            jnum(&fetcher["peak_rss_mib"]),
            jnum(&control["peak_rss_mib"]),
            jnum(&fetcher["cpu_ms_per_1000_papers"]),
            jnum(&control["cpu_ms_per_1000_papers"]),
            jnum(&proc_of("replay-server")["cpu_ms_per_1000_papers"]),
        ]);
        all.insert(source.into(), doc);
    }
    if rows.is_empty() {
        return;
    }
    r.checks.push(Check::new(
        title,
        "ingestion-control peak RSS MiB (worst source)",
        &[control_peaks.iter().copied().fold(f64::NAN, f64::max)],
        "≤ 128",
        |x| x <= 128.0,
    ));
    r.markdown.push_str(&format!("\n### {title}\n\nThe contract caps `max_results` at 10,000, so a source's 100,000 papers are {} runs of 10,000 (query `synthetic:100000`, each run in its own organisation so every paper is new), all started at once through the gateway; the source's one fetcher takes them one after another. Papers/s = all papers ÷ (first `created_at` → last `completed_at`); per run = papers ÷ (`started_at` → `completed_at`). Peak RSS = `VmHWM`, reset when the source's runs start. Sources run one after another.\n\n", all.values().next().and_then(|d| d["runs"].as_u64()).unwrap_or(0)));
    r.markdown.push_str(&table(
        &[
            "source",
            "completed",
            "papers",
            "papers/s (100k)",
            "per-run papers/s median (spread)",
            "fetcher peak MiB",
            "control peak MiB",
            "fetcher CPU ms/1k papers",
            "control CPU ms/1k",
            "replay CPU ms/1k",
        ],
        &rows,
    ));
    r.json["ingest"] = Value::Object(all);
}

fn watch(run: &Run, r: &mut Report) {
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
    r.checks.push(Check::new(
        title,
        &format!("events delivered / expected, {most} watchers"),
        &pick(&tops, &["delivery_ratio"]),
        "–",
        |_| true,
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

fn startup(run: &Run, r: &mut Report) {
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
        let ms = pick1(d, &["ready_ms", "median"]);
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

fn parsers(run: &Run, r: &mut Report) {
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
