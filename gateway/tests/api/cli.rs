//! The binary: `gateway token` and start-up configuration errors.

use crate::helpers::org;
use platform::auth::{AuthConfig, DEV_JWT_SECRET, JwtVerifier, Permission};
use platform::config::Secret;
use std::process::Command;

const SECRET: &str = "cli-test-secret-0123456789abcdef";

fn gateway() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gateway"));
    // A clean environment, and a directory without a .env file.
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

fn verify(secret: &str, token: &str) -> platform::auth::Principal {
    JwtVerifier::new(&AuthConfig::hs256(Secret::new(secret)))
        .unwrap()
        .verify(token)
        .expect("the printed token verifies")
}

#[test]
fn gateway_token_prints_a_token_that_verifies_with_jwt_secret() {
    let out = gateway()
        .env("JWT_SECRET", SECRET)
        .args([
            "token",
            "--org",
            &org().to_string(),
            "--role",
            "member",
            "--sub",
            "alice",
            "--ttl-secs",
            "120",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let principal = verify(SECRET, token.trim());
    assert_eq!(principal.subject, "alice");
    assert_eq!(principal.organization_id, org());
    assert!(principal.has(Permission::PapersWrite));
    assert!(!principal.has(Permission::DeveloperManage));
}

#[test]
fn gateway_token_in_dev_mode_signs_with_the_development_secret() {
    let out = gateway()
        .env("DEV_MODE", "1")
        .args(["token", "--org", &org().to_string(), "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let principal = verify(
        DEV_JWT_SECRET,
        String::from_utf8(out.stdout).unwrap().trim(),
    );
    assert_eq!(principal.subject, "dev-user");
    assert!(principal.has(Permission::DeveloperManage));
}

#[test]
fn gateway_token_without_a_secret_or_dev_mode_names_jwt_secret() {
    let out = gateway()
        .args(["token", "--org", &org().to_string(), "--role", "viewer"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}

#[test]
fn gateway_token_refuses_an_unknown_role() {
    let out = gateway()
        .env("JWT_SECRET", SECRET)
        .args(["token", "--org", &org().to_string(), "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("viewer, member, admin"));
}

#[test]
fn serving_without_a_secret_outside_dev_mode_fails_at_start_naming_the_variable() {
    let out = gateway()
        .env("GATEWAY_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}
