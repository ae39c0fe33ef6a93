-- audsync state store, SQLite flavour (keep in step with ../postgres/0002_inflight_in_store.sql).
-- What a run leaves for the next one to settle after a crash moves from files beside the store
-- into the store, so that a run on any host sharing the store can settle it.

-- The rows of an add or replace batch as sent (packed: digests as 32 bytes, see
-- src/store/packed_rows.rs), from just before its request goes out until it is settled
-- (accepted or refused); NULL otherwise, so the journal does not grow with them: a settling
-- update that forgets to clear them fails.
ALTER TABLE journal ADD COLUMN inflight_rows BLOB
    CHECK (inflight_rows IS NULL OR state = 'sent');

-- A replace session opened and not completed: the next run closes it before anything else.
CREATE TABLE replace_sessions (
    segment      TEXT PRIMARY KEY,
    audience_id  TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    started_at   BIGINT NOT NULL
);
