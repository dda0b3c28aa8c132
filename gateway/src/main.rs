//! `gateway`: serve the REST API, or `gateway token` for a development JWT.

use clap::Parser as _;
use gateway::cli::{Cli, Command};
use gateway::{Application, Config};
use platform::shutdown::Shutdown;
use platform::telemetry::{self, TelemetryConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::config::load_dotenv();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Token(args) => {
            println!("{}", gateway::cli::token(&args)?);
            Ok(())
        }
        Command::Serve => serve().await,
    }
}

async fn serve() -> anyhow::Result<()> {
    let telemetry = telemetry::init(&TelemetryConfig::from_env("gateway"))
        .map_err(|e| anyhow::anyhow!("telemetry: {e}"))?;
    let config = Config::from_env()?;
    tracing::info!(control = %config.control_grpc_url, dev_mode = config.dev_mode, "starting gateway");
    let app = Application::build(config).await?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let result = app.run_until_stopped(shutdown).await;
    telemetry.shutdown().await;
    Ok(result?)
}
