//! Semantic Scholar `GET /paper/search/bulk` (up to 1,000 papers per call, continued by
//! an opaque `token` that is null on the last page) and `GET /paper/search` (relevance
//! search by `offset`/`limit`); `fields` selects members.

use crate::corpus::{Candidate, read};
use crate::dataset::Dataset;
use crate::reply::{Params, Reply, window};
use crate::template::{IdKind, Match, Token};
use crate::{Shared, Source, json_scan};
use std::fmt::Write as _;
use std::path::Path;

const SEARCH_FIXTURES: [&str; 4] = [
    "semantic_scholar/paper_search_full_fields_offset0_next100.json",
    "semantic_scholar/paper_search_full_fields_offset100_next200.json",
    "semantic_scholar/paper_search_full_fields_last_page_no_next.json",
    "semantic_scholar/paper_search_relevance_2026_reserialized.json",
];
/// Papers per bulk call.
pub const PAGE_SIZE: u64 = 1_000;
/// Paper fields the bulk search accepts in `fields` (nested `authors.name` style
/// selections are checked by their first part).
pub const KNOWN_FIELDS: [&str; 22] = [
    "paperId",
    "corpusId",
    "externalIds",
    "url",
    "title",
    "abstract",
    "venue",
    "publicationVenue",
    "year",
    "referenceCount",
    "citationCount",
    "influentialCitationCount",
    "isOpenAccess",
    "openAccessPdf",
    "fieldsOfStudy",
    "s2FieldsOfStudy",
    "publicationTypes",
    "publicationDate",
    "journal",
    "citationStyles",
    "authors",
    "textAvailability",
];

fn candidate(raw: &str) -> anyhow::Result<Candidate> {
    let paper = json_scan::parse_members(raw, &["paperId", "externalIds"])?;
    let id = paper["paperId"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("Semantic Scholar paper without paperId"))?
        .to_owned();
    let doi = paper["externalIds"]["DOI"].as_str().map(str::to_owned);
    let mut tokens = vec![Token::new(id.clone(), IdKind::S2Paper, Match::Bounded)];
    if let Some(ids) = paper["externalIds"].as_object() {
        // DOI first so that an equal id of another kind is rewritten as the DOI.
        let mut ids: Vec<(&String, &serde_json::Value)> = ids.iter().collect();
        ids.sort_by_key(|(k, _)| *k != "DOI");
        for (key, value) in ids {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            let (kind, how) = match key.as_str() {
                "DOI" => (IdKind::Doi, Match::Caseless),
                "CorpusId" => (IdKind::CorpusId, Match::Bounded),
                "MAG" => (IdKind::Mag, Match::Bounded),
                "PubMed" => (IdKind::Pmid, Match::Bounded),
                "PubMedCentral" => (IdKind::Pmcid, Match::Bounded),
                "ArXiv" => (IdKind::Arxiv, Match::Bounded),
                _ => (IdKind::Other, Match::Bounded),
            };
            tokens.push(Token::new(text, kind, how));
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

/// Papers of the full-field relevance search fixtures (the bulk fixtures only carry
/// titles).
pub(crate) fn candidates(dir: &Path) -> anyhow::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for file in SEARCH_FIXTURES {
        let text = read(dir, file)?;
        for raw in json_scan::records(&text, "data")? {
            out.push(candidate(raw)?);
        }
    }
    Ok(out)
}

fn error(status: u16, message: &str) -> Reply {
    Reply::new(
        status,
        crate::reply::JSON,
        serde_json::json!({ "error": message }).to_string(),
    )
}

/// Opaque continuation token (upper-case, like the real ones).
fn encode_token(offset: u64, dataset: Dataset) -> String {
    let mut token = String::from("RPL");
    for b in format!("{offset}:{}", dataset.descriptor()).bytes() {
        let _ = write!(token, "{b:02X}");
    }
    token
}

fn decode_token(token: &str) -> Option<u64> {
    let hex = token.trim().strip_prefix("RPL")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    text.split(':').next()?.parse().ok()
}

/// The top-level members `fields` asks for (`paperId` always), or the unknown names.
fn requested(fields: Option<&str>) -> Result<Vec<String>, Vec<String>> {
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return Ok(vec!["paperId".into(), "title".into()]);
    };
    let mut keep = vec!["paperId".to_owned()];
    let mut unknown = Vec::new();
    for f in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let top = f.split('.').next().unwrap_or(f);
        if KNOWN_FIELDS.contains(&top) {
            keep.push(top.to_owned());
        } else {
            unknown.push(f.to_owned());
        }
    }
    if unknown.is_empty() {
        Ok(keep)
    } else {
        Err(unknown)
    }
}

