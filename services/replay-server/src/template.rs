//! Identifier templates: a record's verbatim text cut at every occurrence of its own
//! identifiers, so that synthetic record `k` is rendered by copying the literal parts
//! and writing `k`-derived identifiers in between (no parsing per request).

use crate::Source;
use std::fmt::Write as _;
use std::ops::Range;

/// What kind of identifier an occurrence is; decides the synthetic value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// OpenAlex work id `W…`.
    OpenAlexWork,
    /// A DOI (matched case-insensitively).
    Doi,
    /// A PubMed id.
    Pmid,
    /// A PubMed Central id, with or without the `PMC` prefix.
    Pmcid,
    /// A Microsoft Academic Graph id.
    Mag,
    /// An arXiv id (an occurrence may be followed by a `vN` version).
    Arxiv,
    /// The Semantic Scholar 40-hex `paperId`.
    S2Paper,
    /// The Semantic Scholar `corpusId` (a JSON number).
    CorpusId,
    /// Anything else (pii, mid, DBLP, ACL, book accession): suffixed with `.r{k}`.
    Other,
}

/// How an occurrence of a token is recognised in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Exact, with no letter or digit on either side (`vN` may follow for arXiv ids).
    Bounded,
    /// As `Bounded`, ignoring ASCII case (DOIs).
    Caseless,
    /// The whole text of a `<PMID>`, `<ArticleId>` or `<ELocationID>` element.
    Element,
}

/// One identifier of a record to rewrite.
#[derive(Debug, Clone)]
pub struct Token {
    /// The identifier as it appears in the record.
    pub text: String,
    /// What it is.
    pub kind: IdKind,
    /// How to find it.
    pub how: Match,
}

impl Token {
    /// A token; empty texts are never matched.
    pub fn new(text: impl Into<String>, kind: IdKind, how: Match) -> Token {
        Token {
            text: text.into(),
            kind,
            how,
        }
    }
}

/// An identifier occurrence inside a record's text.
#[derive(Debug, Clone)]
pub struct Occurrence {
    range: Range<usize>,
    kind: IdKind,
}

const ID_ELEMENTS: [&str; 3] = ["PMID", "ArticleId", "ELocationID"];

fn is_word(b: Option<&u8>) -> bool {
    b.is_some_and(|c| c.is_ascii_alphanumeric())
}

