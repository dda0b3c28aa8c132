//! Extractors that reject with problem documents: JSON bodies, the
//! `Idempotency-Key` header, query strings, and resource ids.

use crate::problem::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

/// A JSON request body: 415 unless `application/json`, 413 over the body limit,
/// 400 when it is not a JSON object, 422 (with `field`) when the object does not
/// fit `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Members of a body type that must be JSON objects when present. serde's derived
/// structs would also take an array (by position); a typed API should not.
pub trait BodyShape {
    /// The top-level members that must be objects (or null).
    const OBJECT_MEMBERS: &'static [&'static str] = &[];
}

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned + BodyShape,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(crate::config::BODY_LIMIT_BYTES, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::BadRequest {
                    field: None,
                    detail: "the request body could not be read".into(),
                }
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The configured body limit, placed in request extensions so rejections can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses `bytes` as `T`, naming the offending JSON path on a content error.
pub fn parse_json<T: DeserializeOwned + BodyShape>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        field: None,
        detail: format!("malformed JSON: {e}"),
    })?;
    let Value::Object(members) = &value else {
        return Err(ApiError::BadRequest {
            field: None,
            detail: "the request body must be a JSON object".into(),
        });
    };
    for name in T::OBJECT_MEMBERS {
        if members
            .get(*name)
            .is_some_and(|v| !(v.is_object() || v.is_null()))
        {
            return Err(ApiError::validation(*name, "must be an object"));
        }
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        match field_of(&path, &message) {
            Some(field) => ApiError::validation(field, message),
            None => ApiError::Validation {
                field: None,
                detail: message,
            },
        }
    })
}

/// The member a content error is about. serde reports a missing member at its
/// parent, so that one is appended; other errors' paths already name the member.
fn field_of(path: &str, message: &str) -> Option<String> {
    let parent = (path != ".").then_some(path);
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        (Some(p), Some(m)) => Some(format!("{p}.{m}")),
        (None, Some(m)) => Some(m.to_owned()),
        (Some(p), None) => Some(p.to_owned()),
        (None, None) => None,
    }
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters, else 400.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

/// The header name, as documented.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyKey(None));
        };
        let invalid = || {
            ApiError::bad_request(
                IDEMPOTENCY_KEY,
                "must be given once, as 1 to 255 visible ASCII characters",
            )
        };
        if values.next().is_some() {
            return Err(invalid());
        }
        let bytes = value.as_bytes();
        if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(u8::is_ascii_graphic) {
            return Err(invalid());
        }
        let key = value.to_str().map_err(|_| invalid())?;
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// A query string decoded into `T`; 400 when it does not decode.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::BadRequest {
                field: None,
                detail: e.body_text(),
            })
    }
}

/// A resource id from the path; anything but a UUID is an unknown resource (404),
/// the same answer as for a well-formed id that does not exist.
pub fn resource_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound(format!("{what} not found")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        from_date: Option<String>,
        categories: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        query: String,
        max_results: Option<u32>,
        filters: Option<Inner>,
    }

    impl BodyShape for Body {
        const OBJECT_MEMBERS: &'static [&'static str] = &["filters"];
    }

    fn field(body: &str) -> (u16, Option<String>) {
        let err = parse_json::<Body>(body.as_bytes()).expect_err("should be refused");
        let p = err.to_problem();
        (p.status, p.field)
    }

    #[test]
    fn body_errors_name_the_json_path() {
        assert_eq!(field(r#"{"max_results": 1}"#), (422, Some("query".into())));
        assert_eq!(
            field(r#"{"query": "q", "nope": 1}"#),
            (422, Some("nope".into()))
        );
        assert_eq!(
            field(r#"{"query": "q", "filters": {"nope": 1}}"#),
            (422, Some("filters.nope".into()))
        );
        assert_eq!(
            field(r#"{"query": "q", "filters": {"from_date": 5}}"#),
            (422, Some("filters.from_date".into()))
        );
        assert_eq!(
            field(r#"{"query": "q", "max_results": -1}"#),
            (422, Some("max_results".into()))
        );
        assert_eq!(
            field(r#"{"query": "q", "filters": {"categories": ["a", 1]}}"#),
            (422, Some("filters.categories[1]".into()))
        );
    }

    #[test]
    fn malformed_json_and_non_objects_are_400() {
        assert_eq!(field(r#"{"query": "#), (400, None));
        assert_eq!(field(""), (400, None));
        assert_eq!(field(r#"{"query": "q"} trailing"#), (400, None));
        assert_eq!(field("[1, 2]"), (400, None));
        assert_eq!(
            field(r#"{"query": "q", "filters": ["2024-01-01"]}"#),
            (422, Some("filters".into()))
        );
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
