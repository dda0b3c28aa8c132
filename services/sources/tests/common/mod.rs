//! Shared test helpers: fixture loading and a scripted local HTTP server.
// Each integration-test crate uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod fixtures;
pub mod server;

pub use fixtures::{fixture, fixture_names};
