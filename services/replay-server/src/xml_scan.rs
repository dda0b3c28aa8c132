//! Just enough XML scanning to cut records out of recorded bodies verbatim and read
//! their identifier elements (which never contain markup).

/// Whether `text[at..]` starts the start tag `<name` (and not `<nameLonger`).
fn starts_tag(text: &str, at: usize, name: &str) -> bool {
    let rest = &text[at..];
    rest.len() > name.len() + 1
        && rest.as_bytes()[0] == b'<'
        && rest[1..].starts_with(name)
        && matches!(
            rest.as_bytes()[name.len() + 1],
            b'>' | b' ' | b'\n' | b'\t' | b'\r' | b'/'
        )
}

/// The elements named any of `names` (not nested in each other), verbatim from `<` to
/// the end of their end tag, in document order.
pub fn fragments<'a>(text: &'a str, names: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find('<') {
        let start = at + i;
        match names.iter().find(|n| starts_tag(text, start, n)) {
            Some(name) => {
                let close = format!("</{name}>");
                let Some(end) = text[start..].find(&close) else {
                    break;
                };
                let end = start + end + close.len();
                out.push(&text[start..end]);
                at = end;
            }
            None => at = start + 1,
        }
    }
    out
}

/// The `(start tag, text)` of every `<name …>text</name>` element without markup inside.
pub fn simple_elements<'a>(xml: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = xml[at..].find('<') {
        let start = at + i;
        at = start + 1;
        if !starts_tag(xml, start, name) {
            continue;
        }
        let Some(gt) = xml[start..].find('>') else {
            break;
        };
        let tag = &xml[start..start + gt + 1];
        if tag.ends_with("/>") {
            continue;
        }
        let body_start = start + gt + 1;
        let Some(lt) = xml[body_start..].find('<') else {
            break;
        };
        if xml[body_start + lt..].starts_with(&format!("</{name}>")) {
            out.push((tag, xml[body_start..body_start + lt].trim()));
        }
    }
    out
}

/// The value of attribute `name` in a start tag.
pub fn attr<'a>(start_tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = start_tag.find(&key)? + key.len();
    let len = start_tag[i..].find('"')?;
    Some(&start_tag[i..i + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_skip_longer_tag_names_and_keep_document_order() {
        let xml = "<PubmedArticleSet><PubmedArticle><PMID>1</PMID></PubmedArticle><PubmedBookArticle><PMID>2</PMID></PubmedBookArticle></PubmedArticleSet>";
        let f = fragments(xml, &["PubmedArticle", "PubmedBookArticle"]);
        assert_eq!(
            f,
            [
                "<PubmedArticle><PMID>1</PMID></PubmedArticle>",
                "<PubmedBookArticle><PMID>2</PMID></PubmedBookArticle>"
            ]
        );
    }

    #[test]
    fn simple_elements_and_attributes() {
        let xml = r#"<ArticleIdList><ArticleId IdType="pubmed">9</ArticleId><ArticleId IdType="doi">10.1/x</ArticleId><ArticleIdList/></ArticleIdList>"#;
        let ids: Vec<(Option<&str>, &str)> = simple_elements(xml, "ArticleId")
            .into_iter()
            .map(|(t, v)| (attr(t, "IdType"), v))
            .collect();
        assert_eq!(ids, [(Some("pubmed"), "9"), (Some("doi"), "10.1/x")]);
    }
}
