//! Per-source defaults, environment overrides and the client factory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sources::{ConfigError, LocalPacer, SourceConfig, client_for};

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn built_in_defaults() {
    let oa = SourceConfig::default_for("openalex").unwrap();
    assert_eq!(
        (oa.base_url.as_str(), oa.requests_per_second, oa.page_size),
        ("https://api.openalex.org", 10.0, 100)
    );
    let pm = SourceConfig::default_for("pubmed").unwrap();
    assert_eq!(
        (pm.base_url.as_str(), pm.requests_per_second, pm.page_size),
        ("https://eutils.ncbi.nlm.nih.gov/entrez/eutils", 3.0, 200)
    );
    let ax = SourceConfig::default_for("arxiv").unwrap();
    assert_eq!(
        (ax.base_url.as_str(), ax.page_size),
        ("https://export.arxiv.org/api", 100)
    );
    assert!((ax.requests_per_second - 1.0 / 3.0).abs() < 1e-12);
    let s2 = SourceConfig::default_for("semantic_scholar").unwrap();
    assert_eq!(
        (s2.base_url.as_str(), s2.requests_per_second, s2.page_size),
        ("https://api.semanticscholar.org/graph/v1", 1.0, 1000)
    );
    for cfg in [&oa, &pm, &ax, &s2] {
        assert_eq!(
            (cfg.max_attempts, cfg.max_retry_wait),
            (5, Duration::from_secs(300))
        );
        assert_eq!(cfg.tool, "foundations-pipeline");
        assert!(cfg.api_key.is_none() && cfg.mailto.is_none());
    }
    assert!(SourceConfig::default_for("semantic-scholar").is_ok());
    assert!(matches!(
        SourceConfig::default_for("scopus"),
        Err(ConfigError::UnknownSource(_))
    ));
}

#[test]
fn environment_overrides() {
    let env = lookup(&[
        ("OPENALEX_BASE_URL", "http://replay:9000/openalex"),
        ("OPENALEX_MAILTO", "dev@example.org"),
        ("OPENALEX_API_KEY", "OA-KEY"),
        ("OPENALEX_REQUESTS_PER_SECOND", "2.5"),
        ("OPENALEX_PAGE_SIZE", "200"),
        ("SOURCE_MAX_RETRY_WAIT_SECS", "60"),
        ("NCBI_API_KEY", "NCBI-KEY"),
        ("NCBI_EMAIL", "ncbi@example.org"),
        ("SEMANTIC_SCHOLAR_API_KEY", "S2-KEY"),
        ("ARXIV_REQUESTS_PER_SECOND", "0.2"),
        ("SEMANTIC_SCHOLAR_REQUESTS_PER_SECOND", ""),
    ]);
    let oa = SourceConfig::from_lookup("openalex", &env).unwrap();
    assert_eq!(oa.base_url, "http://replay:9000/openalex");
    assert_eq!((oa.requests_per_second, oa.page_size), (2.5, 200));
    assert_eq!(
        (oa.api_key.as_deref(), oa.mailto.as_deref()),
        (Some("OA-KEY"), Some("dev@example.org"))
    );
    assert_eq!(oa.max_retry_wait, Duration::from_secs(60));
    assert!(oa.user_agent.contains("mailto:dev@example.org"));

    let pm = SourceConfig::from_lookup("pubmed", &env).unwrap();
    assert_eq!(
        (pm.api_key.as_deref(), pm.mailto.as_deref()),
        (Some("NCBI-KEY"), Some("ncbi@example.org"))
    );
    assert_eq!(pm.requests_per_second, 10.0, "an NCBI key allows 10 rps");
    let ax = SourceConfig::from_lookup("arxiv", &env).unwrap();
    assert_eq!((ax.requests_per_second, ax.api_key.as_deref()), (0.2, None));
    let s2 = SourceConfig::from_lookup("semantic_scholar", &env).unwrap();
    assert_eq!(
        (s2.api_key.as_deref(), s2.requests_per_second),
        (Some("S2-KEY"), 1.0),
        "empty values count as unset"
    );
}

#[test]
fn invalid_values_are_reported_by_name() {
    for (var, value) in [
        ("OPENALEX_PAGE_SIZE", "201"),
        ("OPENALEX_PAGE_SIZE", "0"),
        ("OPENALEX_PAGE_SIZE", "many"),
        ("OPENALEX_REQUESTS_PER_SECOND", "-1"),
        ("OPENALEX_BASE_URL", "ftp://example.org"),
        ("OPENALEX_BASE_URL", "not a url"),
        ("SOURCE_MAX_RETRY_WAIT_SECS", "soon"),
    ] {
        let err = SourceConfig::from_lookup("openalex", lookup(&[(var, value)])).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidValue { .. }),
            "{var}={value}: {err}"
        );
    }
}

#[test]
fn debug_output_hides_the_api_key() {
    let mut cfg = SourceConfig::default_for("semantic_scholar").unwrap();
    cfg.api_key = Some("S2-SECRET".into());
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("S2-SECRET") && shown.contains("[redacted]"),
        "{shown}"
    );
}

#[test]
fn factory_builds_each_source() {
    for (source, name) in [
        ("openalex", "openalex"),
        ("pubmed", "pubmed"),
        ("arxiv", "arxiv"),
        ("semantic_scholar", "semantic_scholar"),
        ("semantic-scholar", "semantic_scholar"),
    ] {
        let cfg = SourceConfig::default_for(source).unwrap();
        let client = client_for(source, cfg, Arc::new(LocalPacer::new(1.0))).unwrap();
        assert_eq!(client.name(), name);
    }
    let cfg = SourceConfig::default_for("openalex").unwrap();
    assert!(matches!(
        client_for("crossref", cfg, Arc::new(LocalPacer::new(1.0))),
        Err(ConfigError::UnknownSource(_))
    ));
}
