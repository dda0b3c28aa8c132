//! What the API modules hand back (status, content type, body) and the request
//! parameters they read (query string plus form body, as the real servers accept).

use std::collections::HashMap;

/// `application/json`.
pub const JSON: &str = "application/json";
/// NCBI's content type for E-utilities XML.
pub const NCBI_XML: &str = "text/xml; charset=UTF-8";
/// arXiv's content type for Atom feeds.
pub const ATOM: &str = "application/atom+xml; charset=utf-8";
/// HTML error pages.
pub const HTML: &str = "text/html; charset=utf-8";
/// Plain text.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// A response before faults are applied.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply without extra headers.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// 200 with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, JSON, body)
    }
}

/// Request parameters in arrival order; the first occurrence of a name wins.
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses the query string and, for POST, the form-encoded body.
    pub fn parse(query: Option<&str>, form: &[u8]) -> Params {
        let mut map = HashMap::new();
        for pair in query
            .unwrap_or("")
            .as_bytes()
            .split(|&b| b == b'&')
            .chain(form.split(|&b| b == b'&'))
        {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            map.entry(form_decode(k)).or_insert_with(|| form_decode(v));
        }
        Params(map)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of the first of `names` present, or "".
    pub fn text(&self, names: &[&str]) -> &str {
        names.iter().find_map(|n| self.get(n)).unwrap_or("")
    }

    /// `name` as a number: `Ok(None)` when absent, `Err` when not a number.
    pub fn number(&self, name: &str) -> Result<Option<u64>, String> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{name} must be a non-negative integer, got {v:?}")),
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
pub fn form_decode(raw: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (for cursors that look like the real ones).
pub fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` on any other character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text
        .trim_end_matches('=')
        .bytes()
        .map(value)
        .collect::<Option<_>>()?;
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// Escapes text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text as the contents of a JSON string.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The window `[start, start + size)` clipped to `total`.
pub fn window(total: u64, start: u64, size: u64) -> std::ops::Range<u64> {
    start.min(total)..start.saturating_add(size).min(total)
}

/// Today's UTC midnight as `YYYY-MM-DDT00:00:00Z` (Atom `<updated>`; whole days keep
/// feeds byte-for-byte reproducible within a day).
pub fn utc_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_timestamp(secs - secs % 86_400)
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_parameters_merge_with_the_query_first() {
        let p = Params::parse(
            Some("db=pubmed&retmax=5&term=a+b%26c"),
            b"retmax=9&WebEnv=MCID_1",
        );
        assert_eq!(p.get("term"), Some("a b&c"));
        assert_eq!(p.number("retmax"), Ok(Some(5)));
        assert_eq!(p.get("WebEnv"), Some("MCID_1"));
        assert!(p.number("term").is_err());
        assert_eq!(p.number("absent"), Ok(None));
    }

    #[test]
    fn form_decoding_and_base64_round_trip() {
        assert_eq!(form_decode(b"a+b%2Cc%3"), "a b,c%3");
        assert_eq!(form_decode(b"%E2%9C%93%"), "\u{2713}%");
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"\"[1310515200000, 'x']\"",
        ] {
            assert_eq!(base64_decode(&base64_encode(data)).as_deref(), Some(data));
        }
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn timestamps_are_atom_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_776_031_767), "2026-04-12T22:09:27Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert!(utc_today().ends_with("T00:00:00Z"));
    }
}
