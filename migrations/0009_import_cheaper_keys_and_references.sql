-- A page costs PostgreSQL less in three ways, each measured on the import benchmark's
-- stream (100 pages of 1,000 papers, half of them repeats) replayed through
-- import_papers() in psql, the variants alternated (BENCHMARKS.md, "Import"; ADR-034):
--
-- 1. The six key columns compare as bytes (COLLATE "C"). They hold identifiers, never
--    text to sort for a reader, and every probe and insert into their unique indexes
--    compared them with the database's locale (strcoll) instead of memcmp.
-- 2. run_papers' two foreign keys become one check per statement. Each foreign key ran
--    one query per inserted link (about a thousand queries a page); the statement
--    trigger locks the same rows (FOR KEY SHARE) in one query per table and refuses a
--    missing run or paper with the foreign keys' SQLSTATE (23503) and names. Deleting a
--    run or a paper removes its links, as ON DELETE CASCADE did.
-- 3. import_papers() probes a record's keys one after another and skips a key whose
--    value the paper already found carries, and links a known paper with
--    ON CONFLICT DO NOTHING (the link it has already says whether this run imported it).
--    Abstracts are compared by their length in bytes (octet_length), which needs no
--    walk through the characters.

ALTER TABLE papers
    ALTER COLUMN doi TYPE text COLLATE "C",
    ALTER COLUMN openalex_id TYPE text COLLATE "C",
    ALTER COLUMN pmid TYPE text COLLATE "C",
    ALTER COLUMN pmcid TYPE text COLLATE "C",
    ALTER COLUMN arxiv_id TYPE text COLLATE "C",
    ALTER COLUMN s2_id TYPE text COLLATE "C";
-- lower() folds case by the collation of its argument: under "C" it would fold ASCII
-- only, so the check keeps folding with the database's own.
ALTER TABLE papers DROP CONSTRAINT papers_doi_check;
ALTER TABLE papers ADD CONSTRAINT papers_doi_check
    CHECK (doi = lower(doi COLLATE "default") AND doi LIKE '10.%');

ALTER TABLE run_papers
    DROP CONSTRAINT run_papers_run_id_fkey,
    DROP CONSTRAINT run_papers_paper_id_fkey;

CREATE FUNCTION run_papers_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    runs   uuid[] := ARRAY(SELECT DISTINCT run_id FROM added);
    found  uuid[] := ARRAY(SELECT DISTINCT paper_id FROM added);
    absent uuid;
BEGIN
    -- `= ANY (array)`: an index probe per key. A join against the transition table,
    -- which has no statistics, may be planned as a scan of all papers.
    IF (SELECT count(*) FROM (SELECT 1 FROM ingest_runs WHERE id = ANY (runs) FOR KEY SHARE) r)
       < cardinality(runs) THEN
        SELECT r INTO absent FROM unnest(runs) r
         WHERE NOT EXISTS (SELECT 1 FROM ingest_runs WHERE id = r) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "run_papers" violates foreign key constraint "run_papers_run_id_fkey"'
            USING ERRCODE = '23503', CONSTRAINT = 'run_papers_run_id_fkey', TABLE = 'run_papers',
                  DETAIL = format('Key (run_id)=(%s) is not present in table "ingest_runs".', absent);
    END IF;
    IF (SELECT count(*) FROM (SELECT 1 FROM papers WHERE id = ANY (found) FOR KEY SHARE) p)
       < cardinality(found) THEN
        SELECT p INTO absent FROM unnest(found) p
         WHERE NOT EXISTS (SELECT 1 FROM papers WHERE id = p) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "run_papers" violates foreign key constraint "run_papers_paper_id_fkey"'
            USING ERRCODE = '23503', CONSTRAINT = 'run_papers_paper_id_fkey', TABLE = 'run_papers',
                  DETAIL = format('Key (paper_id)=(%s) is not present in table "papers".', absent);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER run_papers_check_references
    AFTER INSERT ON run_papers REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION run_papers_check_references();

