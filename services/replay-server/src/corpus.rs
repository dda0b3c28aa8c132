//! The records of each source, cut verbatim out of the recorded responses in
//! `fixtures/` (JSON objects for OpenAlex and Semantic Scholar, XML elements for PubMed
//! and arXiv) and deduplicated on source id and DOI, so that tests can count.

use crate::template::{Occurrence, Template, Token, occurrences};
use crate::{arxiv, json_scan, openalex, pubmed, semantic_scholar};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The four replayed sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    /// OpenAlex works.
    #[serde(rename = "openalex")]
    OpenAlex,
    /// PubMed through NCBI E-utilities.
    #[serde(rename = "pubmed")]
    PubMed,
    /// The arXiv export API.
    #[serde(rename = "arxiv")]
    Arxiv,
    /// The Semantic Scholar Graph API (`s2` is accepted too).
    #[serde(rename = "semantic_scholar", alias = "s2", alias = "semantic-scholar")]
    SemanticScholar,
}

impl Source {
    /// All sources, in a fixed order.
    pub const ALL: [Source; 4] = [
        Source::OpenAlex,
        Source::PubMed,
        Source::Arxiv,
        Source::SemanticScholar,
    ];

    /// The source's name: `openalex`, `pubmed`, `arxiv`, `semantic_scholar`.
    pub fn name(self) -> &'static str {
        match self {
            Source::OpenAlex => "openalex",
            Source::PubMed => "pubmed",
            Source::Arxiv => "arxiv",
            Source::SemanticScholar => "semantic_scholar",
        }
    }

    /// The first path segment the source is served under (`/s2` for Semantic Scholar).
    pub fn path_segment(self) -> &'static str {
        match self {
            Source::SemanticScholar => "s2",
            other => other.name(),
        }
    }

    /// Parses a name or alias (`s2`, `semantic-scholar`, `semanticscholar`), any case.
    pub fn parse(name: &str) -> Option<Source> {
        match name.to_ascii_lowercase().as_str() {
            "openalex" => Some(Source::OpenAlex),
            "pubmed" | "ncbi" => Some(Source::PubMed),
            "arxiv" => Some(Source::Arxiv),
            "semantic_scholar" | "semantic-scholar" | "semanticscholar" | "s2" => {
                Some(Source::SemanticScholar)
            }
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A record before deduplication, as a source module extracts it.
pub(crate) struct Candidate {
    /// Primary id (short form: `W…`, PMID, arXiv id without version, paperId).
    pub id: String,
    /// DOI, if the record has one.
    pub doi: Option<String>,
    /// The verbatim fragment.
    pub raw: String,
    /// Identifiers the synthetic mode rewrites.
    pub tokens: Vec<Token>,
    /// Whether `raw` is a JSON object (members can then be selected).
    pub json: bool,
}

/// One replayable record.
#[derive(Debug)]
pub struct Record {
    /// Primary id (short form: `W…`, PMID, arXiv id without version, paperId).
    pub id: String,
    /// DOI in lower case, if any.
    pub doi: Option<String>,
    raw: String,
    whole: Template,
    members: Vec<(String, Template)>,
}

impl Record {
    fn new(c: Candidate) -> anyhow::Result<Record> {
        let occ: Vec<Occurrence> = occurrences(&c.raw, &c.tokens);
        let whole = Template::build(0..c.raw.len(), &occ);
        anyhow::ensure!(
            whole.id_count() > 0,
            "record {} has no rewritable identifier",
            c.id
        );
        let members = if c.json {
            json_scan::object_members(&c.raw, 0..c.raw.len())?
                .into_iter()
                .map(|(key, range)| (key, Template::build(range, &occ)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Record {
            id: c.id,
            doi: c.doi.map(|d| d.to_lowercase()),
            raw: c.raw,
            whole,
            members,
        })
    }

    /// The verbatim fragment.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Appends the record, with the identifiers of synthetic record `k` if given.
    pub fn render(&self, source: Source, k: Option<u64>, out: &mut String) {
        match k {
            None => out.push_str(&self.raw),
            Some(_) => self.whole.render(&self.raw, source, k, out),
        }
    }

    /// Appends a JSON object with only the members `keep` accepts (JSON records only).
    pub fn render_members(
        &self,
        source: Source,
        k: Option<u64>,
        keep: &dyn Fn(&str) -> bool,
        out: &mut String,
    ) {
        out.push('{');
        let mut first = true;
        for (key, value) in self.members.iter().filter(|(key, _)| keep(key)) {
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push('"');
            out.push_str(key);
            out.push_str("\": ");
            value.render(&self.raw, source, k, out);
        }
        out.push('}');
    }
}

/// The deduplicated records of every source plus the wrappers they are served in.
#[derive(Debug)]
pub struct Corpus {
    records: [Vec<Record>; 4],
    by_id: [HashMap<String, usize>; 4],
    /// The current-layout `<feed …>` start tag (declares the `opensearch`/`arxiv` prefixes).
    pub(crate) arxiv_feed_open: String,
    /// The efetch prolog: XML declaration, DOCTYPE and `<PubmedArticleSet>`.
    pub(crate) pubmed_set_open: String,
}

pub(crate) fn read(dir: &Path, rel: &str) -> anyhow::Result<String> {
    let path = dir.join(rel);
    std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

impl Corpus {
    /// Reads the fixtures under `dir` (the repository's `fixtures/`).
    pub fn load(dir: &Path) -> anyhow::Result<Corpus> {
        let candidates = [
            openalex::candidates(dir)?,
            pubmed::candidates(dir)?,
            arxiv::candidates(dir)?,
            semantic_scholar::candidates(dir)?,
        ];
        let mut records: [Vec<Record>; 4] = Default::default();
        let mut by_id: [HashMap<String, usize>; 4] = Default::default();
        for (i, list) in candidates.into_iter().enumerate() {
            let mut seen = HashSet::new();
            for c in list {
                let keys: Vec<String> = std::iter::once(format!("id:{}", c.id))
                    .chain(c.doi.iter().map(|d| format!("doi:{}", d.to_lowercase())))
                    .collect();
                if keys.iter().any(|k| seen.contains(k)) {
                    continue;
                }
                seen.extend(keys);
                by_id[i].insert(c.id.clone(), records[i].len());
                records[i].push(Record::new(c)?);
            }
        }
        Ok(Corpus {
            records,
            by_id,
            arxiv_feed_open: arxiv::feed_open(dir)?,
            pubmed_set_open: pubmed::set_open(dir)?,
        })
    }

    /// As [`Corpus::load`], but loads each directory once per process (servers started
    /// by one test binary share the immutable corpus).
    pub fn load_shared(dir: &Path) -> anyhow::Result<Arc<Corpus>> {
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Corpus>>>> = OnceLock::new();
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        let mut loaded = crate::lock(LOADED.get_or_init(Mutex::default));
        if let Some(corpus) = loaded.get(&key) {
            return Ok(corpus.clone());
        }
        let corpus = Arc::new(Corpus::load(dir)?);
        loaded.insert(key, corpus.clone());
        Ok(corpus)
    }

    /// Number of records of `source` (a name or alias, see [`Source::parse`]); 0 for an
    /// unknown name.
    pub fn len(&self, source: &str) -> usize {
        Source::parse(source).map_or(0, |s| self.records(s).len())
    }

    /// Whether no source has any record.
    pub fn is_empty(&self) -> bool {
        self.records.iter().all(Vec::is_empty)
    }

    /// The records of `source`, in serving order.
    pub fn records(&self, source: Source) -> &[Record] {
        &self.records[source.index()]
    }

    /// Primary ids of `source`'s records in serving order: OpenAlex `W…`, PMIDs, arXiv
    /// ids without version, Semantic Scholar paperIds.
    pub fn ids(&self, source: &str) -> Vec<String> {
        Source::parse(source).map_or_else(Vec::new, |s| {
            self.records(s).iter().map(|r| r.id.clone()).collect()
        })
    }

    /// Position of the record with primary id `id`.
    pub fn position(&self, source: Source, id: &str) -> Option<usize> {
        self.by_id[source.index()].get(id).copied()
    }
}
