//! Semantic Scholar paper search JSON (bulk and relevance) → [`Paper`]s.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::ParseError;
use crate::model::{
    Author, ExternalIds, Paper, PublicationDate, normalize_arxiv_id, normalize_doi,
    normalize_pmcid, normalize_pmid,
};
use crate::text::non_empty;

/// One page of `/paper/search/bulk` (`{"total", "token", "data"}`) or of
/// `/paper/search` (`{"total", "offset", "next", "data"}`).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// Papers matching the query.
    pub total: Option<u64>,
    /// Bulk continuation token; `None` on the last page.
    pub token: Option<String>,
    /// Relevance search: offset of the next page; absent on the last page.
    pub next: Option<u64>,
    /// Empty when the response has no `data` key (no hits).
    pub papers: Vec<Paper>,
}

/// Parses a search response; the error shapes `{"error": …}` and
/// `{"message": …}` are [`ParseError::Api`].
pub fn parse_search(body: &[u8]) -> Result<SearchPage, ParseError> {
    let raw: RawPage = serde_json::from_slice(body).map_err(ParseError::json)?;
    if raw.data.is_none() && raw.total.is_none() {
        let message = [raw.error.as_deref(), raw.message.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        return Err(if message.is_empty() {
            ParseError::Malformed("neither `total` nor `data` in the search response".into())
        } else {
            ParseError::Api(message)
        });
    }
    Ok(SearchPage {
        total: raw.total,
        token: raw.token.map(Cow::into_owned).filter(|t| !t.is_empty()),
        next: raw.next,
        papers: raw
            .data
            .unwrap_or_default()
            .into_iter()
            .map(RawPaper::into_paper)
            .collect(),
    })
}

/// The message of an error body in either shape, if the body is one.
pub fn error_message(body: &[u8]) -> Option<String> {
    match parse_search(body) {
        Err(ParseError::Api(message)) => Some(message),
        _ => None,
    }
}

type Str<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
struct RawPage<'a> {
    total: Option<u64>,
    #[serde(borrow)]
    token: Str<'a>,
    next: Option<u64>,
    #[serde(borrow)]
    data: Option<Vec<RawPaper<'a>>>,
    #[serde(default, deserialize_with = "any_text")]
    error: Option<String>,
    #[serde(default, deserialize_with = "any_text")]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPaper<'a> {
    #[serde(borrow)]
    paper_id: Str<'a>,
    #[serde(borrow)]
    external_ids: Option<RawExternalIds<'a>>,
    #[serde(borrow)]
    title: Str<'a>,
    #[serde(borrow, rename = "abstract")]
    abstract_text: Str<'a>,
    #[serde(borrow)]
    authors: Option<Vec<RawAuthor<'a>>>,
    year: Option<i32>,
    #[serde(borrow)]
    publication_date: Str<'a>,
    #[serde(borrow)]
    venue: Str<'a>,
    #[serde(borrow)]
    journal: Option<RawNamed<'a>>,
    #[serde(borrow)]
    publication_venue: Option<RawNamed<'a>>,
    #[serde(borrow)]
    url: Str<'a>,
    citation_count: Option<u64>,
}

#[derive(Deserialize)]
struct RawExternalIds<'a> {
    #[serde(default, rename = "DOI", deserialize_with = "any_text")]
    doi: Option<String>,
    #[serde(default, rename = "PubMed", deserialize_with = "any_text")]
    pubmed: Option<String>,
    #[serde(default, rename = "PubMedCentral", deserialize_with = "any_text")]
    pmc: Option<String>,
    #[serde(borrow, rename = "ArXiv")]
    arxiv: Str<'a>,
}

#[derive(Deserialize)]
struct RawAuthor<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

#[derive(Deserialize)]
struct RawNamed<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

/// A string or number as text (ids are strings in the API, but be lenient);
/// anything else (objects, arrays, null) is `None`.
fn any_text<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct TextVisitor;
    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
        fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_option(TextVisitor)
}

fn opt(s: &Str<'_>) -> Option<String> {
    s.as_deref().and_then(non_empty)
}

impl RawPaper<'_> {
    fn into_paper(self) -> Paper {
        let ids = self.external_ids.as_ref();
        let publication_date = self
            .publication_date
            .as_deref()
            .and_then(PublicationDate::parse_iso)
            .or_else(|| self.year.and_then(PublicationDate::year));
        let venue = opt(&self.venue)
            .or_else(|| self.journal.as_ref().and_then(|j| opt(&j.name)))
            .or_else(|| self.publication_venue.as_ref().and_then(|v| opt(&v.name)));
        Paper {
            title: opt(&self.title).unwrap_or_default(),
            abstract_text: opt(&self.abstract_text),
            authors: self
                .authors
                .unwrap_or_default()
                .iter()
                .filter_map(|a| opt(&a.name))
                .map(|name| Author {
                    name,
                    ..Author::default()
                })
                .collect(),
            publication_date,
            venue,
            doi: ids.and_then(|i| i.doi.as_deref()).and_then(normalize_doi),
            external_ids: ExternalIds {
                pmid: ids
                    .and_then(|i| i.pubmed.as_deref())
                    .and_then(normalize_pmid),
                pmcid: ids.and_then(|i| i.pmc.as_deref()).and_then(normalize_pmcid),
                arxiv: ids
                    .and_then(|i| i.arxiv.as_deref())
                    .and_then(normalize_arxiv_id),
                s2: opt(&self.paper_id),
                ..ExternalIds::default()
            },
            url: opt(&self.url),
            citation_count: self.citation_count,
        }
    }
}
