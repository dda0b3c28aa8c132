//! `source_pacing`: request slots shared by every fetcher replica of a source.

use platform::Source;
use sqlx::PgPool;

/// Reserves the next slot `spacing_us` after the previous one (or now, if the source
/// has been idle) and returns how many microseconds from now it starts.
pub async fn reserve_slot(
    pool: &PgPool,
    source: Source,
    spacing_us: i64,
) -> Result<i64, sqlx::Error> {
    let (wait_us,): (i64,) = sqlx::query_as(
        "INSERT INTO source_pacing AS p (source, next_slot)
         VALUES ($1, clock_timestamp() + make_interval(secs => $2::bigint / 1e6))
         ON CONFLICT (source) DO UPDATE
            SET next_slot = GREATEST(p.next_slot, clock_timestamp()) + make_interval(secs => $2::bigint / 1e6)
         RETURNING GREATEST(0, (extract(epoch FROM (next_slot - clock_timestamp())) * 1e6)::bigint - $2::bigint)",
    )
    .bind(source.as_str())
    .bind(spacing_us)
    .fetch_one(pool)
    .await?;
    Ok(wait_us)
}
