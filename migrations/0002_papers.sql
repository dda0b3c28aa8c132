-- Papers: one row per work per organisation, deduplicated across sources.
-- A work is matched on its normalised DOI and on every source id; each key is
-- unique per organisation, so a duplicate cannot exist even under concurrency.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE papers (
    id               uuid PRIMARY KEY,
    organization_id  uuid        NOT NULL,
    title            text        NOT NULL,
    abstract         text,
    authors          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    publication_date text,
    date_precision   text CHECK (date_precision IN ('year', 'month', 'day', 'text')),
    venue            text,
    -- Lower case, no resolver prefix. arXiv's own DataCite DOIs (10.48550/arxiv.*) are
    -- folded into arxiv_id instead (ADR-006: a preprint and its published version are one paper).
    doi              text CHECK (doi = lower(doi) AND doi LIKE '10.%'),
    openalex_id      text,
    pmid             text,
    pmcid            text,
    arxiv_id         text,
    s2_id            text,
    url              text,
    citation_count   bigint,
    -- Which sources contributed to this record.
    sources          text[]      NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX papers_org_doi      ON papers (organization_id, doi)         WHERE doi IS NOT NULL;
CREATE UNIQUE INDEX papers_org_openalex ON papers (organization_id, openalex_id) WHERE openalex_id IS NOT NULL;
CREATE UNIQUE INDEX papers_org_pmid     ON papers (organization_id, pmid)        WHERE pmid IS NOT NULL;
CREATE UNIQUE INDEX papers_org_pmcid    ON papers (organization_id, pmcid)       WHERE pmcid IS NOT NULL;
CREATE UNIQUE INDEX papers_org_arxiv    ON papers (organization_id, arxiv_id)    WHERE arxiv_id IS NOT NULL;
CREATE UNIQUE INDEX papers_org_s2       ON papers (organization_id, s2_id)       WHERE s2_id IS NOT NULL;
CREATE INDEX papers_org_created ON papers (organization_id, created_at DESC, id DESC);
CREATE INDEX papers_title_trgm ON papers USING gin (title gin_trgm_ops);

-- Which runs found which papers. `imported` marks the run that created the paper.
CREATE TABLE run_papers (
    run_id     uuid    NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    paper_id   uuid    NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    imported   boolean NOT NULL,
    PRIMARY KEY (run_id, paper_id)
);
CREATE INDEX run_papers_paper ON run_papers (paper_id);

-- Imports one page of records for one run in a single round trip.
-- Records: a JSON array of objects with the columns below (ids already normalised).
-- Returns how many records were found (the page size) and how many papers were new
-- to the organisation.
--
-- Imports of one organisation are serialised by a transaction-scoped advisory lock:
-- matching a record against several keys and merging papers is then race-free, and
-- the unique indexes remain the last line of defence.
CREATE FUNCTION import_papers(p_org uuid, p_run uuid, p_source text, p_records jsonb,
                              OUT found_count integer, OUT imported_count integer)
LANGUAGE plpgsql AS $$
DECLARE
    rec       record;
    matches   uuid[];
    keeper    uuid;
    other     papers%ROWTYPE;
    is_new    boolean;
BEGIN
    found_count := 0;
    imported_count := 0;
    PERFORM pg_advisory_xact_lock(hashtextextended('import_papers:' || p_org::text, 0));

    FOR rec IN
        SELECT * FROM jsonb_to_recordset(p_records) AS r(
            title text, abstract text, authors jsonb, publication_date text,
            date_precision text, venue text, doi text, openalex_id text, pmid text,
            pmcid text, arxiv_id text, s2_id text, url text, citation_count bigint)
    LOOP
        found_count := found_count + 1;
        is_new := false;

        SELECT array_agg(p.id ORDER BY p.created_at, p.id) INTO matches
        FROM papers p
        WHERE p.organization_id = p_org
          AND (p.doi = rec.doi OR p.openalex_id = rec.openalex_id OR p.pmid = rec.pmid
               OR p.pmcid = rec.pmcid OR p.arxiv_id = rec.arxiv_id OR p.s2_id = rec.s2_id);

        IF matches IS NULL THEN
            keeper := gen_random_uuid();
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
            -- The record links several papers: they are one work. Fold the others into
            -- the oldest, keeping every id and every run's link.
            FOR i IN 2 .. coalesce(array_length(matches, 1), 1) LOOP
                -- Move the links first: deleting the paper cascades to them.
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

            -- Fill in, never overwrite a richer value with an empty one.
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
