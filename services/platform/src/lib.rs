//! What every service shares: configuration loading, telemetry (logs, traces,
//! metrics), trace-context propagation across HTTP, gRPC and AMQP, graceful
//! shutdown, authentication, and the domain vocabulary (`Source`, `RunStatus`).

pub mod auth;
pub mod config;
pub mod failpoints;
pub mod health;
pub mod net;
pub mod propagation;
pub mod shutdown;
pub mod source;
pub mod telemetry;

pub use source::{RunStatus, Source};
