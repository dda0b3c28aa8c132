//! Opaque keyset cursors for newest-first lists: `(created_at, id)` of the last
//! item, base64url-encoded with a version tag. Anything else is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

impl Cursor {
    pub fn encode(&self) -> String {
        let micros = self.created_at.timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("v1:{micros}:{}", self.id))
    }

    pub fn decode(raw: &str) -> Result<Cursor, InvalidCursor> {
        if raw.len() > 128 {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| InvalidCursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| InvalidCursor)?;
        let mut parts = text.splitn(3, ':');
        let (Some("v1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidCursor);
        };
        let micros: i64 = micros.parse().map_err(|_| InvalidCursor)?;
        Ok(Cursor {
            created_at: DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?,
            id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
        })
    }
}

/// `limit` 1..=200, 0 meaning the default of 50.
pub fn page_limit(limit: u32) -> Result<i64, &'static str> {
    match limit {
        0 => Ok(50),
        1..=200 => Ok(i64::from(limit)),
        _ => Err("must be between 1 and 200"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_732_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for forged in [
            "",
            "abc",
            "djE6eHg6eXk",
            &"A".repeat(500),
            "v1:1:not-a-uuid",
        ] {
            assert!(Cursor::decode(forged).is_err(), "{forged}");
        }
    }

    #[test]
    fn limits_default_to_50_and_cap_at_200() {
        assert_eq!(page_limit(0), Ok(50));
        assert_eq!(page_limit(200), Ok(200));
        assert!(page_limit(201).is_err());
    }
}
