-- The polite request rate of each source holds for the source as a whole, across every
-- fetcher replica: each request reserves the next free slot here (one UPDATE), and the
-- fetcher waits until its slot. See ADR-011.
CREATE TABLE source_pacing (
    source    text PRIMARY KEY
        CHECK (source IN ('openalex', 'pubmed', 'arxiv', 'semantic_scholar')),
    next_slot timestamptz NOT NULL
);
