//! EFetch `PubmedArticleSet` XML → [`Paper`]s, with quick-xml's streaming reader.
//!
//! One pass over the events with a stack of known element kinds; a value is
//! taken only at its documented path (e.g. `PMID` directly under
//! `MedlineCitation`, `ArticleId` directly under `PubmedData/ArticleIdList`), so
//! the ids of cited works in `ReferenceList` and of comments never leak into the
//! record. Subtrees we never read (references, MeSH, history…) are skipped
//! wholesale, which is most of a typical body.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::record::{AuthorDraft, Record, parse_month};
use crate::ParseError;
use crate::model::{Paper, normalize_orcid};
use crate::text::{finish_collapsed, non_empty, push_collapsed};
use crate::xml::{attr, push_reference};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tag {
    ArticleSet,
    PubmedArticle,
    BookArticle,
    MedlineCitation,
    BookDocument,
    Book,
    Pmid,
    Article,
    Journal,
    JournalIssue,
    PubDate,
    Year,
    Month,
    Day,
    MedlineDate,
    Title,
    ArticleTitle,
    BookTitle,
    Abstract,
    AbstractText,
    AuthorList,
    Author,
    LastName,
    ForeName,
    CollectiveName,
    Identifier,
    AffiliationInfo,
    Affiliation,
    ELocationId,
    PubmedData,
    ArticleIdList,
    ArticleId,
    Error,
    Other,
}

fn tag(name: &str) -> Tag {
    match name {
        "PubmedArticleSet" => Tag::ArticleSet,
        "PubmedArticle" => Tag::PubmedArticle,
        "PubmedBookArticle" => Tag::BookArticle,
        "MedlineCitation" => Tag::MedlineCitation,
        "BookDocument" => Tag::BookDocument,
        "Book" => Tag::Book,
        "PMID" => Tag::Pmid,
        "Article" => Tag::Article,
        "Journal" => Tag::Journal,
        "JournalIssue" => Tag::JournalIssue,
        "PubDate" => Tag::PubDate,
        "Year" => Tag::Year,
        "Month" => Tag::Month,
        "Day" => Tag::Day,
        "MedlineDate" => Tag::MedlineDate,
        "Title" => Tag::Title,
        "ArticleTitle" => Tag::ArticleTitle,
        "BookTitle" => Tag::BookTitle,
        "Abstract" => Tag::Abstract,
        "AbstractText" => Tag::AbstractText,
        "AuthorList" => Tag::AuthorList,
        "Author" => Tag::Author,
        "LastName" => Tag::LastName,
        "ForeName" => Tag::ForeName,
        "CollectiveName" => Tag::CollectiveName,
        "Identifier" => Tag::Identifier,
        "AffiliationInfo" => Tag::AffiliationInfo,
        "Affiliation" => Tag::Affiliation,
        "ELocationID" => Tag::ELocationId,
        // The book's ids live in PubmedBookData, laid out like PubmedData.
        "PubmedData" | "PubmedBookData" => Tag::PubmedData,
        "ArticleIdList" => Tag::ArticleIdList,
        "ArticleId" => Tag::ArticleId,
        "ERROR" => Tag::Error,
        _ => Tag::Other,
    }
}

/// Subtrees that never hold a field we keep: skipped without looking inside.
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "ReferenceList"
            | "MeshHeadingList"
            | "CommentsCorrectionsList"
            | "History"
            | "KeywordList"
            | "ChemicalList"
            | "GrantList"
            | "InvestigatorList"
            | "OtherAbstract"
            | "SupplMeshList"
            | "PersonalNameSubjectList"
            | "Sections"
            | "DateCompleted"
            | "DateRevised"
            | "ArticleDate"
            | "PublicationTypeList"
            | "MedlineJournalInfo"
            | "ObjectList"
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Pmid,
    ArticleTitle,
    BookTitle,
    JournalTitle,
    AbstractText,
    LastName,
    ForeName,
    CollectiveName,
    Orcid,
    Affiliation,
    Year,
    Month,
    Day,
    MedlineDate,
    ELocationDoi,
    ArticleId,
    Error,
}

struct Capture {
    target: Target,
    /// Stack depth of the captured element; its end closes the capture.
    depth: usize,
    /// `Label` of an `AbstractText`, `IdType` of an `ArticleId`.
    attribute: Option<String>,
}