fn accepted(text: &str, range: &Range<usize>, token: &Token) -> bool {
    let b = text.as_bytes();
    match token.how {
        Match::Element => {
            let before = &text[..range.start];
            let Some(lt) = before.rfind('<') else {
                return false;
            };
            let name: String = before[lt + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            before.ends_with('>')
                && ID_ELEMENTS.contains(&name.as_str())
                && text[range.end..].starts_with("</")
        }
        Match::Bounded | Match::Caseless => {
            let before_ok = range.start == 0 || !is_word(b.get(range.start - 1));
            let after = b.get(range.end);
            let versioned = token.kind == IdKind::Arxiv
                && after == Some(&b'v')
                && b.get(range.end + 1).is_some_and(u8::is_ascii_digit);
            before_ok && (!is_word(after) || versioned)
        }
    }
}

/// All accepted, non-overlapping occurrences of `tokens` in `text`, in text order.
/// Longer tokens win overlaps; for equal texts the earlier token's kind wins.
pub fn occurrences(text: &str, tokens: &[Token]) -> Vec<Occurrence> {
    let mut order: Vec<&Token> = tokens.iter().filter(|t| !t.text.is_empty()).collect();
    order.sort_by_key(|t| std::cmp::Reverse(t.text.len()));
    let lower = text.to_ascii_lowercase();
    let mut found: Vec<Occurrence> = Vec::new();
    for token in order {
        let (hay, needle) = match token.how {
            Match::Caseless => (lower.as_str(), token.text.to_ascii_lowercase()),
            _ => (text, token.text.clone()),
        };
        for (start, _) in hay.match_indices(needle.as_str()) {
            let range = start..start + needle.len();
            let overlaps = found
                .iter()
                .any(|o| o.range.start < range.end && range.start < o.range.end);
            if !overlaps && accepted(text, &range, token) {
                found.push(Occurrence {
                    range,
                    kind: token.kind,
                });
            }
        }
    }
    found.sort_by_key(|o| o.range.start);
    found
}

#[derive(Debug, Clone)]
enum Part {
    Lit(Range<usize>),
    Id(IdKind, Range<usize>),
}

/// A span of a record's text with its identifier occurrences marked.
#[derive(Debug, Clone, Default)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// The template of `span` of the text, given the text's occurrences.
    pub fn build(span: Range<usize>, occurrences: &[Occurrence]) -> Template {
        let mut parts = Vec::new();
        let mut at = span.start;
        for o in occurrences
            .iter()
            .filter(|o| o.range.start >= span.start && o.range.end <= span.end)
        {
            if o.range.start > at {
                parts.push(Part::Lit(at..o.range.start));
            }
            parts.push(Part::Id(o.kind, o.range.clone()));
            at = o.range.end;
        }
        if at < span.end {
            parts.push(Part::Lit(at..span.end));
        }
        Template { parts }
    }

    /// How many identifier occurrences the template rewrites.
    pub fn id_count(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| matches!(p, Part::Id(..)))
            .count()
    }

    /// Appends the span with identifiers of synthetic record `k` (or the original ones
    /// when `k` is `None`).
    pub fn render(&self, text: &str, source: Source, k: Option<u64>, out: &mut String) {
        for part in &self.parts {
            match (part, k) {
                (Part::Lit(r), _) | (Part::Id(_, r), None) => out.push_str(&text[r.clone()]),
                (Part::Id(kind, r), Some(k)) => {
                    write_synthetic(*kind, &text[r.clone()], source, k, out)
                }
            }
        }
    }
}

/// Appends the synthetic identifier of `kind` for record `k` of `source`. Values of
/// different sources never coincide (below 10 million records), so synthetic data
/// sets of two sources do not merge on DOI or PMID.
pub fn write_synthetic(kind: IdKind, original: &str, source: Source, k: u64, out: &mut String) {
    let lane = lane(source);
    let _ = match kind {
        IdKind::OpenAlexWork => write!(out, "W9{k:010}"),
        IdKind::Doi => write!(out, "{}", synthetic_doi(source, k)),
        IdKind::Pmid => write!(out, "{}", synthetic_pmid(source, k)),
        IdKind::Pmcid => {
            let prefix = if original.starts_with("PMC") {
                "PMC"
            } else {
                ""
            };
            write!(out, "{prefix}{}", 90_000_000 - lane * 10_000_000 + k)
        }
        IdKind::Mag => write!(out, "{}", 90_000_000_000 - lane * 10_000_000 + k),
        IdKind::Arxiv => write!(out, "{}", synthetic_arxiv(source, k)),
        IdKind::S2Paper => write!(out, "{}", synthetic_s2_paper(k)),
        IdKind::CorpusId => write!(out, "{}", 900_000_000 + k),
        IdKind::Other => write!(out, "{original}.r{k}"),
    };
}

/// Keeps numeric ids of the sources apart: PubMed 0, OpenAlex 1, Semantic Scholar 2, arXiv 3.
fn lane(source: Source) -> u64 {
    match source {
        Source::PubMed => 0,
        Source::OpenAlex => 1,
        Source::SemanticScholar => 2,
        Source::Arxiv => 3,
    }
}

/// Synthetic DOI of record `k` of `source`, e.g. `10.99999/replay.pubmed.7`.
pub fn synthetic_doi(source: Source, k: u64) -> String {
    format!("10.99999/replay.{}.{k}", source.name())
}

/// Synthetic PMID of record `k` (PubMed's own PMIDs start at 90,000,000).
pub fn synthetic_pmid(source: Source, k: u64) -> u64 {
    90_000_000 - lane(source) * 10_000_000 + k
}

