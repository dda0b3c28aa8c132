//! OpenAlex works JSON → [`Paper`]s.
//!
//! Typed serde structs borrow from the input and name only the fields we keep, so
//! everything else is skipped without being built. Both layouts are read: 2022
//! works carry `host_venue`, current ones `primary_location`.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::ParseError;
use crate::model::{
    Author, ExternalIds, Paper, PublicationDate, normalize_doi, normalize_orcid, normalize_pmcid,
    normalize_pmid,
};
use crate::text::non_empty;

/// One page of `GET /works`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorksPage {
    /// `meta.count`: how many works match the query.
    pub count: Option<u64>,
    /// `meta.next_cursor`: `None` when there is no further page.
    pub next_cursor: Option<String>,
    /// The works, normalised.
    pub papers: Vec<Paper>,
}

/// Parses a works list response (`{"meta": …, "results": […]}`).
pub fn parse_works_page(body: &[u8]) -> Result<WorksPage, ParseError> {
    let raw: RawPage = serde_json::from_slice(body).map_err(ParseError::json)?;
    if raw.meta.is_none() && raw.results.is_none() {
        // A JSON object without either key is an error document or something else.
        return Err(match raw.error_message() {
            Some(message) => ParseError::Api(message),
            None => ParseError::Malformed("no `meta` or `results` in the works response".into()),
        });
    }
    let meta = raw.meta.unwrap_or_default();
    Ok(WorksPage {
        count: meta.count,
        next_cursor: meta
            .next_cursor
            .map(Cow::into_owned)
            .filter(|c| !c.is_empty()),
        papers: raw
            .results
            .unwrap_or_default()
            .into_iter()
            .map(RawWork::into_paper)
            .collect(),
    })
}

/// Parses a single work (`GET /works/{id}`).
pub fn parse_work(body: &[u8]) -> Result<Paper, ParseError> {
    let work: RawWork = serde_json::from_slice(body).map_err(ParseError::json)?;
    if work.id.is_none() && work.title.is_none() && work.display_name.is_none() {
        return Err(ParseError::Malformed("not an OpenAlex work".into()));
    }
    Ok(work.into_paper())
}

type Str<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(borrow)]
    meta: Option<Meta<'a>>,
    #[serde(borrow)]
    results: Option<Vec<RawWork<'a>>>,
    #[serde(borrow)]
    error: Str<'a>,
    #[serde(borrow)]
    message: Str<'a>,
}

impl RawPage<'_> {
    fn error_message(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.error, &self.message]
            .into_iter()
            .flatten()
            .map(|s| s.as_ref())
            .collect();
        (!parts.is_empty()).then(|| parts.join(": "))
    }
}

#[derive(Deserialize, Default)]
struct Meta<'a> {
    count: Option<u64>,
    #[serde(borrow)]
    next_cursor: Str<'a>,
}

#[derive(Deserialize)]
struct RawWork<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    doi: Str<'a>,
    #[serde(borrow)]
    title: Str<'a>,
    #[serde(borrow)]
    display_name: Str<'a>,
    #[serde(borrow)]
    publication_date: Str<'a>,
    publication_year: Option<i32>,
    #[serde(borrow)]
    ids: Option<Ids<'a>>,
    #[serde(borrow)]
    authorships: Option<Vec<Authorship<'a>>>,
    #[serde(borrow)]
    primary_location: Option<Location<'a>>,
    #[serde(borrow)]
    host_venue: Option<HostVenue<'a>>,
    cited_by_count: Option<u64>,
    #[serde(borrow)]
    abstract_inverted_index: Option<InvertedIndex<'a>>,
}

#[derive(Deserialize)]
struct Ids<'a> {
    #[serde(borrow)]
    doi: Str<'a>,
    #[serde(borrow)]
    pmid: Str<'a>,
    #[serde(borrow)]
    pmcid: Str<'a>,
}

#[derive(Deserialize)]
struct Authorship<'a> {
    #[serde(borrow)]
    author: Option<AuthorRef<'a>>,
    #[serde(borrow)]
    raw_author_name: Str<'a>,
    #[serde(borrow)]
    institutions: Option<Vec<Institution<'a>>>,
}

#[derive(Deserialize)]
struct AuthorRef<'a> {
    #[serde(borrow)]
    display_name: Str<'a>,
    #[serde(borrow)]
    orcid: Str<'a>,
}

#[derive(Deserialize)]
struct Institution<'a> {
    #[serde(borrow)]
    display_name: Str<'a>,
}

#[derive(Deserialize)]
struct Location<'a> {
    #[serde(borrow)]
    landing_page_url: Str<'a>,
    #[serde(borrow)]
    source: Option<VenueSource<'a>>,
}

#[derive(Deserialize)]
struct VenueSource<'a> {
    #[serde(borrow)]
    display_name: Str<'a>,
}

#[derive(Deserialize)]
struct HostVenue<'a> {
    #[serde(borrow)]
    display_name: Str<'a>,
    #[serde(borrow)]
    url: Str<'a>,
}

/// `abstract_inverted_index` read straight into (position, word) pairs, without
/// building the word → positions map (and a vector per word) serde would
/// otherwise allocate.
struct InvertedIndex<'a> {
    words: Vec<Cow<'a, str>>,
    /// (position, index into `words`): no word is copied per position.
    pairs: Vec<(u32, u32)>,
}

