//! ESearch responses (XML, and the JSON `retmode=json` variant) → [`EsearchResult`].

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Deserialize;

use crate::ParseError;
use crate::text::{finish_collapsed, push_collapsed};
use crate::xml::push_reference;

/// What ESearch says about a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EsearchResult {
    /// Number of records matching the query.
    pub count: u64,
    /// `RetMax` echoed back.
    pub retmax: u64,
    /// `RetStart` echoed back.
    pub retstart: u64,
    /// History server handle (`usehistory=y`).
    pub query_key: Option<String>,
    /// History server session (`WebEnv`).
    pub web_env: Option<String>,
    /// PMIDs of this slice (empty with `retmax=0`).
    pub ids: Vec<String>,
    /// `ErrorList/PhraseNotFound` etc.: terms PubMed ignored; not fatal.
    pub not_found: Vec<String>,
    /// `WarningList/OutputMessage` and friends.
    pub warnings: Vec<String>,
    /// `<ERROR>` messages. Fatal unless `count` was also reported.
    pub errors: Vec<String>,
    /// True when PubMed refused a slice beyond its 10,000-record window
    /// ("ESearch can only retrieve the first 9,999 records").
    pub window_exceeded: bool,
}

/// The live server's words when `retstart` passes the PubMed window.
pub fn is_window_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("cannot be larger than 9998") || m.contains("can only retrieve the first")
}

/// Parses an ESearch body. An `<ERROR>` without a `Count` (or a JSON
/// `ERROR`) is [`ParseError::Api`]; a body that is neither is
/// [`ParseError::Malformed`].
pub fn parse_esearch(body: &[u8]) -> Result<EsearchResult, ParseError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let (result, has_count) = match first {
        Some(b'{') => parse_json(body)?,
        _ => parse_xml(body)?,
    };
    if !has_count {
        return Err(if result.errors.is_empty() {
            ParseError::Malformed("no Count in the ESearch response".into())
        } else {
            ParseError::Api(result.errors.join("; "))
        });
    }
    Ok(result)
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Count,
    RetMax,
    RetStart,
    QueryKey,
    WebEnv,
    Id,
    NotFound,
    Warning,
    Error,
}

fn parse_xml(body: &[u8]) -> Result<(EsearchResult, bool), ParseError> {
    let mut reader = Reader::from_reader(body);
    let mut result = EsearchResult::default();
    let mut has_count = false;
    let mut stack: Vec<String> = Vec::new();
    let mut capture: Option<(Field, usize)> = None;
    let mut buf = String::new();
    let mut saw_root = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| ParseError::xml(e, reader.error_position()))?
        {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if !saw_root {
                    saw_root = true;
                    if name != "eSearchResult" && name != "ERROR" {
                        return Err(ParseError::Malformed(format!(
                            "expected <eSearchResult>, found <{name}>"
                        )));
                    }
                }
                let parent = stack.last().map(String::as_str);
                let top = parent == Some("eSearchResult");
                let field = match (name.as_str(), parent) {
                    ("Count", _) if top => Some(Field::Count),
                    ("RetMax", _) if top => Some(Field::RetMax),
                    ("RetStart", _) if top => Some(Field::RetStart),
                    ("QueryKey", _) if top => Some(Field::QueryKey),
                    ("WebEnv", _) if top => Some(Field::WebEnv),
                    ("Id", Some("IdList")) => Some(Field::Id),
                    (_, Some("ErrorList")) => Some(Field::NotFound),
                    (_, Some("WarningList")) => Some(Field::Warning),
                    ("ERROR", _) => Some(Field::Error),
                    _ => None,
                };
                stack.push(name);
                if capture.is_none()
                    && let Some(f) = field
                {
                    buf.clear();
                    capture = Some((f, stack.len()));
                }
            }
            Event::End(_) => {
                if let Some((field, depth)) = capture
                    && depth == stack.len()
                {
                    finish_collapsed(&mut buf);
                    let text = String::from(buf.as_str());
                    let number = || {
                        text.parse::<u64>()
                            .map_err(|_| ParseError::Malformed(format!("not a number: `{text}`")))
                    };
                    match field {
                        Field::Count => {
                            result.count = number()?;
                            has_count = true;
                        }
                        Field::RetMax => result.retmax = number()?,
                        Field::RetStart => result.retstart = number()?,
                        Field::QueryKey => result.query_key = Some(text).filter(|s| !s.is_empty()),
                        Field::WebEnv => result.web_env = Some(text).filter(|s| !s.is_empty()),
                        Field::Id => result.ids.push(text),
                        Field::NotFound => result.not_found.push(text),
                        Field::Warning => result.warnings.push(text),
                        Field::Error => result.errors.push(text),
                    }
                    capture = None;
                }
                if stack.pop().is_none() {
                    return Err(ParseError::Malformed("unexpected closing tag".into()));
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
        return Err(ParseError::Malformed("truncated ESearch XML".into()));
    }
    if !saw_root {
        return Err(ParseError::Malformed(
            "no XML element in the ESearch response".into(),
        ));
    }
    result.window_exceeded = result.errors.iter().any(|e| is_window_message(e));
    Ok((result, has_count))
}

#[derive(Deserialize)]
struct JsonBody {
    esearchresult: Option<JsonResult>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonResult {
    count: Option<String>,
    retmax: Option<String>,
    retstart: Option<String>,
    querykey: Option<String>,
    webenv: Option<String>,
    idlist: Vec<String>,
    #[serde(rename = "ERROR")]
    error: Option<String>,
    errorlist: Option<JsonErrorList>,
    warninglist: Option<JsonWarningList>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonErrorList {
    phrasesnotfound: Vec<String>,
    fieldsnotfound: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonWarningList {
    outputmessages: Vec<String>,
    phrasesignored: Vec<String>,
}

fn parse_json(body: &[u8]) -> Result<(EsearchResult, bool), ParseError> {
    let raw: JsonBody = serde_json::from_slice(body).map_err(ParseError::json)?;
    let Some(r) = raw.esearchresult else {
        return Err(match raw.error {
            Some(e) => ParseError::Api(e),
            None => ParseError::Malformed("no esearchresult in the ESearch JSON".into()),
        });
    };
    let number = |s: &Option<String>| -> Result<Option<u64>, ParseError> {
        s.as_deref()
            .map(|v| {
                v.parse()
                    .map_err(|_| ParseError::Malformed(format!("not a number: `{v}`")))
            })
            .transpose()
    };
    let count = number(&r.count)?;
    let errors: Vec<String> = r.error.into_iter().collect();
    let errorlist = r.errorlist.unwrap_or_default();
    let warninglist = r.warninglist.unwrap_or_default();
    let result = EsearchResult {
        count: count.unwrap_or(0),
        retmax: number(&r.retmax)?.unwrap_or(0),
        retstart: number(&r.retstart)?.unwrap_or(0),
        query_key: r.querykey,
        web_env: r.webenv,
        ids: r.idlist,
        not_found: errorlist
            .phrasesnotfound
            .into_iter()
            .chain(errorlist.fieldsnotfound)
            .collect(),
        warnings: warninglist
            .outputmessages
            .into_iter()
            .chain(warninglist.phrasesignored)
            .collect(),
        window_exceeded: errors.iter().any(|e| is_window_message(e)),
        errors,
    };
    Ok((result, count.is_some()))
}
