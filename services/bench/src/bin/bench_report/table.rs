//! Markdown tables and number formatting for the report.

use bench::stats::Summary;
use serde_json::Value;

/// A Markdown table with a header row.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    );
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s.push('\n');
    s
}

/// A number with a sensible precision, thousands separated (`12,345`, `3.42`, `0.012`).
pub fn num(x: f64) -> String {
    if x.is_nan() {
        return "–".into();
    }
    let a = x.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", x.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    } else if a >= 100.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A JSON number formatted, or `–`.
pub fn jnum(v: &Value) -> String {
    v.as_f64().map(num).unwrap_or_else(|| "–".into())
}

/// `min–max (n)`.
pub fn spread(s: &Summary) -> String {
    format!("{}–{} (n={})", num(s.min), num(s.max), s.n)
}

/// The numbers at `path` (e.g. `["latency_ms", "p99"]`) of each document.
pub fn pick(docs: &[Value], path: &[&str]) -> Vec<f64> {
    docs.iter()
        .filter_map(|d| path.iter().try_fold(d, |v, k| v.get(*k))?.as_f64())
        .collect()
}

/// [`pick`] of one document.
pub fn pick1(doc: &Value, path: &[&str]) -> Vec<f64> {
    pick(std::slice::from_ref(doc), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.01234), "0.012");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(64.0), "64");
    }
}
