//! Papers: one record per work per organisation, across sources and under concurrency.

mod common;

use common::*;
use ingestion_proto::v1;
use platform::Source;
use platform::auth::Role;

fn ids(
    openalex: Option<&str>,
    pmid: Option<&str>,
    arxiv: Option<&str>,
    s2: Option<&str>,
) -> v1::ExternalIds {
    v1::ExternalIds {
        openalex: openalex.map(Into::into),
        pmid: pmid.map(Into::into),
        arxiv: arxiv.map(Into::into),
        s2: s2.map(Into::into),
        ..Default::default()
    }
}

/// Starts and claims a run; returns its lease.
async fn running(t: &TestControl, org: uuid::Uuid, source: Source, worker: &str) -> v1::Lease {
    let run = t.start(org, source, "q").await.unwrap();
    let claimed = t.claim(&run.id, source, worker).await.run.unwrap();
    lease(&claimed, worker)
}

async fn count(t: &TestControl, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&t.db).await.unwrap();
    n
}

#[tokio::test]
async fn the_same_work_from_two_sources_is_one_paper_with_both_ids() {
    let t = spawn(Options::default()).await;
    let oa = running(&t, org_a(), Source::OpenAlex, "w1").await;
    let mut rich = paper(
        "Deep learning",
        Some("https://doi.org/10.1038/NATURE14539"),
        ids(Some("W1"), None, None, None),
    );
    rich.abstract_text = Some("A long abstract.".into());
    t.record_page(&oa, vec![rich], "{}").await.unwrap();

    let pm = running(&t, org_a(), Source::Pubmed, "w2").await;
    let sparse = paper(
        "Deep learning.",
        Some("doi:10.1038/nature14539"),
        ids(None, Some("26017442"), None, None),
    );
    let res = t.record_page(&pm, vec![sparse], "{}").await.unwrap();
    assert_eq!(
        (res.papers_found, res.papers_imported),
        (1, 0),
        "found again, not new"
    );

    let row: (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Vec<String>,
    ) = sqlx::query_as("SELECT doi, openalex_id, pmid, abstract, sources FROM papers")
        .fetch_one(&t.db)
        .await
        .unwrap();
    assert_eq!(row.0, "10.1038/nature14539");
    assert_eq!(row.1.as_deref(), Some("W1"));
    assert_eq!(row.2.as_deref(), Some("26017442"));
    assert_eq!(
        row.3.as_deref(),
        Some("A long abstract."),
        "an empty value never overwrites a richer one"
    );
    assert_eq!(row.4, vec!["openalex".to_string(), "pubmed".to_string()]);
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 1);
    assert_eq!(
        count(&t, "SELECT count(*) FROM run_papers").await,
        2,
        "both runs link the paper"
    );
    t.teardown().await;
}

#[tokio::test]
async fn a_record_linking_two_existing_papers_merges_them_into_one() {
    let t = spawn(Options::default()).await;
    let a = running(&t, org_a(), Source::Arxiv, "w1").await;
    t.record_page(
        &a,
        vec![paper(
            "Preprint",
            Some("10.48550/arXiv.2101.00001"),
            ids(None, None, Some("2101.00001v2"), None),
        )],
        "{}",
    )
    .await
    .unwrap();
    let p = running(&t, org_a(), Source::Pubmed, "w2").await;
    t.record_page(
        &p,
        vec![paper(
            "Published",
            Some("10.1000/journal.1"),
            ids(None, Some("111"), None, None),
        )],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 2);
    // Semantic Scholar knows both the arXiv id and the publisher DOI: one work (ADR-006).
    let s = running(&t, org_a(), Source::SemanticScholar, "w3").await;
    let res = t
        .record_page(
            &s,
            vec![paper(
                "Published",
                Some("10.1000/journal.1"),
                ids(None, None, Some("2101.00001"), Some("abc123")),
            )],
            "{}",
        )
        .await
        .unwrap();
    assert_eq!(res.papers_imported, 0);
    assert_eq!(
        count(&t, "SELECT count(*) FROM papers").await,
        1,
        "merged, not a third paper"
    );
    let row: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as("SELECT doi, arxiv_id, pmid, s2_id FROM papers")
        .fetch_one(&t.db)
        .await
        .unwrap();
    assert_eq!(
        row,
        (
            Some("10.1000/journal.1".into()),
            Some("2101.00001".into()),
            Some("111".into()),
            Some("abc123".into())
        )
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM run_papers").await,
        3,
        "every run still links the merged paper"
    );
    t.teardown().await;
}

