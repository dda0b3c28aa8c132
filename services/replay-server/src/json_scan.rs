//! Just enough JSON scanning to cut records out of a recorded body verbatim: the byte
//! ranges of top-level object members and array elements. Values are checked for
//! balance, not fully validated (the fixtures are real API bodies).

use std::ops::Range;

/// A scanning error: what was expected and where.
#[derive(Debug, thiserror::Error)]
#[error("JSON scan: {what} at byte {at}")]
pub struct ScanError {
    what: &'static str,
    at: usize,
}

fn err<T>(what: &'static str, at: usize) -> Result<T, ScanError> {
    Err(ScanError { what, at })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (which must be `"`).
fn string_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    err("unterminated string", i)
}

/// End (exclusive) of the value starting at `i` (no leading whitespace).
pub fn value_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            err("unbalanced container", i)
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            if j == i { err("empty value", i) } else { Ok(j) }
        }
        None => err("value expected", i),
    }
}

/// The members of the object spanning `range`: (key as written, value range).
pub fn object_members(
    text: &str,
    range: Range<usize>,
) -> Result<Vec<(String, Range<usize>)>, ScanError> {
    let b = &text.as_bytes()[..range.end];
    let mut i = skip_ws(b, range.start);
    if b.get(i) != Some(&b'{') {
        return err("object expected", i);
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return err("member name expected", i);
        }
        let key_end = string_end(b, i)?;
        let key = text[i + 1..key_end - 1].to_owned();
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return err("':' expected", i);
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        out.push((key, start..end));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(out),
            _ => return err("',' or '}' expected", i),
        }
    }
}

/// The elements of the array spanning `range`.
pub fn array_elements(text: &str, range: Range<usize>) -> Result<Vec<Range<usize>>, ScanError> {
    let b = &text.as_bytes()[..range.end];
    let mut i = skip_ws(b, range.start);
    if b.get(i) != Some(&b'[') {
        return err("array expected", i);
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let end = value_end(b, i)?;
        out.push(i..end);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return Ok(out),
            _ => return err("',' or ']' expected", i),
        }
    }
}

/// Parses only the members `keys` of the object `raw` (cheap on large records), as a
/// JSON object holding those present.
pub fn parse_members(raw: &str, keys: &[&str]) -> Result<serde_json::Value, ScanError> {
    let mut out = serde_json::Map::new();
    for (key, range) in object_members(raw, 0..raw.len())? {
        if keys.contains(&key.as_str()) {
            let value = serde_json::from_str(&raw[range.clone()]).map_err(|_| ScanError {
                what: "invalid member value",
                at: range.start,
            })?;
            out.insert(key, value);
        }
    }
    Ok(serde_json::Value::Object(out))
}

/// The raw elements of the top-level array member `key` of the document `text`.
pub fn records<'a>(text: &'a str, key: &str) -> Result<Vec<&'a str>, ScanError> {
    let members = object_members(text, 0..text.len())?;
    let Some((_, range)) = members.into_iter().find(|(k, _)| k == key) else {
        return err("records member missing", 0);
    };
    Ok(array_elements(text, range)?
        .into_iter()
        .map(|r| &text[r])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_cut_verbatim_including_nested_brackets_in_strings() {
        let doc = r#"{"meta": {"count": 2}, "results": [ {"id": "a", "t": "x]}\"{"} ,
            {"id": "b", "n": [1, 2]} ], "group_by": []}"#;
        let recs = records(doc, "results").expect("scan");
        assert_eq!(
            recs,
            vec![
                r#"{"id": "a", "t": "x]}\"{"}"#,
                r#"{"id": "b", "n": [1, 2]}"#
            ]
        );
        let members = object_members(recs[1], 0..recs[1].len()).expect("members");
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["id", "n"]);
        assert_eq!(&recs[1][members[1].1.clone()], "[1, 2]");
    }

    #[test]
    fn empty_containers_and_scalars() {
        assert!(records(r#"{"data": []}"#, "data").expect("scan").is_empty());
        assert_eq!(value_end(b"123, ", 0).expect("number"), 3);
        assert!(records(r#"{"data": [1, }"#, "data").is_err());
    }
}
