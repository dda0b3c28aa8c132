//! Streaming-XML helpers shared by the PubMed parsers.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart};

use crate::text::push_collapsed;

/// The unescaped value of attribute `name`, if present and well-formed.
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).ok()??;
    a.normalized_value(XmlVersion::Implicit1_0)
        .ok()
        .map(|v| v.into_owned())
}

/// Appends the text an entity or character reference stands for. Unknown named
/// entities are kept literally rather than failing the page.
pub(crate) fn push_reference(out: &mut String, r: &BytesRef<'_>) {
    if let Ok(Some(ch)) = r.resolve_char_ref() {
        let mut tmp = [0u8; 4];
        push_collapsed(out, ch.encode_utf8(&mut tmp));
        return;
    }
    let replacement = match &**r {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        other => {
            out.push('&');
            out.push_str(other);
            out.push(';');
            return;
        }
    };
    out.push_str(replacement);
}
