//! No input makes a parser panic: arbitrary bytes, and recorded responses
//! truncated or mutated at random. Errors are fine.

mod common;

use common::fixture;
use proptest::prelude::*;

fn run_all(bytes: &[u8]) {
    let _ = sources::openalex::parse_works_page(bytes);
    let _ = sources::openalex::parse_work(bytes);
    let _ = sources::pubmed::parse_esearch(bytes);
    let _ = sources::pubmed::parse_efetch(bytes);
    let _ = sources::arxiv::parse_feed(bytes);
    let _ = sources::semantic_scholar::parse_search(bytes);
}

/// Smaller recordings of each format, so hundreds of cases stay quick.
const SEEDS: [&str; 9] = [
    "openalex/works_filter_doi_cursor_page1.json",
    "openalex/work_by_doi_10.1371_journal.pone.0000030.json",
    "pubmed/efetch_structured_abstract_collective_author.xml",
    "pubmed/efetch_collective_name_unicode_mathml.xml",
    "pubmed/esearch_usehistory_webenv_retmax100.xml",
    "arxiv/query_all_testing_start0_max10.xml",
    "arxiv/legacy_format_2017_deep_dream_start0_max10.xml",
    "semantic_scholar/paper_search_relevance_2026_reserialized.json",
    "pubmed/esearch_json_pdat_range_retmax50_reserialized.json",
];

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(prop::sample::Index),
    Flip(Vec<(prop::sample::Index, u8)>),
    Splice(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
            .prop_map(Mutation::Flip),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'<'),
                    Just(b'>'),
                    Just(b'"'),
                    Just(b'&'),
                    Just(b'{'),
                    Just(b'}'),
                    Just(b'/'),
                    any::<u8>()
                ],
                1..16
            )
        )
            .prop_map(|(i, b)| Mutation::Splice(i, b)),
        (any::<prop::sample::Index>(), 1usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(mut body: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if body.is_empty() {
        return body;
    }
    match m {
        Mutation::Truncate(i) => body.truncate(i.index(body.len())),
        Mutation::Flip(flips) => {
            for (i, b) in flips {
                let at = i.index(body.len());
                body[at] = *b;
            }
        }
        Mutation::Splice(i, bytes) => {
            let at = i.index(body.len());
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i.index(body.len());
            let end = (at + n).min(body.len());
            body.drain(at..end);
        }
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        run_all(&bytes);
    }

    #[test]
    fn markup_like_noise(text in "[<>/&;\"'{}\\[\\]:,a-zA-Z0-9 =#x!?-]{0,400}") {
        run_all(text.as_bytes());
    }

    #[test]
    fn mutated_recordings(seed in prop::sample::select(SEEDS.to_vec()), m in mutation()) {
        run_all(&apply(fixture(seed), &m));
    }
}

#[test]
fn every_prefix_of_a_small_recording() {
    for seed in [
        "arxiv/error_400_incorrect_id_format.xml",
        "pubmed/esearch_no_results_errorlist.xml",
        "semantic_scholar/paper_search_empty_total0.json",
    ] {
        let body = fixture(seed);
        for end in 0..body.len() {
            run_all(&body[..end]);
        }
    }
}

#[test]
fn truncated_large_recordings_are_errors() {
    for seed in [
        "openalex/works_search_filter_sort_page1_per_page50_2026.json",
        "pubmed/efetch_50_articles.xml",
        "arxiv/query_all_testing_start0_max100.xml",
        "semantic_scholar/paper_search_bulk_page1_token.json",
    ] {
        let body = fixture(seed);
        for cut in [1, body.len() / 3, body.len() / 2, body.len() - 10] {
            let part = &body[..cut];
            let failed = match seed.split('/').next().unwrap() {
                "openalex" => sources::openalex::parse_works_page(part).is_err(),
                "pubmed" => sources::pubmed::parse_efetch(part).is_err(),
                "arxiv" => sources::arxiv::parse_feed(part).is_err(),
                _ => sources::semantic_scholar::parse_search(part).is_err(),
            };
            assert!(failed, "{seed} cut at {cut} parsed");
        }
    }
}
