//! Authentication (401) and permissions (403), checked before anything else.

use crate::fake_control::{FakeControl, spawn_fake_control};
use crate::helpers::{RUN_ID, SECRET, org, problem, spawn_app, start, token};
use base64::Engine as _;
use gateway::Config;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::{AuthConfig, Role, mint_hs256, role_claims};

const PRIVATE_PEM: &[u8] = include_bytes!("../fixtures/test_rsa_private.pem");
const PUBLIC_PEM: &[u8] = include_bytes!("../fixtures/test_rsa_public.pem");
const START: &str = "/papers/ingest/pubmed/async";
const BODY: &str = r#"{"query": "crispr"}"#;

async fn post_start(
    app: &crate::helpers::TestApp,
    authorization: Option<String>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(START))
        .header("content-type", "application/json")
        .body(BODY);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    req.send().await.unwrap()
}

fn rs256_token(role: Role) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &role_claims("u1", org(), role, 600),
        &EncodingKey::from_rsa_pem(PRIVATE_PEM).unwrap(),
    )
    .unwrap()
}

fn alg_none_token(role: Role) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64.encode(serde_json::to_vec(&role_claims("u1", org(), role, 600)).unwrap());
    format!("{header}.{claims}.")
}

#[tokio::test]
async fn a_request_without_a_token_is_a_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let resp = post_start(&app, None).await;
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    problem(resp, 401).await;
    for path in [
        "/ingestion/runs/",
        "/papers",
        &format!("/ingestion/runs/{RUN_ID}"),
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        problem(resp, 401).await;
    }
    assert!(app.fake.calls().is_empty());
}

#[tokio::test]
async fn expired_forged_and_malformed_tokens_are_401() {
    let app = spawn_app().await;
    let mut expired = role_claims("u1", org(), Role::Admin, 600);
    expired.exp = 1_000_000;
    let mut not_uuid_org = role_claims("u1", org(), Role::Admin, 600);
    not_uuid_org.org = "acme".into();
    let cases = [
        (
            "expired",
            format!("Bearer {}", mint_hs256(SECRET, &expired).unwrap()),
        ),
        (
            "bad signature",
            format!(
                "Bearer {}",
                mint_hs256(
                    "another-secret-entirely-xyz",
                    &role_claims("u1", org(), Role::Admin, 600)
                )
                .unwrap()
            ),
        ),
        (
            "alg none",
            format!("Bearer {}", alg_none_token(Role::Admin)),
        ),
        (
            "RS256 to an HS256 gateway",
            format!("Bearer {}", rs256_token(Role::Admin)),
        ),
        (
            "org not a uuid",
            format!("Bearer {}", mint_hs256(SECRET, &not_uuid_org).unwrap()),
        ),
        ("garbage", "Bearer not.a.jwt".to_owned()),
        ("wrong scheme", format!("Basic {}", token(Role::Admin))),
        ("empty bearer", "Bearer ".to_owned()),
    ];
    for (what, header) in cases {
        let resp = post_start(&app, Some(header)).await;
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{what}"
        );
        let p = problem(resp, 401).await;
        assert!(!p.detail.contains(SECRET), "{what}");
    }
    assert!(app.fake.calls().is_empty());
}

#[tokio::test]
async fn an_rs256_gateway_accepts_rs256_and_refuses_hs256_signed_with_its_public_key() {
    let fake = FakeControl::default();
    let url = spawn_fake_control(fake.clone()).await;
    let auth = AuthConfig::rs256(PUBLIC_PEM.to_vec());
    let app = start(Config::new("127.0.0.1:0".parse().unwrap(), url, auth), fake).await;

    let ok = post_start(&app, Some(format!("Bearer {}", rs256_token(Role::Member)))).await;
    assert_eq!(ok.status(), 202);

    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &role_claims("u1", org(), Role::Admin, 600),
        &EncodingKey::from_secret(PUBLIC_PEM).unwrap(),
    )
    .unwrap();
    problem(
        post_start(&app, Some(format!("Bearer {confused}"))).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn roles_grant_exactly_their_permissions() {
    let app = spawn_app().await;
    let bearer = |role| Some(format!("Bearer {}", token(role)));

    let p = problem(post_start(&app, bearer(Role::Viewer)).await, 403).await;
    assert!(p.detail.contains("PAPERS_WRITE"));
    assert_eq!(post_start(&app, bearer(Role::Member)).await.status(), 202);
    assert_eq!(post_start(&app, bearer(Role::Admin)).await.status(), 202);

    assert_eq!(
        app.get("/ingestion/runs/", &token(Role::Viewer))
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/papers", &token(Role::Viewer)).await.status(), 200);

    let retry = format!("/ingestion/runs/{RUN_ID}/retry");
    let cancel = format!("/ingestion/runs/{RUN_ID}/cancel");
    for role in [Role::Viewer, Role::Member] {
        let p = problem(app.post(&retry, &token(role)).await, 403).await;
        assert!(p.detail.contains("DEVELOPER_MANAGE"));
        problem(app.post(&cancel, &token(role)).await, 403).await;
    }
    assert_eq!(app.post(&retry, &token(Role::Admin)).await.status(), 200);
    assert_eq!(app.post(&cancel, &token(Role::Admin)).await.status(), 200);
}

#[tokio::test]
async fn explicit_permissions_in_the_token_work_without_roles() {
    let app = spawn_app().await;
    let mut claims = role_claims("svc", org(), Role::Viewer, 600);
    claims.roles = None;
    claims.permissions = Some(vec!["PAPERS_WRITE".into()]);
    let t = mint_hs256(SECRET, &claims).unwrap();
    assert_eq!(
        post_start(&app, Some(format!("Bearer {t}"))).await.status(),
        202
    );
    problem(app.get("/ingestion/runs/", &t).await, 403).await;
}

#[tokio::test]
async fn authentication_and_permission_are_checked_before_the_body() {
    let app = spawn_app().await;
    let bad_body = |auth: Option<String>| {
        let mut req = app
            .client
            .post(app.url(START))
            .header("content-type", "text/plain")
            .body("{");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    problem(bad_body(None).await.unwrap(), 401).await;
    problem(
        bad_body(Some(format!("Bearer {}", token(Role::Viewer))))
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(
        bad_body(Some(format!("Bearer {}", token(Role::Member))))
            .await
            .unwrap(),
        415,
    )
    .await;
}
