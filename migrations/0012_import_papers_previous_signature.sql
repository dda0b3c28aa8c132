-- The previous release's import_papers() signature, kept for one release (ADR-037).
--
-- The migrations job runs before new ingestion-control pods roll out, so for a while
-- the old pods, which call import_papers() with 17 arguments, run against a database
-- migrated past 0011, which replaced that function with one taking p_shared. Without
-- this wrapper every page an old pod takes would fail until the pod is replaced. It
-- imports exclusively: the old algorithm, safe beside shared pages of new pods (it
-- waits for them). To be dropped by a migration of the release after this one.
CREATE FUNCTION import_papers(p_org uuid, p_run uuid, p_source text, p_title text[], p_abstract text[], p_authors jsonb[], p_publication_date text[], p_date_precision text[], p_venue text[], p_doi text[], p_openalex_id text[], p_pmid text[], p_pmcid text[], p_arxiv_id text[], p_s2_id text[], p_url text[], p_citation_count bigint[], OUT found_count integer, OUT imported_count integer)
 RETURNS record
 LANGUAGE sql
AS $function$
    SELECT i.found_count, i.imported_count
      FROM import_papers(p_org, p_run, p_source, p_title, p_abstract, p_authors,
                         p_publication_date, p_date_precision, p_venue, p_doi,
                         p_openalex_id, p_pmid, p_pmcid, p_arxiv_id, p_s2_id, p_url,
                         p_citation_count, false) AS i
$function$;
