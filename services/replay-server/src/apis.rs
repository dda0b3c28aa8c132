//! The four APIs: paging envelopes synthesised around the recorded records, by each
//! API's own rules (see `../shared/SOURCES.md`).

use crate::corpus::{Corpus, XmlRecord};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

/// What a query selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// The whole corpus of the source.
    All,
    /// `no-results` in the query.
    Empty,
    /// `synthetic:N`: N generated records with distinct ids.
    Synthetic(usize),
    /// `bad-query` in the query (arXiv answers its error feed).
    Bad,
}

impl Dataset {
    pub fn of(query: &str) -> Dataset {
        if query.contains("no-results") {
            Dataset::Empty
        } else if query.contains("bad-query") {
            Dataset::Bad
        } else if let Some(i) = query.find("synthetic:") {
            let n: String = query[i + 10..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            Dataset::Synthetic(n.parse().unwrap_or(0))
        } else {
            Dataset::All
        }
    }

    pub fn len(self, corpus_len: usize) -> usize {
        match self {
            Dataset::All => corpus_len,
            Dataset::Empty | Dataset::Bad => 0,
            Dataset::Synthetic(n) => n,
        }
    }
}

/// A response before faults: status, content type, body.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(v: &Value) -> Reply {
        Reply {
            status: 200,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }

    fn xml(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/xml; charset=UTF-8",
            body: body.into_bytes(),
        }
    }
}

fn synthetic_doi(n: usize) -> String {
    format!("10.99999/synthetic.{n}")
}

/// Record `i` of the dataset (cycled and re-identified when synthetic).
fn json_record(
    records: &[Value],
    dataset: Dataset,
    i: usize,
    rewrite: fn(&mut Value, usize),
) -> Value {
    let mut v = records[i % records.len().max(1)].clone();
    if let Dataset::Synthetic(_) = dataset {
        rewrite(&mut v, i);
    }
    v
}

fn xml_record(
    records: &[XmlRecord],
    dataset: Dataset,
    i: usize,
    new_id: fn(usize) -> String,
) -> Cow<'_, str> {
    let rec = &records[i % records.len().max(1)];
    match dataset {
        Dataset::Synthetic(_) => {
            let mut xml = rec.xml.replace(&rec.id, &new_id(i));
            if let Some(doi) = &rec.doi {
                xml = xml.replace(doi.as_str(), &synthetic_doi(i));
            }
            if let Some(pmc) = &rec.pmcid {
                xml = xml.replace(pmc.as_str(), &format!("PMC9{i:08}"));
            }
            Cow::Owned(xml)
        }
        _ => Cow::Borrowed(rec.xml.as_str()),
    }
}

fn window(total: usize, start: usize, size: usize) -> std::ops::Range<usize> {
    start.min(total)..(start.saturating_add(size)).min(total)
}

pub fn openalex_works(corpus: &Corpus, params: &HashMap<String, String>) -> Reply {
    let dataset = Dataset::of(params.get("search").map(String::as_str).unwrap_or(""));
    if dataset == Dataset::Empty {
        return Reply::json(
            &json!({"meta": {"count": 0, "db_response_time_ms": 3, "page": 1, "per_page": 25, "groups_count": null}, "results": [], "group_by": []}),
        );
    }
    let total = dataset.len(corpus.openalex.len());
    let per_page: usize = params
        .get("per_page")
        .or_else(|| params.get("per-page"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(25)
        .clamp(1, 200);
    let start = match params.get("cursor").map(String::as_str) {
        None | Some("*") => 0,
        Some(c) => c
            .strip_prefix("c")
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX),
    };
    let range = window(total, start, per_page);
    let results: Vec<Value> = range
        .clone()
        .map(|i| {
            json_record(&corpus.openalex, dataset, i, |v, i| {
                let id = format!("https://openalex.org/W9{i:09}");
                v["id"] = json!(id);
                v["doi"] = json!(format!("https://doi.org/{}", synthetic_doi(i)));
                v["ids"] =
                    json!({"openalex": id, "doi": format!("https://doi.org/{}", synthetic_doi(i))});
            })
        })
        .collect();
    // The recorded quirk: a non-empty page always carries a cursor; the next page is
    // empty with a null cursor.
    let next = if results.is_empty() {
        Value::Null
    } else {
        json!(format!("c{}", range.end))
    };
    Reply::json(&json!({
        "meta": {"count": total, "db_response_time_ms": 12, "page": null, "per_page": per_page, "next_cursor": next, "groups_count": null},
        "results": results,
        "group_by": []
    }))
}

pub fn pubmed_esearch(corpus: &Corpus, params: &HashMap<String, String>, webenv: &str) -> Reply {
    let term = params.get("term").map(String::as_str).unwrap_or("");
    let dataset = Dataset::of(term);
    let total = dataset.len(corpus.pubmed.len());
    if total == 0 {
        return Reply::xml(
            200,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE eSearchResult PUBLIC \"-//NLM//DTD esearch 20060628//EN\" \"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd\">\n<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/><TranslationSet/><QueryTranslation>({}[All Fields])</QueryTranslation><ErrorList><PhraseNotFound>{}</PhraseNotFound></ErrorList><WarningList><OutputMessage>No items found.</OutputMessage></WarningList></eSearchResult>",
                xml_escape(term),
                xml_escape(term)
            ),
        );
    }
    let retmax: usize = params
        .get("retmax")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .min(10_000);
    let retstart: usize = params
        .get("retstart")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let ids: String = window(total, retstart, retmax)
        .map(|i| format!("<Id>{}</Id>", pubmed_id(corpus, dataset, i)))
        .collect();
    Reply::xml(
        200,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE eSearchResult PUBLIC \"-//NLM//DTD esearch 20060628//EN\" \"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd\">\n<eSearchResult><Count>{total}</Count><RetMax>{}</RetMax><RetStart>{retstart}</RetStart><QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv><IdList>{ids}</IdList><TranslationSet/><QueryTranslation>{}</QueryTranslation></eSearchResult>",
            window(total, retstart, retmax).len(),
            xml_escape(term)
        ),
    )
}

