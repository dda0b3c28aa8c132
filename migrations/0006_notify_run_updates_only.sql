-- Watchers learn of a run's changes, not of its creation: `WatchRun` reads the run
-- after subscribing (so a watcher exists only for a committed run), and nothing else
-- listens. A transaction that sends NOTIFY takes a database-wide lock from its
-- pre-commit until its commit is flushed, so every new run's insert held that lock
-- through its WAL flush and the inserts of concurrent starts committed one at a time
-- instead of sharing flushes. Without it, the start floor (insert and commit, publish
-- with confirm, mark published; 64 clients, same database) went from 1,710-1,905 to
-- 2,860-2,960 starts/s and its p99 from 44-81 ms to 31-36 ms (ADR-031).
DROP TRIGGER ingest_runs_notify_change ON ingest_runs;

CREATE TRIGGER ingest_runs_notify_change
    AFTER UPDATE ON ingest_runs
    FOR EACH ROW EXECUTE FUNCTION ingest_runs_notify_change();
