-- import_papers() takes a page as one typed array per column instead of one jsonb
-- document, the title search index indexes words instead of trigrams, papers leave
-- room in their heap pages for fill-ins, and new papers get time-ordered ids.
--
-- Each was measured on pages of 1,000 realistic papers (BENCHMARKS.md, "Import").
-- PostgreSQL parsed the 1.4 MB jsonb parameter text for 8-27 ms before the function
-- started; arrays arrive in the binary protocol, and only the authors (a small jsonb
-- per record) are parsed. A trigram GIN index takes ~85 entries per title, most in
-- posting trees shared by most titles, and cost a fifth of the pages' import time; a
-- word index takes 11-18 (ADR-026).
--
-- Matching, folding and merging give the results of 0004; two parts cost less: records
-- come from arrays, and only records that repeat another's keys go through the ordered
-- aggregates of the fold (one window over the page finds them).

-- A paper is rewritten whenever another source fills it in (or a citation count moves).
-- With room left in each heap page such a rewrite is usually a heap-only update: no new
-- entry in any of the paper's indexes. 15 % room made two thirds of the benchmark's
-- fill-ins heap-only and a page of 1,000 ~4 ms faster; it applies to pages written from
-- now on.
ALTER TABLE papers SET (fillfactor = 85);

-- Paper ids are time-ordered (UUID version 7, as run ids are): a new paper's id lands
-- at the right edge of the primary key and of the run links' indexes instead of at a
-- random leaf (a page of 1,000 ~2-3 ms faster, growing with the table). PostgreSQL 15
-- has no built-in; this is the RFC 9562 layout: 48 bits of Unix milliseconds, the
-- version and variant bits, the rest random.
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
               PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
               FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

DROP INDEX papers_title_trgm;
CREATE INDEX papers_title_words ON papers USING gin (to_tsvector('simple', title));

DROP FUNCTION import_papers(uuid, uuid, text, jsonb);

CREATE FUNCTION import_papers(
    p_org uuid, p_run uuid, p_source text,
    p_title text[], p_abstract text[], p_authors jsonb[], p_publication_date text[],
    p_date_precision text[], p_venue text[], p_doi text[], p_openalex_id text[],
    p_pmid text[], p_pmcid text[], p_arxiv_id text[], p_s2_id text[], p_url text[],
    p_citation_count bigint[],
    OUT found_count integer, OUT imported_count integer)
LANGUAGE plpgsql AS $$
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
               (array_agg(abstract ORDER BY length(COALESCE(abstract, '')) DESC, n))[1],
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
        SELECT r.n, count(*) OVER (PARTITION BY x.k, x.v) AS uses
        FROM recs r, LATERAL (VALUES (1, r.doi), (2, r.openalex_id), (3, r.pmid),
                                     (4, r.pmcid), (5, r.arxiv_id), (6, r.s2_id)) AS x(k, v)
        WHERE x.v IS NOT NULL
    ), shared AS (
        SELECT DISTINCT n FROM keyed WHERE uses > 1
    ), hits AS (
        -- One probe of each key's unique index per record. OFFSET 0 keeps each lookup
        -- a parameterised index scan: as a plain join the planner may read all of the
        -- organisation's papers once per key, and LIMIT 1 would invite it to walk
        -- papers_org_created hoping for an early match (none, for a new work).
        SELECT r.n, m.id, m.created_at
        FROM recs r
        CROSS JOIN LATERAL (
            (SELECT id, created_at FROM papers
              WHERE r.doi IS NOT NULL AND organization_id = p_org AND doi = r.doi OFFSET 0)
            UNION
            (SELECT id, created_at FROM papers
              WHERE r.openalex_id IS NOT NULL AND organization_id = p_org AND openalex_id = r.openalex_id OFFSET 0)
            UNION
            (SELECT id, created_at FROM papers
              WHERE r.pmid IS NOT NULL AND organization_id = p_org AND pmid = r.pmid OFFSET 0)
            UNION
            (SELECT id, created_at FROM papers
              WHERE r.pmcid IS NOT NULL AND organization_id = p_org AND pmcid = r.pmcid OFFSET 0)
            UNION
            (SELECT id, created_at FROM papers
              WHERE r.arxiv_id IS NOT NULL AND organization_id = p_org AND arxiv_id = r.arxiv_id OFFSET 0)
            UNION
            (SELECT id, created_at FROM papers
              WHERE r.s2_id IS NOT NULL AND organization_id = p_org AND s2_id = r.s2_id OFFSET 0)
        ) m
    ), matched AS MATERIALIZED (
        SELECT r.*, h.ids
        FROM recs r
        LEFT JOIN (SELECT n, array_agg(id ORDER BY created_at, id) AS ids FROM hits GROUP BY n) h
          ON h.n = r.n
    ), contested AS (
        SELECT id FROM matched, unnest(ids) AS id GROUP BY id HAVING count(*) > 1
    ), fast AS MATERIALIZED (
        SELECT * FROM matched
        WHERE n NOT IN (SELECT n FROM shared)
          AND (ids IS NULL OR (cardinality(ids) = 1 AND ids[1] NOT IN (SELECT id FROM contested)))
    ), fresh AS (
        INSERT INTO papers (id, organization_id, title, abstract, authors, publication_date,
                            date_precision, venue, doi, openalex_id, pmid, pmcid, arxiv_id,
                            s2_id, url, citation_count, sources)
        SELECT uuid_v7(), p_org, f.title, f.abstract, COALESCE(f.authors, '[]'::jsonb),
               f.publication_date, f.date_precision, f.venue, f.doi, f.openalex_id, f.pmid,
               f.pmcid, f.arxiv_id, f.s2_id, f.url, f.citation_count, ARRAY[p_source]
        FROM fast f WHERE f.ids IS NULL
        RETURNING id
    ), proposed AS (
        -- The known paper after filling in from the record: never a richer value
        -- replaced by an empty one.
        SELECT p.id,
            CASE WHEN p.title = '' THEN f.title ELSE p.title END AS title,
            CASE WHEN length(COALESCE(f.abstract, '')) > length(COALESCE(p.abstract, ''))
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
        FROM fast f JOIN papers p ON p.id = f.ids[1]
        WHERE cardinality(f.ids) = 1
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
        INSERT INTO run_papers (run_id, paper_id, imported)
        SELECT p_run, id, true FROM fresh
        UNION ALL
        SELECT p_run, ids[1], false FROM fast WHERE cardinality(ids) = 1
        ON CONFLICT (run_id, paper_id) DO UPDATE SET imported = run_papers.imported OR EXCLUDED.imported
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
                abstract = CASE WHEN length(COALESCE(rec.abstract, '')) > length(COALESCE(p.abstract, ''))
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
$$;
