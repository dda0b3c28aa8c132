//! Throughput scenarios: start and read runs against their floors, import, ingest.

use super::Run;
use super::scenarios::{Check, Report};
use super::table::{jnum, num, pick, pick1, spread, table};
use bench::stats::Summary;
use serde_json::{Map, Value, json};

fn ratio_pairs(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

pub fn closed_loop(
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
    r.checks.push(Check::info(
        title,
        &format!("{unit} through the gateway"),
        &rps,
    ));
    r.checks.push(Check::info(
        title,
        &format!("{unit} of the floor"),
        &floor_rps,
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

pub fn import(run: &Run, r: &mut Report) {
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
        let (rate_figure, ratio_figure) = (
            format!("papers/s, pages of {size}"),
            format!("ratio to COPY, pages of {size}"),
        );
        if *size >= 1000 {
            r.checks
                .push(Check::new(title, &rate_figure, &rate, "≥ 20,000", |x| {
                    x >= 20_000.0
                }));
            r.checks
                .push(Check::new(title, &ratio_figure, &ratio, "≥ 0.333", |x| {
                    x >= 1.0 / 3.0
                }));
        } else {
            r.checks.push(Check::info(title, &rate_figure, &rate));
            r.checks.push(Check::info(title, &ratio_figure, &ratio));
        }
        summaries.push(json!({"page_size": size, "papers_per_s": Summary::of(&rate).map(|s| s.to_json()), "ratio_to_copy": Summary::of(&ratio).map(|s| s.to_json())}));
    }
    let copy: Vec<f64> = ms
        .iter()
        .filter_map(|m| m["copy"]["rows_per_s"].as_f64())
        .collect();
    r.checks
        .push(Check::info(title, "COPY rows/s (unindexed table)", &copy));
    let rows: Vec<Vec<String>> = ms
        .iter()
        .map(|m| {
            vec![
                jnum(&m["repeat"]),
                jnum(&m["page_size"]),
                jnum(&m["in_flight"]),
                jnum(&m["record_page"]["papers_per_s"]),
                jnum(&m["record_page"]["page_latency_ms"]["p50"]),
                jnum(&m["record_page"]["page_latency_ms"]["p99"]),
                format!(
                    "{} / {}",
                    m["record_page"]["papers_found"], m["record_page"]["papers_imported"]
                ),
                jnum(&m["record_page"]["aborted_retries"]),
                jnum(&m["copy"]["rows_per_s"]),
                jnum(&m["ratio_to_copy"]),
            ]
        })
        .collect();
    r.markdown.push_str(&format!(
        "\n### {title}\n\n{} papers (~{} bytes each as protobuf; half of them repeat an earlier paper's DOI and ids) sent through `WorkerService.RecordPage` of the running ingestion-control, pipelined as a fetcher sends them (at most *in flight* pages sent and not yet answered; a page answered ABORTED, its predecessor not yet committed, resent after 20 ms), each repetition in a fresh organisation; then `COPY … FROM STDIN` of the same rows into an unindexed table of the same database.\n\n",
        jnum(&doc["papers"]), jnum(&doc["avg_record_bytes_protobuf"])
    ));
    r.markdown.push_str(&table(
        &[
            "rep",
            "page size",
            "in flight",
            "papers/s",
            "page p50 ms",
            "page p99 ms",
            "found / imported",
            "ABORTED resends",
            "COPY rows/s",
            "ratio",
        ],
        &rows,
    ));
    r.json["import"] = json!({"summary": summaries, "raw": doc});
}

pub fn ingest(run: &Run, r: &mut Report) {
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
