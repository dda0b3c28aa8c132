//! source-fetcher: consumes one source's job queue, claims runs, pages through the
//! source API and hands papers and checkpoints back to ingestion-control.

pub mod app;
pub mod config;
pub mod consume;
pub mod control_client;
pub mod convert;
mod in_flight;
pub mod job;
pub mod pacer;

pub use app::Application;
pub use config::Config;