/// import_papers() does not probe a key whose value the paper already found carries
/// (migration 0009). A key the found paper holds with another value is still probed:
/// here the DOI finds paper A, whose PMID differs from the record's, and the record's
/// PMID names paper B, so the record merges A and B, and the older paper's own PMID
/// is kept.
#[tokio::test]
async fn a_key_the_first_paper_holds_with_another_value_is_still_probed_and_merges() {
    let t = spawn(Options::default()).await;
    let first = running(&t, org_a(), Source::Pubmed, "w1").await;
    t.record_page(
        &first,
        vec![paper(
            "Paper A",
            Some("10.1000/a"),
            ids(None, Some("1"), None, None),
        )],
        "{}",
    )
    .await
    .unwrap();
    let second = running(&t, org_a(), Source::OpenAlex, "w2").await;
    t.record_page(
        &second,
        vec![paper(
            "Paper B",
            None,
            ids(Some("W2"), Some("2"), None, None),
        )],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 2);

    let third = running(&t, org_a(), Source::SemanticScholar, "w3").await;
    let res = t
        .record_page(
            &third,
            vec![paper(
                "Paper A",
                Some("10.1000/a"),
                ids(None, Some("2"), None, Some("abc456")),
            )],
            "{}",
        )
        .await
        .unwrap();
    assert_eq!((res.papers_found, res.papers_imported), (1, 0));
    // doi, openalex_id, pmid, s2_id
    type Keys = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Keys> = sqlx::query_as("SELECT doi, openalex_id, pmid, s2_id FROM papers")
        .fetch_all(&t.db)
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(
            Some("10.1000/a".into()),
            Some("W2".into()),
            Some("1".into()),
            Some("abc456".into())
        )],
        "one paper: A and B merged, A's own PMID kept"
    );
    t.teardown().await;
}

