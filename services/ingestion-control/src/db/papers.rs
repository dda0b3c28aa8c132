//! `papers` and `run_papers`: the batched import and the reads.

use crate::domain::cursor::Cursor;
use crate::domain::records::{AuthorJson, ImportRecord};
use crate::domain::run::timestamp;
use chrono::{DateTime, Utc};
use ingestion_proto::v1;
use platform::Source;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// How a page holds its organisation's import lock (migration 0011, ADR-037).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// With other shared pages: inserts and fill-ins only; a merge refuses the page
    /// (see [`must_import_exclusively`]).
    Shared,
    /// Alone in the organisation: anything, merges included.
    Exclusive,
}

/// Imports one page in one round trip (see `import_papers()` in the migrations).
/// The page travels as one typed array per column, in the binary protocol: PostgreSQL
/// parses only the authors' JSON, not the whole page (migration 0005).
/// Returns (records found, papers new to the organisation).
pub async fn import_page(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    run_id: Uuid,
    source: Source,
    records: &[&ImportRecord],
    mode: ImportMode,
) -> Result<(i64, i64), sqlx::Error> {
    if records.is_empty() {
        return Ok((0, 0));
    }
    fn column<'a, T>(records: &[&'a ImportRecord], f: impl Fn(&'a ImportRecord) -> T) -> Vec<T> {
        records.iter().map(|r| f(r)).collect()
    }
    let (found, imported): (i32, i32) = sqlx::query_as(
        "SELECT found_count, imported_count FROM import_papers(
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(org)
    .bind(run_id)
    .bind(source.as_str())
    .bind(column(records, |r| r.title.as_str()))
    .bind(column(records, |r| r.abstract_text.as_deref()))
    .bind(column(records, |r| sqlx::types::Json(r.authors.as_slice())))
    .bind(column(records, |r| r.publication_date.as_deref()))
    .bind(column(records, |r| r.date_precision))
    .bind(column(records, |r| r.venue.as_deref()))
    .bind(column(records, |r| r.doi.as_deref()))
    .bind(column(records, |r| r.openalex_id.as_deref()))
    .bind(column(records, |r| r.pmid.as_deref()))
    .bind(column(records, |r| r.pmcid.as_deref()))
    .bind(column(records, |r| r.arxiv_id.as_deref()))
    .bind(column(records, |r| r.s2_id.as_deref()))
    .bind(column(records, |r| r.url.as_deref()))
    .bind(column(records, |r| r.citation_count))
    .bind(mode == ImportMode::Shared)
    .fetch_one(&mut **tx)
    .await?;
    Ok((i64::from(found), i64::from(imported)))
}

/// Whether a shared page failed for a reason an exclusive import of the same page
/// does not have: it would merge papers (IMX01, raised by `import_papers()`), a
/// concurrent page inserted one of its papers first (23505 unique_violation), or two
/// pages waited on each other's papers (40P01 deadlock_detected).
pub fn must_import_exclusively(err: &sqlx::Error) -> bool {
    super::sqlstate(err).is_some_and(|code| matches!(code.as_ref(), "IMX01" | "23505" | "40P01"))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaperRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    #[sqlx(rename = "abstract")]
    pub abstract_text: Option<String>,
    pub authors: serde_json::Value,
    pub publication_date: Option<String>,
    pub date_precision: Option<String>,
    pub venue: Option<String>,
    pub doi: Option<String>,
    pub openalex_id: Option<String>,
    pub pmid: Option<String>,
    pub pmcid: Option<String>,
    pub arxiv_id: Option<String>,
    pub s2_id: Option<String>,
    pub url: Option<String>,
    pub citation_count: Option<i64>,
    pub sources: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PaperRow {
    pub fn to_proto(&self) -> v1::Paper {
        let authors: Vec<AuthorJson> =
            serde_json::from_value(self.authors.clone()).unwrap_or_default();
        let precision = match self.date_precision.as_deref() {
            Some("year") => v1::DatePrecision::Year,
            Some("month") => v1::DatePrecision::Month,
            Some("day") => v1::DatePrecision::Day,
            Some("text") => v1::DatePrecision::Text,
            _ => v1::DatePrecision::Unspecified,
        };
        v1::Paper {
            id: self.id.to_string(),
            organization_id: self.organization_id.to_string(),
            title: self.title.clone(),
            abstract_text: self.abstract_text.clone(),
            authors: authors
                .into_iter()
                .map(|a| v1::Author {
                    name: a.name,
                    orcid: a.orcid,
                    affiliations: a.affiliations,
                })
                .collect(),
            publication_date: self.publication_date.clone(),
            date_precision: precision as i32,
            venue: self.venue.clone(),
            doi: self.doi.clone(),
            external_ids: Some(v1::ExternalIds {
                openalex: self.openalex_id.clone(),
                pmid: self.pmid.clone(),
                pmcid: self.pmcid.clone(),
                arxiv: self.arxiv_id.clone(),
                s2: self.s2_id.clone(),
            }),
            url: self.url.clone(),
            citation_count: self.citation_count.map(|c| c.max(0) as u64),
            sources: self
                .sources
                .iter()
                .filter_map(|s| s.parse::<Source>().ok())
                .map(|s| s.to_proto() as i32)
                .collect(),
            created_at: Some(timestamp(self.created_at)),
            updated_at: Some(timestamp(self.updated_at)),
        }
    }
}

pub struct PaperFilter {
    pub run_id: Option<Uuid>,
    pub source: Option<Source>,
    pub doi: Option<String>,
    pub title_search: Option<String>,
    pub after: Option<Cursor>,
    pub limit: i64,
}

/// Newest first, keyset-paginated on (created_at, id); one extra row tells if there is more.
pub async fn list(pool: &PgPool, org: Uuid, f: &PaperFilter) -> Result<Vec<PaperRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.* FROM papers p
          WHERE p.organization_id = $1
            -- Names the predicate of papers_org_listing, the index for this order (0004).
            AND p.created_at IS NOT NULL
            AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM run_papers rp WHERE rp.paper_id = p.id AND rp.run_id = $2))
            AND ($3::text IS NULL OR $3 = ANY (p.sources))
            AND ($4::text IS NULL OR p.doi = $4)
            -- Every word of the search begins a word of the title (ADR-026). The words
            -- are PostgreSQL's own parse of the input, each quoted as a prefix: no input
            -- is read as tsquery syntax, and one without words finds nothing.
            AND ($5::text IS NULL OR to_tsvector('simple', p.title) @@ (
                SELECT to_tsquery('simple', string_agg(
                           '''' || replace(replace(lexeme, '\\', '\\\\'), '''', '''''') || ''':*', ' & '))
                  FROM unnest(to_tsvector('simple', $5))))
            AND ($6::timestamptz IS NULL OR (p.created_at, p.id) < ($6, $7))
          ORDER BY p.created_at DESC, p.id DESC
          LIMIT $8",
    )
    .bind(org)
    .bind(f.run_id)
    .bind(f.source.map(Source::as_str))
    .bind(&f.doi)
    .bind(f.title_search.as_deref())
    .bind(f.after.map(|c| c.created_at))
    .bind(f.after.map(|c| c.id))
    .bind(f.limit + 1)
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<PaperRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM papers WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .fetch_optional(pool)
        .await
}

/// Merges the title word index's pending list into the index (ADR-036) and returns
/// how many of its pages that emptied. PostgreSQL runs one merge at a time; a second
/// caller waits for the first.
pub async fn merge_title_index(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT gin_clean_pending_list('papers_title_words'::regclass)")
        .fetch_one(pool)
        .await
}
