//! The HTTP/JSON front door of Foundations Pipeline.
//!
//! Routes REST calls to ingestion-control over gRPC: verifies the caller's bearer
//! token, checks the route's permission, validates input, forwards the token (and the
//! trace context), and maps every answer to JSON or a problem document. It keeps
//! nothing itself. See `docs/architecture.md` for the whole system.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dto;
pub mod extract;
pub mod grpc_client;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod telemetry;

pub use app::{AppState, Application, StartupError};
pub use config::Config;
pub use problem::{ApiError, Problem};
