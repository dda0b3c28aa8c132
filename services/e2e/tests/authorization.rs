//! Issue 5's matrix: every endpoint × {no token, expired, bad signature, wrong
//! algorithm, alg none, viewer, member, admin, other organisation}, with the exact
//! status, through the gateway and directly against ingestion-control over gRPC.

use e2e::{StackOptions, TestStack, org_a, org_b, token};
use ingestion_proto::v1::{self, run_service_client::RunServiceClient};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::Source;
use platform::auth::{Role, role_claims};
use serde_json::json;
use tonic::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoToken,
    Expired,
    BadSignature,
    WrongAlgorithm,
    AlgNone,
    Viewer,
    Member,
    Admin,
    OtherOrgAdmin,
}

const CALLERS: [Caller; 9] = [
    Caller::NoToken,
    Caller::Expired,
    Caller::BadSignature,
    Caller::WrongAlgorithm,
    Caller::AlgNone,
    Caller::Viewer,
    Caller::Member,
    Caller::Admin,
    Caller::OtherOrgAdmin,
];

fn bearer(caller: Caller) -> Option<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Some(match caller {
        Caller::NoToken => return None,
        Caller::Expired => {
            let mut c = role_claims("u", org_a(), Role::Admin, 60);
            c.exp = 1_000_000;
            platform::auth::mint_hs256(test_support::JWT_SECRET, &c).unwrap()
        }
        Caller::BadSignature => platform::auth::mint_hs256(
            "not-the-secret-at-all-0123",
            &role_claims("u", org_a(), Role::Admin, 600),
        )
        .unwrap(),
        Caller::WrongAlgorithm => jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &role_claims("u", org_a(), Role::Admin, 600),
            &EncodingKey::from_secret(test_support::JWT_SECRET.as_bytes()).unwrap(),
        )
        .unwrap(),
        Caller::AlgNone => format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_vec(&role_claims("u", org_a(), Role::Admin, 600)).unwrap())
        ),
        Caller::Viewer => token(org_a(), Role::Viewer),
        Caller::Member => token(org_a(), Role::Member),
        Caller::Admin => token(org_a(), Role::Admin),
        Caller::OtherOrgAdmin => token(org_b(), Role::Admin),
    })
}

fn unauthenticated(c: Caller) -> bool {
    matches!(
        c,
        Caller::NoToken
            | Caller::Expired
            | Caller::BadSignature
            | Caller::WrongAlgorithm
            | Caller::AlgNone
    )
}

/// Expected HTTP status of each operation for each caller.
fn expected(op: &str, c: Caller) -> u16 {
    if unauthenticated(c) {
        return 401;
    }
    match (op, c) {
        ("start", Caller::Viewer) => 403,
        ("start", _) => 202,
        ("list" | "papers", _) => 200,
        ("get" | "events" | "paper", Caller::OtherOrgAdmin) => 404,
        ("get" | "events" | "paper", _) => 200,
        ("cancel" | "retry", Caller::Viewer | Caller::Member) => 403,
        ("cancel" | "retry", Caller::OtherOrgAdmin) => 404,
        ("cancel" | "retry", _) => 200,
        _ => unreachable!("{op}"),
    }
}

fn grpc_code(http: u16) -> Code {
    match http {
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        _ => Code::Ok,
    }
}

async fn http_status(
    stack: &TestStack,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    caller: Caller,
) -> u16 {
    let mut req = stack
        .http
        .request(method, format!("{}{path}", stack.gateway_url));
    if let Some(b) = bearer(caller) {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap().status().as_u16()
}

fn grpc_req<T>(msg: T, caller: Caller) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(b) = bearer(caller) {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {b}").parse().unwrap());
    }
    req
}

