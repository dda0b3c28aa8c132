//! arXiv export API: Atom feed, `start`/`max_results` paging, one request per
//! three seconds.

mod client;
mod parse;
mod query;

pub use client::{ArxivCheckpoint, ArxivClient};
pub use parse::{ArxivFeed, parse_feed};
pub use query::build_search_query;
