//! NCBI E-utilities for PubMed: `esearch.fcgi` (count, ids, history server WebEnv) and
//! `efetch.fcgi` (a slice of `<PubmedArticle>`s by WebEnv + retstart/retmax, or by `id`).

use crate::corpus::{Candidate, read};
use crate::dataset::{Dataset, Item};
use crate::reply::{JSON, NCBI_XML, Params, Reply, window, xml_escape};
use crate::template::{IdKind, Match, Token, synthetic_pmid};
use crate::xml_scan::{attr, fragments, simple_elements};
use crate::{Shared, Source};
use std::path::Path;

const EFETCH_FIXTURES: [&str; 5] = [
    "pubmed/efetch_50_articles.xml",
    "pubmed/efetch_2_articles_rettype_abstract.xml",
    "pubmed/efetch_book_article_genereviews.xml",
    "pubmed/efetch_collective_name_unicode_mathml.xml",
    "pubmed/efetch_structured_abstract_collective_author.xml",
];
const ESEARCH_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE eSearchResult PUBLIC \"-//NLM//DTD esearch 20060628//EN\" \"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd\">\n";
/// Largest `retmax` honoured (the documented maximum).
pub const MAX_RETMAX: u64 = 10_000;
/// ESearch refuses `retstart` above this for PubMed.
const MAX_ESEARCH_RETSTART: u64 = 9_998;

fn candidate(raw: &str) -> Option<Candidate> {
    let pmid = simple_elements(raw, "PMID").first()?.1.to_owned();
    // The record's own ids come before its ReferenceList (whose ids are other papers').
    let own = &raw[..raw.find("<ReferenceList").unwrap_or(raw.len())];
    let mut ids: Vec<(&str, &str)> = simple_elements(own, "ArticleId")
        .into_iter()
        .map(|(t, v)| (attr(t, "IdType").unwrap_or(""), v))
        .collect();
    ids.extend(
        simple_elements(raw, "ELocationID")
            .into_iter()
            .map(|(t, v)| (attr(t, "EIdType").unwrap_or(""), v)),
    );
    let doi = ids
        .iter()
        .find(|(t, _)| *t == "doi")
        .map(|(_, v)| (*v).to_owned());
    let mut tokens = vec![Token::new(pmid.clone(), IdKind::Pmid, Match::Element)];
    // DOIs first: a pii equal to the DOI is then rewritten as the DOI.
    ids.sort_by_key(|(t, _)| *t != "doi");
    for (id_type, value) in ids {
        let kind = match id_type {
            "pubmed" => IdKind::Pmid,
            "doi" => IdKind::Doi,
            "pmc" => IdKind::Pmcid,
            _ => IdKind::Other,
        };
        tokens.push(Token::new(value, kind, Match::Element));
    }
    Some(Candidate {
        id: pmid,
        doi,
        raw: raw.to_owned(),
        tokens,
        json: false,
    })
}

/// `<PubmedArticle>` and `<PubmedBookArticle>` elements of every efetch fixture.
pub(crate) fn candidates(dir: &Path) -> anyhow::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for file in EFETCH_FIXTURES {
        let text = read(dir, file)?;
        for raw in fragments(&text, &["PubmedArticle", "PubmedBookArticle"]) {
            out.push(candidate(raw).ok_or_else(|| anyhow::anyhow!("{file}: record without PMID"))?);
        }
    }
    Ok(out)
}

/// The recorded efetch prolog up to and including `<PubmedArticleSet>`.
pub(crate) fn set_open(dir: &Path) -> anyhow::Result<String> {
    let text = read(dir, EFETCH_FIXTURES[0])?;
    let end = text
        .find("<PubmedArticleSet>")
        .ok_or_else(|| anyhow::anyhow!("efetch fixture without <PubmedArticleSet>"))?;
    Ok(text[..end + "<PubmedArticleSet>".len()].to_owned())
}

fn pmid(s: &Shared, item: Item) -> String {
    match item.k {
        Some(k) => synthetic_pmid(Source::PubMed, k).to_string(),
        None => s.corpus.records(Source::PubMed)[item.record].id.clone(),
    }
}

fn in_band_error(root: &str, message: &str) -> Reply {
    Reply::new(
        200,
        NCBI_XML,
        format!(
            "{ESEARCH_HEAD}<{root}><ERROR>{}</ERROR></{root}>\n",
            xml_escape(message)
        ),
    )
}

/// A new opaque WebEnv for `term`, remembered for efetch.
fn new_webenv(s: &Shared, term: &str) -> String {
    let mut envs = crate::lock(&s.webenvs);
    let hash = term.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let webenv = format!("MCID_{hash:016x}{:08x}", envs.len() + 1);
    envs.insert(webenv.clone(), term.to_owned());
    webenv
}

