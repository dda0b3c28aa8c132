//! Starts the gateway in-process (port 0) against the fake ingestion-control, with
//! tokens and request helpers.

#![allow(dead_code)]

use crate::fake_control::{FakeControl, spawn_fake_control};
use gateway::{Application, Config, Problem};
use platform::auth::{AuthConfig, Role, mint_hs256, role_claims};
use platform::config::Secret;
use platform::shutdown::Shutdown;
use std::time::Duration;
use uuid::Uuid;

pub const SECRET: &str = "gateway-test-secret-0123456789";
pub const ORG: &str = "7d3f1c2a-9a56-4d7e-8f43-1b2c3d4e5f60";
pub const RUN_ID: &str = "0192f5d2-8c1e-7a41-9a0e-3f5b8e2d1c44";
pub const PAPER_ID: &str = "0192f5d2-8c1e-7a41-9a0e-3f5b8e2d1c99";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub fake: FakeControl,
    pub shutdown: Shutdown,
}

pub fn hs256_auth() -> AuthConfig {
    AuthConfig::hs256(Secret::new(SECRET))
}

/// The gateway against a fresh fake control.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The gateway against a fresh fake control, after `configure` adjusts the config.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let fake = FakeControl::default();
    let control_url = spawn_fake_control(fake.clone()).await;
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), control_url, hs256_auth());
    config.grpc_timeout = Duration::from_secs(5);
    configure(&mut config);
    start(config, fake).await
}

/// The gateway with `config` as given, and `fake` as whatever is (or is not) behind it.
pub async fn start(config: Config, fake: FakeControl) -> TestApp {
    let app = Application::build(config).await.expect("gateway builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        fake,
        shutdown,
    }
}

pub fn org() -> Uuid {
    Uuid::parse_str(ORG).unwrap()
}

/// An HS256 token of `role` in `ORG`, signed with the gateway's secret.
pub fn token(role: Role) -> String {
    mint_hs256(SECRET, &role_claims("u1", org(), role, 600)).unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// POSTs `body` as `application/json` with a member token.
    pub async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token(Role::Member))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }
}

/// Asserts a problem document with `status` and returns it.
pub async fn problem(resp: reqwest::Response, status: u16) -> Problem {
    assert_eq!(resp.status().as_u16(), status, "status");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Problem = resp.json().await.expect("a problem document");
    assert_eq!(problem.status, status);
    assert!(!problem.title.is_empty() && !problem.problem_type.is_empty());
    problem
}
