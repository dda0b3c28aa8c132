use clap::Parser;
use source_fetcher::{Application, Config};

#[derive(Parser)]
#[command(
    name = "source-fetcher",
    about = "Fetches one source's runs from its job queue."
)]
struct Cli {
    /// openalex, pubmed, arxiv or semantic_scholar (or SOURCE).
    #[arg(long)]
    source: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::config::load_dotenv();
    let cli = Cli::parse();
    let telemetry = platform::telemetry::init(&platform::telemetry::TelemetryConfig::from_env(
        "source-fetcher",
    ))
    .map_err(|e| anyhow::anyhow!(e))?;
    let config =
        Config::from_env(cli.source).inspect_err(|e| tracing::error!("configuration: {e}"))?;
    let shutdown = platform::shutdown::Shutdown::new();
    shutdown.trigger_on_signals();
    let app = Application::build(
        config,
        platform::failpoints::Failpoints::from_env(),
        shutdown,
    )
    .await?;
    let result = app.run_until_stopped().await;
    telemetry.shutdown().await;
    result
}
