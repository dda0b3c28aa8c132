//! The service's one error type, mapped once to `tonic::Status`.

use platform::auth::AuthError;
use tonic::{Code, Status};
use uuid::Uuid;

/// Metadata key carrying the run id on an UNAVAILABLE answer whose run was created.
pub const RUN_ID_METADATA: &str = "x-ingest-run-id";
/// Metadata key naming the offending field on INVALID_ARGUMENT.
pub const FIELD_METADATA: &str = "x-field";

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("worker credential required")]
    NotWorker,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// A page that cannot be recorded in its place yet; the fetcher resends it.
    #[error("{0}")]
    PageOutOfOrder(String),
    #[error("run {run_id} was created but its job could not be published: {reason}")]
    PublishFailed { run_id: Uuid, reason: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ControlError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ControlError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<ControlError> for Status {
    fn from(err: ControlError) -> Status {
        match err {
            ControlError::Auth(AuthError::Forbidden(p)) => {
                Status::permission_denied(format!("missing permission {p}"))
            }
            ControlError::Auth(e) => Status::unauthenticated(e.to_string()),
            ControlError::NotWorker => Status::unauthenticated("worker credential required"),
            ControlError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ControlError::Invalid { field, message } => {
                let mut status = Status::invalid_argument(format!("{field}: {message}"));
                if let Ok(v) = field.parse() {
                    status.metadata_mut().insert(FIELD_METADATA, v);
                }
                status
            }
            ControlError::Conflict(msg) => Status::failed_precondition(msg),
            ControlError::LeaseLost(msg) => {
                Status::failed_precondition(format!("lease lost: {msg}"))
            }
            ControlError::PageOutOfOrder(msg) => Status::aborted(msg),
            ControlError::PublishFailed { run_id, reason } => {
                let mut status = Status::unavailable(format!(
                    "run {run_id} was created but the job queue is unavailable: {reason}; the run is marked failed"
                ));
                if let Ok(v) = run_id.to_string().parse() {
                    status.metadata_mut().insert(RUN_ID_METADATA, v);
                }
                status
            }
            ControlError::Database(e) => {
                tracing::error!(error = %e, "database error");
                if crate::db::is_unavailable(&e) {
                    Status::unavailable("database unavailable")
                } else if crate::db::is_conflict(&e) {
                    Status::aborted("the call conflicted with another; retry it")
                } else {
                    Status::new(Code::Internal, "internal error")
                }
            }
        }
    }
}

pub type Result<T, E = ControlError> = std::result::Result<T, E>;
