//! OpenAlex `GET /works` (cursor and basic paging) and `GET /works/{id}` over the
//! recorded works.

use crate::corpus::{Candidate, read};
use crate::dataset::Dataset;
use crate::reply::{HTML, Params, Reply, base64_decode, base64_encode, window};
use crate::template::{IdKind, Match, Token};
use crate::{Shared, Source, json_scan};
use std::path::Path;

const LIST_FIXTURES: [&str; 4] = [
    "openalex/works_filter_author_cursor_page1.json",
    "openalex/works_filter_doi_cursor_page1.json",
    "openalex/works_search_page1_per_page200.json",
    "openalex/works_search_filter_sort_page1_per_page50_2026.json",
];
const SINGLE_WORK: &str = "openalex/work_by_doi_10.1371_journal.pone.0000030.json";
/// Highest `per_page` the replay accepts (recorded requests used 200).
pub const MAX_PER_PAGE: u64 = 200;
/// Basic paging reaches only the first 10,000 results.
const BASIC_PAGING_LIMIT: u64 = 10_000;

fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn candidate(raw: &str) -> anyhow::Result<Candidate> {
    let work = json_scan::parse_members(raw, &["id", "doi", "ids"])?;
    let id = last_segment(
        work["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("OpenAlex work without id"))?,
    )
    .to_owned();
    let doi = work["doi"]
        .as_str()
        .map(|d| d.trim_start_matches("https://doi.org/").to_owned());
    let mut tokens = vec![Token::new(id.clone(), IdKind::OpenAlexWork, Match::Bounded)];
    if let Some(doi) = &doi {
        tokens.push(Token::new(doi.clone(), IdKind::Doi, Match::Caseless));
    }
    for (key, kind) in [
        ("mag", IdKind::Mag),
        ("pmid", IdKind::Pmid),
        ("pmcid", IdKind::Pmcid),
    ] {
        if let Some(v) = work["ids"][key].as_str() {
            tokens.push(Token::new(last_segment(v), kind, Match::Bounded));
        }
    }
    Ok(Candidate {
        id,
        doi,
        raw: raw.to_owned(),
        tokens,
        json: true,
    })
}

/// Works of every list fixture, then the single work.
pub(crate) fn candidates(dir: &Path) -> anyhow::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for file in LIST_FIXTURES {
        let text = read(dir, file)?;
        for raw in json_scan::records(&text, "results")? {
            out.push(candidate(raw)?);
        }
    }
    out.push(candidate(read(dir, SINGLE_WORK)?.trim())?);
    Ok(out)
}

/// The documented error shape `{"error": …, "message": …}` with 400.
fn bad_request(message: &str) -> Reply {
    let body = serde_json::json!({"error": "Invalid query parameters error.", "message": message});
    Reply::new(400, crate::reply::JSON, body.to_string())
}

/// Opaque cursor for the next page: base64 of a small list, like the real ones.
fn encode_cursor(offset: u64, dataset: Dataset) -> String {
    base64_encode(format!("\"[{offset}, 'replay:{}']\"", dataset.descriptor()).as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = base64_decode(cursor.trim())?;
    let text = String::from_utf8(bytes).ok()?;
    let digits: String = text
        .strip_prefix("\"[")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Top-level member filter from `select=` (all members when absent).
fn selection(params: &Params) -> Option<Vec<String>> {
    params
        .get("select")
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|f| f.trim().to_owned()).collect())
}

/// `GET /works`: cursor paging (`cursor=*`, then `meta.next_cursor`) or basic paging
/// (`page`), `per_page`/`per-page` 1–200 (default 25).
pub(crate) fn works(s: &Shared, params: &Params) -> Reply {
    let dataset = Dataset::select([params.text(&["search"]), params.text(&["filter"])]);
    match dataset {
        Dataset::Empty => return Reply::json(s.recorded.openalex_empty.clone()),
        Dataset::Bad => return bad_request("Invalid query parameters error: bad-query"),
        _ => {}
    }
    let per_page = match params
        .number("per_page")
        .and_then(|v| v.map_or(params.number("per-page"), |v| Ok(Some(v))))
    {
        Ok(v) => v.unwrap_or(25),
        Err(e) => return bad_request(&e),
    };
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return bad_request(&format!(
            "per-page parameter must be between 1 and {MAX_PER_PAGE}"
        ));
    }
    let cursor = params.get("cursor");
    let (offset, page) = match cursor {
        Some("*") => (0, None),
        Some(c) => match decode_cursor(c) {
            Some(offset) => (offset, None),
            None => return bad_request("cursor is invalid"),
        },
        None => match params.number("page") {
            Ok(p) => {
                let page = p.unwrap_or(1).max(1);
                if page.saturating_mul(per_page) > BASIC_PAGING_LIMIT {
                    return bad_request(
                        "Maximum results size of 10,000 records is exceeded. Cursor pagination is required for records beyond 10,000. See: https://docs.openalex.org/how-to-use-the-api/get-lists-of-entities/paging#cursor-paging",
                    );
                }
                ((page - 1) * per_page, Some(page))
            }
            Err(e) => return bad_request(&e),
        },
    };
    let records = s.corpus.records(Source::OpenAlex);
    let total = dataset.total(records.len());
    let range = window(total, offset, per_page);
    let select = selection(params);
    let mut results = String::with_capacity(range.clone().count() * 8 * 1024);
    for (n, j) in range.clone().enumerate() {
        if n > 0 {
            results.push_str(", ");
        }
        let item = dataset.item(j, records.len());
        let record = &records[item.record];
        match &select {
            Some(fields) => record.render_members(
                Source::OpenAlex,
                item.k,
                &|key| fields.iter().any(|f| f == key),
                &mut results,
            ),
            None => record.render(Source::OpenAlex, item.k, &mut results),
        }
    }
    let page_json = page.map_or("null".to_owned(), |p| p.to_string());
    let next = match cursor {
        // The recorded quirk: every non-empty cursor page carries a cursor; the call
        // after the last one returns `results: []` and `next_cursor: null`.
        Some(_) if !range.is_empty() => format!(
            ", \"next_cursor\": \"{}\"",
            encode_cursor(range.end, dataset)
        ),
        Some(_) => ", \"next_cursor\": null".to_owned(),
        None => String::new(),
    };
    // A fixed response time keeps bodies byte-for-byte reproducible.
    Reply::json(format!(
        "{{\"meta\": {{\"count\": {total}, \"db_response_time_ms\": 18, \"page\": {page_json}, \"per_page\": {per_page}{next}, \"groups_count\": null}}, \"results\": [{results}], \"group_by\": []}}"
    ))
}