/// run_papers' references are checked once per statement (migration 0009) with the
/// foreign keys' SQLSTATE and names: a link to a missing run or paper is refused, a
/// link is never re-pointed, and deleting a run or a paper takes its links with it.
#[tokio::test]
async fn run_links_must_name_an_existing_run_and_paper_and_go_with_them() {
    let t = spawn(Options::default()).await;
    let lease = running(&t, org_a(), Source::Pubmed, "w").await;
    t.record_page(
        &lease,
        vec![paper(
            "Linked",
            Some("10.1000/linked"),
            ids(None, Some("7"), None, None),
        )],
        "{}",
    )
    .await
    .unwrap();
    let (run_id, paper_id): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT run_id, paper_id FROM run_papers")
            .fetch_one(&t.db)
            .await
            .unwrap();
    let missing = uuid::Uuid::new_v4();

    for (run, paper, constraint) in [
        (missing, paper_id, "run_papers_run_id_fkey"),
        (run_id, missing, "run_papers_paper_id_fkey"),
    ] {
        let err = sqlx::query(
            "INSERT INTO run_papers (run_id, paper_id, imported) VALUES ($1, $2, false)",
        )
        .bind(run)
        .bind(paper)
        .execute(&t.db)
        .await
        .expect_err("a link to a missing row is refused");
        let db = err.as_database_error().expect("a database error");
        assert_eq!(db.code().as_deref(), Some("23503"), "{db}");
        assert_eq!(db.constraint(), Some(constraint), "{db}");
    }
    let err = sqlx::query("UPDATE run_papers SET paper_id = $1")
        .bind(missing)
        .execute(&t.db)
        .await
        .expect_err("a link is not re-pointed");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23000")
    );

    sqlx::query("DELETE FROM ingest_runs WHERE id = $1")
        .bind(run_id)
        .execute(&t.db)
        .await
        .unwrap();
    assert_eq!(
        count(&t, "SELECT count(*) FROM run_papers").await,
        0,
        "the run's links went with it"
    );
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 1);
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_imports_leave_no_duplicate_and_correct_counters() {
    let t = spawn(Options::default()).await;
    let page = |offset: usize| -> Vec<v1::PaperRecord> {
        (offset..offset + 200)
            .map(|i| {
                paper(
                    &format!("P{i}"),
                    Some(&format!("10.5555/{i}")),
                    ids(Some(&format!("W{i}")), None, None, None),
                )
            })
            .collect()
    };
    let mut leases = Vec::new();
    for i in 0..4 {
        leases.push(running(&t, org_a(), Source::OpenAlex, &format!("w{i}")).await);
    }
    // Four runs import overlapping ranges at the same moment: 0..200, 100..300, 200..400, 300..500.
    let mut tasks = Vec::new();
    for (i, l) in leases.into_iter().enumerate() {
        let control = t.grpc_url.clone();
        let records = page(i * 100);
        tasks.push(tokio::spawn(async move {
            let mut c =
                ingestion_proto::v1::worker_service_client::WorkerServiceClient::connect(control)
                    .await
                    .unwrap();
            let req = v1::RecordPageRequest {
                lease: Some(l),
                papers: records,
                checkpoint_json: "{}".into(),
                source_total: None,
                page_index: None,
            };
            c.record_page(with_auth(req, WORKER_TOKEN))
                .await
                .unwrap()
                .into_inner()
        }));
    }
    let mut imported = 0;
    for task in tasks {
        let r = task.await.unwrap();
        assert_eq!(r.papers_found, 200);
        imported += r.papers_imported;
    }
    assert_eq!(
        count(&t, "SELECT count(*) FROM papers").await,
        500,
        "no duplicate"
    );
    assert_eq!(imported, 500, "each paper counted as new exactly once");
    assert_eq!(count(&t, "SELECT count(*) FROM run_papers").await, 800);
    assert_eq!(
        count(&t, "SELECT sum(papers_imported)::bigint FROM ingest_runs").await,
        count(&t, "SELECT count(*) FROM run_papers WHERE imported").await,
        "counters equal the link table"
    );
    t.teardown().await;
}

#[tokio::test]
async fn re_running_the_same_query_finds_the_same_and_imports_nothing() {
    let t = spawn(Options::default()).await;
    let records = || {
        (0..30)
            .map(|i| {
                paper(
                    &format!("T{i}"),
                    None,
                    ids(None, Some(&format!("{}", 1000 + i)), None, None),
                )
            })
            .collect::<Vec<_>>()
    };
    let first = running(&t, org_a(), Source::Pubmed, "w1").await;
    let r1 = t.record_page(&first, records(), "{}").await.unwrap();
    let second = running(&t, org_a(), Source::Pubmed, "w2").await;
    let r2 = t.record_page(&second, records(), "{}").await.unwrap();
    assert_eq!((r1.papers_found, r1.papers_imported), (30, 30));
    assert_eq!((r2.papers_found, r2.papers_imported), (30, 0));
    t.teardown().await;
}

