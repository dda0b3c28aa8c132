//! Bearer-token authentication shared by the gateway and ingestion-control.
//!
//! Users carry a JWT (HS256 with `JWT_SECRET`, or RS256 with `JWT_PUBLIC_KEY_FILE`);
//! the algorithm is pinned to the configured one, `exp` is required, issuer and
//! audience are checked when configured. Fetchers carry a separate service
//! credential (`WORKER_TOKEN`) that is never a user token.

use crate::config::{self, ConfigError, Secret};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The secret used only in explicit development mode (`DEV_MODE=1`).
pub const DEV_JWT_SECRET: &str = "foundations-dev-secret-not-for-production";
/// The worker credential used only in explicit development mode.
pub const DEV_WORKER_TOKEN: &str = "foundations-dev-worker-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    PapersRead,
    PapersWrite,
    DeveloperManage,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::PapersRead => "PAPERS_READ",
            Permission::PapersWrite => "PAPERS_WRITE",
            Permission::DeveloperManage => "DEVELOPER_MANAGE",
        }
    }

    fn parse(s: &str) -> Option<Permission> {
        match s {
            "PAPERS_READ" => Some(Permission::PapersRead),
            "PAPERS_WRITE" => Some(Permission::PapersWrite),
            "DEVELOPER_MANAGE" => Some(Permission::DeveloperManage),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Permission::PapersRead => 1,
            Permission::PapersWrite => 2,
            Permission::DeveloperManage => 4,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles of the identity provider and what each grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Member,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Viewer => &[Permission::PapersRead],
            Role::Member => &[Permission::PapersRead, Permission::PapersWrite],
            Role::Admin => &[
                Permission::PapersRead,
                Permission::PapersWrite,
                Permission::DeveloperManage,
            ],
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub organization_id: Uuid,
    permissions: u8,
}

impl Principal {
    pub fn new(
        subject: impl Into<String>,
        organization_id: Uuid,
        permissions: &[Permission],
    ) -> Self {
        Principal {
            subject: subject.into(),
            organization_id,
            permissions: permissions.iter().fold(0, |acc, p| acc | p.bit()),
        }
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.permissions & permission.bit() != 0
    }

    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(permission))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("the token has expired")]
    Expired,
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("missing permission {0}")]
    Forbidden(Permission),
}

/// The JWT claims we read. Unknown claims are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub org: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

#[derive(Clone)]
enum VerifyingKey {
    Hs256(Secret),
    Rs256(Vec<u8>),
}

/// How user tokens are verified; read once from the environment.
#[derive(Clone)]
pub struct AuthConfig {
    key: VerifyingKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_secs: u64,
    /// True when the development secret is in use.
    pub dev_mode: bool,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("algorithm", &self.algorithm())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .field("dev_mode", &self.dev_mode)
            .finish()
    }
}

impl AuthConfig {
    pub fn hs256(secret: Secret) -> Self {
        AuthConfig {
            key: VerifyingKey::Hs256(secret),
            issuer: None,
            audience: None,
            leeway_secs: 30,
            dev_mode: false,
        }
    }

    pub fn rs256(public_key_pem: Vec<u8>) -> Self {
        AuthConfig {
            key: VerifyingKey::Rs256(public_key_pem),
            issuer: None,
            audience: None,
            leeway_secs: 30,
            dev_mode: false,
        }
    }

