//! The SQLite store's tests across roles: inbox, outbox, chats, forgetting and retention.

use std::sync::Arc;

use tempfile::TempDir;

use super::*;
use crate::action::OutMessage;
use crate::store::*;

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("bot.db")
}

fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(db_path(dir)).expect("open store")
}

fn send(chat_id: i64, html: &str) -> Action {
    Action::Send(OutMessage::new(chat_id, html.to_string()))
}

fn update(update_id: i32, chat_id: i64, body: &str) -> NewUpdate {
    NewUpdate {
        update_id,
        chat_id,
        body: body.to_string(),
    }
}

fn pragma_i64(store: &SqliteStore, name: &str) -> i64 {
    let conn = store.lock().expect("lock");
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .expect("pragma")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn read_or_empty(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// The bot and a CLI command may open a new file at the same moment: neither is refused.
#[test]
fn connections_opening_a_new_file_together_wait_for_each_other() {
    for _ in 0..20 {
        let dir = TempDir::new().expect("tempdir");
        let opened: Vec<StoreResult<SqliteStore>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| SqliteStore::open(db_path(&dir))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        for store in opened {
            store.expect("open store").outbox_len().expect("readable");
        }
    }
}

#[test]
fn open_creates_folders_and_sets_pragmas() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("a").join("b").join("bot.db");
    let store = SqliteStore::open(&path).expect("open");
    assert!(path.is_file());
    assert_eq!(store.path(), path);
    let mode: String = {
        let conn = store.lock().expect("lock");
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal_mode")
    };
    assert_eq!(mode, "wal");
    assert_eq!(pragma_i64(&store, "synchronous"), 1, "NORMAL");
    assert_eq!(pragma_i64(&store, "foreign_keys"), 1);
    assert_eq!(pragma_i64(&store, "secure_delete"), 1);
    assert_eq!(pragma_i64(&store, "busy_timeout"), 5000);
    assert_eq!(pragma_i64(&store, "user_version"), MIGRATIONS.len() as i64);
    assert!(store.integrity_check().expect("integrity"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    }
}

#[test]
fn migrations_are_idempotent() {
    let dir = TempDir::new().expect("tempdir");
    let schema = |store: &SqliteStore| -> Vec<String> {
        let conn = store.lock().expect("lock");
        let mut stmt = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        let rows = stmt.query_map([], |r| r.get(0)).expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    };
    let first = open(&dir);
    first.set_meta("k", "v").expect("set_meta");
    let before = schema(&first);
    assert!(before.iter().any(|s| s.contains("CREATE TABLE inbox")));
    // Running the migrations again on a migrated connection changes nothing.
    {
        let mut conn = first.lock().expect("lock");
        migrate(first.path(), &mut conn).expect("migrate again");
    }
    drop(first);
    let second = open(&dir);
    assert_eq!(schema(&second), before);
    assert_eq!(pragma_i64(&second, "user_version"), MIGRATIONS.len() as i64);
    assert_eq!(
        second.get_meta("k").expect("get_meta").as_deref(),
        Some("v")
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = TempDir::new().expect("tempdir");
    drop(open(&dir));
    {
        let conn = Connection::open(db_path(&dir)).expect("raw open");
        conn.pragma_update(None, "user_version", 99)
            .expect("set version");
    }
    let err = SqliteStore::open(db_path(&dir)).expect_err("must refuse");
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("bot.db"), "{err}");
}

#[test]
fn a_file_that_is_not_sqlite_gives_a_clear_error() {
    let dir = TempDir::new().expect("tempdir");
    let path = db_path(&dir);
    let content = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &content).expect("write");
    let err = SqliteStore::open(&path).expect_err("must refuse");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("move it away"), "{msg}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), content);
}

#[test]
fn enqueue_dedupes_and_tracks_the_offset() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    assert_eq!(store.next_update_offset().expect("offset"), 0);
    assert_eq!(store.pending_count().expect("count"), 0);

    let n = store
        .enqueue_updates(&[update(11, 5, "b"), update(10, 5, "a")], 1_000)
        .expect("enqueue");
    assert_eq!(n, 2);
    // 11 is pending, 12 appears twice in one batch: only 12 is new, once.
    let n = store
        .enqueue_updates(
            &[update(11, 5, "b2"), update(12, 6, "c"), update(12, 6, "c")],
            2_000,
        )
        .expect("enqueue");
    assert_eq!(n, 1);
    assert_eq!(store.pending_count().expect("count"), 3);
    assert_eq!(store.next_update_offset().expect("offset"), 13);

    store.complete_update(10, &[], 3_000).expect("complete");
    // Done updates are not taken again either.
    assert_eq!(
        store
            .enqueue_updates(&[update(10, 5, "a")], 4_000)
            .expect("enqueue"),
        0
    );
    // A late, lower id is new but does not move the offset back.
    assert_eq!(
        store
            .enqueue_updates(&[update(7, 5, "z")], 4_000)
            .expect("enqueue"),
        1
    );
    assert_eq!(store.next_update_offset().expect("offset"), 13);
    assert_eq!(store.enqueue_updates(&[], 4_000).expect("enqueue"), 0);

    let pending = store.pending_updates(10).expect("pending");
    let ids: Vec<i32> = pending.iter().map(|i| i.update_id).collect();
    assert_eq!(ids, [7, 11, 12]);
    assert_eq!(
        pending[1],
        InboxItem {
            update_id: 11,
            chat_id: 5,
            body: "b".into(),
            received_at: 1_000
        }
    );
    assert_eq!(store.pending_updates(2).expect("pending").len(), 2);
    assert_eq!(store.pending_count().expect("count"), 3);
}