#[tokio::test]
async fn organisation_a_never_sees_organisation_bs_papers() {
    let t = spawn(Options::default()).await;
    let work = || {
        vec![paper(
            "Shared work",
            Some("10.7/shared"),
            ids(Some("W7"), None, None, None),
        )]
    };
    let a = running(&t, org_a(), Source::OpenAlex, "wa").await;
    let b = running(&t, org_b(), Source::OpenAlex, "wb").await;
    assert_eq!(
        t.record_page(&a, work(), "{}")
            .await
            .unwrap()
            .papers_imported,
        1
    );
    assert_eq!(
        t.record_page(&b, work(), "{}")
            .await
            .unwrap()
            .papers_imported,
        1,
        "new to B"
    );

    let mut client = t.runs().await;
    let list_a = client
        .list_papers(with_auth(
            v1::ListPapersRequest::default(),
            &token(org_a(), Role::Viewer),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list_a.papers.len(), 1);
    let b_paper: (uuid::Uuid,) = sqlx::query_as("SELECT id FROM papers WHERE organization_id = $1")
        .bind(org_b())
        .fetch_one(&t.db)
        .await
        .unwrap();
    let hidden = client
        .get_paper(with_auth(
            v1::GetPaperRequest {
                id: b_paper.0.to_string(),
            },
            &token(org_a(), Role::Viewer),
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let filtered = client
        .list_papers(with_auth(
            v1::ListPapersRequest {
                doi: Some("HTTPS://DOI.ORG/10.7/SHARED".into()),
                run_id: Some(a.run_id.clone()),
                ..Default::default()
            },
            &token(org_a(), Role::Viewer),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filtered.papers.len(), 1, "DOI filter normalises its input");
    assert_eq!(
        filtered.papers[0]
            .external_ids
            .as_ref()
            .unwrap()
            .openalex
            .as_deref(),
        Some("W7")
    );
    t.teardown().await;
}

/// One page mixing every case the import tells apart: a work repeated within the page,
/// a known work, a record that links two known papers, and new works.
#[tokio::test]
async fn a_page_mixing_repeats_known_links_and_new_works_imports_each_work_once() {
    let t = spawn(Options::default()).await;
    let first = running(&t, org_a(), Source::OpenAlex, "w1").await;
    t.record_page(
        &first,
        vec![
            paper("X", Some("10.1/x"), ids(Some("W1"), None, None, None)),
            paper("Y", Some("10.1/y"), ids(Some("W2"), None, None, None)),
        ],
        "{}",
    )
    .await
    .unwrap();

    let second = running(&t, org_a(), Source::SemanticScholar, "w2").await;
    let res = t
        .record_page(
            &second,
            vec![
                paper("New", Some("10.1/new"), ids(None, None, None, Some("a1"))),
                paper(
                    "New, again",
                    Some("https://doi.org/10.1/NEW"),
                    ids(None, None, None, Some("a2")),
                ),
                paper("X again", Some("10.1/x"), ids(None, None, None, Some("a3"))),
                paper("Link", Some("10.1/y"), ids(Some("W1"), None, None, None)),
                paper("Fresh", Some("10.1/fresh"), ids(None, None, None, None)),
                paper("Keyless", None, ids(None, None, None, None)),
                paper("Twin", Some("10.1/twin"), ids(None, None, None, None)),
                {
                    let mut richer = paper("Twin", Some("10.1/twin"), ids(None, None, None, None));
                    richer.abstract_text = Some("The twin's abstract.".into());
                    richer.publication_date = Some("2021-03-04".into());
                    richer.date_precision = v1::DatePrecision::Day as i32;
                    richer
                },
            ],
            "{}",
        )
        .await
        .unwrap();
    assert_eq!(
        (res.papers_found, res.papers_imported),
        (8, 4),
        "New, Fresh, Keyless and Twin are new"
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM papers").await,
        5,
        "X and Y merged; New and Twin once"
    );
    let s2: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT s2_id FROM papers WHERE s2_id IS NOT NULL ORDER BY s2_id")
            .fetch_all(&t.db)
            .await
            .unwrap();
    assert_eq!(
        s2,
        vec![(Some("a1".into()),), (Some("a3".into()),)],
        "the first record of a repeated work wins; the known work gains its id"
    );
    let (linked,): (i64,) = sqlx::query_as("SELECT count(*) FROM run_papers WHERE run_id = $1")
        .bind(uuid::Uuid::parse_str(&second.run_id).unwrap())
        .fetch_one(&t.db)
        .await
        .unwrap();
    assert_eq!(linked, 5, "New, the merged X/Y, Fresh, Keyless and Twin");
    let twin: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT abstract, publication_date FROM papers WHERE doi = '10.1/twin'")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert_eq!(
        twin,
        (
            Some("The twin's abstract.".into()),
            Some("2021-03-04".into())
        ),
        "a work repeated within a page is filled in from every copy"
    );
    t.teardown().await;
}

/// The OpenAlex ids of organisation A's papers whose titles match `q`, sorted.
async fn search_titles(t: &TestControl, q: &str) -> Vec<String> {
    let mut found: Vec<String> = t
        .runs()
        .await
        .list_papers(with_auth(
            v1::ListPapersRequest {
                title_search: Some(q.into()),
                ..Default::default()
            },
            &token(org_a(), Role::Viewer),
        ))
        .await
        .unwrap_or_else(|e| panic!("search {q:?}: {e}"))
        .into_inner()
        .papers
        .into_iter()
        .map(|p| p.external_ids.unwrap().openalex.unwrap())
        .collect();
    found.sort();
    found
}

/// The title search (ADR-026): every word of the search must begin a word of the
/// title, in any case; what the user types is never read as query syntax.
#[tokio::test]
async fn title_search_matches_word_prefixes_and_survives_hostile_input() {
    let t = spawn(Options::default()).await;
    let lease = running(&t, org_a(), Source::OpenAlex, "w").await;
    let titles = [
        ("CRISPR gene editing in single-cell RNA-seq", "W1"),
        ("COVID-19 outcomes in older adults", "W2"),
        ("Gene regulatory networks of O'Neil's model", "W3"),
        // PostgreSQL's text cannot hold NUL: dropped, not a failed page.
        ("Nul\0 characters", "W4"),
    ];
    let page = titles
        .iter()
        .map(|(title, w)| paper(title, None, ids(Some(w), None, None, None)))
        .collect();
    t.record_page(&lease, page, "{}").await.unwrap();

    let search = async |q: &str| search_titles(&t, q).await;
    assert_eq!(search("gene").await, ["W1", "W3"], "any case");
    assert_eq!(search("GENE edit").await, ["W1"], "every word, as a prefix");
    assert_eq!(search("covid-19").await, ["W2"]);
    assert_eq!(search("single-cell rna").await, ["W1"]);
    assert_eq!(search("sing").await, ["W1"]);
    assert_eq!(search("o'neil").await, ["W3"]);
    assert!(
        search("ene").await.is_empty(),
        "a word's start, not any substring"
    );
    for hostile in [
        "'); DROP TABLE papers; --",
        "!!!",
        "a'b\\ :* | & <-> !(x)",
        "''",
        "\\",
        "%_%",
    ] {
        assert!(search(hostile).await.is_empty(), "{hostile:?}");
    }
    assert_eq!(search("nul char").await, ["W4"]);
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 4);
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM papers WHERE substr(id::text, 15, 1) = '7'"
        )
        .await,
        4,
        "paper ids are time-ordered UUIDv7"
    );
    t.teardown().await;
}

