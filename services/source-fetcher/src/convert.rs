//! The normalised paper of the `sources` crate, as the wire record.

use ingestion_proto::v1;
use sources::{DatePrecision, Paper};

pub fn paper_record(p: Paper) -> v1::PaperRecord {
    let (publication_date, precision) = match p.publication_date {
        Some(d) => {
            let precision = match d.precision {
                DatePrecision::Year => v1::DatePrecision::Year,
                DatePrecision::Month => v1::DatePrecision::Month,
                DatePrecision::Day => v1::DatePrecision::Day,
                DatePrecision::Text => v1::DatePrecision::Text,
            };
            (Some(d.value), precision)
        }
        None => (None, v1::DatePrecision::Unspecified),
    };
    v1::PaperRecord {
        title: p.title,
        abstract_text: p.abstract_text,
        authors: p
            .authors
            .into_iter()
            .map(|a| v1::Author {
                name: a.name,
                orcid: a.orcid,
                affiliations: a.affiliations,
            })
            .collect(),
        publication_date,
        date_precision: precision as i32,
        venue: p.venue,
        doi: p.doi,
        external_ids: Some(v1::ExternalIds {
            openalex: p.external_ids.openalex,
            pmid: p.external_ids.pmid,
            pmcid: p.external_ids.pmcid,
            arxiv: p.external_ids.arxiv,
            s2: p.external_ids.s2,
        }),
        url: p.url,
        citation_count: p.citation_count,
    }
}
