//! Credentials for the benchmark clients: HS256 user tokens signed with the stack's
//! `JWT_SECRET`, and the fetchers' `WORKER_TOKEN` as gRPC metadata.

use anyhow::Context as _;
use platform::auth::{Role, mint_hs256, role_claims};
use tonic::metadata::AsciiMetadataValue;
use uuid::Uuid;

/// Lifetime of benchmark tokens: longer than any scenario.
const TOKEN_TTL_SECS: u64 = 4 * 3600;

/// A token of `org` with `role`, signed with `secret`.
pub fn user_token(secret: &str, org: Uuid, role: Role, subject: &str) -> anyhow::Result<String> {
    let claims = role_claims(subject, org, role, TOKEN_TTL_SECS);
    mint_hs256(secret, &claims).context("signing a benchmark token")
}

/// A member (read and write) token of `org`.
pub fn member_token(secret: &str, org: Uuid, subject: &str) -> anyhow::Result<String> {
    user_token(secret, org, Role::Member, subject)
}

/// `Bearer <token>` as gRPC metadata.
pub fn bearer_metadata(token: &str) -> anyhow::Result<AsciiMetadataValue> {
    format!("Bearer {token}")
        .parse()
        .context("token is not valid metadata")
}

/// Wraps `message` in a gRPC request carrying `authorization`.
pub fn with_auth<T>(message: T, authorization: &AsciiMetadataValue) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut()
        .insert("authorization", authorization.clone());
    req
}

/// A required secret from the environment (never a command-line argument, so it
/// does not show in `ps`).
pub fn env_secret(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .with_context(|| format!("{name} must be set"))
}