/// ADR-036: a page's titles wait in the word index's pending list, where the search
/// already finds them, until the merger moves them into the index (on its own
/// connection, not in the page's transaction); the search finds them there too.
#[tokio::test]
async fn titles_are_found_before_and_after_the_title_index_merge() {
    let t = spawn(Options::default()).await;
    let (options,): (Vec<String>,) =
        sqlx::query_as("SELECT reloptions FROM pg_class WHERE relname = 'papers_title_words'")
            .fetch_one(&t.db)
            .await
            .unwrap();
    assert_eq!(options, ["gin_pending_list_limit=16384"]);

    let lease = running(&t, org_a(), Source::OpenAlex, "w").await;
    let page = (0..20)
        .map(|i| {
            let w = format!("W{i}");
            paper(
                &format!("Kinase{i:02} signalling"),
                None,
                ids(Some(&w), None, None, None),
            )
        })
        .collect();
    t.record_page(&lease, page, "{}").await.unwrap();
    assert_eq!(
        search_titles(&t, "kinase07").await,
        ["W7"],
        "found while pending"
    );

    let merger = ingestion_control::title_index::TitleIndexMerger {
        pool: t.db.clone(),
        interval: std::time::Duration::from_secs(1),
    };
    assert!(
        merger.run_once().await.unwrap() > 0,
        "the page left its titles pending instead of merging them"
    );
    assert_eq!(merger.run_once().await.unwrap(), 0, "nothing left to merge");
    assert_eq!(
        search_titles(&t, "kinase07").await,
        ["W7"],
        "found once merged"
    );
    assert_eq!(search_titles(&t, "signalling").await.len(), 20);
    t.teardown().await;
}

