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
        next_cursor: meta.next_cursor.map(Cow::into_owned).filter(|c| !c.is_empty()),
        papers: raw.results.unwrap_or_default().into_iter().map(RawWork::into_paper).collect(),
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
        let parts: Vec<&str> = [&self.error, &self.message].into_iter().flatten().map(|s| s.as_ref()).collect();
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
/// building the word → positions map serde would otherwise allocate.
struct InvertedIndex<'a>(Vec<(u32, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for InvertedIndex<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IndexVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for IndexVisitor<'a> {
            type Value = InvertedIndex<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of word to positions")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(256);
                while let Some(word) = map.next_key::<Cow<'de, str>>()? {
                    let positions: Vec<u32> = map.next_value()?;
                    for position in positions {
                        pairs.push((position, word.clone()));
                    }
                }
                Ok(InvertedIndex(pairs))
            }
        }
        deserializer.deserialize_map(IndexVisitor(std::marker::PhantomData))
    }
}

impl InvertedIndex<'_> {
    /// Words in position order, joined by single spaces.
    fn rebuild(mut self) -> Option<String> {
        self.0.sort_unstable_by_key(|(position, _)| *position);
        let len = self.0.iter().map(|(_, w)| w.len() + 1).sum();
        let mut text = String::with_capacity(len);
        for (_, word) in &self.0 {
            if word.trim().is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(word.trim());
        }
        (!text.is_empty()).then_some(text)
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
            title: opt(&self.title).or_else(|| opt(&self.display_name)).unwrap_or_default(),
            abstract_text: self.abstract_inverted_index.and_then(InvertedIndex::rebuild),
            authors: self.authorships.unwrap_or_default().into_iter().filter_map(Authorship::into_author).collect(),
            publication_date,
            venue,
            doi,
            external_ids: ExternalIds {
                openalex: self.id.as_deref().and_then(openalex_id),
                pmid: ids.and_then(|i| i.pmid.as_deref()).and_then(normalize_pmid),
                pmcid: ids.and_then(|i| i.pmcid.as_deref()).and_then(normalize_pmcid),
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
            orcid: self.author.as_ref().and_then(|a| a.orcid.as_deref()).and_then(normalize_orcid),
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
    let valid = id.len() > 1 && id.starts_with(['W', 'w']) && id[1..].bytes().all(|b| b.is_ascii_digit());
    valid.then(|| id.to_ascii_uppercase())
}