#[test]
fn complete_update_is_idempotent_and_erases_the_body() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store
        .enqueue_updates(&[update(1, 5, "secret text")], 100)
        .expect("enqueue");
    assert!(!store.is_update_done(1).expect("done?"));

    let actions = [send(5, "one"), send(5, "two")];
    store.complete_update(1, &actions, 200).expect("complete");
    assert!(store.is_update_done(1).expect("done?"));
    assert_eq!(store.pending_count().expect("count"), 0);
    let body: Option<String> = {
        let conn = store.lock().expect("lock");
        conn.query_row("SELECT body FROM inbox WHERE update_id = 1", [], |r| {
            r.get(0)
        })
        .expect("row")
    };
    assert_eq!(body, None);

    // Completing again (a redelivery handled twice) queues nothing more.
    store
        .complete_update(1, &actions, 300)
        .expect("complete again");
    let batch = store.outbox_batch(10).expect("batch");
    let sent: Vec<Action> = batch.into_iter().map(|i| i.action).collect();
    assert_eq!(sent, actions);
    assert_eq!(store.outbox_len().expect("len"), 2);
}

#[test]
fn complete_update_is_atomic() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store
        .enqueue_updates(&[update(1, 5, "question")], 100)
        .expect("enqueue");
    // Make the second outbox insert fail, as a full disk might.
    {
        let conn = store.lock().expect("lock");
        conn.execute_batch(
            "CREATE TRIGGER fail_boom BEFORE INSERT ON outbox
             WHEN NEW.action LIKE '%boom%'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .expect("trigger");
    }
    let actions = [send(5, "fine"), send(5, "boom")];
    store
        .complete_update(1, &actions, 200)
        .expect_err("must fail");
    assert!(!store.is_update_done(1).expect("done?"));
    assert_eq!(store.outbox_len().expect("len"), 0, "first action leaked");
    assert_eq!(
        store.pending_updates(10).expect("pending")[0].body,
        "question"
    );

    {
        let conn = store.lock().expect("lock");
        conn.execute_batch("DROP TRIGGER fail_boom")
            .expect("drop trigger");
    }
    store.complete_update(1, &actions, 300).expect("complete");
    store
        .complete_update(1, &actions, 400)
        .expect("complete again");
    assert_eq!(store.outbox_len().expect("len"), 2);
}

