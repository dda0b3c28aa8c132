//! arXiv Atom feed → [`Paper`]s, with quick-xml's namespace-aware reader.
//!
//! Elements are matched by namespace URI and local name, never by prefix, so the
//! legacy layout (prefixes declared inline on each element) and the current one
//! (prefixes declared on `<feed>`) read the same.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use crate::ParseError;
use crate::model::{
    Author, ExternalIds, Paper, PublicationDate, normalize_arxiv_id, normalize_doi,
};
use crate::text::{finish_collapsed, push_collapsed};
use crate::xml::{attr, push_reference};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const OPENSEARCH: &str = "http://a9.com/-/spec/opensearch/1.1/";
const ARXIV: &str = "http://arxiv.org/schemas/atom";

/// One page of the export API.
#[derive(Debug, Clone, PartialEq)]
pub struct ArxivFeed {
    /// `opensearch:totalResults`.
    pub total_results: Option<u64>,
    /// `opensearch:startIndex`.
    pub start_index: Option<u64>,
    /// `opensearch:itemsPerPage`.
    pub items_per_page: Option<u64>,
    /// The entries, normalised.
    pub papers: Vec<Paper>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tag {
    Feed,
    Entry,
    Id,
    Title,
    Summary,
    Published,
    Author,
    Name,
    Affiliation,
    Doi,
    JournalRef,
    TotalResults,
    StartIndex,
    ItemsPerPage,
    Other,
}

fn tag(ns: &ResolveResult<'_>, local: &str) -> Tag {
    let ResolveResult::Bound(Namespace(ns)) = ns else {
        return Tag::Other;
    };
    match (*ns, local) {
        (ATOM, "feed") => Tag::Feed,
        (ATOM, "entry") => Tag::Entry,
        (ATOM, "id") => Tag::Id,
        (ATOM, "title") => Tag::Title,
        (ATOM, "summary") => Tag::Summary,
        (ATOM, "published") => Tag::Published,
        (ATOM, "author") => Tag::Author,
        (ATOM, "name") => Tag::Name,
        (ARXIV, "affiliation") => Tag::Affiliation,
        (ARXIV, "doi") => Tag::Doi,
        (ARXIV, "journal_ref") => Tag::JournalRef,
        (OPENSEARCH, "totalResults") => Tag::TotalResults,
        (OPENSEARCH, "startIndex") => Tag::StartIndex,
        (OPENSEARCH, "itemsPerPage") => Tag::ItemsPerPage,
        _ => Tag::Other,
    }
}

fn is_atom_link(ns: &ResolveResult<'_>, local: &str) -> bool {
    matches!(ns, ResolveResult::Bound(Namespace(ATOM))) && local == "link"
}

#[derive(Default)]
struct Entry {
    id: String,
    title: String,
    summary: String,
    published: String,
    authors: Vec<Author>,
    alternate: Option<String>,
    doi: String,
    journal_ref: String,
}

/// Parses an export API feed. The API's error entry (title `Error`, id
/// `…arxiv.org/api/errors#…`) is [`ParseError::Api`] with its summary, whatever
/// the HTTP status it came with.
pub fn parse_feed(body: &[u8]) -> Result<ArxivFeed, ParseError> {
    let mut reader = NsReader::from_reader(body);
    let mut feed = ArxivFeed {
        total_results: None,
        start_index: None,
        items_per_page: None,
        papers: Vec::new(),
    };
    let mut stack: Vec<Tag> = Vec::with_capacity(8);
    let mut entry: Option<Entry> = None;
    let mut capture: Option<(Tag, usize)> = None;
    let mut buf = String::with_capacity(2048);
    let mut saw_feed = false;
    loop {
        // Namespaces are resolved only for opening tags; text and closing tags
        // (most events) need none, which saves a lookup per event.
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(ParseError::xml(e, reader.error_position())),
        };
        match event {
            Event::Start(e) => {
                let (ns, local) = reader.resolver().resolve_element(e.name());
                let t = tag(&ns, local.as_ref());
                if stack.is_empty() {
                    if t != Tag::Feed || saw_feed {
                        return Err(ParseError::Malformed(format!(
                            "expected one Atom <feed>, found <{}>",
                            local.as_ref()
                        )));
                    }
                    saw_feed = true;
                }
                if capture.is_none() {
                    if is_atom_link(&ns, local.as_ref()) {
                        take_link(&e, &mut entry);
                    }
                    let parent = stack.last().copied();
                    if let Some(target) = open(t, parent, &mut entry) {
                        buf.clear();
                        capture = Some((target, stack.len() + 1));
                    }
                }
                stack.push(t);
            }
            Event::Empty(e) => {
                let (ns, local) = reader.resolver().resolve_element(e.name());
                if stack.is_empty() {
                    return Err(ParseError::Malformed(format!(
                        "expected an Atom <feed>, found <{}/>",
                        local.as_ref()
                    )));
                }
                if capture.is_none() && is_atom_link(&ns, local.as_ref()) {
                    take_link(&e, &mut entry);
                }
            }
            Event::End(_) => {
                if let Some((target, depth)) = capture
                    && depth == stack.len()
                {
                    finish_collapsed(&mut buf);
                    store(target, &buf, &mut entry, &mut feed)?;
                    capture = None;
                }
                let t = stack
                    .pop()
                    .ok_or_else(|| ParseError::Malformed("unexpected closing tag".into()))?;
                if capture.is_none()
                    && t == Tag::Entry
                    && stack.last() == Some(&Tag::Feed)
                    && let Some(e) = entry.take()
                {
                    feed.papers.push(e.into_paper()?);
                }
            }
            Event::Text(t) if capture.is_some() => push_collapsed(&mut buf, &t),
            Event::CData(t) if capture.is_some() => push_collapsed(&mut buf, &t),
            Event::GeneralRef(r) if capture.is_some() => push_reference(&mut buf, &r),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(ParseError::Malformed(format!(
            "truncated feed: {} element(s) left open",
            stack.len()
        )));
    }
    if !saw_feed {
        return Err(ParseError::Malformed("no Atom feed in the response".into()));
    }
    Ok(feed)
}

fn open(t: Tag, parent: Option<Tag>, entry: &mut Option<Entry>) -> Option<Tag> {
    match (t, parent?) {
        (Tag::Entry, Tag::Feed) => {
            *entry = Some(Entry::default());
            None
        }
        (Tag::TotalResults | Tag::StartIndex | Tag::ItemsPerPage, Tag::Feed) => Some(t),
        (
            Tag::Id | Tag::Title | Tag::Summary | Tag::Published | Tag::Doi | Tag::JournalRef,
            Tag::Entry,
        ) => Some(t),
        (Tag::Author, Tag::Entry) => {
            if let Some(e) = entry.as_mut() {
                e.authors.push(Author::default());
            }
            None
        }
        (Tag::Name | Tag::Affiliation, Tag::Author) => Some(t),
        _ => None,
    }
}

fn take_link(e: &BytesStart<'_>, entry: &mut Option<Entry>) {
    let Some(entry) = entry.as_mut() else { return };
    if entry.alternate.is_none() && attr(e, "rel").as_deref() == Some("alternate") {
        entry.alternate = attr(e, "href");
    }
}

fn store(
    target: Tag,
    buf: &str,
    entry: &mut Option<Entry>,
    feed: &mut ArxivFeed,
) -> Result<(), ParseError> {
    let text = buf.to_string();
    let number = || {
        text.parse::<u64>()
            .map_err(|_| ParseError::Malformed(format!("not a number: `{text}`")))
    };
    match target {
        Tag::TotalResults => feed.total_results = Some(number()?),
        Tag::StartIndex => feed.start_index = Some(number()?),
        Tag::ItemsPerPage => feed.items_per_page = Some(number()?),
        _ => {
            let Some(e) = entry.as_mut() else {
                return Ok(());
            };
            match target {
                Tag::Id => e.id = text,
                Tag::Title => e.title = text,
                Tag::Summary => e.summary = text,
                Tag::Published => e.published = text,
                Tag::Doi => e.doi = text,
                Tag::JournalRef => e.journal_ref = text,
                Tag::Name => {
                    if let Some(a) = e.authors.last_mut() {
                        a.name = text;
                    }
                }
                Tag::Affiliation => {
                    if let Some(a) = e.authors.last_mut().filter(|_| !text.is_empty()) {
                        a.affiliations.push(text);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

impl Entry {
    fn is_error(&self) -> bool {
        self.id.contains("arxiv.org/api/errors")
            || (self.title == "Error" && normalize_arxiv_id(&self.id).is_none())
    }

    fn into_paper(self) -> Result<Paper, ParseError> {
        if self.is_error() {
            let message = if self.summary.is_empty() {
                "the arXiv API reported an error".into()
            } else {
                self.summary
            };
            return Err(ParseError::Api(message));
        }
        let arxiv = normalize_arxiv_id(&self.id);
        let url = self
            .alternate
            .map(|u| match u.strip_prefix("http://") {
                Some(rest) => format!("https://{rest}"),
                None => u,
            })
            .or_else(|| {
                arxiv
                    .as_ref()
                    .map(|id| format!("https://arxiv.org/abs/{id}"))
            });
        let some = |s: String| (!s.is_empty()).then_some(s);
        Ok(Paper {
            title: self.title,
            abstract_text: some(self.summary),
            authors: self
                .authors
                .into_iter()
                .filter(|a| !a.name.is_empty())
                .collect(),
            publication_date: PublicationDate::parse_iso(&self.published),
            venue: some(self.journal_ref),
            doi: normalize_doi(&self.doi),
            external_ids: ExternalIds {
                arxiv,
                ..ExternalIds::default()
            },
            url,
            citation_count: None,
        })
    }
}
