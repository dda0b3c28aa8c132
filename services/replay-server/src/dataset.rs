//! Which records a query selects: the whole corpus by default, nothing for
//! `no-results`, N generated records for `synthetic:N[:dup=K]`, the API's error for
//! `bad-query`.

/// A query's data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// The whole corpus of the source.
    Corpus,
    /// `no-results` anywhere in the query: zero results (the recorded empty body).
    Empty,
    /// `synthetic:N`: N records cycling the corpus with rewritten, distinct
    /// identifiers; with `:dup=K` the last K of them repeat the first K exactly.
    Synthetic {
        /// Records served in total.
        n: u64,
        /// Trailing records that duplicate earlier ones.
        dup: u64,
    },
    /// `bad-query` anywhere in the query: the API's recorded error.
    Bad,
}

/// One served position: which corpus record to copy, and the synthetic index whose
/// identifiers it gets (`None` = the record's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Position in the corpus.
    pub record: usize,
    /// Synthetic record index.
    pub k: Option<u64>,
}

impl Dataset {
    /// The data set the query texts (search terms, filters) select.
    pub fn select<'a>(texts: impl IntoIterator<Item = &'a str>) -> Dataset {
        let mut found = Dataset::Corpus;
        for text in texts {
            if text.contains("no-results") {
                return Dataset::Empty;
            }
            if text.contains("bad-query") {
                return Dataset::Bad;
            }
            if let Some(i) = text.find("synthetic:") {
                let rest = &text[i + "synthetic:".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let n: u64 = digits.parse().unwrap_or(0);
                let dup = rest[digits.len()..]
                    .strip_prefix(":dup=")
                    .map(|d| {
                        d.chars()
                            .take_while(char::is_ascii_digit)
                            .collect::<String>()
                    })
                    .and_then(|d| d.parse::<u64>().ok())
                    .unwrap_or(0)
                    .min(n.saturating_sub(1));
                found = Dataset::Synthetic { n, dup };
            }
        }
        found
    }

    /// A short name for the data set, kept inside paging tokens.
    pub fn descriptor(self) -> String {
        match self {
            Dataset::Corpus => "corpus".into(),
            Dataset::Empty => "no-results".into(),
            Dataset::Synthetic { n, dup: 0 } => format!("synthetic:{n}"),
            Dataset::Synthetic { n, dup } => format!("synthetic:{n}:dup={dup}"),
            Dataset::Bad => "bad-query".into(),
        }
    }

    /// Number of records the data set serves for a corpus of `corpus_len`.
    pub fn total(self, corpus_len: usize) -> u64 {
        match self {
            _ if corpus_len == 0 => 0,
            Dataset::Corpus => corpus_len as u64,
            Dataset::Empty | Dataset::Bad => 0,
            Dataset::Synthetic { n, .. } => n,
        }
    }

    /// The record served at position `j` (< [`Dataset::total`]).
    pub fn item(self, j: u64, corpus_len: usize) -> Item {
        let len = corpus_len.max(1) as u64;
        match self {
            Dataset::Synthetic { n, dup } => {
                let distinct = (n - dup).max(1);
                let k = if j < distinct {
                    j
                } else {
                    (j - distinct) % distinct
                };
                Item {
                    record: (k % len) as usize,
                    k: Some(k),
                }
            }
            _ => Item {
                record: (j % len) as usize,
                k: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_select_data_sets() {
        assert_eq!(Dataset::select(["crispr"]), Dataset::Corpus);
        assert_eq!(Dataset::select(["x", "all:no-results"]), Dataset::Empty);
        assert_eq!(
            Dataset::select(["synthetic:100000"]),
            Dataset::Synthetic { n: 100_000, dup: 0 }
        );
        assert_eq!(
            Dataset::select(["all:synthetic:10:dup=3 AND x"]),
            Dataset::Synthetic { n: 10, dup: 3 }
        );
        assert_eq!(Dataset::select(["bad-query"]), Dataset::Bad);
    }

    #[test]
    fn synthetic_duplicates_are_the_trailing_records() {
        let d = Dataset::Synthetic { n: 10, dup: 3 };
        let ks: Vec<u64> = (0..10)
            .map(|j| d.item(j, 4).k.unwrap_or(u64::MAX))
            .collect();
        assert_eq!(ks, [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]);
        assert_eq!(d.item(5, 4).record, 1);
    }
}
