//! The four sources and the run states, with their stored, REST and wire names.

use ingestion_proto::v1;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    OpenAlex,
    Pubmed,
    Arxiv,
    SemanticScholar,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown source `{0}` (expected one of openalex, pubmed, arxiv, semantic_scholar)")]
pub struct UnknownSource(pub String);

impl Source {
    pub const ALL: [Source; 4] = [
        Source::OpenAlex,
        Source::Pubmed,
        Source::Arxiv,
        Source::SemanticScholar,
    ];

    /// The stored name: database column, routing key, queue suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OpenAlex => "openalex",
            Source::Pubmed => "pubmed",
            Source::Arxiv => "arxiv",
            Source::SemanticScholar => "semantic_scholar",
        }
    }

    /// The REST path segment of the start endpoint.
    pub fn path_segment(self) -> &'static str {
        match self {
            Source::SemanticScholar => "semantic-scholar",
            other => other.as_str(),
        }
    }

    pub fn to_proto(self) -> v1::Source {
        match self {
            Source::OpenAlex => v1::Source::Openalex,
            Source::Pubmed => v1::Source::Pubmed,
            Source::Arxiv => v1::Source::Arxiv,
            Source::SemanticScholar => v1::Source::SemanticScholar,
        }
    }

    /// `None` for `SOURCE_UNSPECIFIED` and unknown numbers.
    pub fn from_proto(value: i32) -> Option<Source> {
        match v1::Source::try_from(value).ok()? {
            v1::Source::Openalex => Some(Source::OpenAlex),
            v1::Source::Pubmed => Some(Source::Pubmed),
            v1::Source::Arxiv => Some(Source::Arxiv),
            v1::Source::SemanticScholar => Some(Source::SemanticScholar),
            v1::Source::Unspecified => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = UnknownSource;

    /// Accepts the stored name and the REST path segment.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "openalex" => Ok(Source::OpenAlex),
            "pubmed" => Ok(Source::Pubmed),
            "arxiv" => Ok(Source::Arxiv),
            "semantic_scholar" | "semantic-scholar" => Ok(Source::SemanticScholar),
            other => Err(UnknownSource(other.chars().take(64).collect())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown run status `{0}`")]
pub struct UnknownStatus(pub String);

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    pub fn to_proto(self) -> v1::RunStatus {
        match self {
            RunStatus::Queued => v1::RunStatus::Queued,
            RunStatus::Running => v1::RunStatus::Running,
            RunStatus::Completed => v1::RunStatus::Completed,
            RunStatus::Failed => v1::RunStatus::Failed,
            RunStatus::Cancelled => v1::RunStatus::Cancelled,
        }
    }

    pub fn from_proto(value: i32) -> Option<RunStatus> {
        match v1::RunStatus::try_from(value).ok()? {
            v1::RunStatus::Queued => Some(RunStatus::Queued),
            v1::RunStatus::Running => Some(RunStatus::Running),
            v1::RunStatus::Completed => Some(RunStatus::Completed),
            v1::RunStatus::Failed => Some(RunStatus::Failed),
            v1::RunStatus::Cancelled => Some(RunStatus::Cancelled),
            v1::RunStatus::Unspecified => None,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(RunStatus::Queued),
            "running" => Ok(RunStatus::Running),
            "completed" => Ok(RunStatus::Completed),
            "failed" => Ok(RunStatus::Failed),
            "cancelled" => Ok(RunStatus::Cancelled),
            other => Err(UnknownStatus(other.chars().take(64).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_round_trips_through_stored_name_path_segment_and_proto() {
        for source in Source::ALL {
            assert_eq!(source.as_str().parse::<Source>().unwrap(), source);
            assert_eq!(source.path_segment().parse::<Source>().unwrap(), source);
            assert_eq!(Source::from_proto(source.to_proto() as i32), Some(source));
        }
        assert_eq!(Source::SemanticScholar.path_segment(), "semantic-scholar");
        assert!(Source::from_proto(0).is_none());
        assert!("crossref".parse::<Source>().is_err());
    }

    #[test]
    fn only_completed_failed_and_cancelled_are_terminal() {
        assert!(!RunStatus::Queued.is_terminal());
        assert!(!RunStatus::Running.is_terminal());
        assert!(RunStatus::Completed.is_terminal());
        assert!(RunStatus::Failed.is_terminal());
        assert!(RunStatus::Cancelled.is_terminal());
    }
}