fn pubmed_id(corpus: &Corpus, dataset: Dataset, i: usize) -> String {
    match dataset {
        Dataset::Synthetic(_) => synthetic_pmid(i),
        _ => corpus.pubmed[i % corpus.pubmed.len().max(1)].id.clone(),
    }
}

fn synthetic_pmid(i: usize) -> String {
    format!("9{i:08}")
}

/// `term` is the query the WebEnv was issued for.
pub fn pubmed_efetch(
    corpus: &Corpus,
    params: &HashMap<String, String>,
    term: Option<&str>,
) -> Reply {
    let Some(term) = term else {
        return Reply::xml(200, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<eFetchResult>\n\t<ERROR>Unable to obtain query #1</ERROR>\n</eFetchResult>".into());
    };
    let dataset = Dataset::of(term);
    let total = dataset.len(corpus.pubmed.len());
    let retmax: usize = params
        .get("retmax")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .min(10_000);
    let retstart: usize = params
        .get("retstart")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = String::from(
        "<?xml version=\"1.0\" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC \"-//NLM//DTD PubMedArticle, 1st January 2024//EN\" \"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd\">\n<PubmedArticleSet>\n",
    );
    for i in window(total, retstart, retmax) {
        body.push_str(&xml_record(&corpus.pubmed, dataset, i, synthetic_pmid));
        body.push('\n');
    }
    body.push_str("</PubmedArticleSet>\n");
    Reply::xml(200, body)
}

pub fn arxiv_query(corpus: &Corpus, params: &HashMap<String, String>, error_feed: &str) -> Reply {
    let query = params.get("search_query").map(String::as_str).unwrap_or("");
    let dataset = Dataset::of(query);
    if dataset == Dataset::Bad {
        return Reply::xml(400, error_feed.to_owned());
    }
    let total = dataset.len(corpus.arxiv.len());
    let start: usize = params
        .get("start")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: usize = params
        .get("max_results")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .min(2_000);
    let range = window(total, start, max);
    let mut body = format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n{}\n  <id>https://arxiv.org/api/replay</id>\n  <title>arXiv Query: search_query={}&amp;id_list=&amp;start={start}&amp;max_results={max}</title>\n  <updated>2026-04-12T22:09:27Z</updated>\n  <opensearch:itemsPerPage>{max}</opensearch:itemsPerPage>\n  <opensearch:totalResults>{total}</opensearch:totalResults>\n  <opensearch:startIndex>{start}</opensearch:startIndex>\n",
        corpus.arxiv_feed_open,
        xml_escape(query)
    );
    for i in range {
        body.push_str("  ");
        body.push_str(&xml_record(&corpus.arxiv, dataset, i, |i| {
            format!("{:04}.{:05}", 9000 + i / 100_000, i % 100_000)
        }));
        body.push('\n');
    }
    body.push_str("</feed>\n");
    Reply::xml(200, body)
}

pub fn s2_bulk(corpus: &Corpus, params: &HashMap<String, String>) -> Reply {
    let dataset = Dataset::of(params.get("query").map(String::as_str).unwrap_or(""));
    let total = dataset.len(corpus.semantic_scholar.len());
    if total == 0 {
        return Reply::json(&json!({"total": 0, "token": null}));
    }
    let start = params
        .get("token")
        .and_then(|t| t.strip_prefix("t"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0usize);
    let range = window(total, start, 1000);
    let data: Vec<Value> = range
        .clone()
        .map(|i| {
            json_record(&corpus.semantic_scholar, dataset, i, |v, i| {
                v["paperId"] = json!(format!("{:040x}", i + 1));
                v["externalIds"] = json!({"DOI": synthetic_doi(i), "CorpusId": i + 1});
            })
        })
        .collect();
    let token = if range.end < total {
        json!(format!("t{}", range.end))
    } else {
        Value::Null
    };
    Reply::json(&json!({"total": total, "token": token, "data": data}))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_select_datasets() {
        assert_eq!(Dataset::of("crispr"), Dataset::All);
        assert_eq!(Dataset::of("all:no-results"), Dataset::Empty);
        assert_eq!(Dataset::of("synthetic:100000"), Dataset::Synthetic(100_000));
        assert_eq!(Dataset::of("all:bad-query"), Dataset::Bad);
    }
}
