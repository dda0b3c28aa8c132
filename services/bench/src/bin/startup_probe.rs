//! `startup-probe`: time from process start to ready, repeated.
//!
//! Spawns the command after `--` (with this process's environment), polls
//! `--ready-url` every 2 ms until it answers 200, records the time since the spawn,
//! then stops the process with SIGTERM (SIGKILL after 10 s) and starts over.
//! Prints JSON: every run's milliseconds and the peak RSS each reached.

use bench::stats::Summary;
use clap::Parser;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "startup-probe",
    about = "Process start to /readyz 200, repeated"
)]
struct Cli {
    /// The service's name in the output.
    #[arg(long)]
    name: String,
    /// Its readiness endpoint, e.g. http://127.0.0.1:18090/readyz
    #[arg(long)]
    ready_url: String,
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Give up on one start after this long.
    #[arg(long, default_value_t = 30.0)]
    timeout_secs: f64,
    /// Where the service's output goes (appended).
    #[arg(long)]
    log: Option<std::path::PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn output(log: &Option<std::path::PathBuf>) -> anyhow::Result<(Stdio, Stdio)> {
    Ok(match log {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            (Stdio::from(f.try_clone()?), Stdio::from(f))
        }
        None => (Stdio::null(), Stdio::null()),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()?;
    let mut ms = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..cli.runs {
        let (out, err) = output(&cli.log)?;
        let started = Instant::now();
        let mut child = Command::new(&cli.command[0])
            .args(&cli.command[1..])
            .stdout(out)
            .stderr(err)
            .spawn()?;
        let deadline = started + Duration::from_secs_f64(cli.timeout_secs);
        let ready = loop {
            if let Ok(r) = client.get(&cli.ready_url).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                break Some(started.elapsed());
            }
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        peaks.push(bench::procfs::peak_rss_mib(child.id()));
        stop(&mut child);
        match ready {
            Some(d) => ms.push(d.as_secs_f64() * 1000.0),
            None => anyhow::bail!("{} did not become ready at {}", cli.name, cli.ready_url),
        }
        // Let ports and broker consumers go before the next start.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let summary = Summary::of(&ms).map(|s| s.to_json());
    bench::print_json(&serde_json::json!({
        "scenario": "startup",
        "service": cli.name,
        "runs_ms": ms,
        "ready_ms": summary,
        "peak_rss_mib_at_ready": peaks,
    }));
    Ok(())
}
