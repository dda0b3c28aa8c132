//! arXiv `GET /query` (`search_query` or `id_list`, `start`, `max_results`): a
//! current-layout Atom feed around the recorded `<entry>` elements.

use crate::corpus::{Candidate, read};
use crate::dataset::{Dataset, Item};
use crate::reply::{ATOM, Params, Reply, utc_today, window, xml_escape};
use crate::template::{IdKind, Match, Token, parse_synthetic_arxiv};
use crate::xml_scan::{fragments, simple_elements};
use crate::{Shared, Source};
use std::fmt::Write as _;
use std::path::Path;

/// Current-layout feeds whose entries make the corpus (the legacy 2017 feed is not used).
const FEED_FIXTURES: [&str; 6] = [
    "arxiv/query_all_testing_start0_max100.xml",
    "arxiv/query_all_testing_start0_max10.xml",
    "arxiv/query_all_testing_start10_max10.xml",
    "arxiv/query_ml_nlp_submittedDate_range_max50.xml",
    "arxiv/idlist_1707.08567_34_authors_unicode.xml",
    "arxiv/idlist_astro-ph_0601001_oldstyle_id.xml",
];
/// The most entries one call returns.
pub const MAX_RESULTS: u64 = 2_000;

/// `2202.12139v1` → `2202.12139`; `astro-ph/0601001v1` → `astro-ph/0601001`.
fn strip_version(id: &str) -> &str {
    match id.rfind('v') {
        Some(i) if i + 1 < id.len() && id[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &id[..i],
        _ => id,
    }
}

/// Whether `id` (without version) is a well-formed new-style or old-style arXiv id.
fn well_formed(id: &str) -> bool {
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if let Some((yymm, num)) = id.split_once('.').filter(|_| !id.contains('/')) {
        return digits(yymm, 4..=4) && digits(num, 4..=5);
    }
    match id.split_once('/') {
        Some((archive, num)) => {
            let archive = archive.split('.').next().unwrap_or("");
            !archive.is_empty()
                && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && digits(num, 7..=7)
        }
        None => false,
    }
}

fn candidate(raw: &str) -> Option<Candidate> {
    let abs = simple_elements(raw, "id").first()?.1;
    let id = strip_version(abs.rsplit_once("/abs/").map_or(abs, |(_, id)| id)).to_owned();
    let doi = simple_elements(raw, "arxiv:doi")
        .first()
        .map(|(_, d)| (*d).to_owned());
    let mut tokens = vec![Token::new(id.clone(), IdKind::Arxiv, Match::Bounded)];
    if let Some(doi) = &doi {
        tokens.push(Token::new(doi.clone(), IdKind::Doi, Match::Caseless));
    }
    Some(Candidate {
        id,
        doi,
        raw: raw.to_owned(),
        tokens,
        json: false,
    })
}

/// The `<entry>` elements of the current-layout query and id_list fixtures.
pub(crate) fn candidates(dir: &Path) -> anyhow::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for file in FEED_FIXTURES {
        let text = read(dir, file)?;
        for raw in fragments(&text, &["entry"]) {
            out.push(candidate(raw).ok_or_else(|| anyhow::anyhow!("{file}: entry without <id>"))?);
        }
    }
    Ok(out)
}

/// The recorded current-layout `<feed …>` start tag, which declares the `opensearch` and
/// `arxiv` prefixes the entries use.
pub(crate) fn feed_open(dir: &Path) -> anyhow::Result<String> {
    let text = read(dir, FEED_FIXTURES[0])?;
    let start = text
        .find("<feed")
        .ok_or_else(|| anyhow::anyhow!("arXiv fixture without <feed>"))?;
    let len = text[start..]
        .find('>')
        .ok_or_else(|| anyhow::anyhow!("unterminated <feed>"))?;
    Ok(text[start..=start + len].to_owned())
}

/// The recorded error feed (HTTP 400) with another error slug and message.
fn error_feed(s: &Shared, slug: &str, message: &str) -> Reply {
    let body = s
        .recorded
        .arxiv_error
        .replace("incorrect_id_format_for_abc", &xml_escape(slug))
        .replace("incorrect id format for abc", &xml_escape(message));
    Reply::new(400, ATOM, body)
}