#[test]
fn completing_an_unknown_update_records_it() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store
        .complete_update(42, &[send(5, "bye")], 100)
        .expect("complete");
    assert!(store.is_update_done(42).expect("done?"));
    assert_eq!(store.outbox_len().expect("len"), 1);
    assert_eq!(store.next_update_offset().expect("offset"), 43);
    store
        .complete_update(42, &[send(5, "bye")], 200)
        .expect("again");
    assert_eq!(store.outbox_len().expect("len"), 1);
    assert_eq!(
        store
            .enqueue_updates(&[update(42, 5, "x")], 300)
            .expect("enqueue"),
        0
    );
}

#[test]
fn outbox_keeps_order_and_supports_retry_replace_and_drop() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    let callback = Action::AnswerCallback {
        callback_id: "cb".into(),
        text: None,
    };
    store
        .complete_update(1, &[send(1, "a1"), send(2, "b1"), callback.clone()], 100)
        .expect("complete");
    store
        .complete_update(2, &[send(1, "a2")], 200)
        .expect("complete");

    let batch = store.outbox_batch(10).expect("batch");
    let ids: Vec<i64> = batch.iter().map(|i| i.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let chats: Vec<Option<i64>> = batch.iter().map(|i| i.chat_id).collect();
    assert_eq!(chats, [Some(1), Some(2), None, Some(1)]);
    assert_eq!(batch[2].action, callback);
    assert_eq!(batch[3].action, send(1, "a2"));
    assert_eq!((batch[0].not_before, batch[0].attempts), (100, 0));
    assert_eq!(batch[3].not_before, 200);
    assert_eq!(store.outbox_batch(2).expect("batch").len(), 2);

    // heads page through the same queue; an item is the batch's entry
    let heads = |after, limit| -> Vec<i64> {
        let heads = store.outbox_heads(after, limit).expect("heads");
        heads.iter().map(|h| h.id).collect()
    };
    assert_eq!(heads(0, 2), ids[..2]);
    assert_eq!(heads(ids[1], 10), ids[2..]);
    assert!(heads(ids[3], 10).is_empty());
    let head = store.outbox_heads(ids[2], 1).expect("heads")[0];
    assert_eq!((head.chat_id, head.not_before), (Some(1), 200));
    assert_eq!(
        store.outbox_item(ids[3]).expect("item").as_ref(),
        Some(&batch[3])
    );

    store.outbox_retry(ids[0], 5_000, 3).expect("retry");
    store
        .outbox_replace(ids[1], &send(9, "b1 plain"))
        .expect("replace");
    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch[0].id, ids[0], "a retried action keeps its place");
    assert_eq!((batch[0].not_before, batch[0].attempts), (5_000, 3));
    assert_eq!(batch[1].id, ids[1], "a replaced action keeps its place");
    assert_eq!(batch[1].action, send(9, "b1 plain"));
    assert_eq!(batch[1].chat_id, Some(9));

    assert_eq!(store.outbox_drop_chat(1).expect("drop"), 2);
    assert_eq!(store.outbox_drop_chat(1).expect("drop"), 0);
    assert_eq!(store.outbox_len().expect("len"), 2);

    store.outbox_done(&ids[2..3]).expect("done");
    store.outbox_done(&ids[2..3]).expect("done twice is fine");
    assert_eq!(store.outbox_item(ids[2]).expect("item"), None, "gone");
    store
        .outbox_retry(ids[2], 1, 1)
        .expect("retry of a gone id is ignored");
    assert_eq!(store.outbox_len().expect("len"), 1);

    // Ids are never reused, even after the newest action is removed.
    let last = *ids.last().expect("ids");
    store.outbox_done(&ids[1..2]).expect("done");
    store
        .complete_update(3, &[send(1, "a3")], 300)
        .expect("complete");
    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch.len(), 1);
    assert!(batch[0].id > last, "{} reused", batch[0].id);
}

#[test]
fn an_undecodable_outbox_action_is_dropped_not_blocking() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    {
        let conn = store.lock().expect("lock");
        conn.execute(
            "INSERT INTO outbox (chat_id, action, not_before) VALUES (1, '{\"kind\":\"teleport\"}', 0)",
            [],
        )
        .expect("insert");
    }
    store
        .complete_update(1, &[send(1, "ok")], 100)
        .expect("complete");
    let batch = store.outbox_batch(1).expect("batch");
    assert!(batch.is_empty(), "the bad row comes first and is dropped");
    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].action, send(1, "ok"));
    assert_eq!(store.outbox_len().expect("len"), 1);
}

