//! Realistic synthetic papers for the import benchmark: about 1 KB each (a title, a
//! ~700-character abstract, five authors with affiliations, DOI, OpenAlex id, PMID),
//! deterministic, with every second record a duplicate (same DOI and ids) of an
//! earlier one.

use ingestion_proto::v1;

const WORDS: &[&str] = &[
    "protein",
    "expression",
    "cell",
    "tumour",
    "model",
    "analysis",
    "clinical",
    "patients",
    "response",
    "signalling",
    "pathway",
    "genome",
    "sequencing",
    "variant",
    "cohort",
    "risk",
    "treatment",
    "inhibitor",
    "receptor",
    "binding",
    "structure",
    "dynamics",
    "network",
    "learning",
    "neural",
    "training",
    "dataset",
    "accuracy",
    "method",
    "framework",
    "efficient",
    "robust",
    "inference",
    "bayesian",
    "estimation",
    "sample",
    "population",
    "association",
    "mechanism",
    "regulation",
    "metabolic",
    "immune",
    "infection",
    "vaccine",
    "antibody",
    "resistance",
    "mutation",
    "transcription",
    "chromatin",
    "single-cell",
    "imaging",
    "brain",
    "cortex",
    "memory",
    "behaviour",
    "climate",
    "ocean",
    "carbon",
    "emission",
    "energy",
    "battery",
    "catalyst",
    "material",
    "quantum",
    "photon",
    "spectroscopy",
    "simulation",
    "evidence",
    "trial",
    "randomised",
    "outcome",
    "mortality",
    "incidence",
    "prevalence",
    "longitudinal",
    "observational",
    "systematic",
    "review",
    "meta-analysis",
    "significant",
    "increased",
    "reduced",
    "novel",
    "approach",
    "results",
    "suggest",
    "demonstrate",
    "across",
    "independent",
    "validation",
    "multiple",
    "large-scale",
    "high-throughput",
    "targeted",
];
const FIRST: &[&str] = &[
    "Anna", "Ben", "Chen", "Dara", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kavya",
    "Luca", "Mei", "Nadia", "Omar", "Priya", "Rafael", "Sofia", "Tomás", "Uma", "Yusuf", "Zoe",
];
const LAST: &[&str] = &[
    "Almeida", "Becker", "Costa", "Dubois", "Eriksson", "Fischer", "García", "Hansen", "Ito",
    "Jensen", "Kowalski", "Li", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi", "Singh",
    "Tanaka", "Urban", "Wang", "Zhang",
];
const PLACES: &[&str] = &[
    "Oxford",
    "Heidelberg",
    "Kyoto",
    "Toronto",
    "Melbourne",
    "Zurich",
    "Lisbon",
    "Nairobi",
    "Boston",
    "Uppsala",
    "Singapore",
    "Barcelona",
];

/// A deterministic xorshift generator (no shared state, reproducible runs).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn words(rng: &mut Rng, min_chars: usize) -> String {
    let mut s = String::with_capacity(min_chars + 16);
    while s.len() < min_chars {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s
}

/// One synthetic paper, identified by its unique index within a benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Paper {
    /// Index among the unique papers (duplicates share it).
    pub unique: u64,
    /// Title (~90 characters).
    pub title: String,
    /// Abstract (~700 characters).
    pub abstract_text: String,
    /// Five (name, affiliation) pairs.
    pub authors: Vec<(String, String)>,
    /// `YYYY-MM-DD`.
    pub publication_date: String,
    /// Journal name.
    pub venue: String,
    /// Normalised DOI.
    pub doi: String,
    /// `W…` OpenAlex id.
    pub openalex_id: String,
    /// PubMed id.
    pub pmid: String,
    /// Citations (a duplicate reports one more, as a later source would).
    pub citation_count: u64,
}

impl Paper {
    /// The unique paper `u` (the same text every time for the same `u`).
    pub fn unique(u: u64) -> Paper {
        let mut rng = Rng::new(u + 1);
        let title = {
            let t = words(&mut rng, 85);
            let mut c = t.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or(t)
        };
        let abstract_text = words(&mut rng, 700) + ".";
        let authors = (0..5)
            .map(|_| {
                let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
                let place = rng.pick(PLACES);
                (
                    name,
                    format!("Department of {}, University of {place}", rng.pick(WORDS)),
                )
            })
            .collect();
        let venue = format!("Journal of {} {}", rng.pick(WORDS), rng.pick(WORDS));
        Paper {
            unique: u,
            title,
            abstract_text,
            authors,
            publication_date: format!(
                "{}-{:02}-{:02}",
                2000 + rng.next() % 26,
                1 + rng.next() % 12,
                1 + rng.next() % 28
            ),
            venue,
            doi: format!("10.5555/bench.{u}"),
            openalex_id: format!("W{}", 4_000_000_000 + u),
            pmid: format!("{}", 60_000_000 + u),
            citation_count: rng.next() % 500,
        }
    }