/// Parses an EFetch response. `PubmedArticle` and `PubmedBookArticle` records
/// become papers; an `<ERROR>` anywhere, a body that is not XML, a different root
/// element or a truncated document is an error.
pub fn parse_efetch(body: &[u8]) -> Result<Vec<Paper>, ParseError> {
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Tag> = Vec::with_capacity(16);
    let mut root: Option<String> = None;
    let mut record: Option<Record> = None;
    let mut capture: Option<Capture> = None;
    let mut buf = String::with_capacity(4096);
    let mut papers = Vec::new();
    let mut errors = Vec::new();

    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError::xml(e, reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if capture.is_some() {
                    // Inline markup (<i>, <sup>, MathML…) inside a captured value.
                    stack.push(Tag::Other);
                    continue;
                }
                if root.is_none() {
                    root = Some(name.to_string());
                }
                if is_skipped(name) {
                    reader
                        .read_to_end(e.name())
                        .map_err(|e| ParseError::xml(e, reader.error_position()))?;
                    continue;
                }
                let t = tag(name);
                if let Some(target) = open(t, &e, &stack, &mut record) {
                    let attribute = match target {
                        Target::AbstractText => attr(&e, "Label"),
                        Target::ArticleId => attr(&e, "IdType"),
                        _ => None,
                    };
                    buf.clear();
                    capture = Some(Capture {
                        target,
                        depth: stack.len() + 1,
                        attribute,
                    });
                }
                stack.push(t);
            }
            Event::End(_) => {
                if let Some(c) = capture.as_ref().filter(|c| c.depth == stack.len()) {
                    finish_collapsed(&mut buf);
                    store(c, &buf, &mut record, &mut errors);
                    capture = None;
                }
                let Some(t) = stack.pop() else {
                    return Err(ParseError::Malformed("unexpected closing tag".into()));
                };
                if capture.is_none() {
                    close(t, &stack, &mut record, &mut papers);
                }
            }
            Event::Text(t) if capture.is_some() => push_collapsed(&mut buf, &t),
            Event::CData(t) if capture.is_some() => push_collapsed(&mut buf, &t),
            Event::GeneralRef(r) if capture.is_some() => push_reference(&mut buf, &r),
            Event::Empty(e) if root.is_none() => root = Some(e.local_name().as_ref().to_string()),
            Event::Eof => break,
            _ => {}
        }
    }

    if !stack.is_empty() {
        return Err(ParseError::Malformed(format!(
            "truncated XML: {} element(s) left open",
            stack.len()
        )));
    }
    if !errors.is_empty() {
        return Err(ParseError::Api(errors.join("; ")));
    }
    match root.as_deref() {
        Some("PubmedArticleSet") => Ok(papers),
        Some(other) => Err(ParseError::Malformed(format!(
            "expected <PubmedArticleSet>, found <{other}>"
        ))),
        None => Err(ParseError::Malformed(
            "no XML element in the EFetch response".into(),
        )),
    }
}

/// Decides what an opening element means given its ancestors; returns the value
/// to capture, if any.
fn open(t: Tag, e: &BytesStart<'_>, stack: &[Tag], record: &mut Option<Record>) -> Option<Target> {
    let parent = stack.last().copied();
    let grandparent = stack.len().checked_sub(2).map(|i| stack[i]);
    match t {
        Tag::PubmedArticle | Tag::BookArticle => {
            *record = Some(Record {
                is_book: t == Tag::BookArticle,
                ..Record::default()
            });
            None
        }
        Tag::Error => Some(Target::Error),
        _ => {
            let rec = record.as_mut()?;
            match (t, parent?) {
                (Tag::Pmid, Tag::MedlineCitation | Tag::BookDocument) => Some(Target::Pmid),
                (Tag::ArticleTitle, Tag::Article | Tag::BookDocument) => Some(Target::ArticleTitle),
                (Tag::BookTitle, Tag::Book) => Some(Target::BookTitle),
                (Tag::Title, Tag::Journal) => Some(Target::JournalTitle),
                (Tag::AbstractText, Tag::Abstract) => Some(Target::AbstractText),
                (Tag::AuthorList, Tag::Article | Tag::BookDocument) => {
                    rec.in_author_list = attr(e, "Type").is_none_or(|ty| ty == "authors");
                    None
                }
                (Tag::Author, Tag::AuthorList) if rec.in_author_list => {
                    rec.author = Some(AuthorDraft::default());
                    None
                }
                (
                    Tag::LastName | Tag::ForeName | Tag::CollectiveName | Tag::Identifier,
                    Tag::Author,
                ) if rec.author.is_some() => match t {
                    Tag::LastName => Some(Target::LastName),
                    Tag::ForeName => Some(Target::ForeName),
                    Tag::CollectiveName => Some(Target::CollectiveName),
                    _ => (attr(e, "Source").as_deref() == Some("ORCID")).then_some(Target::Orcid),
                },
                (Tag::Affiliation, Tag::AffiliationInfo)
                    if grandparent == Some(Tag::Author) && rec.author.is_some() =>
                {
                    Some(Target::Affiliation)
                }
                (Tag::Year | Tag::Month | Tag::Day | Tag::MedlineDate, Tag::PubDate)
                    if matches!(grandparent, Some(Tag::JournalIssue | Tag::Book)) =>
                {
                    Some(match t {
                        Tag::Year => Target::Year,
                        Tag::Month => Target::Month,
                        Tag::Day => Target::Day,
                        _ => Target::MedlineDate,
                    })
                }
                (Tag::ELocationId, Tag::Article)
                    if attr(e, "EIdType").as_deref() == Some("doi") =>
                {
                    Some(Target::ELocationDoi)
                }
                (Tag::ArticleId, Tag::ArticleIdList) if grandparent == Some(Tag::PubmedData) => {
                    Some(Target::ArticleId)
                }
                _ => None,
            }
        }
    }
}

