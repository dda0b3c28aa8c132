use clap::{Parser, Subcommand};
use ingestion_control::{Application, Config, Seams, app};
use platform::shutdown::Shutdown;

#[derive(Parser)]
#[command(
    name = "ingestion-control",
    about = "Runs and papers: the database and the job publisher."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::config::load_dotenv();
    let cli = Cli::parse();
    let telemetry = platform::telemetry::init(&platform::telemetry::TelemetryConfig::from_env(
        "ingestion-control",
    ))
    .map_err(|e| anyhow::anyhow!(e))?;
    let result = match cli.command.unwrap_or(Command::Serve) {
        // Only the database is needed to migrate (the Kubernetes Job has no other secrets).
        Command::Migrate => match platform::config::required("DATABASE_URL") {
            Ok(url) => app::migrate(&url).await,
            Err(e) => Err(e.into()),
        },
        Command::Serve => {
            let config =
                Config::from_env().inspect_err(|e| tracing::error!("configuration: {e}"))?;
            let shutdown = Shutdown::new();
            shutdown.trigger_on_signals();
            let app = Application::build(config, Seams::default(), shutdown).await?;
            app.run_until_stopped().await
        }
    };
    telemetry.shutdown().await;
    result
}