/// `GET /paper/search/bulk`.
pub(crate) fn bulk(s: &Shared, params: &Params) -> Reply {
    let dataset = Dataset::select([params.text(&["query"])]);
    let keep = match requested(params.get("fields")) {
        Ok(keep) => keep,
        Err(unknown) => {
            let body = s
                .recorded
                .s2_bad_fields
                .replace("[unknown]", &format!("[{}]", unknown.join(", ")));
            return Reply::new(400, crate::reply::JSON, body);
        }
    };
    match dataset {
        Dataset::Empty => return Reply::json(s.recorded.s2_empty.clone()),
        Dataset::Bad => return error(400, "Unacceptable query: bad-query"),
        _ => {}
    }
    let offset = match params.get("token").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => match decode_token(t) {
            Some(offset) => offset,
            None => return error(400, "Invalid token"),
        },
    };
    let records = s.corpus.records(Source::SemanticScholar);
    let total = dataset.total(records.len());
    if total == 0 {
        return Reply::json("{\"total\": 0, \"token\": null}");
    }
    let range = window(total, offset, PAGE_SIZE);
    let token = if range.end < total {
        format!("\"{}\"", encode_token(range.end, dataset))
    } else {
        "null".to_owned()
    };
    let mut body = String::with_capacity(64 + range.clone().count() * 3 * 1024);
    let _ = write!(
        body,
        "{{\"total\": {total}, \"token\": {token}, \"data\": ["
    );
    let keep_member = |key: &str| keep.iter().any(|k| k == key);
    for (n, j) in range.enumerate() {
        if n > 0 {
            body.push_str(", ");
        }
        let item = dataset.item(j, records.len());
        records[item.record].render_members(
            Source::SemanticScholar,
            item.k,
            &keep_member,
            &mut body,
        );
    }
    body.push_str("]}");
    Reply::json(body)
}

/// Results the relevance search can reach (`offset + limit`).
pub const RELEVANCE_LIMIT: u64 = 1_000;

/// `GET /paper/search` (relevance search): `offset`/`limit` (≤ 100, default 100),
/// `next` only while more results are reachable; asking past the end is the recorded
/// 400.
pub(crate) fn search(s: &Shared, params: &Params) -> Reply {
    let dataset = Dataset::select([params.text(&["query"])]);
    let keep = match requested(params.get("fields")) {
        Ok(keep) => keep,
        Err(unknown) => {
            let body = s
                .recorded
                .s2_bad_fields
                .replace("[unknown]", &format!("[{}]", unknown.join(", ")));
            return Reply::new(400, crate::reply::JSON, body);
        }
    };
    match dataset {
        Dataset::Empty => return Reply::json(s.recorded.s2_empty.clone()),
        Dataset::Bad => return error(400, "Unacceptable query: bad-query"),
        _ => {}
    }
    let (offset, limit) = match (params.number("offset"), params.number("limit")) {
        (Ok(o), Ok(l)) => (o.unwrap_or(0), l.unwrap_or(100)),
        (Err(e), _) | (_, Err(e)) => return error(400, &e),
    };
    if limit > 100 {
        return error(400, "Unacceptable query params: limit must be <= 100");
    }
    let records = s.corpus.records(Source::SemanticScholar);
    let total = dataset.total(records.len());
    if total == 0 {
        return Reply::json("{\"total\": 0, \"offset\": 0}");
    }
    if offset >= total || offset + limit > RELEVANCE_LIMIT {
        return Reply::new(
            400,
            crate::reply::JSON,
            s.recorded.s2_offset_unavailable.clone(),
        );
    }
    let range = window(total, offset, limit);
    let next = if range.end < total.min(RELEVANCE_LIMIT) {
        format!(", \"next\": {}", range.end)
    } else {
        String::new()
    };
    let mut body = String::with_capacity(64 + range.clone().count() * 3 * 1024);
    let _ = write!(
        body,
        "{{\"total\": {total}, \"offset\": {offset}{next}, \"data\": ["
    );
    let keep_member = |key: &str| keep.iter().any(|k| k == key);
    for (n, j) in range.enumerate() {
        if n > 0 {
            body.push_str(", ");
        }
        let item = dataset.item(j, records.len());
        records[item.record].render_members(
            Source::SemanticScholar,
            item.k,
            &keep_member,
            &mut body,
        );
    }
    body.push_str("]}");
    Reply::json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = encode_token(3000, Dataset::Synthetic { n: 100_000, dup: 0 });
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{t}"
        );
        assert_eq!(decode_token(&t), Some(3000));
        assert_eq!(decode_token("PCOKWVSKJJGM4TWNJNI3"), None);
    }

    #[test]
    fn fields_default_to_paper_id_and_title_and_unknown_names_are_reported() {
        assert_eq!(
            requested(None),
            Ok(vec!["paperId".to_owned(), "title".to_owned()])
        );
        assert_eq!(
            requested(Some("title,authors.name,year")),
            Ok(vec![
                "paperId".into(),
                "title".into(),
                "authors".into(),
                "year".into()
            ])
        );
        assert_eq!(
            requested(Some("title,unknown")),
            Err(vec!["unknown".to_owned()])
        );
    }
}