impl<'de: 'a, 'a> Deserialize<'de> for InvertedIndex<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IndexVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for IndexVisitor<'a> {
            type Value = InvertedIndex<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of word to positions")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut index = InvertedIndex {
                    words: Vec::with_capacity(256),
                    pairs: Vec::with_capacity(512),
                };
                while let Some(word) = map.next_key::<Cow<'de, str>>()? {
                    let id = u32::try_from(index.words.len()).map_err(de::Error::custom)?;
                    index.words.push(word);
                    map.next_value_seed(Positions {
                        id,
                        pairs: &mut index.pairs,
                    })?;
                }
                Ok(index)
            }
        }
        deserializer.deserialize_map(IndexVisitor(std::marker::PhantomData))
    }
}

/// One word's position list, appended to the shared pair list as it is read.
struct Positions<'p> {
    id: u32,
    pairs: &'p mut Vec<(u32, u32)>,
}

impl<'de> de::DeserializeSeed<'de> for Positions<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Positions<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of word positions")
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(position) = seq.next_element::<u32>()? {
            self.pairs.push((position, self.id));
        }
        Ok(())
    }
}

impl InvertedIndex<'_> {
    /// Words in position order, joined by single spaces.
    fn rebuild(self) -> Option<String> {
        let InvertedIndex { words, pairs } = self;
        let word = |id: u32| words.get(id as usize).map_or("", |w| w.as_ref());
        let len: usize = pairs.iter().map(|(_, id)| word(*id).len() + 1).sum();
        let mut text = String::with_capacity(len);
        let mut push = |word: &str| {
            let word = trim_word(word);
            if !word.is_empty() {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(word);
            }
        };
        let max = pairs.iter().map(|(p, _)| *p as usize).max().unwrap_or(0);
        if max < pairs.len().saturating_mul(2) + 16 {
            // Positions are (nearly) dense: place each word in its slot, O(n).
            let mut slots: Vec<Option<u32>> = vec![None; max + 1];
            for (position, id) in &pairs {
                slots[*position as usize] = Some(*id);
            }
            slots.into_iter().flatten().for_each(|id| push(word(id)));
        } else {
            let mut pairs = pairs;
            pairs.sort_unstable_by_key(|(position, _)| *position);
            pairs.iter().for_each(|(_, id)| push(word(*id)));
        }
        (!text.is_empty()).then_some(text)
    }
}

/// Trims a word, skipping the Unicode-aware trim for the usual plain word.
fn trim_word(word: &str) -> &str {
    match (word.as_bytes().first(), word.as_bytes().last()) {
        (Some(&a), Some(&b)) if a > b' ' && a < 0x80 && b > b' ' && b < 0x80 => word,
        _ => word.trim(),
    }
}

fn opt(s: &Str<'_>) -> Option<String> {
    s.as_deref().and_then(non_empty)
}

impl RawWork<'_> {
    fn into_paper(self) -> Paper {
        let ids = self.ids.as_ref();
        let doi = self
            .doi
            .as_deref()
            .or_else(|| ids.and_then(|i| i.doi.as_deref()))
            .and_then(normalize_doi);
        let venue = self
            .primary_location
            .as_ref()
            .and_then(|l| l.source.as_ref())
            .and_then(|s| opt(&s.display_name))
            .or_else(|| self.host_venue.as_ref().and_then(|h| opt(&h.display_name)));
        let url = self
            .primary_location
            .as_ref()
            .and_then(|l| opt(&l.landing_page_url))
            .or_else(|| self.host_venue.as_ref().and_then(|h| opt(&h.url)))
            .or_else(|| doi.as_ref().map(|d| format!("https://doi.org/{d}")));
        let publication_date = self
            .publication_date
            .as_deref()
            .and_then(PublicationDate::parse_iso)
            .or_else(|| self.publication_year.and_then(PublicationDate::year));
        Paper {
            title: opt(&self.title)
                .or_else(|| opt(&self.display_name))
                .unwrap_or_default(),
            abstract_text: self
                .abstract_inverted_index
                .and_then(InvertedIndex::rebuild),
            authors: self
                .authorships
                .unwrap_or_default()
                .into_iter()
                .filter_map(Authorship::into_author)
                .collect(),
            publication_date,
            venue,
            doi,
            external_ids: ExternalIds {
                openalex: self.id.as_deref().and_then(openalex_id),
                pmid: ids.and_then(|i| i.pmid.as_deref()).and_then(normalize_pmid),
                pmcid: ids
                    .and_then(|i| i.pmcid.as_deref())
                    .and_then(normalize_pmcid),
                ..ExternalIds::default()
            },
            url,
            citation_count: self.cited_by_count,
        }
    }
}

impl Authorship<'_> {
    fn into_author(self) -> Option<Author> {
        let name = self
            .author
            .as_ref()
            .and_then(|a| opt(&a.display_name))
            .or_else(|| opt(&self.raw_author_name))?;
        Some(Author {
            name,
            orcid: self
                .author
                .as_ref()
                .and_then(|a| a.orcid.as_deref())
                .and_then(normalize_orcid),
            affiliations: self
                .institutions
                .unwrap_or_default()
                .iter()
                .filter_map(|i| opt(&i.display_name))
                .collect(),
        })
    }
}

/// `https://openalex.org/W2741809807` → `W2741809807`.
pub(crate) fn openalex_id(raw: &str) -> Option<String> {
    let id = raw.trim().trim_end_matches('/').rsplit('/').next()?;
    let valid =
        id.len() > 1 && id.starts_with(['W', 'w']) && id[1..].bytes().all(|b| b.is_ascii_digit());
    valid.then(|| id.to_ascii_uppercase())
}
