-- A run's row invariants move from ten CHECK constraints into the row trigger that
-- already guards its transitions (ADR-032).
--
-- PostgreSQL 15 keeps a table's CHECK constraints as text and, for every statement that
-- writes the table, parses and prepares each of them again (ExecRelCheck builds them
-- per executor state). Runs are written one row per statement (a start's insert and
-- its publish mark, each page's lease renewal and counters), so those ten constraints
-- were most of a statement's cost: 20,000 inserts in a loop took 58-79 us each with
-- them, 19-26 us without, 21-31 us with the same conditions in a PL/pgSQL trigger,
-- whose expressions are prepared once per connection (alternated three times; one
-- combined CHECK was no cheaper: 76 us). Under the start benchmark the constraints
-- were 17 % of PostgreSQL's CPU time (perf, BENCHMARKS.md).
--
-- The trigger keeps the constraints' contract: the same conditions (a NULL passes, as
-- in a CHECK), SQLSTATE 23514 check_violation, and the same constraint names in the
-- error, so a client matching on them sees no difference. Unlike a CHECK, the trigger
-- runs before NOT NULL is enforced; a NULL passes it and the NOT NULL constraint then
-- refuses the row, as before.

CREATE OR REPLACE FUNCTION ingest_runs_guard_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    broken text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.status IN ('completed', 'failed', 'cancelled') THEN
            -- A terminal run changes only by an explicit retry of a failed or cancelled run.
            IF NOT (OLD.status IN ('failed', 'cancelled')
                    AND NEW.status = 'queued'
                    AND NEW.attempt = OLD.attempt + 1) THEN
                RAISE EXCEPTION 'run % is % and cannot change (attempted %)', OLD.id, OLD.status, NEW.status
                    USING ERRCODE = 'check_violation';
            END IF;
        ELSIF OLD.status = 'queued' AND NEW.status NOT IN ('queued', 'running', 'failed', 'cancelled') THEN
            RAISE EXCEPTION 'run % cannot go from queued to %', OLD.id, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.updated_at := now();
    END IF;

    -- The row's own invariants, formerly CHECK constraints of these names. `IS FALSE`
    -- lets a NULL through, as a CHECK does.
    broken := CASE
        WHEN (NEW.source IN ('openalex', 'pubmed', 'arxiv', 'semantic_scholar')) IS FALSE
            THEN 'ingest_runs_source_check'
        WHEN (NEW.status IN ('queued', 'running', 'completed', 'failed', 'cancelled')) IS FALSE
            THEN 'ingest_runs_status_check'
        WHEN (char_length(NEW.query) BETWEEN 1 AND 1000) IS FALSE
            THEN 'ingest_runs_query_check'
        WHEN (NEW.max_results BETWEEN 1 AND 10000) IS FALSE
            THEN 'ingest_runs_max_results_check'
        WHEN (NEW.papers_found >= 0) IS FALSE
            THEN 'ingest_runs_papers_found_check'
        WHEN (NEW.papers_imported >= 0) IS FALSE
            THEN 'ingest_runs_papers_imported_check'
        WHEN (NEW.attempt >= 1) IS FALSE
            THEN 'ingest_runs_attempt_check'
        -- A running run always has a lease, so a fetcher dying before its first
        -- heartbeat is taken over.
        WHEN (NEW.status <> 'running'
              OR (NEW.lease_owner IS NOT NULL AND NEW.lease_expires_at IS NOT NULL)) IS FALSE
            THEN 'running_has_lease'
        WHEN ((NEW.status IN ('completed', 'failed', 'cancelled')) = (NEW.completed_at IS NOT NULL)) IS FALSE
            THEN 'terminal_has_completed_at'
        WHEN (NEW.status <> 'failed' OR NEW.error_message IS NOT NULL) IS FALSE
            THEN 'failed_says_why'
    END;
    IF broken IS NOT NULL THEN
        RAISE EXCEPTION 'new row for relation "ingest_runs" violates check constraint "%"', broken
            USING ERRCODE = 'check_violation', CONSTRAINT = broken, TABLE = 'ingest_runs',
                  DETAIL = format('run %s', NEW.id);
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER ingest_runs_guard_transition ON ingest_runs;
CREATE TRIGGER ingest_runs_guard_transition
    BEFORE INSERT OR UPDATE ON ingest_runs
    FOR EACH ROW EXECUTE FUNCTION ingest_runs_guard_transition();

ALTER TABLE ingest_runs
    DROP CONSTRAINT ingest_runs_source_check,
    DROP CONSTRAINT ingest_runs_status_check,
    DROP CONSTRAINT ingest_runs_query_check,
    DROP CONSTRAINT ingest_runs_max_results_check,
    DROP CONSTRAINT ingest_runs_papers_found_check,
    DROP CONSTRAINT ingest_runs_papers_imported_check,
    DROP CONSTRAINT ingest_runs_attempt_check,
    DROP CONSTRAINT running_has_lease,
    DROP CONSTRAINT terminal_has_completed_at,
    DROP CONSTRAINT failed_says_why;
