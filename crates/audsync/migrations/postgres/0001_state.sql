-- audsync state store, PostgreSQL flavour (keep in step with ../sqlite/0001_state.sql).
-- Append-only: never edit a migration that has shipped; add the next numbered file.
-- Times are Unix milliseconds (BIGINT); JSON values are TEXT.

CREATE TABLE audiences (
    segment        TEXT PRIMARY KEY,
    connector      TEXT NOT NULL,
    ad_account_id  TEXT NOT NULL,
    audience_id    TEXT NOT NULL,
    audience_name  TEXT NOT NULL,
    schema_keys    TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE members (
    segment      TEXT NOT NULL,
    user_id      TEXT NOT NULL CHECK (user_id <> ''),
    user_hash    BIGINT NOT NULL,
    index_check  BIGINT NOT NULL,
    fingerprint  BYTEA NOT NULL CHECK (octet_length(fingerprint) = 16),
    wire_row     TEXT NOT NULL,
    PRIMARY KEY (segment, user_id)
);

-- Covers the member index load (user_hash, index_check) and removals by user hash.
CREATE INDEX members_by_user_hash ON members (segment, user_hash, index_check);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    segment      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    status       TEXT NOT NULL
        CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'interrupted')),
    report       TEXT
);

CREATE INDEX runs_by_segment ON runs (segment, started_at);

CREATE TABLE journal (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    batch_idx         BIGINT NOT NULL,
    operation         TEXT NOT NULL CHECK (operation IN ('add', 'remove', 'replace')),
    n_rows            BIGINT NOT NULL,
    user_ids          TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('sent', 'accepted', 'refused')),
    graph_session_id  TEXT,
    num_invalid       BIGINT,
    refusal           TEXT,
    sent_at           BIGINT NOT NULL,
    settled_at        BIGINT,
    PRIMARY KEY (run_id, batch_idx)
);

CREATE TABLE invalid_entries (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    reason   TEXT NOT NULL
);

CREATE INDEX invalid_entries_by_run ON invalid_entries (run_id);

CREATE TABLE leases (
    segment     TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
