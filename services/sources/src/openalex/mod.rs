//! OpenAlex works API: cursor paging over `GET /works`.

mod client;
mod parse;

pub use client::{OpenAlexCheckpoint, OpenAlexClient};
pub use parse::{WorksPage, parse_work, parse_works_page};