    /// `JWT_SECRET` (HS256) or `JWT_PUBLIC_KEY_FILE` (RS256), plus optional
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_LEEWAY_SECS`. Without either key the
    /// service refuses to start unless `dev_mode` is set, which uses the
    /// development secret and says so loudly.
    pub fn from_env(dev_mode: bool) -> Result<Self, ConfigError> {
        let secret = config::optional("JWT_SECRET");
        let key_file = config::optional("JWT_PUBLIC_KEY_FILE");
        let mut cfg = match (secret, key_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET",
                    reason: "set either JWT_SECRET or JWT_PUBLIC_KEY_FILE, not both".into(),
                });
            }
            (Some(secret), None) => AuthConfig::hs256(Secret::new(secret)),
            (None, Some(path)) => {
                let pem = std::fs::read(&path).map_err(|e| ConfigError::Invalid {
                    name: "JWT_PUBLIC_KEY_FILE",
                    reason: format!("cannot read {path}: {e}"),
                })?;
                DecodingKey::from_rsa_pem(&pem).map_err(|e| ConfigError::Invalid {
                    name: "JWT_PUBLIC_KEY_FILE",
                    reason: format!("not an RSA public key in PEM: {e}"),
                })?;
                AuthConfig::rs256(pem)
            }
            (None, None) if dev_mode => {
                tracing::warn!(
                    "DEV_MODE: no JWT_SECRET or JWT_PUBLIC_KEY_FILE configured; \
                     using the built-in DEVELOPMENT secret. Never run like this in production."
                );
                let mut cfg = AuthConfig::hs256(Secret::new(DEV_JWT_SECRET));
                cfg.dev_mode = true;
                cfg
            }
            (None, None) => return Err(ConfigError::Missing("JWT_SECRET or JWT_PUBLIC_KEY_FILE")),
        };
        cfg.issuer = config::optional("JWT_ISSUER");
        cfg.audience = config::optional("JWT_AUDIENCE");
        cfg.leeway_secs = config::parsed_or("JWT_LEEWAY_SECS", 30u64)?;
        Ok(cfg)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            VerifyingKey::Hs256(_) => Algorithm::HS256,
            VerifyingKey::Rs256(_) => Algorithm::RS256,
        }
    }
}

/// Verifies bearer tokens. Cheap to clone (the gateway's handlers take one per request):
/// the key, the validation rules and the verified tokens are shared.
#[derive(Clone)]
pub struct JwtVerifier(Arc<VerifierRules>);

struct VerifierRules {
    key: DecodingKey,
    validation: Validation,
    /// Tokens that verified, with what they grant and until when (ADR-029). A client
    /// presents the same token on every request of its session; decoding and checking
    /// it again each time was a tenth of the gateway's and a sixth of
    /// ingestion-control's instructions per read.
    verified: RwLock<HashMap<Box<str>, Verified>>,
}

/// A token that verified: its principal, until its `exp` plus the leeway.
#[derive(Clone)]
struct Verified {
    principal: Principal,
    valid_until: u64,
}

/// At most this many verified tokens are kept; when full, expired ones are dropped,
/// and if that frees nothing, all of them (each is verified again on its next use).
const VERIFIED_CAPACITY: usize = 1024;
/// Longer tokens are verified every time, never kept: the cache's memory stays
/// bounded (at most ~2 MiB of tokens).
const VERIFIED_MAX_TOKEN_LEN: usize = 2048;

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtVerifier")
    }
}

impl JwtVerifier {
    pub fn new(cfg: &AuthConfig) -> Result<Self, ConfigError> {
        let key = match &cfg.key {
            VerifyingKey::Hs256(secret) => DecodingKey::from_secret(secret.expose().as_bytes())
                .map_err(|e| ConfigError::Invalid {
                    name: "JWT_SECRET",
                    reason: e.to_string(),
                })?,
            VerifyingKey::Rs256(pem) => {
                DecodingKey::from_rsa_pem(pem).map_err(|e| ConfigError::Invalid {
                    name: "JWT_PUBLIC_KEY_FILE",
                    reason: e.to_string(),
                })?
            }
        };
        // Pinned: only the configured algorithm is accepted (no `none`, no HS/RS confusion).
        let mut validation = Validation::new(cfg.algorithm());
        validation.algorithms = vec![cfg.algorithm()];
        validation.leeway = cfg.leeway_secs;
        validation.validate_exp = true;
        // A configured issuer or audience must also be *present*: jsonwebtoken only
        // compares the claims a token carries unless they are listed as required.
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &cfg.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        match &cfg.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(JwtVerifier(Arc::new(VerifierRules {
            key,
            validation,
            verified: RwLock::new(HashMap::new()),
        })))
    }

    /// Verifies a raw token (without the `Bearer ` prefix).
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_at(token, unix_now())
    }

    /// [`JwtVerifier::verify`] as of `now` (Unix seconds). A token that verified before
    /// is answered from the cache while `now` is within its `exp` plus the leeway, the
    /// window in which decoding it again would accept it too: the same bytes carry the
    /// same signature and claims, and the key and rules never change in a verifier.
    fn verify_at(&self, token: &str, now: u64) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        if token.len() > 8192 {
            return Err(AuthError::InvalidToken("token too long"));
        }
        let known = self.cache_read().get(token).cloned();
        if let Some(known) = known {
            if now <= known.valid_until {
                return Ok(known.principal);
            }
            self.cache_write().remove(token);
            return Err(AuthError::Expired);
        }
        let (principal, exp) = self.decode(token)?;
        if token.len() <= VERIFIED_MAX_TOKEN_LEN {
            let valid_until = exp.saturating_add(self.0.validation.leeway);
            let mut cache = self.cache_write();
            if cache.len() >= VERIFIED_CAPACITY {
                cache.retain(|_, v| now <= v.valid_until);
                if cache.len() >= VERIFIED_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(
                token.into(),
                Verified {
                    principal: principal.clone(),
                    valid_until,
                },
            );
        }
        Ok(principal)
    }

    // A panic while holding the lock leaves the map consistent (every operation on it
    // completes or does nothing), so a poisoned lock is used as it is.
    fn cache_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Box<str>, Verified>> {
        self.0.verified.read().unwrap_or_else(|e| e.into_inner())
    }

    fn cache_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Box<str>, Verified>> {
        self.0.verified.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Decodes and checks a token in full: signature, algorithm, claims.
    fn decode(&self, token: &str) -> Result<(Principal, u64), AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.0.key, &self.0.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::InvalidToken("bad signature"),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::InvalidToken("algorithm not allowed")
                }
                ErrorKind::InvalidIssuer => AuthError::InvalidToken("wrong issuer"),
                ErrorKind::InvalidAudience => AuthError::InvalidToken("wrong audience"),
                ErrorKind::MissingRequiredClaim(_) => AuthError::InvalidToken("missing claim"),
                _ => AuthError::InvalidToken("malformed token"),
            },
        )?;
        let exp = data.claims.exp;
        Ok((principal_from_claims(data.claims)?, exp))
    }

    /// Verifies an `Authorization` header value (`Bearer <token>`).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let token = bearer_token(header.ok_or(AuthError::MissingToken)?)
            .ok_or(AuthError::InvalidToken("expected a Bearer token"))?;
        self.verify(token)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn principal_from_claims(claims: Claims) -> Result<Principal, AuthError> {
    let org =
        Uuid::parse_str(&claims.org).map_err(|_| AuthError::InvalidToken("org is not a uuid"))?;
    if claims.sub.trim().is_empty() {
        return Err(AuthError::InvalidToken("empty sub"));
    }
    let mut perms: Vec<Permission> = claims
        .permissions
        .iter()
        .flatten()
        .filter_map(|p| Permission::parse(p))
        .collect();
    for role in claims.roles.iter().flatten().filter_map(|r| Role::parse(r)) {
        perms.extend_from_slice(role.permissions());
    }
    Ok(Principal::new(claims.sub, org, &perms))
}

/// Extracts the token from `Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Mints an HS256 token: for the development `token` command and for tests.
pub fn mint_hs256(secret: &str, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes())?,
    )
}