#[test]
fn chats_keep_the_first_source_blocked_flag_and_streak() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    let row = |chat: i64| -> (Option<String>, Option<i64>, i64) {
        let conn = store.lock().expect("lock");
        conn.query_row(
            "SELECT source, started_at, last_seen FROM chats WHERE chat_id = ?1",
            [chat],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row")
    };
    // A message before any /start creates the row without a source.
    store
        .enqueue_updates(&[update(1, 7, "hi")], 50)
        .expect("enqueue");
    assert_eq!(row(7), (None, None, 50));
    store
        .record_chat_start(7, Some("flyer"), 100)
        .expect("start");
    store
        .record_chat_start(7, Some("other"), 200)
        .expect("start again");
    store.record_chat_start(7, None, 300).expect("start again");
    assert_eq!(row(7), (Some("flyer".into()), Some(100), 300));

    assert!(!store.is_blocked(7).expect("blocked?"));
    assert!(!store.is_blocked(8).expect("unknown chat"));
    store.set_blocked(7, true, 400).expect("block");
    assert!(store.is_blocked(7).expect("blocked?"));
    assert_eq!(row(7).2, 300, "blocking is not activity");
    store.set_blocked(7, false, 500).expect("unblock");
    assert!(!store.is_blocked(7).expect("blocked?"));
    store.set_blocked(8, true, 600).expect("block unknown chat");
    assert!(store.is_blocked(8).expect("blocked?"));

    assert_eq!(store.chat_state(9).expect("state"), ChatState::default());
    store.set_no_match_streak(7, 2).expect("streak");
    store
        .set_no_match_streak(9, 1)
        .expect("streak for a new chat");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 2);
    assert_eq!(store.chat_state(9).expect("state").no_match_streak, 1);
    store.set_no_match_streak(7, 0).expect("reset");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 0);
    assert_eq!(
        row(7).0.as_deref(),
        Some("flyer"),
        "other columns untouched"
    );
}

#[test]
fn migrate_chat_moves_everything_to_the_new_id() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    let (old, new, other) = (-100, -1_001_234_567_890_i64, 55);
    store
        .enqueue_updates(&[update(1, old, "pending")], 100)
        .expect("enqueue");
    store
        .record_chat_start(old, Some("group-link"), 100)
        .expect("start");
    store.set_no_match_streak(old, 3).expect("streak");
    store
        .record_feedback(old, "p1", true, 100)
        .expect("feedback");
    store
        .record_feedback(old, "p2", true, 100)
        .expect("feedback");
    store
        .record_feedback(new, "p2", false, 150)
        .expect("feedback");
    store
        .complete_update(
            2,
            &[send(old, "for the group"), send(other, "elsewhere")],
            200,
        )
        .expect("complete");

    store.migrate_chat(old, new).expect("migrate");

    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch[0].chat_id, Some(new));
    assert_eq!(batch[0].action, send(new, "for the group"));
    assert_eq!(batch[1].action, send(other, "elsewhere"));
    assert_eq!(store.chat_state(new).expect("state").no_match_streak, 3);
    assert_eq!(store.chat_state(old).expect("state"), ChatState::default());
    assert_eq!(store.pending_updates(10).expect("pending")[0].chat_id, new);
    assert_eq!(store.feedback_counts("p1").expect("counts"), (1, 0));
    assert_eq!(
        store.feedback_counts("p2").expect("counts"),
        (0, 1),
        "new id's vote stands"
    );
    let source: Option<String> = {
        let conn = store.lock().expect("lock");
        conn.query_row("SELECT source FROM chats WHERE chat_id = ?1", [new], |r| {
            r.get(0)
        })
        .expect("row")
    };
    assert_eq!(source.as_deref(), Some("group-link"));
    // Nothing is left under the old id.
    store.forget_chat(new).expect("forget");
    assert_eq!(store.outbox_len().expect("len"), 1);
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(store.feedback_counts("p1").expect("counts"), (0, 0));
}

