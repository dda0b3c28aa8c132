//! The gateway's one error type and its `application/problem+json` form (RFC 9457).
//!
//! Every failure a client sees goes through [`ApiError`]: rejected input, authentication,
//! and ingestion-control's gRPC status (mapped once, in `From<tonic::Status>`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::auth::{AuthError, Permission};
use serde::{Deserialize, Serialize};
use tonic::Code;
use utoipa::ToSchema;
use uuid::Uuid;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Metadata key ingestion-control sets on UNAVAILABLE when a run was created anyway.
pub const RUN_ID_METADATA: &str = "x-ingest-run-id";
/// Metadata key ingestion-control sets on INVALID_ARGUMENT, naming the offending field.
pub const FIELD_METADATA: &str = "x-field";

/// The longest upstream 4xx message echoed to a client.
const MAX_ECHOED_DETAIL: usize = 300;

/// A problem document: `type`, `title`, `status`, `detail`, and for some problems
/// `field` (validation) or `ingest_run_id` (a run was created but not queued).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:foundations:problem:validation",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "must be between 1 and 10000",
    "field": "max_results"
}))]
pub struct Problem {
    /// A URI (URN) naming the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a human; never internals.
    pub detail: String,
    /// The offending input, as a JSON path into the body (`filters.from_date`),
    /// a query parameter or a header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The run that was created before the failure (503 of a start endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_run_id: Option<Uuid>,
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401: no token, or one that does not verify.
    #[error("{detail}")]
    Unauthenticated {
        /// Why the token was refused.
        detail: String,
        /// Whether a token was presented (selects the `WWW-Authenticate` error code).
        token_presented: bool,
    },
    /// 403: the token lacks the route's permission.
    #[error("{0}")]
    Forbidden(String),
    /// 400: unusable input (malformed JSON, query parameters, headers).
    #[error("{detail}")]
    BadRequest {
        /// The offending parameter or header, when there is one.
        field: Option<String>,
        /// What is wrong with it.
        detail: String,
    },
    /// 422: well-formed JSON whose content breaks a rule.
    #[error("{detail}")]
    Validation {
        /// JSON path of the offending member.
        field: Option<String>,
        /// The rule it breaks.
        detail: String,
    },
    /// 415: the body is not JSON.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 413: the body is over the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 404: unknown resource, or another organisation's.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: a transition the run's state does not allow.
    #[error("{0}")]
    Conflict(String),
    /// 503: ingestion-control, the queue or the database is down.
    #[error("{detail}")]
    Unavailable {
        /// What is unavailable.
        detail: String,
        /// The run created before the failure, if any.
        ingest_run_id: Option<Uuid>,
    },
    /// 504: ingestion-control did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// 500: anything else; details are logged, never returned.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A 422 for `field`.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Validation {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// A 400 for the parameter or header `field`.
    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated { .. } => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Validation { .. } => "validation",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal => "internal",
        }
    }

    /// The problem document of this error.
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let (field, ingest_run_id) = match self {
            ApiError::BadRequest { field, .. } | ApiError::Validation { field, .. } => {
                (field.clone(), None)
            }
            ApiError::Unavailable { ingest_run_id, .. } => (None, *ingest_run_id),
            _ => (None, None),
        };
        Problem {
            problem_type: format!("urn:foundations:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
            ingest_run_id,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let mut response = (self.status(), axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::Unauthenticated {
            token_presented, ..
        } = self
        {
            // RFC 6750 §3: name the error only when a token was presented.
            let challenge = if token_presented {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Forbidden(p) => p.into(),
            AuthError::MissingToken => ApiError::Unauthenticated {
                detail: "a bearer token is required".into(),
                token_presented: false,
            },
            other => ApiError::Unauthenticated {
                detail: other.to_string(),
                token_presented: true,
            },
        }
    }
}

impl From<Permission> for ApiError {
    fn from(p: Permission) -> Self {
        ApiError::Forbidden(format!("missing permission {p}"))
    }
}

/// Fields of a start endpoint's body: an INVALID_ARGUMENT naming one is a 422,
/// any other (a cursor, a limit, an id) is a 400.
fn is_body_field(field: &str) -> bool {
    matches!(field, "query" | "max_results" | "filters") || field.starts_with("filters.")
}

/// An upstream 4xx message, bounded and stripped of control characters.
fn echoed(message: &str, fallback: &str) -> String {
    let cleaned: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ECHOED_DETAIL)
        .collect();
    if cleaned.trim().is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// Whether `status` is tonic's own report of a connection to control that failed
/// (refused, reset, closed mid-call) rather than an answer control sent. tonic keeps
/// the underlying error as the status's source; its own call deadline
/// ([`tonic::TimeoutExpired`]) is a timeout, not a transport failure.
fn is_transport_failure(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if err.is::<tonic::TimeoutExpired>() {
            return false;
        }
        if err.is::<tonic::transport::Error>()
            || err.is::<tonic::ConnectError>()
            || err.is::<std::io::Error>()
        {
            return true;
        }
        source = err.source();
    }
    // The source is lost once a status is rebuilt from its code and message.
    status.code() == Code::Unknown && status.message().starts_with("transport error")
}

/// The 503 for control (or what control depends on) being unavailable; names the
/// run control created before the failure, when it says so.
fn unavailable(status: &tonic::Status) -> ApiError {
    let ingest_run_id = metadata_str(status, RUN_ID_METADATA).and_then(|v| Uuid::parse_str(v).ok());
    tracing::warn!(code = ?status.code(), message = %status.message(), ?ingest_run_id, "ingestion-control unavailable");
    let detail = match ingest_run_id {
        Some(id) => format!(
            "run {id} was created but could not be queued, so it is marked failed; \
             retry it, or start again with the same Idempotency-Key"
        ),
        None => "ingestion-control is temporarily unavailable; try again shortly".into(),
    };
    ApiError::Unavailable {
        detail,
        ingest_run_id,
    }
}

fn metadata_str<'a>(status: &'a tonic::Status, key: &str) -> Option<&'a str> {
    status.metadata().get(key).and_then(|v| v.to_str().ok())
}