/// Stores a finished captured value into the record.
fn store(c: &Capture, buf: &str, record: &mut Option<Record>, errors: &mut Vec<String>) {
    let text = buf.to_string();
    if c.target == Target::Error {
        errors.push(if text.is_empty() {
            "EFetch reported an error".into()
        } else {
            text
        });
        return;
    }
    let Some(rec) = record.as_mut() else { return };
    let set = |slot: &mut Option<String>, text: String| {
        if slot.is_none() && !text.is_empty() {
            *slot = Some(text);
        }
    };
    match c.target {
        Target::Pmid => set(&mut rec.pmid, text),
        Target::ArticleTitle => set(&mut rec.article_title, text),
        Target::BookTitle => set(&mut rec.book_title, text),
        Target::JournalTitle => set(&mut rec.journal_title, text),
        Target::AbstractText => {
            if !text.is_empty() {
                rec.abstract_parts
                    .push((c.attribute.as_deref().and_then(non_empty), text));
            }
        }
        Target::LastName
        | Target::ForeName
        | Target::CollectiveName
        | Target::Orcid
        | Target::Affiliation => {
            let Some(author) = rec.author.as_mut() else {
                return;
            };
            match c.target {
                Target::LastName => author.last = text,
                Target::ForeName => author.fore = text,
                Target::CollectiveName => author.collective = text,
                Target::Orcid => {
                    author.orcid = author.orcid.take().or_else(|| normalize_orcid(&text))
                }
                _ if !text.is_empty() => author.affiliations.push(text),
                _ => {}
            }
        }
        Target::Year => rec.year = text.parse().ok().filter(|y| (1000..=9999).contains(y)),
        Target::Month => rec.month = parse_month(&text),
        Target::Day => rec.day = text.parse().ok(),
        Target::MedlineDate => set(&mut rec.medline_date, text),
        Target::ELocationDoi => set(&mut rec.elocation_doi, text),
        Target::ArticleId => match c.attribute.as_deref() {
            Some("pubmed") => set(&mut rec.id_pubmed, text),
            Some("doi") => set(&mut rec.id_doi, text),
            Some("pmc") => set(&mut rec.id_pmc, text),
            _ => {}
        },
        Target::Error => {}
    }
}

/// Handles a closing element outside any capture: finishes authors and records.
fn close(t: Tag, stack: &[Tag], record: &mut Option<Record>, papers: &mut Vec<Paper>) {
    match t {
        Tag::Author if stack.last() == Some(&Tag::AuthorList) => {
            if let Some(rec) = record.as_mut()
                && let Some(draft) = rec.author.take()
                && let Some(author) = draft.into_author()
            {
                rec.authors.push(author);
            }
        }
        Tag::AuthorList => {
            if let Some(rec) = record.as_mut() {
                rec.in_author_list = false;
            }
        }
        Tag::PubmedArticle | Tag::BookArticle => {
            if let Some(rec) = record.take() {
                papers.push(rec.into_paper());
            }
        }
        _ => {}
    }
}