/// Claims for a user of `org` with `role`, valid for `ttl_secs`.
pub fn role_claims(subject: &str, org: Uuid, role: Role, ttl_secs: u64) -> Claims {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    Claims {
        sub: subject.to_owned(),
        org: org.to_string(),
        exp: now + ttl_secs,
        iat: Some(now),
        iss: None,
        aud: None,
        permissions: None,
        roles: Some(vec![role.as_str().to_owned()]),
    }
}

/// The fetchers' service credential, compared in constant time.
#[derive(Clone, Debug)]
pub struct WorkerCredential(Secret);

impl WorkerCredential {
    pub fn new(token: Secret) -> Self {
        WorkerCredential(token)
    }

    /// `WORKER_TOKEN`, or the development token in dev mode (said loudly).
    pub fn from_env(dev_mode: bool) -> Result<Self, ConfigError> {
        match config::optional("WORKER_TOKEN") {
            Some(t) if t.len() < 16 => Err(ConfigError::Invalid {
                name: "WORKER_TOKEN",
                reason: "must be at least 16 characters".into(),
            }),
            Some(t) => Ok(WorkerCredential(Secret::new(t))),
            None if dev_mode => {
                tracing::warn!(
                    "DEV_MODE: no WORKER_TOKEN configured; using the built-in DEVELOPMENT worker token"
                );
                Ok(WorkerCredential(Secret::new(DEV_WORKER_TOKEN)))
            }
            None => Err(ConfigError::Missing("WORKER_TOKEN")),
        }
    }

