//! Shared helpers: a server over the repository's fixtures, HTTP shorthands and a small
//! XML well-formedness check (balanced tags, declared namespace prefixes).

#![allow(dead_code)]

use replay_server::ReplayServer;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub async fn server() -> ReplayServer {
    ReplayServer::start("127.0.0.1:0".parse().unwrap(), &fixtures())
        .await
        .unwrap()
}

pub fn fixture(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap()
}

/// One client for all requests: building a client (TLS roots) is slow in debug builds.
pub fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

pub async fn get(url: &str) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

/// Status and body text.
pub async fn text(url: &str) -> (u16, String) {
    let r = get(url).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

pub async fn json(url: &str) -> serde_json::Value {
    let r = get(url).await;
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// Text of the first `<tag>…</tag>`.
pub fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + len])
}

/// Checks that tags balance and that every element/attribute prefix is declared on the
/// element or an ancestor.
pub fn check_xml(xml: &str) -> Result<(), String> {
    let mut stack: Vec<(String, HashSet<String>)> = Vec::new();
    let mut at = 0;
    let declared = |stack: &[(String, HashSet<String>)], local: &HashSet<String>, prefix: &str| {
        prefix == "xml" || local.contains(prefix) || stack.iter().any(|(_, d)| d.contains(prefix))
    };
    while let Some(i) = xml[at..].find('<') {
        let start = at + i;
        let rest = &xml[start..];
        let skip_to = |end: &str| {
            rest.find(end)
                .map(|e| start + e + end.len())
                .ok_or(format!("unterminated markup at {start}"))
        };
        if rest.starts_with("<?") {
            at = skip_to("?>")?;
        } else if rest.starts_with("<!--") {
            at = skip_to("-->")?;
        } else if rest.starts_with("<!") {
            at = skip_to(">")?;
        } else if let Some(close) = rest.strip_prefix("</") {
            let name = &close[..close.find('>').ok_or("unterminated end tag")?];
            match stack.pop() {
                Some((open, _)) if open == name.trim() => {}
                other => {
                    return Err(format!(
                        "</{name}> closes {:?} at {start}",
                        other.map(|o| o.0)
                    ));
                }
            }
            at = start + 2 + name.len() + 1;
        } else {
            let mut quote = None;
            let mut end = None;
            for (j, c) in rest.char_indices().skip(1) {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, '>') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or(format!("unterminated start tag at {start}"))?;
            let tag = &rest[1..end];
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().ok_or("empty tag")?.to_owned();
            let mut local = HashSet::new();
            let attrs: Vec<&str> = tag
                .split_whitespace()
                .skip(1)
                .filter_map(|a| a.split('=').next())
                .filter(|a| !a.is_empty() && !a.starts_with(['"', '\'']))
                .collect();
            for a in &attrs {
                if let Some(p) = a.strip_prefix("xmlns:") {
                    local.insert(p.to_owned());
                }
            }
            for n in std::iter::once(name.as_str())
                .chain(attrs.iter().copied().filter(|a| !a.starts_with("xmlns")))
            {
                if let Some((prefix, _)) = n.split_once(':')
                    && !declared(&stack, &local, prefix)
                {
                    return Err(format!("prefix {prefix:?} of {n:?} undeclared at {start}"));
                }
            }
            if !self_closing {
                stack.push((name, local));
            }
            at = start + end + 1;
        }
    }
    match stack.pop() {
        None => Ok(()),
        Some((open, _)) => Err(format!("<{open}> never closed")),
    }
}