fn code_of<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_answers_each_caller_with_the_exact_status_through_both_doors() {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![],
        ..Default::default()
    })
    .await;
    // A's finished run (cancelled, so its event stream ends at once) with one paper.
    let run_id = stack.start_ok(Source::OpenAlex, "seed", 10).await;
    sqlx::query(
        "UPDATE ingest_runs SET status = 'cancelled', completed_at = now() WHERE id = $1::uuid",
    )
    .bind(&run_id)
    .execute(&stack.db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO papers (id, organization_id, title, doi, sources) VALUES (gen_random_uuid(), $1, 'T', '10.1/t', '{openalex}')")
        .bind(org_a())
        .execute(&stack.db)
        .await
        .unwrap();
    let (paper_id,): (uuid::Uuid,) = sqlx::query_as("SELECT id FROM papers")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    let mut grpc = RunServiceClient::connect(stack.control_grpc_url.clone())
        .await
        .unwrap();
    let mut failures = Vec::new();

    for caller in CALLERS {
        // Starts, one per source, through the gateway; and CreateRun over gRPC.
        for source in Source::ALL {
            let got = http_status(
                &stack,
                reqwest::Method::POST,
                &format!("/papers/ingest/{}/async", source.path_segment()),
                Some(json!({"query": "q"})),
                caller,
            )
            .await;
            if got != expected("start", caller) {
                failures.push(format!("HTTP start {source} as {caller:?}: {got}"));
            }
        }
        let req = v1::CreateRunRequest {
            source: v1::Source::Pubmed as i32,
            query: "q".into(),
            ..Default::default()
        };
        let got = code_of(grpc.create_run(grpc_req(req, caller)).await);
        if got != grpc_code(expected("start", caller)) {
            failures.push(format!("gRPC CreateRun as {caller:?}: {got:?}"));
        }

        for (op, path) in [
            ("list", "/ingestion/runs/".to_string()),
            ("get", format!("/ingestion/runs/{run_id}")),
            ("events", format!("/ingestion/runs/{run_id}/events")),
            ("papers", "/papers".to_string()),
            ("paper", format!("/papers/{paper_id}")),
        ] {
            let got = http_status(&stack, reqwest::Method::GET, &path, None, caller).await;
            if got != expected(op, caller) {
                failures.push(format!("HTTP {op} as {caller:?}: {got}"));
            }
        }
        let checks = [
            (
                "list",
                code_of(
                    grpc.list_runs(grpc_req(v1::ListRunsRequest::default(), caller))
                        .await,
                ),
            ),
            (
                "get",
                code_of(
                    grpc.get_run(grpc_req(v1::GetRunRequest { id: run_id.clone() }, caller))
                        .await,
                ),
            ),
            (
                "events",
                code_of(
                    grpc.watch_run(grpc_req(v1::WatchRunRequest { id: run_id.clone() }, caller))
                        .await,
                ),
            ),
            (
                "papers",
                code_of(
                    grpc.list_papers(grpc_req(v1::ListPapersRequest::default(), caller))
                        .await,
                ),
            ),
            (
                "paper",
                code_of(
                    grpc.get_paper(grpc_req(
                        v1::GetPaperRequest {
                            id: paper_id.to_string(),
                        },
                        caller,
                    ))
                    .await,
                ),
            ),
        ];
        for (op, got) in checks {
            if got != grpc_code(expected(op, caller)) {
                failures.push(format!("gRPC {op} as {caller:?}: {got:?}"));
            }
        }

        // Cancel a fresh queued run and retry a fresh cancelled run, each transport.
        for transport in ["http", "grpc"] {
            let cancel_target = stack.start_ok(Source::Pubmed, "to cancel", 10).await;
            let retry_target = stack.start_ok(Source::Pubmed, "to retry", 10).await;
            sqlx::query("UPDATE ingest_runs SET status = 'cancelled', completed_at = now() WHERE id = $1::uuid")
                .bind(&retry_target)
                .execute(&stack.db)
                .await
                .unwrap();
            for (op, id) in [("cancel", &cancel_target), ("retry", &retry_target)] {
                let want = expected(op, caller);
                let ok = if transport == "http" {
                    let got = http_status(
                        &stack,
                        reqwest::Method::POST,
                        &format!("/ingestion/runs/{id}/{op}"),
                        None,
                        caller,
                    )
                    .await;
                    got == want
                } else {
                    let got = if op == "cancel" {
                        code_of(
                            grpc.cancel_run(grpc_req(
                                v1::CancelRunRequest { id: id.clone() },
                                caller,
                            ))
                            .await,
                        )
                    } else {
                        code_of(
                            grpc.retry_run(grpc_req(
                                v1::RetryRunRequest { id: id.clone() },
                                caller,
                            ))
                            .await,
                        )
                    };
                    got == grpc_code(want)
                };
                if !ok {
                    failures.push(format!("{transport} {op} as {caller:?}: expected {want}"));
                }
            }
        }
    }
    // Lists only ever show the caller's organisation.
    let listed: serde_json::Value = stack
        .http
        .get(format!("{}/ingestion/runs/?limit=200", stack.gateway_url))
        .bearer_auth(token(org_b(), Role::Viewer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != run_id.as_str()),
        "B never lists A's runs"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    stack.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_running_run_stops_within_one_page_and_a_retried_run_resumes_from_its_checkpoint()
 {
    let stack = TestStack::start(StackOptions {
        fetchers: vec![Source::OpenAlex],
        page_size: Some(10),
        ..Default::default()
    })
    .await;
    // Slow pages so the run is mid-flight when cancelled.
    stack.replay.inject(
        e2e::replay_fault(Source::OpenAlex, replay_server::FaultKind::Slow)
            .delay_ms(400)
            .times(100)
            .after(2),
    );
    let id = stack.start_ok(Source::OpenAlex, "cancel me", 100).await;
    let viewer = token(org_a(), Role::Viewer);
    loop {
        let (_, run) = stack.get_run(&id, &viewer).await;
        if run["pages_done"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let res = stack
        .http
        .post(format!("{}/ingestion/runs/{id}/cancel", stack.gateway_url))
        .bearer_auth(token(org_a(), Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pages_at_cancel = {
        let (_, run) = stack.get_run(&id, &viewer).await;
        run["pages_done"].as_u64().unwrap()
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, run) = stack.get_run(&id, &viewer).await;
    assert_eq!(run["status"], "cancelled");
    assert_eq!(
        run["pages_done"].as_u64().unwrap(),
        pages_at_cancel,
        "no page stored after the cancel"
    );
    let requests_after_cancel = stack.replay.requests("openalex").len();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert!(
        stack.replay.requests("openalex").len() <= requests_after_cancel,
        "the fetcher stopped (it finishes at most the page in hand)"
    );

    // Retry: back to queued, attempt 2, resumes from the checkpoint, completes.
    stack.replay.clear_faults();
    let res = stack
        .http
        .post(format!("{}/ingestion/runs/{id}/retry", stack.gateway_url))
        .bearer_auth(token(org_a(), Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let run = stack
        .wait_terminal(&id, std::time::Duration::from_secs(60))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["attempt"], 2);
    assert_eq!(
        run["papers_found"], 100,
        "the first pages were not fetched again"
    );
    let first_cursor_calls = stack
        .replay
        .requests("openalex")
        .iter()
        .filter(|r| r.query.contains("cursor=%2A") || r.query.contains("cursor=*"))
        .count();
    assert_eq!(
        first_cursor_calls, 1,
        "the retry did not start over from the first page"
    );
    // Retry of a completed run: 409.
    let res = stack
        .http
        .post(format!("{}/ingestion/runs/{id}/retry", stack.gateway_url))
        .bearer_auth(token(org_a(), Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    stack.teardown().await;
}