#[test]
fn feedback_counts_one_vote_per_chat_and_passage() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    assert_eq!(store.feedback_counts("p").expect("counts"), (0, 0));
    store.record_feedback(1, "p", true, 100).expect("feedback");
    store.record_feedback(1, "p", true, 110).expect("feedback");
    store.record_feedback(2, "p", false, 120).expect("feedback");
    store.record_feedback(3, "p", false, 130).expect("feedback");
    store
        .record_feedback(3, "p", true, 140)
        .expect("changed mind");
    store.record_feedback(3, "q", false, 150).expect("feedback");
    assert_eq!(store.feedback_counts("p").expect("counts"), (2, 1));
    assert_eq!(store.feedback_counts("q").expect("counts"), (0, 1));
}

#[test]
fn meta_values_are_stored_and_replaced() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    assert_eq!(store.get_meta("content").expect("get"), None);
    store.set_meta("content", "v1").expect("set");
    store.set_meta("content", "v2").expect("set");
    store.set_meta("other", "x").expect("set");
    assert_eq!(
        store.get_meta("content").expect("get").as_deref(),
        Some("v2")
    );
    assert_eq!(store.get_meta("other").expect("get").as_deref(), Some("x"));
}

#[test]
fn forget_chat_erases_the_text_from_the_files() {
    const MARKER: &str = "ZEBRA-MARKER-7f3a";
    let dir = TempDir::new().expect("tempdir");
    let db = db_path(&dir);
    let wal = wal_path(&db);
    let store = open(&dir);
    let (chat, other) = (1_234_i64, 999_i64);

    let mut next_id = 1;
    let mut write_rows = |store: &SqliteStore, now: i64| {
        for _ in 0..5 {
            let body = format!("{{\"text\":\"my husband {MARKER} dose question\"}}");
            store
                .enqueue_updates(&[update(next_id, chat, &body)], now)
                .expect("enqueue");
            store
                .complete_update(next_id, &[send(chat, &format!("You asked: {MARKER}"))], now)
                .expect("complete");
            store
                .enqueue_updates(&[update(next_id + 1, chat, &body)], now)
                .expect("enqueue pending");
            next_id += 2;
        }
        store
            .record_chat_start(chat, Some(MARKER), now)
            .expect("start");
        store
            .record_feedback(chat, MARKER, true, now)
            .expect("feedback");
    };
    write_rows(&store, 100);
    // Some rows reach the .db file, the rest stay in the -wal file.
    {
        let conn = store.lock().expect("lock");
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("checkpoint");
    }
    write_rows(&store, 200);
    store
        .enqueue_updates(&[update(10_000, other, "unrelated")], 300)
        .expect("enqueue other");
    store
        .complete_update(10_001, &[send(other, "keep me")], 300)
        .expect("other");

    let marker = MARKER.as_bytes();
    assert!(
        contains(&std::fs::read(&db).expect("read db"), marker),
        "setup: not in .db"
    );
    assert!(contains(&read_or_empty(&wal), marker), "setup: not in -wal");

    store.forget_chat(chat).expect("forget");

    assert!(
        !contains(&std::fs::read(&db).expect("read db"), marker),
        "left in .db"
    );
    assert!(!contains(&read_or_empty(&wal), marker), "left in -wal");
    // The other chat is untouched, the store still works and the offset stays.
    assert_eq!(store.pending_count().expect("count"), 1);
    assert_eq!(
        store.outbox_batch(10).expect("batch")[0].action,
        send(other, "keep me")
    );
    assert_eq!(store.feedback_counts(MARKER).expect("counts"), (0, 0));
    assert_eq!(store.chat_state(chat).expect("state"), ChatState::default());
    assert_eq!(store.next_update_offset().expect("offset"), 10_002);
    assert!(store.integrity_check().expect("integrity"));
}