/// Synthetic arXiv id of record `k`: `YYMM.NNNNN` from 9001 on for arXiv itself (from
/// 8001 for ids quoted by other sources), 100,000 per month.
pub fn synthetic_arxiv(source: Source, k: u64) -> String {
    let first_year = if source == Source::Arxiv { 90 } else { 80 };
    let month = k / 100_000;
    format!(
        "{:02}{:02}.{:05}",
        first_year + month / 12,
        1 + month % 12,
        k % 100_000
    )
}

/// Index `k` of a synthetic arXiv id made by [`synthetic_arxiv`] for arXiv.
pub fn parse_synthetic_arxiv(id: &str) -> Option<u64> {
    let (yymm, num) = id.split_once('.')?;
    if yymm.len() != 4 || num.len() != 5 {
        return None;
    }
    let yy: u64 = yymm[..2].parse().ok()?;
    let mm: u64 = yymm[2..].parse().ok()?;
    let n: u64 = num.parse().ok()?;
    if !(90..=99).contains(&yy) || !(1..=12).contains(&mm) {
        return None;
    }
    Some(((yy - 90) * 12 + mm - 1) * 100_000 + n)
}

/// Synthetic Semantic Scholar `paperId` of record `k` (40 hex digits).
pub fn synthetic_s2_paper(k: u64) -> String {
    format!("f{k:039x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, tokens: &[Token], k: u64) -> String {
        let occ = occurrences(text, tokens);
        let mut out = String::new();
        Template::build(0..text.len(), &occ).render(text, Source::OpenAlex, Some(k), &mut out);
        out
    }

    #[test]
    fn bounded_tokens_skip_longer_ids_and_digits_inside_words() {
        let text = r#"{"id":"https://openalex.org/W123","mag":"123","ref":["W1234"],"x":"W123"}"#;
        let tokens = [
            Token::new("W123", IdKind::OpenAlexWork, Match::Bounded),
            Token::new("123", IdKind::Mag, Match::Bounded),
        ];
        let out = render(text, &tokens, 5);
        assert_eq!(
            out,
            r#"{"id":"https://openalex.org/W90000000005","mag":"89990000005","ref":["W1234"],"x":"W90000000005"}"#
        );
    }

    #[test]
    fn dois_match_caselessly_and_arxiv_ids_keep_their_version() {
        let text = "<id>http://arxiv.org/abs/2202.12139v1</id><arxiv:doi>10.1109/ABC.1</arxiv:doi><link href=\"https://doi.org/10.1109/abc.1\"/>";
        let tokens = [
            Token::new("2202.12139", IdKind::Arxiv, Match::Bounded),
            Token::new("10.1109/abc.1", IdKind::Doi, Match::Caseless),
        ];
        let occ = occurrences(text, &tokens);
        assert_eq!(occ.len(), 3);
        let mut out = String::new();
        Template::build(0..text.len(), &occ).render(text, Source::Arxiv, Some(3), &mut out);
        assert!(out.contains("abs/9001.00003v1"), "{out}");
        assert_eq!(out.matches("10.99999/replay.arxiv.3").count(), 2, "{out}");
    }

    #[test]
    fn element_tokens_only_replace_whole_id_elements() {
        let text = r#"<PMID Version="1">37</PMID><Volume>37</Volume><ELocationID EIdType="pii">37</ELocationID>"#;
        let tokens = [Token::new("37", IdKind::Pmid, Match::Element)];
        let out = render(text, &tokens, 1);
        assert_eq!(
            out,
            r#"<PMID Version="1">80000001</PMID><Volume>37</Volume><ELocationID EIdType="pii">80000001</ELocationID>"#
        );
    }

    #[test]
    fn synthetic_arxiv_ids_round_trip() {
        for k in [0, 99_999, 100_000, 1_234_567] {
            assert_eq!(
                parse_synthetic_arxiv(&synthetic_arxiv(Source::Arxiv, k)),
                Some(k)
            );
        }
        assert_eq!(parse_synthetic_arxiv("2202.12139"), None);
    }
}
