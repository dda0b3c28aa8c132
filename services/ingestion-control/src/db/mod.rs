//! The repositories: every SQL statement of the service lives here.

pub mod batched;
pub mod pacing;
pub mod papers;
pub mod runs;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// How long a pooled connection may sit idle before it is pinged as it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(500);

/// A lazily connecting pool, so the service starts (and reports not-ready) while
/// PostgreSQL is down, and reconnects by itself after a restart.
///
/// sqlx pings every connection as it goes back to the pool and closes it if that
/// fails; pinging it again as it is handed out (`test_before_acquire`) cost every
/// statement a second round trip, a quarter of the read floor's rate (BENCHMARKS.md,
/// "Read runs"). Only a connection idle long enough for a server restart to have
/// passed unseen is pinged before use; a failed ping closes it and another is used.
pub fn pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    use sqlx::Connection as _;
    let options = PgConnectOptions::from_str(url)?.application_name("ingestion-control");
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// True for errors that mean "the database is unreachable right now", which callers
/// may retry: no connection (I/O, pool), or a server that is shutting down, restarting
/// or dropped the connection (see [`is_unavailable_sqlstate`]).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        _ => sqlstate(err).is_some_and(|code| is_unavailable_sqlstate(&code)),
    }
}

/// The SQLSTATE of an error the server returned.
pub fn sqlstate(err: &sqlx::Error) -> Option<std::borrow::Cow<'_, str>> {
    match err {
        sqlx::Error::Database(db) => db.code(),
        _ => None,
    }
}

/// Whether the statement lost a race with another transaction (40001
/// serialization_failure, 40P01 deadlock_detected): the same call again may pass.
pub fn is_conflict(err: &sqlx::Error) -> bool {
    sqlstate(err).is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01"))
}

/// SQLSTATEs of a server going away rather than of a bad statement: class 08
/// (connection exception) and the operator interventions of a shutdown or restart,
/// 57P01 admin_shutdown, 57P02 crash_shutdown and 57P03 cannot_connect_now. A
/// statement cut off by a restart fails with 57P01 before the socket closes.
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A server error with only a SQLSTATE, as the PostgreSQL driver reports it.
    #[derive(Debug)]
    struct ServerError(&'static str);

    impl std::fmt::Display for ServerError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "server error {}", self.0)
        }
    }

    impl std::error::Error for ServerError {}

    impl sqlx::error::DatabaseError for ServerError {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn server_error(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(ServerError(code)))
    }

    #[test]
    fn a_server_shutting_down_or_a_broken_connection_is_unavailable() {
        for code in [
            "57P01", "57P02", "57P03", "08000", "08003", "08006", "08P01",
        ] {
            assert!(is_unavailable(&server_error(code)), "{code}");
        }
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unavailable(&sqlx::Error::Io(reset)));
    }

    #[test]
    fn a_statement_the_server_rejects_is_not_unavailable() {
        // unique_violation, query_canceled, database_dropped, serialization_failure.
        for code in ["23505", "57014", "57P04", "40001"] {
            assert!(!is_unavailable(&server_error(code)), "{code}");
        }
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
    }
}
