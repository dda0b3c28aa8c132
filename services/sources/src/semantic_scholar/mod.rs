//! Semantic Scholar Graph API: bulk paper search with token paging.

mod client;
mod parse;

pub use client::{SemanticScholarCheckpoint, SemanticScholarClient};
pub use parse::{SearchPage, error_message, parse_search};