    pub fn token(&self) -> &Secret {
        &self.0
    }

    pub fn matches(&self, presented: &str) -> bool {
        let a = self.0.expose().as_bytes();
        let b = presented.as_bytes();
        // Constant time over the presented length; lengths may leak, contents do not.
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "unit-test-secret-0123456789";

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(&AuthConfig::hs256(Secret::new(SECRET))).unwrap()
    }

    fn org() -> Uuid {
        Uuid::parse_str("7d3f1c2a-9a56-4d7e-8f43-1b2c3d4e5f60").unwrap()
    }

    #[test]
    fn roles_map_to_permissions() {
        for (role, read, write, manage) in [
            (Role::Viewer, true, false, false),
            (Role::Member, true, true, false),
            (Role::Admin, true, true, true),
        ] {
            let token = mint_hs256(SECRET, &role_claims("u1", org(), role, 60)).unwrap();
            let p = verifier().verify(&token).unwrap();
            assert_eq!(p.organization_id, org());
            assert_eq!(p.has(Permission::PapersRead), read, "{role:?}");
            assert_eq!(p.has(Permission::PapersWrite), write, "{role:?}");
            assert_eq!(p.has(Permission::DeveloperManage), manage, "{role:?}");
        }
    }

    #[test]
    fn explicit_permissions_are_read_and_unknown_ones_ignored() {
        let mut claims = role_claims("u1", org(), Role::Viewer, 60);
        claims.roles = None;
        claims.permissions = Some(vec!["PAPERS_WRITE".into(), "ROOT".into()]);
        let p = verifier()
            .verify(&mint_hs256(SECRET, &claims).unwrap())
            .unwrap();
        assert!(p.has(Permission::PapersWrite));
        assert!(!p.has(Permission::PapersRead));
        assert_eq!(
            p.require(Permission::PapersRead),
            Err(AuthError::Forbidden(Permission::PapersRead))
        );
    }

    #[test]
    fn expired_bad_signature_and_alg_none_are_refused() {
        let mut claims = role_claims("u1", org(), Role::Admin, 60);
        claims.exp = 1_000;
        let expired = mint_hs256(SECRET, &claims).unwrap();
        assert_eq!(verifier().verify(&expired), Err(AuthError::Expired));

        let forged = mint_hs256(
            "another-secret-entirely",
            &role_claims("u1", org(), Role::Admin, 60),
        )
        .unwrap();
        assert_eq!(
            verifier().verify(&forged),
            Err(AuthError::InvalidToken("bad signature"))
        );

        // alg: none with the same claims and an empty signature.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body =
            b64.encode(serde_json::to_vec(&role_claims("u1", org(), Role::Admin, 60)).unwrap());
        assert!(verifier().verify(&format!("{header}.{body}.")).is_err());
    }

