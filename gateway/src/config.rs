//! The gateway's settings, read from the environment once at start-up.

use platform::auth::AuthConfig;
use platform::config::{self, ConfigError};
use std::net::SocketAddr;
use std::time::Duration;

/// Default listen address.
pub const DEFAULT_ADDR: &str = "0.0.0.0:8080";
/// Default ingestion-control URL.
pub const DEFAULT_CONTROL_GRPC_URL: &str = "http://127.0.0.1:50051";
/// Largest accepted request body.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Everything the gateway needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `GATEWAY_ADDR`: where to listen (port 0 picks a free one).
    pub addr: SocketAddr,
    /// `CONTROL_GRPC_URL`: ingestion-control's gRPC endpoint.
    pub control_grpc_url: String,
    /// `JWT_SECRET` / `JWT_PUBLIC_KEY_FILE` (+ issuer, audience, leeway).
    pub auth: AuthConfig,
    /// `DEV_MODE`: allows the built-in development JWT secret.
    pub dev_mode: bool,
    /// Bound on the time to a response's headers (an SSE body streams past it).
    pub request_timeout: Duration,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Bound on connecting to ingestion-control.
    pub grpc_connect_timeout: Duration,
    /// Bound on each unary gRPC call (not applied to `WatchRun`).
    pub grpc_timeout: Duration,
    /// Interval of SSE keep-alive comments.
    pub sse_keep_alive: Duration,
}

impl Config {
    /// Settings with the defaults for everything but the three essentials; tests
    /// use this with `addr` on port 0.
    pub fn new(addr: SocketAddr, control_grpc_url: impl Into<String>, auth: AuthConfig) -> Self {
        Config {
            addr,
            control_grpc_url: control_grpc_url.into(),
            dev_mode: auth.dev_mode,
            auth,
            request_timeout: Duration::from_secs(30),
            body_limit: BODY_LIMIT_BYTES,
            grpc_connect_timeout: Duration::from_secs(3),
            grpc_timeout: Duration::from_secs(10),
            sse_keep_alive: Duration::from_secs(15),
        }
    }

    /// Reads `GATEWAY_ADDR`, `CONTROL_GRPC_URL`, `DEV_MODE` and the JWT settings.
    /// Outside `DEV_MODE` a missing `JWT_SECRET`/`JWT_PUBLIC_KEY_FILE` is an error
    /// naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let dev_mode = config::flag("DEV_MODE");
        let addr = match config::optional("GATEWAY_ADDR") {
            None => SocketAddr::from(([0, 0, 0, 0], 8080)),
            Some(raw) => raw.parse().map_err(|e| ConfigError::Invalid {
                name: "GATEWAY_ADDR",
                reason: format!("`{raw}` is not host:port ({e})"),
            })?,
        };
        let control_grpc_url = config::optional("CONTROL_GRPC_URL")
            .unwrap_or_else(|| DEFAULT_CONTROL_GRPC_URL.to_owned());
        validate_url(&control_grpc_url)?;
        let auth = AuthConfig::from_env(dev_mode)?;
        let mut cfg = Config::new(addr, control_grpc_url, auth);
        cfg.dev_mode = dev_mode;
        Ok(cfg)
    }
}

fn validate_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "CONTROL_GRPC_URL",
        reason,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(format!(
            "`{url}` must start with http:// or https://"
        )));
    }
    url.parse::<http::Uri>()
        .map(|_| ())
        .map_err(|e| invalid(format!("`{url}` is not a URL ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_url_must_be_http_or_https() {
        assert!(validate_url("http://127.0.0.1:50051").is_ok());
        assert!(validate_url("https://control.internal").is_ok());
        assert!(validate_url("127.0.0.1:50051").is_err());
        assert!(validate_url("http://bad host").is_err());
    }

    #[test]
    fn defaults_match_the_contract() {
        let cfg = Config::new(
            DEFAULT_ADDR.parse().expect("static"),
            DEFAULT_CONTROL_GRPC_URL,
            AuthConfig::hs256(platform::config::Secret::new("s")),
        );
        assert_eq!(cfg.body_limit, 64 * 1024);
        assert_eq!(cfg.request_timeout, Duration::from_secs(30));
        assert_eq!(cfg.sse_keep_alive, Duration::from_secs(15));
        assert!(!format!("{cfg:?}").contains("\"s\""));
    }
}
