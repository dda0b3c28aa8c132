//! Small text helpers shared by the parsers.

/// Appends `text` to `out` with every run of whitespace (including newlines and
/// non-breaking spaces) collapsed to one space, and no leading space at the start
/// of `out`. Call [`finish_collapsed`] at the end to drop a trailing space.
pub(crate) fn push_collapsed(out: &mut String, text: &str) {
    let mut last_space = out.is_empty() || out.ends_with(' ');
    if text.is_ascii() {
        // Byte loop: copies each run of non-space bytes in one go.
        let mut run_start = 0;
        for (i, b) in text.bytes().enumerate() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                if run_start < i {
                    out.push_str(&text[run_start..i]);
                    last_space = false;
                }
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
                run_start = i + 1;
            }
        }
        if run_start < text.len() {
            out.push_str(&text[run_start..]);
        }
        return;
    }
    for ch in text.chars() {
        if ch.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(ch);
            last_space = false;
        }
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