fn id_format_error(s: &Shared, id: &str) -> Reply {
    error_feed(
        s,
        &format!("incorrect_id_format_for_{id}"),
        &format!("incorrect id format for {id}"),
    )
}

fn item_by_id(s: &Shared, id: &str) -> Option<Item> {
    if let Some(i) = s.corpus.position(Source::Arxiv, id) {
        return Some(Item { record: i, k: None });
    }
    let len = s.corpus.records(Source::Arxiv).len() as u64;
    let k = parse_synthetic_arxiv(id)?;
    (len > 0).then(|| Item {
        record: (k % len) as usize,
        k: Some(k),
    })
}

/// `GET /query`.
pub(crate) fn query(s: &Shared, params: &Params) -> Reply {
    let search = params.text(&["search_query"]);
    let id_list = params.text(&["id_list"]);
    let dataset = Dataset::select([search, id_list]);
    match dataset {
        Dataset::Bad => return Reply::new(400, ATOM, s.recorded.arxiv_error.clone()),
        Dataset::Empty => return Reply::new(200, ATOM, s.recorded.arxiv_empty.clone()),
        _ => {}
    }
    let (start, max) = match (params.number("start"), params.number("max_results")) {
        (Ok(a), Ok(b)) => (a.unwrap_or(0), b.unwrap_or(10).min(MAX_RESULTS)),
        (Err(e), _) | (_, Err(e)) => return error_feed(s, "invalid_parameter", &e),
    };
    let len = s.corpus.records(Source::Arxiv).len();
    let listed: Option<Vec<Item>> =
        if id_list.trim().is_empty() || matches!(dataset, Dataset::Synthetic { .. }) {
            None
        } else {
            let mut items = Vec::new();
            for id in id_list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let bare = strip_version(id);
                if !well_formed(bare) {
                    return id_format_error(s, id);
                }
                items.extend(item_by_id(s, bare));
            }
            Some(items)
        };
    let total = listed
        .as_ref()
        .map_or_else(|| dataset.total(len), |l| l.len() as u64);
    let range = window(total, start, max);
    let (q, ids) = (xml_escape(search), xml_escape(id_list));
    let hash = format!("{search}|{id_list}|{start}|{max}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut body = String::with_capacity(1024 + range.clone().count() * 3 * 1024);
    let _ = write!(
        body,
        "<?xml version='1.0' encoding='UTF-8'?>\n{}\n  <id>https://arxiv.org/api/replay{hash:016x}</id>\n  <title>arXiv Query: search_query={q}&amp;id_list={ids}&amp;start={start}&amp;max_results={max}</title>\n  <updated>{}</updated>\n  <link href=\"https://arxiv.org/api/query?search_query={q}&amp;start={start}&amp;max_results={max}&amp;id_list={ids}\" type=\"application/atom+xml\"/>\n  <opensearch:itemsPerPage>{max}</opensearch:itemsPerPage>\n  <opensearch:totalResults>{total}</opensearch:totalResults>\n  <opensearch:startIndex>{start}</opensearch:startIndex>\n",
        s.corpus.arxiv_feed_open,
        utc_today(),
    );
    let records = s.corpus.records(Source::Arxiv);
    for j in range {
        let item = match &listed {
            Some(items) => items[j as usize],
            None => dataset.item(j, len),
        };
        body.push_str("  ");
        records[item.record].render(Source::Arxiv, item.k, &mut body);
        body.push('\n');
    }
    body.push_str("</feed>\n");
    Reply::new(200, ATOM, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_versions() {
        assert_eq!(strip_version("2202.12139v12"), "2202.12139");
        assert_eq!(strip_version("astro-ph/0601001v1"), "astro-ph/0601001");
        assert_eq!(strip_version("2202.12139"), "2202.12139");
        for good in [
            "2202.12139",
            "0704.0001",
            "astro-ph/0601001",
            "math.GT/0309136",
            "0000.0000",
        ] {
            assert!(well_formed(good), "{good}");
        }
        for bad in ["abc", "22.1", "astro-ph/06", "ASTRO/0601001", ""] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
