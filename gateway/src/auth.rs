//! Bearer-token authentication at the edge.
//!
//! Each protected route group carries one permission middleware ([`require_read`],
//! [`require_write`], [`require_manage`]) that verifies the token once, checks the
//! permission ([`AuthenticatedUser::require`]) before the body is read, and leaves the
//! [`AuthenticatedUser`] in the request for the handler's extractor.

use crate::grpc_client::Forwarded;
use crate::problem::ApiError;
use crate::telemetry::{self, CallerOrg};
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::{HeaderMap, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use platform::auth::{AuthError, JwtVerifier, Permission, Principal, bearer_token};

/// A caller whose token verified. Handlers take it as an argument.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    /// Who the caller is and what it may do.
    pub principal: Principal,
    forwarded: Forwarded,
}

impl AuthenticatedUser {
    /// Verifies the `Authorization` header of `headers`.
    pub fn verify(verifier: &JwtVerifier, headers: &HeaderMap) -> Result<Self, ApiError> {
        let value = match headers.get(header::AUTHORIZATION) {
            None => return Err(AuthError::MissingToken.into()),
            Some(v) => v
                .to_str()
                .map_err(|_| AuthError::InvalidToken("not a Bearer token"))?,
        };
        let token =
            bearer_token(value).ok_or(AuthError::InvalidToken("expected a Bearer token"))?;
        let principal = verifier.verify(token)?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // A verified JWT is ASCII, so this only fails on a token no verifier accepts.
        let forwarded = Forwarded::new(token, header("traceparent"), header("x-request-id"))
            .ok_or(AuthError::InvalidToken("malformed token"))?;
        Ok(AuthenticatedUser {
            principal,
            forwarded,
        })
    }

    /// 403 unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        Ok(self.principal.require(permission)?)
    }

    /// A gRPC request to ingestion-control on this caller's behalf.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        self.forwarded.request(message)
    }
}

impl<S> FromRequestParts<S> for AuthenticatedUser
where
    S: Send + Sync,
    JwtVerifier: FromRef<S>,
{
    type Rejection = ApiError;

    /// Reuses the user a permission middleware verified; verifies only when none did.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(user) = parts.extensions.get::<AuthenticatedUser>() {
            return Ok(user.clone());
        }
        let user = AuthenticatedUser::verify(&JwtVerifier::from_ref(state), &parts.headers)?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

async fn require(
    permission: Permission,
    verifier: &JwtVerifier,
    mut req: Request,
    next: Next,
) -> Response {
    let user = match AuthenticatedUser::verify(verifier, req.headers()) {
        Ok(user) => user,
        Err(err) => {
            tracing::info!(error = %err, "request refused: not authenticated");
            return err.into_response();
        }
    };
    if let Err(err) = user.require(permission) {
        tracing::info!(%permission, "request refused: permission missing");
        return err.into_response();
    }
    let org = user.principal.organization_id;
    telemetry::set_caller_org(&tracing::Span::current(), org);
    req.extensions_mut().insert(user);
    let mut response = next.run(req).await;
    response.extensions_mut().insert(CallerOrg(org));
    response
}

/// Middleware: a verified token with `PAPERS_READ`.
pub async fn require_read(
    State(verifier): State<JwtVerifier>,
    req: Request,
    next: Next,
) -> Response {
    require(Permission::PapersRead, &verifier, req, next).await
}

/// Middleware: a verified token with `PAPERS_WRITE`.
pub async fn require_write(
    State(verifier): State<JwtVerifier>,
    req: Request,
    next: Next,
) -> Response {
    require(Permission::PapersWrite, &verifier, req, next).await
}

/// Middleware: a verified token with `DEVELOPER_MANAGE`.
pub async fn require_manage(
    State(verifier): State<JwtVerifier>,
    req: Request,
    next: Next,
) -> Response {
    require(Permission::DeveloperManage, &verifier, req, next).await
}
