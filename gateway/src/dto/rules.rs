//! The rules of a start request's members, each failing with a 422 naming its field.

use super::start::{DEFAULT_MAX_RESULTS, MAX_LIST_ENTRIES, MAX_MAX_RESULTS, MAX_QUERY_CHARS};
use crate::problem::ApiError;
use chrono::NaiveDate;

pub(super) fn query(raw: String) -> Result<String, ApiError> {
    let q = raw.trim();
    if q.is_empty() {
        return Err(ApiError::validation("query", "must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::validation(
            "query",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if q.chars().any(|c| c.is_control() && c != '\t' && c != '\n') {
        return Err(ApiError::validation(
            "query",
            "must not contain control characters",
        ));
    }
    Ok(q.to_owned())
}

pub(super) fn max_results(raw: Option<u32>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_MAX_RESULTS),
        Some(n) if (1..=MAX_MAX_RESULTS).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation(
            "max_results",
            format!("must be between 1 and {MAX_MAX_RESULTS}"),
        )),
    }
}

pub(super) fn date(field: &str, raw: Option<&String>) -> Result<Option<NaiveDate>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let parsed = shaped
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten();
    parsed
        .map(Some)
        .ok_or_else(|| ApiError::validation(field, "must be a calendar date YYYY-MM-DD"))
}

/// Validates the date range; returns the normalised pair.
pub(super) fn date_range(
    from: Option<String>,
    to: Option<String>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let f = date("filters.from_date", from.as_ref())?;
    let t = date("filters.to_date", to.as_ref())?;
    if let (Some(f), Some(t)) = (f, t)
        && f > t
    {
        return Err(ApiError::validation(
            "filters.from_date",
            "must not be after filters.to_date",
        ));
    }
    Ok((from, to))
}

pub(super) fn list(
    field: &str,
    items: Option<Vec<String>>,
    valid: fn(&str) -> bool,
    rule: &str,
) -> Result<Vec<String>, ApiError> {
    let items = items.unwrap_or_default();
    if items.len() > MAX_LIST_ENTRIES {
        return Err(ApiError::validation(
            field,
            format!("at most {MAX_LIST_ENTRIES} entries"),
        ));
    }
    if let Some(i) = items.iter().position(|s| !valid(s)) {
        return Err(ApiError::validation(format!("{field}[{i}]"), rule));
    }
    Ok(items)
}

/// `cs.CL`, `astro-ph.GA`, `math`: `^[a-z-]+(\.[A-Za-z-]+)?$`, at most 64 characters.
pub fn is_arxiv_category(c: &str) -> bool {
    let (archive, sub) = match c.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (c, None),
    };
    c.len() <= 64
        && !archive.is_empty()
        && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && sub.is_none_or(|s| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
        })
}

pub(super) fn is_field_of_study(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars().count() <= 64
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arxiv_categories_follow_the_pattern() {
        for ok in ["cs.CL", "astro-ph.GA", "math", "q-bio.NC", "hep-th"] {
            assert!(is_arxiv_category(ok), "{ok}");
        }
        for bad in ["", "CS.CL", "cs.", ".CL", "cs.CL.x", "cs CL", "cs.C1"] {
            assert!(!is_arxiv_category(bad), "{bad}");
        }
    }

    #[test]
    fn dates_must_be_real_and_zero_padded() {
        assert!(date("d", Some(&"2024-02-29".into())).unwrap().is_some());
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-05",
            "20240105",
            "2024-01-05T00:00",
            " 2024-01-05",
        ] {
            assert!(date("d", Some(&bad.into())).is_err(), "{bad}");
        }
    }
}
