//! Small text helpers shared by the parsers.

/// Appends `text` to `out` with every run of whitespace (including newlines and
/// Unicode spaces such as U+00A0) collapsed to one space, and no leading space at
/// the start of `out`. Call [`finish_collapsed`] at the end to drop a trailing
/// space.
///
/// Text that is already collapsed is copied in one go; otherwise runs between
/// the whitespace that must change are. This is the hot loop of the XML parsers.
pub(crate) fn push_collapsed(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut last_space = out.is_empty() || out.ends_with(' ');
    if is_collapsed(bytes) {
        // The usual case: nothing to change but one possible leading space.
        out.push_str(if last_space {
            text.strip_prefix(' ').unwrap_or(text)
        } else {
            text
        });
        return;
    }
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match CLASS[bytes[i] as usize] {
            WORD => last_space = false,
            SPACE => {
                if last_space {
                    // A second space (or a leading one): cut it out of the run.
                    out.push_str(&text[run_start..i]);
                    run_start = i + 1;
                }
                last_space = true;
            }
            _ => {
                let width = whitespace_width(text, i);
                if width == 0 {
                    last_space = false;
                } else {
                    out.push_str(&text[run_start..i]);
                    if !last_space {
                        out.push(' ');
                        last_space = true;
                    }
                    run_start = i + width;
                    i += width;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[run_start..]);
}

/// True when the only whitespace in `bytes` is single ASCII spaces (and no lead
/// byte of a multi-byte whitespace character occurs). SIMD scans, several
/// times faster than the byte loop below.
fn is_collapsed(bytes: &[u8]) -> bool {
    memchr::memchr3(b'\n', b'\t', b'\r', bytes).is_none()
        && memchr::memchr3(0xC2, 0xE2, 0xE3, bytes).is_none()
        && memchr::memchr3(0xE1, 0x0B, 0x0C, bytes).is_none()
        && memchr::memmem::find(bytes, b"  ").is_none()
}

const WORD: u8 = 0;
const SPACE: u8 = 1;
const MAYBE: u8 = 2;

/// Byte classes for [`push_collapsed`]: `MAYBE` marks ASCII whitespace other
/// than space and the lead bytes of the only multi-byte whitespace characters.
static CLASS: [u8; 256] = {
    let mut class = [WORD; 256];
    class[b' ' as usize] = SPACE;
    let maybe = [b'\t', b'\n', 0x0b, 0x0c, b'\r', 0xC2, 0xE1, 0xE2, 0xE3];
    let mut k = 0;
    while k < maybe.len() {
        class[maybe[k] as usize] = MAYBE;
        k += 1;
    }
    class
};

/// Byte length of the whitespace character starting at byte `i`, or 0.
#[inline]
fn whitespace_width(text: &str, i: usize) -> usize {
    let b = text.as_bytes()[i];
    match b {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => 1,
        // Lead bytes of the only multi-byte characters that are whitespace
        // (U+0085, U+00A0, U+1680, U+2000-200A, U+2028/9, U+202F, U+205F, U+3000).
        0xC2 | 0xE1 | 0xE2 | 0xE3 => match text[i..].chars().next() {
            Some(c) if c.is_whitespace() => c.len_utf8(),
            _ => 0,
        },
        _ => 0,
    }
}

/// Drops the trailing space [`push_collapsed`] may leave.
pub(crate) fn finish_collapsed(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// `Some(trimmed)` unless empty after trimming.
pub(crate) fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collapse(parts: &[&str]) -> String {
        let mut out = String::new();
        for p in parts {
            push_collapsed(&mut out, p);
        }
        finish_collapsed(&mut out);
        out
    }

    #[test]
    fn whitespace_runs_collapse_across_pieces() {
        assert_eq!(collapse(&["  a  b\n\tc "]), "a b c");
        assert_eq!(collapse(&["a ", " b", "c"]), "a bc");
        assert_eq!(collapse(&["x\u{a0}/\u{2009}y\u{3000}z"]), "x / y z");
        assert_eq!(
            collapse(&["Gr\u{fc}\u{df}e  \u{e9}t\u{e9}"]),
            "Gr\u{fc}\u{df}e \u{e9}t\u{e9}"
        );
        assert_eq!(
            collapse(&["\u{2013}\u{2014} \u{3b1}"]),
            "\u{2013}\u{2014} \u{3b1}"
        );
        assert_eq!(collapse(&[" ", "\n", ""]), "");
    }

    #[test]
    fn agrees_with_split_whitespace() {
        let samples = [
            "a\u{85}b",
            "\u{1680}x  y\u{205f}",
            "tab\there",
            "\u{202f}\u{2028}q",
            "plain text here",
        ];
        for s in samples {
            assert_eq!(
                collapse(&[s]),
                s.split_whitespace().collect::<Vec<_>>().join(" "),
                "{s:?}"
            );
        }
    }
}
