//! PubMed through NCBI E-utilities: ESearch on the history server, then EFetch
//! pages of `PubmedArticleSet` XML.

mod client;
mod efetch;
mod esearch;
mod record;

pub use client::{PUBMED_WINDOW, PubmedCheckpoint, PubmedClient};
pub use efetch::parse_efetch;
pub use esearch::{EsearchResult, is_window_message, parse_esearch};
