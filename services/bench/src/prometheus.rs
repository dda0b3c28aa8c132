//! Reading counters from a service's Prometheus text endpoint.

/// The sum over all label sets of the samples of `name` in Prometheus text.
pub fn sum_samples(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            // `name 3` or `name{labels} 3`, not `name_suffix 3`.
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                return None;
            }
            l.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

/// Fetches `url` and sums the samples of `name` (0 when absent).
pub async fn scrape(client: &reqwest::Client, url: &str, name: &str) -> anyhow::Result<f64> {
    let text = client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(sum_samples(&text, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_label_sets_and_skips_other_names() {
        let text = "# TYPE watch_db_queries_total counter\nwatch_db_queries_total 7\nwatch_db_queries_total_x 100\nother{a=\"b\"} 1\nruns{source=\"a\"} 2\nruns{source=\"b\"} 3\n";
        assert_eq!(sum_samples(text, "watch_db_queries_total"), 7.0);
        assert_eq!(sum_samples(text, "runs"), 5.0);
        assert_eq!(sum_samples(text, "missing"), 0.0);
    }
}
