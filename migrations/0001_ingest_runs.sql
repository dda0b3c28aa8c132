-- Runs: one row per ingestion, owned by ingestion-control.
-- The state machine is enforced here, not only in code (see docs/architecture.md):
--   queued -> running | failed | cancelled
--   running -> running (lease renewal/takeover) | queued (lease expired, re-published)
--            | completed | failed | cancelled
--   failed | cancelled -> queued   (explicit retry: attempt + 1)
--   completed -> nothing

CREATE TABLE ingest_runs (
    id               uuid PRIMARY KEY,
    organization_id  uuid        NOT NULL,
    requested_by     text        NOT NULL,
    source           text        NOT NULL
        CHECK (source IN ('openalex', 'pubmed', 'arxiv', 'semantic_scholar')),
    status           text        NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    query            text        NOT NULL CHECK (char_length(query) BETWEEN 1 AND 1000),
    filters          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    max_results      integer     NOT NULL CHECK (max_results BETWEEN 1 AND 10000),
    papers_found     bigint      NOT NULL DEFAULT 0 CHECK (papers_found >= 0),
    papers_imported  bigint      NOT NULL DEFAULT 0 CHECK (papers_imported >= 0),
    -- The source's total for the query capped by max_results, once known.
    expected_total   bigint,
    pages_done       integer     NOT NULL DEFAULT 0,
    checkpoint_data  jsonb,
    error_message    text,
    attempt          integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    -- When the broker confirmed the job of the current attempt; NULL = not (yet) confirmed.
    published_at     timestamptz,
    publish_attempts integer     NOT NULL DEFAULT 0,
    -- Claims of the current attempt (first claim and lease takeovers); bounded by MAX_CLAIMS
    -- so a job that kills its fetcher every time ends failed, not in a loop.
    claims           integer     NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    started_at       timestamptz,
    completed_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- A running run always has a lease, so a fetcher dying before its first heartbeat is taken over.
    CONSTRAINT running_has_lease
        CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT terminal_has_completed_at
        CHECK ((status IN ('completed', 'failed', 'cancelled')) = (completed_at IS NOT NULL)),
    CONSTRAINT failed_says_why
        CHECK (status <> 'failed' OR error_message IS NOT NULL)
);

-- Lists: newest first, per organisation, keyset-paginated on (created_at, id).
CREATE INDEX ingest_runs_org_created ON ingest_runs (organization_id, created_at DESC, id DESC);
-- The reconciler's scans.
CREATE INDEX ingest_runs_unpublished ON ingest_runs (created_at)
    WHERE status = 'queued' AND published_at IS NULL;
CREATE INDEX ingest_runs_leases ON ingest_runs (lease_expires_at) WHERE status = 'running';

-- Idempotency keys of the start endpoints: the same key from the same organisation
-- within 24 hours returns the first run.
CREATE TABLE idempotency_keys (
    organization_id uuid        NOT NULL,
    key             text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    run_id          uuid        NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);

CREATE FUNCTION ingest_runs_guard_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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
    RETURN NEW;
END;
$$;

CREATE TRIGGER ingest_runs_guard_transition
    BEFORE UPDATE ON ingest_runs
    FOR EACH ROW EXECUTE FUNCTION ingest_runs_guard_transition();

-- Watchers (RunService.WatchRun) learn of changes without polling.
CREATE FUNCTION ingest_runs_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ingest_run_changed', NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER ingest_runs_notify_change
    AFTER INSERT OR UPDATE ON ingest_runs
    FOR EACH ROW EXECUTE FUNCTION ingest_runs_notify_change();
