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
    // 2: escalations to the coordinators' group, the chats' transcripts and the map of relayed
    // messages.
    r#"
    -- An escalation is open while closed_at is NULL; `open` is derived from it, never stored,
    -- so the two cannot disagree. AUTOINCREMENT because coordinators and reports refer to the
    -- ids (/reopen 12): an id must not come back for another chat after a purge or /forget.
    -- claimed_at and reopened_at are kept for reporting; the interface does not expose them yet.
    CREATE TABLE escalations (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id           INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        name              TEXT NOT NULL,
        username          TEXT,
        language          TEXT NOT NULL,
        reason            TEXT NOT NULL
                          CHECK (reason IN ('asked', 'no_match', 'not_helpful', 'emergency')),
        urgent            INTEGER NOT NULL DEFAULT 0,
        created_at        INTEGER NOT NULL,
        claimed_by        TEXT,
        claimed_at        INTEGER,
        first_reply_at    INTEGER,
        closed_at         INTEGER,
        closed_by         TEXT,
        reopened_at       INTEGER,
        thread_id         INTEGER,
        card_message_id   INTEGER,
        topic_failed      INTEGER NOT NULL DEFAULT 0,
        caregiver_blocked INTEGER NOT NULL DEFAULT 0
    );
    -- At most one open escalation per chat, whatever the callers do.
    CREATE UNIQUE INDEX escalations_one_open ON escalations (chat_id) WHERE closed_at IS NULL;
    CREATE INDEX escalations_chat ON escalations (chat_id);
    CREATE INDEX escalations_thread ON escalations (thread_id) WHERE thread_id IS NOT NULL;
    CREATE INDEX escalations_card ON escalations (card_message_id)
        WHERE card_message_id IS NOT NULL;
    CREATE INDEX escalations_closed_at ON escalations (closed_at) WHERE closed_at IS NOT NULL;

    -- What was said in a chat (by the caregiver, the bot and coordinators), for the card and
    -- for review. Kept per chat, not per escalation: the card shows what led to the escalation.
    CREATE TABLE transcript (
        id         INTEGER PRIMARY KEY,
        chat_id    INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('caregiver', 'bot', 'coordinator', 'note')),
        text       TEXT NOT NULL,
        passage_id TEXT
    );
    CREATE INDEX transcript_chat ON transcript (chat_id, at, id);
    CREATE INDEX transcript_at ON transcript (at);

    -- Which message in the coordinators' group is the copy (or the original) of which message in
    -- the caregiver's chat, so an edit can be sent as a correction and a reply finds its target.
    -- Not unique: a correction maps the same message again, and the latest mapping wins.
    CREATE TABLE relays (
        id                   INTEGER PRIMARY KEY,
        escalation_id        INTEGER NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
        group_message_id     INTEGER NOT NULL,
        caregiver_message_id INTEGER NOT NULL,
        direction            TEXT NOT NULL
                             CHECK (direction IN ('to_coordinators', 'to_caregiver'))
    );
    CREATE INDEX relays_group ON relays (group_message_id);
    CREATE INDEX relays_caregiver ON relays (escalation_id, caregiver_message_id);
    "#,
    // 3: the questions the engine answered, for the editors' report (`faqbot report`).
    r#"
    -- One row per message the engine answered (not buttons or commands). text is kept only for
    -- the outcomes editors read (answer, suggest, no_match). Retention erases text and chat_id
    -- and keeps the rest, which then counts outcomes without pointing at anyone; /forget
    -- deletes the chat's rows. offered: for suggest, the passage ids offered, best first,
    -- separated by spaces (ids have none); chosen: the one the caregiver then picked.
    CREATE TABLE questions (
        id         INTEGER PRIMARY KEY,
        chat_id    INTEGER,
        at         INTEGER NOT NULL,
        outcome    TEXT NOT NULL,
        text       TEXT,
        passage_id TEXT,
        offered    TEXT,
        confidence REAL,
        chosen     TEXT
    );
    CREATE INDEX questions_at ON questions (at);
    CREATE INDEX questions_chat ON questions (chat_id, at);
    "#,
    // 4: the coordinators' review page: one-time sign-in links and sessions, both kept only as
    // SHA-256 hashes of the secrets the browser holds (a copy of the file signs nobody in).
    r#"
    CREATE TABLE review_links (
        hash       TEXT PRIMARY KEY,
        user_id    INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE review_sessions (
        hash       TEXT PRIMARY KEY,
        user_id    INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX review_sessions_user ON review_sessions (user_id);
    "#,
];
