//! `replay-server --addr 127.0.0.1:8090 --fixtures fixtures [--latency-ms N]`: serves
//! the recorded source APIs until SIGTERM or Ctrl-C.

use clap::Parser;
use replay_server::{Options, ReplayServer, Source};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Replays the recorded OpenAlex, PubMed, arXiv and Semantic Scholar responses.
#[derive(Parser)]
#[command(name = "replay-server", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "REPLAY_ADDR", default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
    /// The repository's fixtures directory.
    #[arg(long, env = "REPLAY_FIXTURES_DIR", default_value = "fixtures")]
    fixtures: PathBuf,
    /// A fixed delay before every answer, for a realistic demo (0 for benchmarks).
    #[arg(long, env = "REPLAY_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let options = Options {
        latency: Duration::from_millis(cli.latency_ms),
    };
    let server = ReplayServer::start_with(cli.addr, &cli.fixtures, options).await?;
    let sizes: Vec<String> = Source::ALL
        .iter()
        .map(|s| format!("{}={}", s.name(), server.corpus_len(s.name())))
        .collect();
    tracing::info!(
        addr = %server.addr(),
        fixtures = %cli.fixtures.display(),
        latency_ms = cli.latency_ms,
        corpus = %sizes.join(" "),
        "replay server listening on {}",
        server.base_url()
    );
    shutdown_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
