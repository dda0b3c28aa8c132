-- Pages of one organisation import at the same time (ADR-037).
--
-- import_papers() took the organisation's advisory lock exclusively, so one backend did
-- every page of an organisation while the machine's other core waited; two imports of
-- different organisations at once ran ~1.5 times as many papers a second as one alone
-- on the 2-core benchmark machine. Now a page takes the lock shared (p_shared) when
-- it may only insert papers and fill them in: two such pages are safe together because
--   * a paper two pages both insert is refused by a unique index to the second
--     (23505, after the first commits), which its caller imports again exclusively;
--   * a fill-in is computed from the row the UPDATE locks (see `filled`), so a paper
--     two pages fill in gets both fill-ins;
--   * merging papers (deleting one, moving its links) is only ever done under the
--     exclusive lock: a shared page that would merge raises IMX01 and is imported
--     again exclusively, after every shared page of the organisation has committed.
-- p_shared = false is the old behaviour exactly.

DROP FUNCTION import_papers(uuid, uuid, text, text[], text[], jsonb[], text[], text[], text[],
                            text[], text[], text[], text[], text[], text[], text[], bigint[]);

CREATE FUNCTION import_papers(p_org uuid, p_run uuid, p_source text, p_title text[], p_abstract text[], p_authors jsonb[], p_publication_date text[], p_date_precision text[], p_venue text[], p_doi text[], p_openalex_id text[], p_pmid text[], p_pmcid text[], p_arxiv_id text[], p_s2_id text[], p_url text[], p_citation_count bigint[], p_shared boolean, OUT found_count integer, OUT imported_count integer)
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
    -- Pages that can only insert papers and fill them in hold the organisation's lock
    -- shared and import at the same time; a page that must merge two papers holds it
    -- alone (ADR-037). A shared page that finds it must merge raises IMX01
    -- and its caller imports it again, exclusively.
    IF p_shared THEN
        PERFORM pg_advisory_xact_lock_shared(hashtextextended('import_papers:' || p_org::text, 0));
    ELSE
        PERFORM pg_advisory_xact_lock(hashtextextended('import_papers:' || p_org::text, 0));
    END IF;

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
    ), filled AS (
        -- The known paper filled in from the record, never a richer value replaced by
        -- an empty one. Every value is computed from the row the UPDATE locks (`p`),
        -- not from the statement's snapshot: when a concurrent page changed the paper
        -- first, PostgreSQL re-reads its newest version and evaluates these expressions
        -- and the condition again on it, so neither page's fill-in is lost. Only papers
        -- the record changes are written: a re-delivered work costs a lookup, not a new
        -- row version.
        UPDATE papers p SET
            title = CASE WHEN p.title = '' THEN f.title ELSE p.title END,
            abstract = CASE WHEN octet_length(COALESCE(f.abstract, '')) > octet_length(COALESCE(p.abstract, ''))
                            THEN f.abstract ELSE p.abstract END,
            authors = CASE WHEN jsonb_array_length(COALESCE(f.authors, '[]'::jsonb)) > jsonb_array_length(p.authors)
                           THEN f.authors ELSE p.authors END,
            publication_date = CASE WHEN p.publication_date IS NULL
                   OR (f.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                   OR (f.date_precision = 'month' AND p.date_precision IN ('year', 'text'))
                 THEN COALESCE(f.publication_date, p.publication_date) ELSE p.publication_date END,
            date_precision = CASE WHEN p.publication_date IS NULL
                   OR (f.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                   OR (f.date_precision = 'month' AND p.date_precision IN ('year', 'text'))
                 THEN COALESCE(f.date_precision, p.date_precision) ELSE p.date_precision END,
            venue = COALESCE(NULLIF(p.venue, ''), f.venue),
            doi = COALESCE(p.doi, f.doi),
            openalex_id = COALESCE(p.openalex_id, f.openalex_id),
            pmid = COALESCE(p.pmid, f.pmid),
            pmcid = COALESCE(p.pmcid, f.pmcid),
            arxiv_id = COALESCE(p.arxiv_id, f.arxiv_id),
            s2_id = COALESCE(p.s2_id, f.s2_id),
            url = COALESCE(p.url, f.url),
            citation_count = GREATEST(p.citation_count, f.citation_count),
            sources = CASE WHEN p_source = ANY (p.sources) THEN p.sources
                           ELSE ARRAY(SELECT DISTINCT s FROM unnest(p.sources || p_source) s ORDER BY s) END,
            updated_at = now()
        FROM fast f
        WHERE p.id = f.paper_id
          AND (   (p.title = '' AND f.title <> '')
               OR octet_length(COALESCE(f.abstract, '')) > octet_length(COALESCE(p.abstract, ''))
               OR jsonb_array_length(COALESCE(f.authors, '[]'::jsonb)) > jsonb_array_length(p.authors)
               OR ((p.publication_date IS NULL
                   OR (f.date_precision = 'day' AND p.date_precision IN ('year', 'month', 'text'))
                   OR (f.date_precision = 'month' AND p.date_precision IN ('year', 'text')))
                   AND ((f.publication_date IS NOT NULL AND f.publication_date IS DISTINCT FROM p.publication_date)
                     OR (f.date_precision IS NOT NULL AND f.date_precision IS DISTINCT FROM p.date_precision)))
               OR COALESCE(NULLIF(p.venue, ''), f.venue) IS DISTINCT FROM p.venue
               OR (p.doi IS NULL AND f.doi IS NOT NULL)
               OR (p.openalex_id IS NULL AND f.openalex_id IS NOT NULL)
               OR (p.pmid IS NULL AND f.pmid IS NOT NULL)
               OR (p.pmcid IS NULL AND f.pmcid IS NOT NULL)
               OR (p.arxiv_id IS NULL AND f.arxiv_id IS NOT NULL)
               OR (p.s2_id IS NULL AND f.s2_id IS NOT NULL)
               OR (p.url IS NULL AND f.url IS NOT NULL)
               OR GREATEST(p.citation_count, f.citation_count) IS DISTINCT FROM p.citation_count
               OR NOT (p_source = ANY (p.sources)))
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

    -- The rest, one by one: records that share keys within the page, and records
    -- that find more than one paper (merged into the oldest, exclusive pages only).
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
            IF p_shared AND cardinality(matches) > 1 THEN
                RAISE EXCEPTION 'import_papers: record % of the page merges % papers; import the page exclusively',
                    rec.n, cardinality(matches)
                    USING ERRCODE = 'IMX01';
            END IF;
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

-- As before (migration 0009): a page is a short statement that compiling with LLVM
-- never pays back.
ALTER FUNCTION import_papers(uuid, uuid, text, text[], text[], jsonb[], text[], text[], text[],
                             text[], text[], text[], text[], text[], text[], text[], bigint[],
                             boolean)
    SET jit = off;
