//! The command line: `gateway` (serve, the default) and `gateway token` (a development JWT).

use clap::{Args, Parser, Subcommand};
use platform::auth::{DEV_JWT_SECRET, Role, mint_hs256, role_claims};
use platform::config::{self, ConfigError};
use uuid::Uuid;

/// The REST gateway of Foundations Pipeline.
#[derive(Debug, Parser)]
#[command(name = "gateway", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API (the default).
    Serve,
    /// Print an HS256 token signed with JWT_SECRET (or, with DEV_MODE=1 and no
    /// JWT_SECRET, the development secret), for trying the API by hand.
    Token(TokenArgs),
}

/// Options of `gateway token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The organisation (UUID) the token belongs to.
    #[arg(long)]
    pub org: Uuid,
    /// viewer (read), member (read, write) or admin (everything).
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// The subject (user id).
    #[arg(long, default_value = "dev-user")]
    pub sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub ttl_secs: u64,
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| format!("`{raw}` is not a role (viewer, member, admin)"))
}

/// Why no token could be minted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No secret to sign with.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Mints the token for `args` with `JWT_SECRET`, or the development secret when
/// `DEV_MODE` is set and no secret is configured.
pub fn token(args: &TokenArgs) -> Result<String, TokenError> {
    let secret = match config::optional("JWT_SECRET") {
        Some(secret) => secret,
        None if config::flag("DEV_MODE") => DEV_JWT_SECRET.to_owned(),
        None if config::optional("JWT_PUBLIC_KEY_FILE").is_some() => {
            return Err(ConfigError::Invalid {
                name: "JWT_PUBLIC_KEY_FILE",
                reason: "RS256 tokens are issued by the identity provider; \
                         `gateway token` signs only HS256 with JWT_SECRET"
                    .into(),
            }
            .into());
        }
        None => return Err(ConfigError::Missing("JWT_SECRET (or DEV_MODE=1)").into()),
    };
    let claims = role_claims(&args.sub, args.org, args.role, args.ttl_secs);
    mint_hs256(&secret, &claims).map_err(|e| TokenError::Sign(e.to_string()))
}
