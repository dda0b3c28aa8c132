//! The records of each source, cut out of the recorded responses in `fixtures/`:
//! JSON objects for OpenAlex and Semantic Scholar, verbatim XML fragments for PubMed
//! and arXiv. Each corpus is deduplicated on source id and DOI, so tests can count.

use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// One source's records plus what the server needs to re-wrap them.
#[derive(Debug, Default)]
pub struct Corpus {
    pub openalex: Vec<Value>,
    pub pubmed: Vec<XmlRecord>,
    pub arxiv: Vec<XmlRecord>,
    pub semantic_scholar: Vec<Value>,
    /// The current-layout `<feed …>` start tag (declares the prefixes entries use).
    pub arxiv_feed_open: String,
}

/// A verbatim XML record and the identifiers the synthetic mode rewrites.
#[derive(Debug, Clone)]
pub struct XmlRecord {
    pub xml: String,
    pub id: String,
    pub doi: Option<String>,
    pub pmcid: Option<String>,
}

fn read(dir: &Path, rel: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(dir.join(rel))
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(rel).display()))
}

/// Fragments `<tag …>…</tag>` of `text`, in order.
fn fragments<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<PubmedArticleSet` must not match `<PubmedArticle`.
        if !after.starts_with(['>', ' ', '\n', '\t']) {
            rest = after;
            continue;
        }
        let Some(end) = rest[start..].find(&close) else {
            break;
        };
        out.push(&rest[start..start + end + close.len()]);
        rest = &rest[start + end + close.len()..];
    }
    out
}

/// Text of the first `<tag …>text</tag>` inside `xml` whose start tag contains `attr`.
pub fn element_text<'a>(xml: &'a str, tag: &str, attr: &str) -> Option<&'a str> {
    let open = format!("<{tag}");
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let tail = &rest[i..];
        let gt = tail.find('>')?;
        let start_tag = &tail[..gt];
        let body = &tail[gt + 1..];
        if start_tag.contains(attr) && !start_tag.ends_with('/') {
            let end = body.find('<')?;
            return Some(body[..end].trim());
        }
        rest = &tail[gt..];
    }
    None
}

struct Seen(HashSet<String>);

impl Seen {
    /// True when none of `keys` was seen; records them.
    fn fresh(&mut self, keys: &[Option<String>]) -> bool {
        let keys: Vec<String> = keys.iter().flatten().map(|k| k.to_lowercase()).collect();
        if keys.iter().any(|k| self.0.contains(k)) {
            return false;
        }
        self.0.extend(keys);
        true
    }
}

impl Corpus {
    pub fn load(dir: &Path) -> anyhow::Result<Corpus> {
        let mut corpus = Corpus::default();
        let mut seen = Seen(HashSet::new());
        for file in [
            "openalex/works_filter_author_cursor_page1.json",
            "openalex/works_filter_doi_cursor_page1.json",
            "openalex/works_search_page1_per_page200.json",
            "openalex/works_search_filter_sort_page1_per_page50_2026.json",
        ] {
            let v: Value = serde_json::from_str(&read(dir, file)?)?;
            for work in v["results"].as_array().into_iter().flatten() {
                let keys = [
                    work["id"].as_str().map(String::from),
                    work["doi"].as_str().map(String::from),
                ];
                if seen.fresh(&keys) {
                    corpus.openalex.push(work.clone());
                }
            }
        }
        let mut seen = Seen(HashSet::new());
        for file in [
            "pubmed/efetch_50_articles.xml",
            "pubmed/efetch_2_articles_rettype_abstract.xml",
            "pubmed/efetch_book_article_genereviews.xml",
            "pubmed/efetch_collective_name_unicode_mathml.xml",
            "pubmed/efetch_structured_abstract_collective_author.xml",
        ] {
            let text = read(dir, file)?;
            for tag in ["PubmedArticle", "PubmedBookArticle"] {
                for frag in fragments(&text, tag) {
                    let Some(pmid) = element_text(frag, "PMID", "") else {
                        continue;
                    };
                    let doi = element_text(frag, "ArticleId", "IdType=\"doi\"").map(String::from);
                    let pmcid = element_text(frag, "ArticleId", "IdType=\"pmc\"").map(String::from);
                    if seen.fresh(&[Some(format!("pmid:{pmid}")), doi.clone()]) {
                        corpus.pubmed.push(XmlRecord {
                            xml: frag.to_owned(),
                            id: pmid.to_owned(),
                            doi,
                            pmcid,
                        });
                    }
                }
            }
        }
        let mut seen = Seen(HashSet::new());
        let current = read(dir, "arxiv/query_all_testing_start0_max100.xml")?;
        let feed_start = current
            .find("<feed")
            .ok_or_else(|| anyhow::anyhow!("arXiv fixture without <feed>"))?;
        let feed_end = current[feed_start..]
            .find('>')
            .ok_or_else(|| anyhow::anyhow!("bad <feed>"))?;
        corpus.arxiv_feed_open = current[feed_start..=feed_start + feed_end].to_owned();
        for file in [
            "arxiv/query_all_testing_start0_max100.xml",
            "arxiv/query_ml_nlp_submittedDate_range_max50.xml",
            "arxiv/idlist_1707.08567_34_authors_unicode.xml",
        ] {
            let text = read(dir, file)?;
            for frag in fragments(&text, "entry") {
                let Some(abs) = element_text(frag, "id", "") else {
                    continue;
                };
                let id = abs.rsplit("/abs/").next().unwrap_or(abs);
                let id = match id.rfind('v') {
                    Some(i) if id[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &id[..i],
                    _ => id,
                };
                let doi = element_text(frag, "arxiv:doi", "").map(String::from);
                if seen.fresh(&[Some(format!("arxiv:{id}")), doi.clone()]) {
                    corpus.arxiv.push(XmlRecord {
                        xml: frag.to_owned(),
                        id: id.to_owned(),
                        doi,
                        pmcid: None,
                    });
                }
            }
        }
        let mut seen = Seen(HashSet::new());
        for file in [
            "semantic_scholar/paper_search_full_fields_offset0_next100.json",
            "semantic_scholar/paper_search_full_fields_offset100_next200.json",
            "semantic_scholar/paper_search_full_fields_last_page_no_next.json",
            "semantic_scholar/paper_search_relevance_2026_reserialized.json",
        ] {
            let v: Value = serde_json::from_str(&read(dir, file)?)?;
            for paper in v["data"].as_array().into_iter().flatten() {
                let keys = [
                    paper["paperId"].as_str().map(String::from),
                    paper["externalIds"]["DOI"].as_str().map(String::from),
                ];
                if seen.fresh(&keys) {
                    corpus.semantic_scholar.push(paper.clone());
                }
            }
        }
        Ok(corpus)
    }

    pub fn len(&self, source: &str) -> usize {
        match source {
            "openalex" => self.openalex.len(),
            "pubmed" => self.pubmed.len(),
            "arxiv" => self.arxiv.len(),
            "semantic_scholar" | "s2" => self.semantic_scholar.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_skip_longer_tag_names() {
        let xml = "<PubmedArticleSet><PubmedArticle><PMID Version=\"1\">1</PMID></PubmedArticle></PubmedArticleSet>";
        let f = fragments(xml, "PubmedArticle");
        assert_eq!(f.len(), 1);
        assert_eq!(element_text(f[0], "PMID", ""), Some("1"));
    }
}