-- A link is never re-pointed (ON CONFLICT updates only `imported`), and a run's or a
-- paper's id never changes: refusing those updates keeps the insert check sufficient.
CREATE FUNCTION refuse_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the key of a row of % does not change', TG_TABLE_NAME
        USING ERRCODE = '23000', TABLE = TG_TABLE_NAME;
END
$$;
CREATE TRIGGER run_papers_keys_fixed BEFORE UPDATE OF run_id, paper_id ON run_papers
    FOR EACH ROW WHEN (OLD.run_id IS DISTINCT FROM NEW.run_id OR OLD.paper_id IS DISTINCT FROM NEW.paper_id)
    EXECUTE FUNCTION refuse_key_change();
CREATE TRIGGER papers_id_fixed BEFORE UPDATE OF id ON papers
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_key_change();
CREATE TRIGGER ingest_runs_id_fixed BEFORE UPDATE OF id ON ingest_runs
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_key_change();

CREATE FUNCTION run_papers_cascade_paper_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM run_papers WHERE paper_id = ANY (ARRAY(SELECT id FROM removed));
    RETURN NULL;
END
$$;
CREATE TRIGGER papers_cascade_to_run_papers
    AFTER DELETE ON papers REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION run_papers_cascade_paper_delete();

CREATE FUNCTION run_papers_cascade_run_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM run_papers WHERE run_id = ANY (ARRAY(SELECT id FROM removed));
    RETURN NULL;
END
$$;
CREATE TRIGGER ingest_runs_cascade_to_run_papers
    AFTER DELETE ON ingest_runs REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION run_papers_cascade_run_delete();

-- The keys of a paper a probe found (import_papers(), `matched`).
CREATE TYPE paper_keys AS (
    id uuid, openalex_id text, pmid text, pmcid text, arxiv_id text, s2_id text);

CREATE OR REPLACE FUNCTION import_papers(p_org uuid, p_run uuid, p_source text, p_title text[], p_abstract text[], p_authors jsonb[], p_publication_date text[], p_date_precision text[], p_venue text[], p_doi text[], p_openalex_id text[], p_pmid text[], p_pmcid text[], p_arxiv_id text[], p_s2_id text[], p_url text[], p_citation_count bigint[], OUT found_count integer, OUT imported_count integer)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
DECLARE
    rec       record;
    matches   uuid[];
    keeper    uuid;
    other     papers%ROWTYPE;
    is_new    boolean;
    slow      bigint[];
    fast_new  integer;