/// A long abstract is stored compressed with LZ4 where the server has it (migration
/// 0008, ADR-033), and reads back whole; a server without LZ4 keeps pglz.
#[tokio::test]
async fn a_long_abstract_is_stored_lz4_compressed_and_reads_back_whole() {
    let t = spawn(Options::default()).await;
    let lease = running(&t, org_a(), Source::OpenAlex, "w").await;
    // ~10 KB of prose-like, compressible text: over the ~2 KB row size at which
    // PostgreSQL compresses a row's long values.
    let long: String = (0..400)
        .map(|i| format!("finding {i} of the cohort; "))
        .collect();
    let mut record = paper("A long abstract", None, ids(Some("W9"), None, None, None));
    record.abstract_text = Some(long.clone());
    t.record_page(&lease, vec![record], "{}").await.unwrap();

    let (stored, method): (String, Option<String>) = sqlx::query_as(
        "SELECT abstract, pg_column_compression(abstract) FROM papers WHERE openalex_id = 'W9'",
    )
    .fetch_one(&t.db)
    .await
    .unwrap();
    // Normalisation trims the trailing space; nothing else may change.
    assert!(
        stored == long.trim_end(),
        "the abstract reads back whole ({} of {} bytes)",
        stored.len(),
        long.len()
    );
    let (server_has_lz4,): (bool,) = sqlx::query_as(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
    )
    .fetch_one(&t.db)
    .await
    .unwrap();
    let expected = if server_has_lz4 { "lz4" } else { "pglz" };
    assert_eq!(
        method.as_deref(),
        Some(expected),
        "the abstract's compression"
    );
    t.teardown().await;
}

/// The run's pages, counters and checkpoint.
async fn run_counters(t: &TestControl, run_id: &str) -> (i32, i64, i64, Option<serde_json::Value>) {
    sqlx::query_as(
        "SELECT pages_done, papers_found, papers_imported, checkpoint_data
           FROM ingest_runs WHERE id = $1::uuid",
    )
    .bind(run_id)
    .fetch_one(&t.db)
    .await
    .unwrap()
}