    #[test]
    fn missing_exp_and_non_uuid_org_are_refused() {
        use base64::Engine as _;
        let no_exp = serde_json::json!({"sub": "u1", "org": org().to_string(), "roles": ["admin"]});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &no_exp,
            &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(verifier().verify(&token).is_err());
        let _ = base64::engine::general_purpose::STANDARD.encode("x");

        let mut claims = role_claims("u1", org(), Role::Admin, 60);
        claims.org = "acme".into();
        let token = mint_hs256(SECRET, &claims).unwrap();
        assert_eq!(
            verifier().verify(&token),
            Err(AuthError::InvalidToken("org is not a uuid"))
        );
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let mut cfg = AuthConfig::hs256(Secret::new(SECRET));
        cfg.issuer = Some("https://idp.example".into());
        cfg.audience = Some("foundations".into());
        let v = JwtVerifier::new(&cfg).unwrap();
        let mut claims = role_claims("u1", org(), Role::Admin, 60);
        assert!(v.verify(&mint_hs256(SECRET, &claims).unwrap()).is_err());
        claims.iss = Some("https://idp.example".into());
        claims.aud = Some("foundations".into());
        assert!(v.verify(&mint_hs256(SECRET, &claims).unwrap()).is_ok());
        claims.iss = Some("https://other.example".into());
        assert!(v.verify(&mint_hs256(SECRET, &claims).unwrap()).is_err());
        claims.iss = Some("https://idp.example".into());
        claims.aud = Some("someone-else".into());
        assert!(v.verify(&mint_hs256(SECRET, &claims).unwrap()).is_err());
    }

    fn cached(v: &JwtVerifier) -> usize {
        v.0.verified.read().unwrap().len()
    }

    #[test]
    fn a_verified_token_is_answered_from_the_cache_until_exp_plus_leeway() {
        let v = verifier();
        let claims = role_claims("u1", org(), Role::Member, 60);
        let token = mint_hs256(SECRET, &claims).unwrap();
        let first = v.verify(&token).unwrap();
        assert_eq!(cached(&v), 1);
        let last_valid = claims.exp + 30;
        assert_eq!(v.verify_at(&token, last_valid), Ok(first));
        // Decoding again would still accept it (its exp is a minute away on the real
        // clock), so this refusal can only come from the cached expiry.
        assert_eq!(v.verify_at(&token, last_valid + 1), Err(AuthError::Expired));
        assert_eq!(cached(&v), 0, "an expired token leaves the cache");
    }

    #[test]
    fn refused_and_oversized_tokens_are_not_cached() {
        let v = verifier();
        let forged = mint_hs256("another-secret", &role_claims("u1", org(), Role::Admin, 60));
        assert!(v.verify(&forged.unwrap()).is_err());
        let mut claims = role_claims("u1", org(), Role::Admin, 60);
        claims.sub = "u".repeat(VERIFIED_MAX_TOKEN_LEN);
        let long = mint_hs256(SECRET, &claims).unwrap();
        assert!(long.len() > VERIFIED_MAX_TOKEN_LEN);
        assert!(v.verify(&long).is_ok(), "a long token still verifies");
        assert_eq!(cached(&v), 0);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let v = verifier();
        for i in 0..=VERIFIED_CAPACITY {
            let token = mint_hs256(
                SECRET,
                &role_claims(&format!("u{i}"), org(), Role::Viewer, 60),
            );
            v.verify(&token.unwrap()).unwrap();
            assert!(cached(&v) <= VERIFIED_CAPACITY);
        }
        // Full of live tokens, it was emptied and then took the newest one.
        assert_eq!(cached(&v), 1);
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(verifier().verify_header(None), Err(AuthError::MissingToken));
    }

    #[test]
    fn worker_credential_compares_exactly() {
        let w = WorkerCredential::new(Secret::new("worker-token-0123456789"));
        assert!(w.matches("worker-token-0123456789"));
        assert!(!w.matches("worker-token-012345678"));
        assert!(!w.matches("worker-token-0123456780"));
        assert!(!format!("{w:?}").contains("0123456789"));
    }
}
