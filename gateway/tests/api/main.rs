//! Integration tests: the real gateway over HTTP, a fake ingestion-control over gRPC.

mod auth;
mod cli;
mod events;
mod fake_control;
mod forwarding;
mod helpers;
mod operations;
mod runs_and_papers;
mod status_mapping;
mod validation;
