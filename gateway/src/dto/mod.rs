//! The JSON shapes of the REST API, with their OpenAPI schemas, and their
//! translation from and to the gRPC messages.

pub mod paper;
mod rules;
pub mod run;
pub mod start;

pub use paper::{AuthorView, ExternalIdsView, PaperPage, PaperView};
pub use run::{Progress, RunPage, RunView};
pub use start::{
    ArxivFilters, ArxivStart, OpenAlexFilters, OpenAlexStart, PubmedFilters, PubmedStart,
    SemanticScholarFilters, SemanticScholarStart, StartRequest, StartRunResponse,
};
