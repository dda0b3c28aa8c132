//! Turns a run's query and filters into an arXiv `search_query`.

use chrono::NaiveDate;

/// Field prefixes of the arXiv query language.
const PREFIXES: [&str; 10] = [
    "ti:",
    "au:",
    "abs:",
    "co:",
    "jr:",
    "cat:",
    "rn:",
    "id:",
    "all:",
    "submitteddate:",
];

/// Builds `search_query`.
///
/// A query that already uses field prefixes (`ti:`, `au:`, `cat:`…) is passed
/// through as written. A plain query is searched in all fields: each word
/// becomes `all:word` and words are AND-ed; `"quoted phrases"` stay phrases;
/// the operators `AND`, `OR`, `ANDNOT` and parentheses are kept. The date range
/// (`submittedDate:[YYYYMMDD0000 TO YYYYMMDD2359]`) and the categories
/// (`(cat:a OR cat:b)`) are AND-ed to it.
pub fn build_search_query(
    query: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    categories: &[String],
) -> String {
    let query = query.trim();
    let lower = query.to_ascii_lowercase();
    let structured = PREFIXES.iter().any(|p| {
        lower
            .match_indices(p)
            .any(|(i, _)| i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric())
    });
    let main = if structured {
        query.to_string()
    } else {
        plain_query(query)
    };
    let mut parts = Vec::new();
    if !main.is_empty() {
        parts.push(main);
    }
    if from.is_some() || to.is_some() {
        let from = from
            .map(|d| d.format("%Y%m%d").to_string())
            .unwrap_or_else(|| "19910101".into());
        let to = to
            .map(|d| d.format("%Y%m%d").to_string())
            .unwrap_or_else(|| "29991231".into());
        parts.push(format!("submittedDate:[{from}0000 TO {to}2359]"));
    }
    let cats: Vec<String> = categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| format!("cat:{c}"))
        .collect();
    if !cats.is_empty() {
        parts.push(format!("({})", cats.join(" OR ")));
    }
    if parts.len() > 1 && parts[0].contains(' ') {
        parts[0] = format!("({})", parts[0]);
    }
    parts.join(" AND ")
}

#[derive(Debug, PartialEq)]
enum Token {
    Term(String),
    Op(&'static str),
    Open,
    Close,
}

fn plain_query(query: &str) -> String {
    let tokens = tokenize(query);
    let balanced = {
        let mut depth: i32 = 0;
        tokens.iter().all(|t| {
            match t {
                Token::Open => depth += 1,
                Token::Close => depth -= 1,
                _ => {}
            }
            depth >= 0
        }) && depth == 0
    };
    let mut out: Vec<String> = Vec::new();
    // What the previous emitted token was, to insert AND between adjacent terms
    // and drop operators that have nothing on one side.
    let mut prev_operand = false;
    let mut pending_op: Option<&'static str> = None;
    for token in tokens {
        match token {
            Token::Op(op) => {
                if prev_operand {
                    pending_op = Some(op);
                }
            }
            Token::Open | Token::Close if !balanced => {}
            Token::Close => {
                pending_op = None;
                if out.last().map(String::as_str) == Some("(") {
                    out.pop();
                } else {
                    out.push(")".into());
                }
                prev_operand = out.last().is_some_and(|t| t != "(");
            }
            Token::Open | Token::Term(_) => {
                if prev_operand {
                    out.push(pending_op.take().unwrap_or("AND").into());
                }
                pending_op = None;
                match token {
                    Token::Term(term) => {
                        out.push(term);
                        prev_operand = true;
                    }
                    _ => {
                        out.push("(".into());
                        prev_operand = false;
                    }
                }
            }
        }
    }
    // Glue parentheses to their contents: `( a AND b )` → `(a AND b)`.
    out.join(" ").replace("( ", "(").replace(" )", ")")
}

fn tokenize(query: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '"' => {
                chars.next();
                let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
                let words: Vec<String> = phrase
                    .split_whitespace()
                    .map(clean_word)
                    .filter(|w| !w.is_empty())
                    .collect();
                if !words.is_empty() {
                    tokens.push(Token::Term(format!("all:\"{}\"", words.join(" "))));
                }
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                match word.as_str() {
                    "AND" => tokens.push(Token::Op("AND")),
                    "OR" => tokens.push(Token::Op("OR")),
                    "ANDNOT" => tokens.push(Token::Op("ANDNOT")),
                    _ => {
                        let w = clean_word(&word);
                        if !w.is_empty() {
                            tokens.push(Token::Term(format!("all:{w}")));
                        }
                    }
                }
            }
        }
    }
    tokens
}

/// Keeps the characters a search term can hold; drops syntax characters
/// (`:`, `[`, `]`, quotes…) that would change the query's meaning.
fn clean_word(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '\'' | '_' | '*' | '+'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        build_search_query(s, None, None, &[])
    }

    #[test]
    fn plain_words_become_all_terms_anded() {
        assert_eq!(q("testing"), "all:testing");
        assert_eq!(q("deep  dream"), "all:deep AND all:dream");
        assert_eq!(q("\"deep dream\" art"), "all:\"deep dream\" AND all:art");
        assert_eq!(q("quantum OR gravity"), "all:quantum OR all:gravity");
        assert_eq!(q("(a OR b) c"), "(all:a OR all:b) AND all:c");
        assert_eq!(q("AND a OR"), "all:a");
        assert_eq!(q("(a b"), "all:a AND all:b");
        assert_eq!(q("a:b]"), "all:ab");
    }

    #[test]
    fn prefixed_queries_pass_through() {
        assert_eq!(
            q("ti:checkerboard AND au:del_maestro"),
            "ti:checkerboard AND au:del_maestro"
        );
    }

    #[test]
    fn filters_are_anded() {
        let from = NaiveDate::from_ymd_opt(2020, 1, 1);
        let to = NaiveDate::from_ymd_opt(2022, 12, 31);
        assert_eq!(
            build_search_query("deep learning", from, to, &["cs.LG".into(), "cs.CL".into()]),
            "(all:deep AND all:learning) AND submittedDate:[202001010000 TO 202212312359] AND (cat:cs.LG OR cat:cs.CL)"
        );
        assert_eq!(
            build_search_query("x", None, to, &[]),
            "all:x AND submittedDate:[199101010000 TO 202212312359]"
        );
    }
}
