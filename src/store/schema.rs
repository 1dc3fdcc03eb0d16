//! The SQLite schema as a list of migration steps. Step `i` brings the file from
//! `PRAGMA user_version = i` to `i + 1`; steps are only ever appended, never edited, because
//! files in the field were created by the old ones.

/// Migration steps, oldest first.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    -- Durable inbox. A row is pending while done_at is NULL; once handled its body (the raw
    -- update, i.e. the user's text) is erased but the row stays, so a redelivery is recognised.
    CREATE TABLE inbox (
        update_id   INTEGER PRIMARY KEY,
        chat_id     INTEGER NOT NULL,
        body        TEXT,
        received_at INTEGER NOT NULL,
        done_at     INTEGER,
        CHECK ((done_at IS NULL) = (body IS NOT NULL))
    );
    CREATE INDEX inbox_pending ON inbox (update_id) WHERE done_at IS NULL;
    CREATE INDEX inbox_done_at ON inbox (done_at) WHERE done_at IS NOT NULL;
    CREATE INDEX inbox_chat ON inbox (chat_id);

    -- The highest update_id ever seen, apart from the rows so that deleting rows (forget,
    -- retention) never moves the getUpdates offset back.
    CREATE TABLE inbox_state (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        max_update_id INTEGER NOT NULL
    );

    -- Actions to perform. AUTOINCREMENT so ids are never reused: the sender may hold an id
    -- while the row is dropped, and must not then delete a newer action with the same id.
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id    INTEGER,
        action     TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_chat ON outbox (chat_id);

    -- One row per chat the bot has heard from. started_at is the first /start (NULL if none),
    -- last_seen the latest inbound update, which retention goes by.
    CREATE TABLE chats (
        chat_id         INTEGER PRIMARY KEY,
        source          TEXT,
        started_at      INTEGER,
        last_seen       INTEGER NOT NULL,
        blocked         INTEGER NOT NULL DEFAULT 0,
        no_match_streak INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX chats_last_seen ON chats (last_seen);

    -- One vote per chat and passage; a later vote replaces the earlier one.
    CREATE TABLE feedback (
        chat_id    INTEGER NOT NULL,
        passage_id TEXT NOT NULL,
        helpful    INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (chat_id, passage_id)
    );
    CREATE INDEX feedback_passage ON feedback (passage_id, helpful);
    CREATE INDEX feedback_created_at ON feedback (created_at);

    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
];
