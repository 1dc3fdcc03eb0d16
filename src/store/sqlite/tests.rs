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