/// The id part of `/works/{id}`: a W-id or a DOI (URL or `doi:` form).
enum WorkId<'a> {
    OpenAlex(&'a str),
    Doi(String),
}

fn parse_work_id(raw: &str) -> Option<WorkId<'_>> {
    let id = raw.trim_start_matches('/');
    let id = id
        .strip_prefix("https://openalex.org/")
        .or_else(|| id.strip_prefix("openalex:"))
        .unwrap_or(id);
    if id.len() > 1 && id.starts_with(['W', 'w']) && id[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Some(WorkId::OpenAlex(id));
    }
    let lower = id.to_ascii_lowercase();
    [
        "doi:",
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "https:/doi.org/",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p))
    .map(|d| WorkId::Doi(d.to_owned()))
}

/// `GET /works/{id}`: the work, or the recorded HTML 404 page.
pub(crate) fn work(s: &Shared, raw_id: &str, params: &Params) -> Reply {
    let records = s.corpus.records(Source::OpenAlex);
    let found = match parse_work_id(raw_id) {
        Some(WorkId::OpenAlex(w)) => {
            let w = format!("W{}", &w[1..]);
            match s.corpus.position(Source::OpenAlex, &w) {
                Some(i) => Some((i, None)),
                // Synthetic works are `W9` + 10 digits.
                None => w
                    .strip_prefix("W9")
                    .filter(|d| d.len() == 10 && !records.is_empty())
                    .and_then(|d| d.parse::<u64>().ok())
                    .map(|k| ((k % records.len() as u64) as usize, Some(k))),
            }
        }
        Some(WorkId::Doi(doi)) => records
            .iter()
            .position(|r| r.doi.as_deref() == Some(doi.as_str()))
            .map(|i| (i, None)),
        None => None,
    };
    let Some((i, k)) = found else {
        return Reply::new(404, HTML, s.recorded.openalex_not_found.clone());
    };
    let mut body = String::new();
    match selection(params) {
        Some(fields) => records[i].render_members(
            Source::OpenAlex,
            k,
            &|key| fields.iter().any(|f| f == key),
            &mut body,
        ),
        None => records[i].render(Source::OpenAlex, k, &mut body),
    }
    Reply::json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_opaque_base64_and_round_trip() {
        let c = encode_cursor(1200, Dataset::Synthetic { n: 5000, dup: 0 });
        assert!(!c.contains("1200"), "{c}");
        assert_eq!(decode_cursor(&c), Some(1200));
        assert_eq!(
            decode_cursor(
                "IlsxMzEwNTE1MjAwMDAwLCAnaHR0cHM6Ly9vcGVuYWxleC5vcmcvVzIwNjY0MTU3MTknXSI="
            ),
            Some(1_310_515_200_000)
        );
        assert_eq!(decode_cursor("not base64!"), None);
    }

    #[test]
    fn work_ids_in_every_accepted_form() {
        assert!(matches!(
            parse_work_id("W123"),
            Some(WorkId::OpenAlex("W123"))
        ));
        assert!(matches!(
            parse_work_id("https://openalex.org/W123"),
            Some(WorkId::OpenAlex("W123"))
        ));
        for form in [
            "doi:10.1371/X",
            "https://doi.org/10.1371/X",
            "https:/doi.org/10.1371/X",
        ] {
            assert!(
                matches!(parse_work_id(form), Some(WorkId::Doi(d)) if d == "10.1371/x"),
                "{form}"
            );
        }
        assert!(parse_work_id("pmid:1").is_none());
    }
}
