//! ingestion-control: owns the run records and the papers in PostgreSQL and
//! publishes one job per run to RabbitMQ. See `docs/architecture.md`.

pub mod app;
pub mod clock;
pub mod coalesce;
pub mod config;
pub mod db;
pub mod dead_letters;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod page_order;
pub mod publish;
pub mod reconcile;
pub mod service;
pub mod telemetry;
pub mod title_index;
pub mod watch;

pub use app::{Application, Seams};
pub use config::Config;