    /// Record `j` of a stream where even positions are new papers and odd positions
    /// repeat a pseudo-randomly chosen earlier one (same DOI and ids).
    pub fn nth_with_duplicates(j: u64) -> Paper {
        if j.is_multiple_of(2) {
            Paper::unique(j / 2)
        } else {
            let earlier = Rng::new(j).next() % (j / 2 + 1);
            let mut p = Paper::unique(earlier);
            p.citation_count += 1;
            p
        }
    }

    /// As a fetcher sends it to `RecordPage`.
    pub fn to_proto(&self) -> v1::PaperRecord {
        v1::PaperRecord {
            title: self.title.clone(),
            abstract_text: Some(self.abstract_text.clone()),
            authors: self
                .authors
                .iter()
                .map(|(name, aff)| v1::Author {
                    name: name.clone(),
                    orcid: None,
                    affiliations: vec![aff.clone()],
                })
                .collect(),
            publication_date: Some(self.publication_date.clone()),
            date_precision: v1::DatePrecision::Day as i32,
            venue: Some(self.venue.clone()),
            doi: Some(self.doi.clone()),
            external_ids: Some(v1::ExternalIds {
                openalex: Some(format!("https://openalex.org/{}", self.openalex_id)),
                pmid: Some(self.pmid.clone()),
                pmcid: None,
                arxiv: None,
                s2: None,
            }),
            url: Some(format!("https://doi.org/{}", self.doi)),
            citation_count: Some(self.citation_count),
        }
    }

    /// The authors as the `papers.authors` JSON.
    pub fn authors_json(&self) -> serde_json::Value {
        self.authors
            .iter()
            .map(|(name, aff)| serde_json::json!({"name": name, "affiliations": [aff]}))
            .collect()
    }

    /// One line of `COPY … FROM STDIN` (text format) with the columns of
    /// [`COPY_COLUMNS`]: what `import_papers()` would insert for this record.
    pub fn copy_line(&self, id: uuid::Uuid, org: uuid::Uuid, source: &str, out: &mut String) {
        use std::fmt::Write as _;
        let fields = [
            id.to_string(),
            org.to_string(),
            copy_escape(&self.title),
            copy_escape(&self.abstract_text),
            copy_escape(&self.authors_json().to_string()),
            self.publication_date.clone(),
            "day".to_owned(),
            copy_escape(&self.venue),
            copy_escape(&self.doi),
            self.openalex_id.clone(),
            self.pmid.clone(),
            copy_escape(&format!("https://doi.org/{}", self.doi)),
            self.citation_count.to_string(),
            format!("{{{source}}}"),
        ];
        let _ = writeln!(out, "{}", fields.join("\t"));
    }
}

/// The columns [`Paper::copy_line`] writes, in order.
pub const COPY_COLUMNS: &str = "id, organization_id, title, abstract, authors, publication_date, \
     date_precision, venue, doi, openalex_id, pmid, url, citation_count, sources";

/// Escapes a value for the text format of `COPY`.
fn copy_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn papers_are_about_one_kilobyte_and_deterministic() {
        let p = Paper::unique(42);
        assert_eq!(p, Paper::unique(42));
        let bytes = p.to_proto().encoded_len();
        assert!((900..=1400).contains(&bytes), "{bytes} bytes");
        assert!(p.abstract_text.len() >= 700);
        assert_eq!(p.authors.len(), 5);
    }

    #[test]
    fn every_second_record_repeats_an_earlier_paper() {
        let stream: Vec<Paper> = (0..1000).map(Paper::nth_with_duplicates).collect();
        let unique: std::collections::HashSet<&str> =
            stream.iter().map(|p| p.doi.as_str()).collect();
        assert_eq!(unique.len(), 500);
        for (j, p) in stream.iter().enumerate() {
            assert!(p.unique <= j as u64 / 2);
        }
    }

    #[test]
    fn copy_lines_escape_tabs_and_newlines() {
        let mut p = Paper::unique(1);
        p.title = "a\tb\nc\\".into();
        let mut line = String::new();
        p.copy_line(uuid::Uuid::nil(), uuid::Uuid::nil(), "pubmed", &mut line);
        assert_eq!(line.matches('\t').count(), 13);
        assert!(line.contains("a\\tb\\nc\\\\"));
    }
}
