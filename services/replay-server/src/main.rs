use clap::Parser;
use replay_server::ReplayServer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "replay-server",
    about = "Replays recorded source API responses (fixtures/) for tests and the offline demo."
)]
struct Cli {
    #[arg(long, env = "REPLAY_ADDR", default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
    #[arg(long, env = "REPLAY_FIXTURES_DIR", default_value = "fixtures")]
    fixtures: PathBuf,
    /// A fixed delay before every answer, for a realistic demo.
    #[arg(long, env = "REPLAY_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let server = ReplayServer::start_with_latency(
        cli.addr,
        &cli.fixtures,
        Duration::from_millis(cli.latency_ms),
    )
    .await?;
    tracing::info!(
        addr = %server.addr(),
        openalex = server.corpus_len("openalex"),
        pubmed = server.corpus_len("pubmed"),
        arxiv = server.corpus_len("arxiv"),
        semantic_scholar = server.corpus_len("semantic_scholar"),
        "replay server listening"
    );
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<_, std::io::Error>(())
    };
    shutdown.await?;
    server.shutdown().await;
    Ok(())
}