/// The one mapping from ingestion-control's answers to HTTP. Client errors keep
/// control's message (it is written for users); server errors get a generic detail
/// and the real status is logged.
impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let message = status.message();
        match status.code() {
            Code::NotFound => ApiError::NotFound(echoed(message, "not found")),
            Code::InvalidArgument => {
                let field = metadata_str(&status, FIELD_METADATA)
                    .filter(|f| !f.is_empty() && f.len() <= 100)
                    .map(str::to_owned);
                let detail = echoed(message, "invalid argument");
                match field {
                    Some(f) if is_body_field(&f) => ApiError::Validation {
                        field: Some(f),
                        detail,
                    },
                    field => ApiError::BadRequest { field, detail },
                }
            }
            Code::FailedPrecondition => {
                ApiError::Conflict(echoed(message, "the run's state does not allow this"))
            }
            Code::PermissionDenied => ApiError::Forbidden(echoed(message, "permission denied")),
            Code::Unauthenticated => ApiError::Unauthenticated {
                detail: "the token was not accepted".into(),
                token_presented: true,
            },
            Code::Unavailable => unavailable(&status),
            // A call whose connection broke (control died mid-call, connection reset)
            // comes back as UNKNOWN "transport error", or CANCELLED when the connection
            // closed before the request was sent: control is down, which is retryable.
            _ if is_transport_failure(&status) => unavailable(&status),
            // tonic reports its own client-side deadline as CANCELLED ("Timeout expired").
            Code::DeadlineExceeded | Code::Cancelled => {
                tracing::warn!(code = ?status.code(), %message, "ingestion-control timed out");
                ApiError::Timeout("ingestion-control did not answer in time".into())
            }
            code => {
                tracing::error!(?code, %message, "ingestion-control failed");
                ApiError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn http_status(status: tonic::Status) -> (StatusCode, String) {
        let err = ApiError::from(status);
        (err.status(), err.to_problem().detail)
    }

    #[test]
    fn a_broken_connection_reported_as_unknown_transport_error_is_a_503() {
        let broken = io::Error::new(io::ErrorKind::BrokenPipe, "stream closed");
        let (status, detail) = http_status(tonic::Status::from_error(Box::new(broken)));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(detail.contains("temporarily unavailable"), "{detail}");

        // The same status rebuilt from code and message alone (its source lost).
        let (status, _) = http_status(tonic::Status::unknown("transport error"));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn a_refused_connection_is_a_503() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let status = tonic::Status::from_error(Box::new(tonic::ConnectError(Box::new(refused))));
        assert_eq!(status.code(), Code::Unavailable);
        let (status, detail) = http_status(status);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!detail.contains("refused"), "{detail}");
    }

    #[test]
    fn the_clients_own_deadline_stays_a_504_and_an_unknown_answer_a_500() {
        let timeout = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(timeout.code(), Code::Cancelled);
        assert_eq!(http_status(timeout).0, StatusCode::GATEWAY_TIMEOUT);
        let answered = tonic::Status::unknown("control panicked");
        assert_eq!(http_status(answered).0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