BEGIN
    found_count := coalesce(cardinality(p_title), 0);
    imported_count := 0;
    -- unnest() of several arrays pads the shorter ones with NULLs: a page whose columns
    -- disagree in length is refused rather than imported with fields shifted between
    -- records.
    IF EXISTS (SELECT 1 FROM unnest(ARRAY[
                   cardinality(p_abstract), cardinality(p_authors), cardinality(p_publication_date),
                   cardinality(p_date_precision), cardinality(p_venue), cardinality(p_doi),
                   cardinality(p_openalex_id), cardinality(p_pmid), cardinality(p_pmcid),
                   cardinality(p_arxiv_id), cardinality(p_s2_id), cardinality(p_url),
                   cardinality(p_citation_count)]) AS c
               WHERE c IS DISTINCT FROM found_count) THEN
        RAISE EXCEPTION 'import_papers: the record arrays differ in length' USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('import_papers:' || p_org::text, 0));

    WITH parsed AS MATERIALIZED (
        SELECT r.*,
               count(*) OVER (PARTITION BY doi, openalex_id, pmid, pmcid, arxiv_id, s2_id,
                   CASE WHEN num_nonnulls(doi, openalex_id, pmid, pmcid, arxiv_id, s2_id) = 0
                        THEN n END) AS copies
        FROM unnest(p_title, p_abstract, p_authors, p_publication_date, p_date_precision,
                    p_venue, p_doi, p_openalex_id, p_pmid, p_pmcid, p_arxiv_id, p_s2_id,
                    p_url, p_citation_count)
            WITH ORDINALITY AS r(title, abstract, authors, publication_date, date_precision,
                                 venue, doi, openalex_id, pmid, pmcid, arxiv_id, s2_id, url,
                                 citation_count, n)
    ), recs AS MATERIALIZED (
        -- Records of one page with exactly the same keys (`copies` > 1; never a record
        -- without any key) are one work seen twice: they are folded into one record the
        -- way importing them one after another would fill in a paper (first non-empty
        -- title, venue and url; longest abstract and author list; the most precise date;
        -- the highest citation count). `members` are the page positions folded. Only
        -- those few pay for the ordered aggregates.
        SELECT n, ARRAY[n] AS members, title, abstract, authors, publication_date,
               date_precision, venue, doi, openalex_id, pmid, pmcid, arxiv_id, s2_id, url,
               citation_count
        FROM parsed WHERE copies = 1
        UNION ALL
        SELECT min(n), array_agg(n ORDER BY n),
               (array_agg(title ORDER BY title = '', n))[1],
               (array_agg(abstract ORDER BY octet_length(COALESCE(abstract, '')) DESC, n))[1],
               (array_agg(authors ORDER BY jsonb_array_length(COALESCE(authors, '[]'::jsonb)) DESC, n))[1],
               (array_agg(publication_date ORDER BY publication_date IS NULL,
                    CASE date_precision WHEN 'day' THEN 0 WHEN 'month' THEN 1 ELSE 2 END, n))[1],
               (array_agg(date_precision ORDER BY publication_date IS NULL,
                    CASE date_precision WHEN 'day' THEN 0 WHEN 'month' THEN 1 ELSE 2 END, n))[1],
               (array_agg(venue ORDER BY COALESCE(venue, '') = '', n))[1],
               doi, openalex_id, pmid, pmcid, arxiv_id, s2_id,
               (array_agg(url ORDER BY url IS NULL, n))[1],
               max(citation_count)
        FROM parsed WHERE copies > 1
        GROUP BY doi, openalex_id, pmid, pmcid, arxiv_id, s2_id
    ), keyed AS (
        SELECT r.n, x.k, x.v
        FROM recs r, LATERAL (VALUES (1, r.doi), (2, r.openalex_id), (3, r.pmid),
                                     (4, r.pmcid), (5, r.arxiv_id), (6, r.s2_id)) AS x(k, v)
        WHERE x.v IS NOT NULL
    ), shared AS (
        SELECT DISTINCT n FROM keyed
        WHERE (k, v) IN (SELECT k, v FROM keyed GROUP BY k, v HAVING count(*) > 1)
    ), matched AS MATERIALIZED (
        -- The papers each record's keys name: one probe of a unique index per key, in a
        -- fixed order of keys. A key whose value a paper already found carries is not
        -- probed: the unique indexes allow no other paper with it. A re-delivered work
        -- with three ids costs one probe instead of three, and the papers one record
        -- finds are distinct by construction.
        --
        -- Each probe is a scalar subquery in a one-row lateral (OFFSET 0 keeps it
        -- evaluated once, where it stands). The planner counts it as one row. As a
        -- join, each probe counted as several rows (its unique indexes are partial),
        -- six of them multiplied to estimates of millions of rows per page, and the
        -- plan joined the known papers by reading the whole table (20,000 papers/s
        -- fell to 2,000-4,000 in the benchmark once statistics were gathered).
        SELECT r.*, (d.k).id AS by_doi, (o.k).id AS by_openalex, (pm.k).id AS by_pmid,
               (pc.k).id AS by_pmcid, (ax.k).id AS by_arxiv, (s2.k).id AS by_s2
        FROM recs r
        CROSS JOIN LATERAL (SELECT CASE WHEN r.doi IS NOT NULL THEN (
                SELECT (id, openalex_id, pmid, pmcid, arxiv_id, s2_id)::paper_keys FROM papers
                 WHERE organization_id = p_org AND doi = r.doi) END AS k OFFSET 0) d
        CROSS JOIN LATERAL (SELECT CASE WHEN r.openalex_id IS NOT NULL
                AND (d.k).openalex_id IS DISTINCT FROM r.openalex_id THEN (
                SELECT (id, openalex_id, pmid, pmcid, arxiv_id, s2_id)::paper_keys FROM papers
                 WHERE organization_id = p_org AND openalex_id = r.openalex_id) END AS k OFFSET 0) o
        CROSS JOIN LATERAL (SELECT CASE WHEN r.pmid IS NOT NULL
                AND (d.k).pmid IS DISTINCT FROM r.pmid AND (o.k).pmid IS DISTINCT FROM r.pmid THEN (
                SELECT (id, openalex_id, pmid, pmcid, arxiv_id, s2_id)::paper_keys FROM papers
                 WHERE organization_id = p_org AND pmid = r.pmid) END AS k OFFSET 0) pm
        CROSS JOIN LATERAL (SELECT CASE WHEN r.pmcid IS NOT NULL
                AND (d.k).pmcid IS DISTINCT FROM r.pmcid AND (o.k).pmcid IS DISTINCT FROM r.pmcid
                AND (pm.k).pmcid IS DISTINCT FROM r.pmcid THEN (
                SELECT (id, openalex_id, pmid, pmcid, arxiv_id, s2_id)::paper_keys FROM papers
                 WHERE organization_id = p_org AND pmcid = r.pmcid) END AS k OFFSET 0) pc
        CROSS JOIN LATERAL (SELECT CASE WHEN r.arxiv_id IS NOT NULL
                AND (d.k).arxiv_id IS DISTINCT FROM r.arxiv_id AND (o.k).arxiv_id IS DISTINCT FROM r.arxiv_id
                AND (pm.k).arxiv_id IS DISTINCT FROM r.arxiv_id AND (pc.k).arxiv_id IS DISTINCT FROM r.arxiv_id THEN (
                SELECT (id, openalex_id, pmid, pmcid, arxiv_id, s2_id)::paper_keys FROM papers
                 WHERE organization_id = p_org AND arxiv_id = r.arxiv_id) END AS k OFFSET 0) ax
        CROSS JOIN LATERAL (SELECT CASE WHEN r.s2_id IS NOT NULL
                AND (d.k).s2_id IS DISTINCT FROM r.s2_id AND (o.k).s2_id IS DISTINCT FROM r.s2_id
                AND (pm.k).s2_id IS DISTINCT FROM r.s2_id AND (pc.k).s2_id IS DISTINCT FROM r.s2_id
                AND (ax.k).s2_id IS DISTINCT FROM r.s2_id THEN (
                SELECT (id, openalex_id, pmid, pmcid, arxiv_id, s2_id)::paper_keys FROM papers
                 WHERE organization_id = p_org AND s2_id = r.s2_id) END AS k OFFSET 0) s2
    ), contested AS (
        -- Papers that more than one record of the page finds.
        SELECT id FROM matched,
            unnest(ARRAY[by_doi, by_openalex, by_pmid, by_pmcid, by_arxiv, by_s2]) AS id
        WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1
    ), fast AS MATERIALIZED (
        -- Records that find at most one paper, which no other record finds.
        SELECT * FROM (
            SELECT m.*, COALESCE(by_doi, by_openalex, by_pmid, by_pmcid, by_arxiv, by_s2) AS paper_id,
                   num_nonnulls(by_doi, by_openalex, by_pmid, by_pmcid, by_arxiv, by_s2) AS finds
            FROM matched m
        ) f
        WHERE n NOT IN (SELECT n FROM shared) AND finds <= 1
          AND (paper_id IS NULL OR paper_id NOT IN (SELECT id FROM contested))
    ), fresh AS (
        INSERT INTO papers (id, organization_id, title, abstract, authors, publication_date,
                            date_precision, venue, doi, openalex_id, pmid, pmcid, arxiv_id,
                            s2_id, url, citation_count, sources)
        SELECT uuid_v7(), p_org, f.title, f.abstract, COALESCE(f.authors, '[]'::jsonb),
               f.publication_date, f.date_precision, f.venue, f.doi, f.openalex_id, f.pmid,
               f.pmcid, f.arxiv_id, f.s2_id, f.url, f.citation_count, ARRAY[p_source]
        FROM fast f WHERE f.paper_id IS NULL
        RETURNING id
    ), proposed AS (
        -- The known paper after filling in from the record: never a richer value
        -- replaced by an empty one.
        SELECT p.id,
            CASE WHEN p.title = '' THEN f.title ELSE p.title END AS title,
            CASE WHEN octet_length(COALESCE(f.abstract, '')) > octet_length(COALESCE(p.abstract, ''))
                 THEN f.abstract ELSE p.abstract END AS abstract,
            CASE WHEN jsonb_array_length(COALESCE(f.authors, '[]'::jsonb)) > jsonb_array_length(p.authors)
                 THEN f.authors ELSE p.authors END AS authors,
            CASE WHEN p.publication_date IS NULL
                   OR (f.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                   OR (f.date_precision = 'month' AND p.date_precision IN ('year', 'text'))
                 THEN COALESCE(f.publication_date, p.publication_date)
                 ELSE p.publication_date END AS publication_date,
            CASE WHEN p.publication_date IS NULL
                   OR (f.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                   OR (f.date_precision = 'month' AND p.date_precision IN ('year', 'text'))
                 THEN COALESCE(f.date_precision, p.date_precision)
                 ELSE p.date_precision END AS date_precision,
            COALESCE(NULLIF(p.venue, ''), f.venue) AS venue,
            COALESCE(p.doi, f.doi) AS doi,
            COALESCE(p.openalex_id, f.openalex_id) AS openalex_id,
            COALESCE(p.pmid, f.pmid) AS pmid,
            COALESCE(p.pmcid, f.pmcid) AS pmcid,
            COALESCE(p.arxiv_id, f.arxiv_id) AS arxiv_id,
            COALESCE(p.s2_id, f.s2_id) AS s2_id,
            COALESCE(p.url, f.url) AS url,
            GREATEST(p.citation_count, f.citation_count) AS citation_count,
            CASE WHEN p_source = ANY (p.sources) THEN p.sources
                 ELSE ARRAY(SELECT DISTINCT s FROM unnest(p.sources || p_source) s ORDER BY s)
            END AS sources
        FROM fast f JOIN papers p ON p.id = f.paper_id
    ), filled AS (
        -- Only papers the record changes are written: a re-delivered work costs a
        -- lookup, not a new row version in every index.
        UPDATE papers p SET
            title = n.title, abstract = n.abstract, authors = n.authors,
            publication_date = n.publication_date, date_precision = n.date_precision,
            venue = n.venue, doi = n.doi, openalex_id = n.openalex_id, pmid = n.pmid,
            pmcid = n.pmcid, arxiv_id = n.arxiv_id, s2_id = n.s2_id, url = n.url,
            citation_count = n.citation_count, sources = n.sources, updated_at = now()
        FROM proposed n
        WHERE p.id = n.id
          AND (p.title, p.abstract, p.authors, p.publication_date, p.date_precision, p.venue,
               p.doi, p.openalex_id, p.pmid, p.pmcid, p.arxiv_id, p.s2_id, p.url,
               p.citation_count, p.sources)
              IS DISTINCT FROM
              (n.title, n.abstract, n.authors, n.publication_date, n.date_precision, n.venue,
               n.doi, n.openalex_id, n.pmid, n.pmcid, n.arxiv_id, n.s2_id, n.url,
               n.citation_count, n.sources)
    ), linked AS (
        -- A known paper this run already links keeps its link as it is.
        INSERT INTO run_papers (run_id, paper_id, imported)
        SELECT p_run, id, true FROM fresh
        UNION ALL
        SELECT p_run, paper_id, false FROM fast WHERE paper_id IS NOT NULL
        ON CONFLICT (run_id, paper_id) DO NOTHING
    )
    SELECT (SELECT count(*) FROM fresh),
           (SELECT array_agg(m ORDER BY m) FROM recs r, unnest(r.members) AS m
             WHERE r.n NOT IN (SELECT n FROM fast))
      INTO fast_new, slow;
    imported_count := fast_new;

    -- The rest, one by one, exactly as before.
    FOR rec IN
        SELECT * FROM unnest(p_title, p_abstract, p_authors, p_publication_date,
                             p_date_precision, p_venue, p_doi, p_openalex_id, p_pmid, p_pmcid,
                             p_arxiv_id, p_s2_id, p_url, p_citation_count)
            WITH ORDINALITY AS r(title, abstract, authors, publication_date, date_precision,
                                 venue, doi, openalex_id, pmid, pmcid, arxiv_id, s2_id, url,
                                 citation_count, n)
        WHERE r.n = ANY (COALESCE(slow, '{}'))
        ORDER BY r.n
    LOOP
        is_new := false;
        -- Per-key equality lookups: the OR form lets the planner pick
        -- papers_org_created (organisation prefix + filter) for a new organisation,
        -- which scans all of the organisation's papers for every record.
        SELECT array_agg(m.id ORDER BY m.created_at, m.id) INTO matches FROM (
            SELECT id, created_at FROM papers WHERE organization_id = p_org AND doi = rec.doi
            UNION SELECT id, created_at FROM papers WHERE organization_id = p_org AND openalex_id = rec.openalex_id
            UNION SELECT id, created_at FROM papers WHERE organization_id = p_org AND pmid = rec.pmid
            UNION SELECT id, created_at FROM papers WHERE organization_id = p_org AND pmcid = rec.pmcid
            UNION SELECT id, created_at FROM papers WHERE organization_id = p_org AND arxiv_id = rec.arxiv_id
            UNION SELECT id, created_at FROM papers WHERE organization_id = p_org AND s2_id = rec.s2_id
        ) m;

        IF matches IS NULL THEN
            keeper := uuid_v7();
            INSERT INTO papers (id, organization_id, title, abstract, authors, publication_date,
                                date_precision, venue, doi, openalex_id, pmid, pmcid, arxiv_id,
                                s2_id, url, citation_count, sources)
            VALUES (keeper, p_org, rec.title, rec.abstract, COALESCE(rec.authors, '[]'::jsonb),
                    rec.publication_date, rec.date_precision, rec.venue, rec.doi, rec.openalex_id,
                    rec.pmid, rec.pmcid, rec.arxiv_id, rec.s2_id, rec.url, rec.citation_count,
                    ARRAY[p_source]);
            is_new := true;
        ELSE
            keeper := matches[1];
            FOR i IN 2 .. coalesce(array_length(matches, 1), 1) LOOP
                INSERT INTO run_papers (run_id, paper_id, imported)
                    SELECT rp.run_id, keeper, rp.imported FROM run_papers rp WHERE rp.paper_id = matches[i]
                    ON CONFLICT (run_id, paper_id) DO UPDATE SET imported = run_papers.imported OR EXCLUDED.imported;
                DELETE FROM papers WHERE id = matches[i] RETURNING * INTO other;
                UPDATE papers p SET
                    abstract = COALESCE(NULLIF(p.abstract, ''), other.abstract),
                    authors = CASE WHEN jsonb_array_length(p.authors) >= jsonb_array_length(other.authors)
                                   THEN p.authors ELSE other.authors END,
                    publication_date = COALESCE(p.publication_date, other.publication_date),
                    date_precision = COALESCE(p.date_precision, other.date_precision),
                    venue = COALESCE(NULLIF(p.venue, ''), other.venue),
                    doi = COALESCE(p.doi, other.doi),
                    openalex_id = COALESCE(p.openalex_id, other.openalex_id),
                    pmid = COALESCE(p.pmid, other.pmid),
                    pmcid = COALESCE(p.pmcid, other.pmcid),
                    arxiv_id = COALESCE(p.arxiv_id, other.arxiv_id),
                    s2_id = COALESCE(p.s2_id, other.s2_id),
                    url = COALESCE(p.url, other.url),
                    citation_count = GREATEST(p.citation_count, other.citation_count),
                    sources = ARRAY(SELECT DISTINCT s FROM unnest(p.sources || other.sources) s ORDER BY s),
                    created_at = LEAST(p.created_at, other.created_at)
                WHERE p.id = keeper;
            END LOOP;

            UPDATE papers p SET
                title = CASE WHEN p.title = '' THEN rec.title ELSE p.title END,
                abstract = CASE WHEN octet_length(COALESCE(rec.abstract, '')) > octet_length(COALESCE(p.abstract, ''))
                                THEN rec.abstract ELSE p.abstract END,
                authors = CASE WHEN jsonb_array_length(COALESCE(rec.authors, '[]'::jsonb)) > jsonb_array_length(p.authors)
                               THEN rec.authors ELSE p.authors END,
                publication_date = CASE
                    WHEN p.publication_date IS NULL
                      OR (rec.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                      OR (rec.date_precision = 'month' AND p.date_precision IN ('year', 'text'))
                    THEN COALESCE(rec.publication_date, p.publication_date) ELSE p.publication_date END,
                date_precision = CASE
                    WHEN p.publication_date IS NULL
                      OR (rec.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                      OR (rec.date_precision = 'month' AND p.date_precision IN ('year', 'text'))
                    THEN COALESCE(rec.date_precision, p.date_precision) ELSE p.date_precision END,
                venue = COALESCE(NULLIF(p.venue, ''), rec.venue),
                doi = COALESCE(p.doi, rec.doi),
                openalex_id = COALESCE(p.openalex_id, rec.openalex_id),
                pmid = COALESCE(p.pmid, rec.pmid),
                pmcid = COALESCE(p.pmcid, rec.pmcid),
                arxiv_id = COALESCE(p.arxiv_id, rec.arxiv_id),
                s2_id = COALESCE(p.s2_id, rec.s2_id),
                url = COALESCE(p.url, rec.url),
                citation_count = GREATEST(p.citation_count, rec.citation_count),
                sources = CASE WHEN p_source = ANY (p.sources) THEN p.sources
                               ELSE ARRAY(SELECT DISTINCT s FROM unnest(p.sources || p_source) s ORDER BY s) END,
                updated_at = now()
            WHERE p.id = keeper;
        END IF;

        INSERT INTO run_papers (run_id, paper_id, imported)
        VALUES (p_run, keeper, is_new)
        ON CONFLICT (run_id, paper_id) DO UPDATE SET imported = run_papers.imported OR EXCLUDED.imported;
        IF is_new THEN
            imported_count := imported_count + 1;
        END IF;
    END LOOP;
END;
$function$;

-- A page is a short statement that compiling with LLVM never pays back. With the
-- probes first written as joins, the planner's estimate for a page reached hundreds of
-- thousands of rows, past the JIT thresholds, and compiling took 1.6-2.8 s of every page
-- (20,000 papers/s fell to 2,000-4,000). The probes no longer multiply estimates (see
-- `matched`), and JIT stays off so that no other misestimate can bring it back.
ALTER FUNCTION import_papers(uuid, uuid, text, text[], text[], jsonb[], text[], text[], text[],
                             text[], text[], text[], text[], text[], text[], text[], bigint[])
    SET jit = off;
