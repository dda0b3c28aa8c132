//! One EFetch record being assembled, and how it becomes a [`Paper`].

use crate::model::{
    Author, DatePrecision, ExternalIds, Paper, PublicationDate, normalize_doi, normalize_pmcid,
    normalize_pmid,
};

#[derive(Default)]
pub(super) struct AuthorDraft {
    pub(super) last: String,
    pub(super) fore: String,
    pub(super) collective: String,
    pub(super) orcid: Option<String>,
    pub(super) affiliations: Vec<String>,
}

#[derive(Default)]
pub(super) struct Record {
    pub(super) is_book: bool,
    pub(super) pmid: Option<String>,
    pub(super) article_title: Option<String>,
    pub(super) book_title: Option<String>,
    pub(super) journal_title: Option<String>,
    pub(super) abstract_parts: Vec<(Option<String>, String)>,
    pub(super) authors: Vec<Author>,
    pub(super) author: Option<AuthorDraft>,
    /// Whether the `AuthorList` we are in lists authors (not a book's editors).
    pub(super) in_author_list: bool,
    pub(super) year: Option<i32>,
    pub(super) month: Option<u32>,
    pub(super) day: Option<u32>,
    pub(super) medline_date: Option<String>,
    pub(super) elocation_doi: Option<String>,
    pub(super) id_pubmed: Option<String>,
    pub(super) id_doi: Option<String>,
    pub(super) id_pmc: Option<String>,
}

/// `Dec`/`December`/`12`/`06` → month number.
pub(super) fn parse_month(raw: &str) -> Option<u32> {
    if let Ok(n) = raw.parse::<u32>() {
        return (1..=12).contains(&n).then_some(n);
    }
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = raw.get(..3)?;
    NAMES
        .iter()
        .position(|m| head.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

impl AuthorDraft {
    pub(super) fn into_author(self) -> Option<Author> {
        let name = if !self.collective.is_empty() {
            self.collective
        } else {
            [self.fore.as_str(), self.last.as_str()]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        };
        (!name.is_empty()).then_some(Author {
            name,
            orcid: self.orcid,
            affiliations: self.affiliations,
        })
    }
}

impl Record {
    pub(super) fn into_paper(self) -> Paper {
        let pmid = self
            .pmid
            .as_deref()
            .or(self.id_pubmed.as_deref())
            .and_then(normalize_pmid);
        let doi = self
            .id_doi
            .as_deref()
            .and_then(normalize_doi)
            .or_else(|| self.elocation_doi.as_deref().and_then(normalize_doi));
        let publication_date = match self.medline_date {
            Some(text) => Some(PublicationDate {
                value: text,
                precision: DatePrecision::Text,
            }),
            None => self
                .year
                .and_then(|y| PublicationDate::from_parts(y, self.month, self.day)),
        };
        let abstract_text = (!self.abstract_parts.is_empty()).then(|| {
            self.abstract_parts
                .into_iter()
                .map(|(label, text)| match label {
                    Some(label) => format!("{label}: {text}"),
                    None => text,
                })
                .collect::<Vec<_>>()
                .join("\n\n")
        });
        // A book chapter is titled by its ArticleTitle and published in the book;
        // a whole book has only its BookTitle.
        let (title, venue) = if self.is_book {
            match self.article_title {
                Some(chapter) => (chapter, self.book_title),
                None => (self.book_title.unwrap_or_default(), None),
            }
        } else {
            (self.article_title.unwrap_or_default(), self.journal_title)
        };
        Paper {
            title,
            abstract_text,
            authors: self.authors,
            publication_date,
            venue,
            doi,
            external_ids: ExternalIds {
                pmid: pmid.clone(),
                pmcid: self.id_pmc.as_deref().and_then(normalize_pmcid),
                ..ExternalIds::default()
            },
            url: pmid.map(|p| format!("https://pubmed.ncbi.nlm.nih.gov/{p}/")),
            citation_count: None,
        }
    }
}