#[test]
fn purge_respects_the_cutoff() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store
        .enqueue_updates(&[update(1, 1, "old done")], 100)
        .expect("enqueue");
    store
        .complete_update(1, &[send(1, "queued long ago")], 100)
        .expect("complete");
    store
        .enqueue_updates(&[update(2, 1, "old pending")], 100)
        .expect("enqueue");
    store
        .enqueue_updates(&[update(3, 2, "new done")], 300)
        .expect("enqueue");
    store.complete_update(3, &[], 300).expect("complete");
    store.record_feedback(1, "p", true, 100).expect("feedback");
    store.record_feedback(2, "p", false, 300).expect("feedback");
    store.set_blocked(3, true, 150).expect("old chat");

    // Chat 1 was last seen at 100, chat 2 at 300, chat 3 at 150.
    let deleted = store.purge_older_than(200).expect("purge");
    assert_eq!(
        deleted,
        1 + 1 + 2,
        "inbox 1, feedback at 100, chats 1 and 3"
    );

    assert!(
        !store.is_update_done(1).expect("done?"),
        "old done row purged"
    );
    assert!(
        store.is_update_done(3).expect("done?"),
        "newer done row kept"
    );
    let pending = store.pending_updates(10).expect("pending");
    assert_eq!(pending.len(), 1, "pending updates are never purged");
    assert_eq!(pending[0].update_id, 2);
    assert_eq!(store.feedback_counts("p").expect("counts"), (0, 1));
    assert!(
        !store.is_blocked(3).expect("blocked?"),
        "old chat row purged"
    );
    assert_eq!(
        store.outbox_len().expect("len"),
        1,
        "queued actions are kept"
    );
    assert_eq!(store.next_update_offset().expect("offset"), 4);
    assert_eq!(store.purge_older_than(200).expect("purge again"), 0);
    let chats: i64 = {
        let conn = store.lock().expect("lock");
        conn.query_row("SELECT count(*) FROM chats", [], |r| r.get(0))
            .expect("count")
    };
    assert_eq!(chats, 1, "chat 2 kept");
}

#[test]
fn data_survives_closing_and_reopening() {
    let dir = TempDir::new().expect("tempdir");
    {
        let store = open(&dir);
        store
            .enqueue_updates(&[update(5, 1, "pending"), update(6, 1, "done")], 100)
            .expect("enqueue");
        store
            .complete_update(6, &[send(1, "reply")], 200)
            .expect("complete");
        store.record_chat_start(1, Some("src"), 100).expect("start");
        store.set_no_match_streak(1, 2).expect("streak");
        store.set_blocked(2, true, 100).expect("block");
        store.record_feedback(1, "p", true, 100).expect("feedback");
        store.set_meta("k", "v").expect("meta");
    }
    let store = open(&dir);
    assert_eq!(store.next_update_offset().expect("offset"), 7);
    assert_eq!(
        store.pending_updates(10).expect("pending")[0].body,
        "pending"
    );
    assert!(store.is_update_done(6).expect("done?"));
    assert_eq!(
        store.outbox_batch(10).expect("batch")[0].action,
        send(1, "reply")
    );
    assert_eq!(store.chat_state(1).expect("state").no_match_streak, 2);
    assert!(store.is_blocked(2).expect("blocked?"));
    assert_eq!(store.feedback_counts("p").expect("counts"), (1, 0));
    assert_eq!(store.get_meta("k").expect("meta").as_deref(), Some("v"));
}

#[test]
fn the_store_is_shared_across_threads() {
    let dir = TempDir::new().expect("tempdir");
    let store: Arc<SqliteStore> = Arc::new(open(&dir));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let id = t * 100 + i;
                    store
                        .enqueue_updates(&[update(id, i64::from(t), "x")], 1)
                        .expect("enqueue");
                    store
                        .complete_update(id, &[send(i64::from(t), "y")], 2)
                        .expect("complete");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(store.outbox_len().expect("len"), 100);
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(store.next_update_offset().expect("offset"), 325);
}

#[test]
fn a_poisoned_lock_is_an_error() {
    let dir = TempDir::new().expect("tempdir");
    let store = Arc::new(open(&dir));
    let s = Arc::clone(&store);
    let panicked = std::thread::spawn(move || {
        let _guard = s.lock().expect("lock");
        panic!("handler bug");
    })
    .join();
    assert!(panicked.is_err());
    let err = store.pending_count().expect_err("must refuse");
    assert!(matches!(err, StoreError::Poisoned { .. }), "{err:?}");
    assert!(err.to_string().contains("bot.db"), "{err}");
}