/// RecordPage at `index`, resent while it is answered ABORTED, as the fetcher's
/// retries do.
async fn record_in_place(
    t: &TestControl,
    lease: &v1::Lease,
    papers: Vec<v1::PaperRecord>,
    index: u64,
) -> (v1::RecordPageResponse, u32) {
    let checkpoint = format!(r#"{{"page":{index}}}"#);
    for aborted in 0..200 {
        match t
            .record_page_at(lease, papers.clone(), &checkpoint, Some(index))
            .await
        {
            Ok(r) => return (r, aborted),
            Err(s) if s.code() == tonic::Code::Aborted => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(s) => panic!("page {index}: {s}"),
        }
    }
    panic!("page {index} was aborted 200 times");
}

fn numbered(range: std::ops::Range<usize>, citations: u64) -> Vec<v1::PaperRecord> {
    range
        .map(|i| v1::PaperRecord {
            citation_count: Some(citations),
            ..paper(
                &format!("Pipelined {i}"),
                Some(&format!("10.7777/{i}")),
                ids(Some(&format!("W7{i}")), Some(&format!("7{i}")), None, None),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_pages_of_one_run_import_together_and_count_each_paper_once() {
    let t = spawn(Options::default()).await;
    let lease = running(&t, org_a(), Source::OpenAlex, "pipelined").await;
    // Page 1 repeats half of page 0 (with more citations) and brings 150 works of its
    // own; page 2 repeats page 1's new works. Each page is sent before the page ahead
    // of it is answered.
    let pages = [
        numbered(0..300, 1),
        [numbered(150..300, 2), numbered(300..450, 1)].concat(),
        numbered(300..450, 3),
    ];
    let mut sent = Vec::new();
    for (index, papers) in pages.iter().enumerate() {
        let (t, lease, papers) = (&t, lease.clone(), papers.clone());
        sent.push(async move { record_in_place(t, &lease, papers, index as u64).await });
    }
    let answers = futures::future::join_all(sent).await;
    let last = answers.iter().map(|(r, _)| r.papers_found).max().unwrap();
    assert_eq!(last, 750, "the last answer counts every page");

    let (pages_done, found, imported, checkpoint) = run_counters(&t, &lease.run_id).await;
    assert_eq!(pages_done, 3);
    assert_eq!(found, 750);
    assert_eq!(imported, 450, "each work new once");
    assert_eq!(
        checkpoint,
        Some(serde_json::json!({"page": 2})),
        "the last page's checkpoint"
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM papers").await,
        450,
        "no duplicate"
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM papers WHERE citation_count = 2 AND doi LIKE '10.7777/%'"
        )
        .await,
        150,
        "page 1's fill-ins of page 0's papers"
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM papers WHERE citation_count = 3").await,
        150,
        "page 2's fill-ins of page 1's papers"
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM run_papers WHERE imported").await,
        450
    );
    assert!(t.control.pages.is_empty(), "no page left in flight");
    t.teardown().await;
}

#[tokio::test]
async fn a_page_whose_predecessor_is_not_recorded_is_aborted_and_stores_nothing() {
    let t = spawn(Options::default()).await;
    let lease = running(&t, org_a(), Source::OpenAlex, "ahead").await;
    let early = t
        .record_page_at(&lease, numbered(0..10, 1), r#"{"page":1}"#, Some(1))
        .await
        .expect_err("page 1 before page 0");
    assert_eq!(early.code(), tonic::Code::Aborted, "{early:?}");
    let far = t
        .record_page_at(&lease, numbered(0..10, 1), r#"{"page":99}"#, Some(99))
        .await
        .expect_err("a page far ahead");
    assert_eq!(far.code(), tonic::Code::Aborted, "{far:?}");
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 0);
    assert_eq!(run_counters(&t, &lease.run_id).await.0, 0);

    record_in_place(&t, &lease, numbered(10..20, 1), 0).await;
    record_in_place(&t, &lease, numbered(0..10, 1), 1).await;
    // Page 0 again, as after a lost answer: answered as recorded, counted once.
    let (again, _) = record_in_place(&t, &lease, numbered(10..20, 1), 0).await;
    assert_eq!((again.papers_found, again.papers_imported), (20, 20));
    let (pages_done, found, imported, checkpoint) = run_counters(&t, &lease.run_id).await;
    assert_eq!((pages_done, found, imported), (2, 20, 20));
    assert_eq!(checkpoint, Some(serde_json::json!({"page": 1})));
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shared_imports_filling_in_one_paper_at_once_keep_both_fill_ins() {
    let t = spawn(Options::default()).await;
    let first = running(&t, org_a(), Source::OpenAlex, "first").await;
    t.record_page(
        &first,
        vec![paper(
            "Shared",
            Some("10.8888/1"),
            ids(Some("W88"), None, None, None),
        )],
        "{}",
    )
    .await
    .unwrap();
    let second = running(&t, org_a(), Source::Pubmed, "second").await;
    // import_papers() as RecordPage calls it, one record a page, shared.
    let import = |run: String,
                  source: &'static str,
                  abstract_text: Option<&'static str>,
                  citations: i64,
                  pmid: Option<&'static str>| {
        format!(
            "SELECT imported_count FROM import_papers('{org}', '{run}', '{source}', ARRAY['Shared'],
                ARRAY[{abs}]::text[], ARRAY['[]'::jsonb], ARRAY[NULL]::text[], ARRAY[NULL]::text[],
                ARRAY[NULL]::text[], ARRAY['10.8888/1'], ARRAY[NULL]::text[], ARRAY[{pmid}]::text[],
                ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::text[],
                ARRAY[{citations}]::bigint[], true)",
            org = org_a(),
            abs = abstract_text.map_or("NULL".into(), |a| format!("'{a}'")),
            pmid = pmid.map_or("NULL".into(), |p| format!("'{p}'")),
        )
    };
    let mut a = t.db.begin().await.unwrap();
    let sql_a = import(
        first.run_id.clone(),
        "openalex",
        Some("A longer abstract"),
        5,
        None,
    );
    sqlx::query(sqlx::AssertSqlSafe(sql_a))
        .execute(&mut *a)
        .await
        .unwrap();
    let db = t.db.clone();
    let sql_b = import(second.run_id.clone(), "pubmed", None, 9, Some("8888"));
    let b = tokio::spawn(async move {
        let mut b = db.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql_b))
            .execute(&mut *b)
            .await
            .unwrap();
        b.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !b.is_finished(),
        "the second fill-in waits for the first one's row lock"
    );
    a.commit().await.unwrap();
    b.await.unwrap();
    let (abstract_text, citations, pmid, sources): (
        Option<String>,
        Option<i64>,
        Option<String>,
        Vec<String>,
    ) = sqlx::query_as(
        "SELECT abstract, citation_count, pmid, sources FROM papers WHERE doi = '10.8888/1'",
    )
    .fetch_one(&t.db)
    .await
    .unwrap();
    assert_eq!(
        abstract_text.as_deref(),
        Some("A longer abstract"),
        "the first fill-in is kept"
    );
    assert_eq!(
        (citations, pmid.as_deref()),
        (Some(9), Some("8888")),
        "the second fill-in is applied"
    );
    assert_eq!(sources, ["openalex", "pubmed"]);
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 1);
    t.teardown().await;
}

#[tokio::test]
async fn the_previous_releases_import_call_still_imports_during_a_rolling_deploy() {
    let t = spawn(Options::default()).await;
    let lease = running(&t, org_a(), Source::OpenAlex, "old-pod").await;
    t.record_page(&lease, numbered(0..2, 1), "{}")
        .await
        .unwrap();
    // As the previous release's ingestion-control calls it: 17 arguments, no p_shared.
    let (found, imported): (i32, i32) = sqlx::query_as(
        "SELECT found_count, imported_count FROM import_papers(
             $1, $2::uuid, 'openalex', ARRAY['Pipelined 1', 'Old pod'], ARRAY[NULL, NULL]::text[],
             ARRAY['[]'::jsonb, '[]'::jsonb], ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[],
             ARRAY[NULL, NULL]::text[], ARRAY['10.7777/1', '10.9999/old'], ARRAY[NULL, NULL]::text[],
             ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[],
             ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[], ARRAY[5, 1]::bigint[])",
    )
    .bind(org_a())
    .bind(&lease.run_id)
    .fetch_one(&t.db)
    .await
    .unwrap();
    assert_eq!((found, imported), (2, 1), "one known paper, one new");
    assert_eq!(count(&t, "SELECT count(*) FROM papers").await, 3);
    assert_eq!(
        count(
            &t,
            "SELECT citation_count FROM papers WHERE doi = '10.7777/1'"
        )
        .await,
        5,
        "the known paper is filled in"
    );
    t.teardown().await;
}
