//! gRPC transport: authenticate, translate, call the service, map errors once.

pub mod run_service;
pub mod worker_service;

use crate::error::ControlError;
use platform::auth::{AuthError, JwtVerifier, Principal, WorkerCredential, bearer_token};
use tonic::Request;

fn authorization<T>(req: &Request<T>) -> Option<&str> {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
}

/// Verifies the caller's user token (forwarded by the gateway, or an internal
/// caller's own): every RunService call is authorised here again.
pub fn user<T>(verifier: &JwtVerifier, req: &Request<T>) -> Result<Principal, ControlError> {
    Ok(verifier.verify_header(authorization(req))?)
}

/// WorkerService accepts only the fetchers' service credential.
pub fn worker<T>(credential: &WorkerCredential, req: &Request<T>) -> Result<(), ControlError> {
    let header = authorization(req).ok_or(ControlError::Auth(AuthError::MissingToken))?;
    match bearer_token(header) {
        Some(token) if credential.matches(token) => Ok(()),
        _ => Err(ControlError::NotWorker),
    }
}
