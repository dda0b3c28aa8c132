//! Turning URLs and error bodies into safe, readable messages.

use url::Url;

/// Query parameters that carry secrets or personal data; removed from every URL
/// we log or put in an error.
const HIDDEN_PARAMS: [&str; 4] = ["api_key", "apikey", "email", "mailto"];

/// `url` without credentials and without the [`HIDDEN_PARAMS`].
pub(crate) fn sanitize_url(url: &Url) -> String {
    let mut clean = url.clone();
    // Errors only if the URL cannot have credentials, in which case there are none.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !HIDDEN_PARAMS.iter().any(|h| k.eq_ignore_ascii_case(h)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        clean.set_query(None);
    } else {
        clean.query_pairs_mut().clear().extend_pairs(kept);
    }
    clean.to_string()
}

/// Replaces every occurrence of each secret in `text`.
pub(crate) fn redact(mut text: String, secrets: &[String]) -> String {
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    text
}

/// A short human description of an error body: the JSON `error`/`message`
/// members (OpenAlex, Semantic Scholar, NCBI), the arXiv error entry's
/// summary, NCBI's `<ERROR>` text, an HTML
/// page's `<title>`, or the first characters of the text. HTML is never fed to
/// the JSON decoder.
pub(crate) fn describe_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "empty body".into();
    }
    if trimmed.starts_with('{')
        && let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(trimmed)
    {
        let parts: Vec<String> = ["error", "message", "detail"]
            .iter()
            .filter_map(|k| map.get(*k))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        if !parts.is_empty() {
            return truncate(&parts.join(": "));
        }
    }
    if trimmed.starts_with('<') {
        let lower = trimmed.to_ascii_lowercase();
        if lower.contains("<feed")
            && let Err(crate::ParseError::Api(message)) = crate::arxiv::parse_feed(body)
        {
            return truncate(&message);
        }
        if let Some(inner) = between(trimmed, &lower, "<error>", "</error>") {
            return truncate(&inner);
        }
        if lower.contains("<html") || lower.starts_with("<!doctype html") {
            return match between(trimmed, &lower, "<title>", "</title>") {
                Some(title) => truncate(&format!("HTML page: {title}")),
                None => "HTML page".into(),
            };
        }
    }
    truncate(trimmed)
}

/// Text between two ASCII markers, found case-insensitively (`lower` is `text`
/// lower-cased, so byte offsets agree).
fn between(text: &str, lower: &str, open: &str, close: &str) -> Option<String> {
    let start = lower.find(open)? + open.len();
    let end = start + lower[start..].find(close)?;
    text.get(start..end)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn truncate(text: &str) -> String {
    const MAX: usize = 300;
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_urls() {
        let url = Url::parse("https://u:p@api.example.org/works?search=a+b&api_key=SECRET&mailto=me%40x.org&cursor=*").unwrap();
        let shown = sanitize_url(&url);
        assert!(
            !shown.contains("SECRET") && !shown.contains("mailto") && !shown.contains("u:p"),
            "{shown}"
        );
        assert!(
            shown.contains("search=a+b") && shown.contains("cursor=*"),
            "{shown}"
        );
    }

    #[test]
    fn bodies_are_described() {
        assert_eq!(
            describe_body(
                br#"{"error":"Invalid or missing API key","message":"API key not found"}"#
            ),
            "Invalid or missing API key: API key not found"
        );
        assert_eq!(describe_body(br#"{"message":"Forbidden"}"#), "Forbidden");
        assert_eq!(describe_body(b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>"), "HTML page: 404 Not Found");
        assert_eq!(
            describe_body(b"<eFetchResult><ERROR>Empty id list</ERROR></eFetchResult>"),
            "Empty id list"
        );
        assert_eq!(describe_body(b"  "), "empty body");
        assert_eq!(describe_body(b"Rate exceeded."), "Rate exceeded.");
    }
}