/// `esearch.fcgi`: Count, RetMax, RetStart, optional QueryKey/WebEnv (`usehistory=y`)
/// and the IdList window; `rettype=count` and `retmode=json` as the real service.
pub(crate) fn esearch(s: &Shared, params: &Params) -> Reply {
    let term = params.text(&["term"]);
    let dataset = Dataset::select([term]);
    match dataset {
        Dataset::Empty => {
            return Reply::new(
                200,
                NCBI_XML,
                s.recorded
                    .pubmed_no_results
                    .replace("abcXYZ", &xml_escape(term)),
            );
        }
        Dataset::Bad => {
            return in_band_error(
                "eSearchResult",
                "Search Backend failed: invalid query (bad-query)",
            );
        }
        _ => {}
    }
    let (retstart, retmax) = match (params.number("retstart"), params.number("retmax")) {
        (Ok(a), Ok(b)) => (a.unwrap_or(0), b.unwrap_or(20).min(MAX_RETMAX)),
        (Err(e), _) | (_, Err(e)) => return in_band_error("eSearchResult", &e),
    };
    let total = dataset.total(s.corpus.records(Source::PubMed).len());
    if retstart > MAX_ESEARCH_RETSTART {
        return in_band_error(
            "eSearchResult",
            "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, ESearch can only retrieve the first 9,999 records matching the query. To obtain more than 9,999 PubMed records, consider using EDirect that contains additional logic to batch PubMed search results automatically so that an arbitrary number can be retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/",
        );
    }
    let history = params
        .get("usehistory")
        .is_some_and(|v| v.eq_ignore_ascii_case("y"));
    let webenv = history.then(|| new_webenv(s, term));
    let count_only = params.get("rettype") == Some("count");
    let range = if count_only {
        0..0
    } else {
        window(total, retstart, retmax)
    };
    let len = s.corpus.records(Source::PubMed).len();
    let ids: Vec<String> = range
        .clone()
        .map(|j| pmid(s, dataset.item(j, len)))
        .collect();
    if params.get("retmode") == Some("json") {
        let mut result = serde_json::json!({"count": total.to_string()});
        if !count_only {
            result["retmax"] = ids.len().to_string().into();
            result["retstart"] = retstart.min(total).to_string().into();
            if let Some(w) = &webenv {
                result["querykey"] = "1".into();
                result["webenv"] = w.clone().into();
            }
            result["idlist"] = ids.into();
            result["translationset"] = serde_json::json!([]);
            result["querytranslation"] = term.into();
        }
        let body = serde_json::json!({"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result});
        return Reply::new(200, JSON, body.to_string());
    }
    if count_only {
        return Reply::new(
            200,
            NCBI_XML,
            format!("{ESEARCH_HEAD}<eSearchResult>\n\t<Count>{total}</Count>\n</eSearchResult>\n"),
        );
    }
    let history_xml = webenv.map_or(String::new(), |w| {
        format!("<QueryKey>1</QueryKey><WebEnv>{w}</WebEnv>")
    });
    let mut id_list = String::with_capacity(ids.len() * 20);
    for id in &ids {
        id_list.push_str("\n<Id>");
        id_list.push_str(id);
        id_list.push_str("</Id>");
    }
    let id_list = if ids.is_empty() {
        "<IdList/>".to_owned()
    } else {
        format!("<IdList>{id_list}\n</IdList>")
    };
    Reply::new(
        200,
        NCBI_XML,
        format!(
            "{ESEARCH_HEAD}<eSearchResult><Count>{total}</Count><RetMax>{}</RetMax><RetStart>{}</RetStart>{history_xml}{id_list}<TranslationSet/><QueryTranslation>{}</QueryTranslation></eSearchResult>\n",
            ids.len(),
            retstart.min(total),
            xml_escape(term)
        ),
    )
}

/// The served item with PMID `id`: a corpus record or a synthetic one.
fn item_by_pmid(s: &Shared, id: &str) -> Option<Item> {
    if let Some(i) = s.corpus.position(Source::PubMed, id) {
        return Some(Item { record: i, k: None });
    }
    let len = s.corpus.records(Source::PubMed).len() as u64;
    let k = id
        .parse::<u64>()
        .ok()?
        .checked_sub(synthetic_pmid(Source::PubMed, 0))?;
    (len > 0 && k < 10_000_000).then(|| Item {
        record: (k % len) as usize,
        k: Some(k),
    })
}

/// `efetch.fcgi` (GET or POST): the `<PubmedArticleSet>` of a WebEnv slice
/// (`WebEnv`, `query_key`, `retstart`, `retmax` default 20) or of an `id` list.
pub(crate) fn efetch(s: &Shared, params: &Params) -> Reply {
    let items: Vec<Item> = if let Some(ids) = params.get("id").filter(|v| !v.trim().is_empty()) {
        ids.split(',')
            .filter_map(|id| item_by_pmid(s, id.trim()))
            .collect()
    } else {
        let Some(webenv) = params.get("WebEnv").or_else(|| params.get("webenv")) else {
            return in_band_error("eFetchResult", "Empty id list - nothing todo");
        };
        let term = crate::lock(&s.webenvs).get(webenv).cloned();
        let Some(term) = term else {
            let key = params.text(&["query_key"]);
            return in_band_error("eFetchResult", &format!("Unable to obtain query #{key}"));
        };
        let (retstart, retmax) = match (params.number("retstart"), params.number("retmax")) {
            (Ok(a), Ok(b)) => (a.unwrap_or(0), b.unwrap_or(20).min(MAX_RETMAX)),
            (Err(e), _) | (_, Err(e)) => return in_band_error("eFetchResult", &e),
        };
        let dataset = Dataset::select([term.as_str()]);
        let len = s.corpus.records(Source::PubMed).len();
        window(dataset.total(len), retstart, retmax)
            .map(|j| dataset.item(j, len))
            .collect()
    };
    let records = s.corpus.records(Source::PubMed);
    let mut body = String::with_capacity(s.corpus.pubmed_set_open.len() + items.len() * 16 * 1024);
    body.push_str(&s.corpus.pubmed_set_open);
    for item in items {
        records[item.record].render(Source::PubMed, item.k, &mut body);
    }
    body.push_str("</PubmedArticleSet>");
    Reply::new(200, NCBI_XML, body)
}
