-- A paper's long fields are compressed with LZ4 instead of PostgreSQL's default pglz
-- (ADR-033).
--
-- A row over ~2 KB is compressed before it is stored, which most OpenAlex and PubMed
-- papers are (abstracts of 1.6-2.4 KB on average, PubMed's author lists of ~1.1 KB).
-- `perf record -a` during the ingest benchmark put `pglz_compress` at 23 % of
-- PostgreSQL's CPU time for OpenAlex. Inserting the same 20,000 OpenAlex papers (fresh,
-- uncompressed values) took 965-1,022 ms with pglz and 387-413 ms with LZ4, alternated,
-- for 43 against 45 MB on disk.
--
-- LZ4 needs a server built with it (PostgreSQL 14 or later; Debian's, the PGDG
-- packages' and the official images' are). Elsewhere the columns keep pglz and the
-- migration says so rather than fail: the setting is an optimisation, not a contract.
-- It applies to values written from now on; existing values are read as they are.
DO $$
BEGIN
    ALTER TABLE papers
        ALTER COLUMN abstract SET COMPRESSION lz4,
        ALTER COLUMN authors SET COMPRESSION lz4,
        ALTER COLUMN title SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'papers keep pglz compression: %', SQLERRM;
END;
$$;
