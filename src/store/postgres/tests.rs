//! What only PostgreSQL has: several connections (replicas) on one database at once, the
//! migrations' lock and version table, and the connection settings. The behaviour both
//! backends share is tested in `store/conformance/`.

use std::sync::Arc;

use faqbot_dev::pg::TestDb;

use super::Db;
use super::*;
use crate::store::conformance::{open_pg, send, update, Probe};
use crate::store::*;

#[test]
fn replicas_opening_a_new_database_together_migrate_once() {
    let db = TestDb::new();
    let stores: Vec<PgStore> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| open_pg(&db.url))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let version = stores[0]
        .run("read", async |c| {
            Ok(c.query_one("SELECT version FROM schema_version", &[])
                .await?
                .try_get::<_, i64>(0)?)
        })
        .expect("version");
    assert_eq!(version, super::schema::MIGRATIONS.len() as i64);
    for s in &stores {
        s.outbox_len().expect("usable");
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let db = TestDb::new();
    let store = open_pg(&db.url);
    store
        .run("bump", async |c| {
            Ok(c.execute("UPDATE schema_version SET version = 99", &[])
                .await?)
        })
        .expect("bump");
    drop(store);
    let err = PgStore::open(connect_settings(&db.url, None, None).expect("settings"), 2)
        .expect_err("must refuse");
    assert!(
        matches!(err, StoreError::PgTooNew { found: 99, .. }),
        "{err:?}"
    );
}

/// Two replicas completing the same updates at the same moment queue each update's actions
/// once, and the outbox ids come out in commit order.
#[test]
fn concurrent_completions_queue_each_update_once() {
    let db = TestDb::new();
    let a = Arc::new(open_pg(&db.url));
    let b = Arc::new(open_pg(&db.url));
    let ids: Vec<i32> = (1..=40).collect();
    let items: Vec<NewUpdate> = ids
        .iter()
        .map(|&i| update(i, i64::from(i % 4), "q"))
        .collect();
    a.enqueue_updates(&items, 1).expect("enqueue");
    b.enqueue_updates(&items, 1).expect("enqueue again");
    std::thread::scope(|s| {
        for store in [&a, &b, &a, &b] {
            let ids = &ids;
            s.spawn(move || {
                for &id in ids {
                    let chat = i64::from(id % 4);
                    store
                        .complete_update(
                            id,
                            &[send(chat, &format!("{id}a")), send(chat, &format!("{id}b"))],
                            2,
                        )
                        .expect("complete");
                }
            });
        }
    });
    assert_eq!(a.pending_count().expect("pending"), 0);
    let batch = a.outbox_batch(1_000).expect("batch");
    assert_eq!(batch.len(), 80, "each update's two actions, once");
    // per chat, each update's actions stay together and in order
    for chat in 0..4 {
        let texts: Vec<String> = batch
            .iter()
            .filter(|i| i.chat_id == Some(chat))
            .map(|i| match &i.action {
                Action::Send(m) => m.html.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        for pair in texts.chunks(2) {
            assert!(
                pair[0].ends_with('a') && pair[1].ends_with('b'),
                "{texts:?}"
            );
            assert_eq!(pair[0].trim_end_matches('a'), pair[1].trim_end_matches('b'));
        }
    }
}

/// Replicas escalating the same chat at once make one open escalation.
#[test]
fn concurrent_escalations_of_a_chat_make_one() {
    let db = TestDb::new();
    let stores: Vec<PgStore> = (0..3).map(|_| open_pg(&db.url)).collect();
    let results: Vec<(Escalation, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .flat_map(|store| (0..3).map(move |_| store))
            .map(|store| {
                s.spawn(move || {
                    store
                        .open_escalation(
                            &NewEscalation {
                                chat_id: 9,
                                user_id: 9,
                                name: "N".into(),
                                username: None,
                                language: "en".into(),
                                reason: Reason::Asked,
                                urgent: false,
                            },
                            1,
                        )
                        .expect("escalate")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let id = results[0].0.id;
    assert!(results.iter().all(|(e, _)| e.id == id));
}

/// A link redeemed by two replicas at once signs in one browser.
#[test]
fn a_link_is_redeemed_once_across_replicas() {
    let db = TestDb::new();
    let stores: Vec<PgStore> = (0..2).map(|_| open_pg(&db.url)).collect();
    stores[0]
        .create_review_link("h", 5, 1_000, 0)
        .expect("link");
    let redeemed: Vec<Option<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .map(|store| s.spawn(move || store.redeem_review_link("h", 10).expect("redeem")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(redeemed.iter().flatten().count(), 1, "{redeemed:?}");
}

#[test]
fn connection_settings_keep_the_password_out_of_addresses() {
    assert!(matches!(
        connect_settings("postgres://faqbot:hunter2@db/faqbot", None, None),
        Err(ConnectError::PasswordInUrl)
    ));
    let s = connect_settings("postgres://faqbot@db:5433/faqbot", Some("hunter2"), None)
        .expect("settings");
    assert_eq!(s.config.get_password(), Some(&b"hunter2"[..]));
    assert_eq!(
        s.config.get_ssl_mode(),
        SslMode::Disable,
        "TLS only when asked"
    );
    assert!(!format!("{s:?}").contains("hunter2"));
    let tls = connect_settings(
        "postgresql://faqbot@db/faqbot?sslmode=verify-full",
        None,
        None,
    )
    .expect("settings");
    assert_eq!(tls.config.get_ssl_mode(), SslMode::Require);
    assert!(matches!(
        connect_settings("mysql://db", None, None),
        Err(ConnectError::BadUrl { .. })
    ));
    assert_eq!(
        redact_url("postgres://faqbot:hunter2@db/faqbot?sslmode=require"),
        "postgres://faqbot:***@db/faqbot?sslmode=require"
    );
    assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    let err = connect_settings(
        "postgres://u@db/x?sslmode=require",
        None,
        Some(std::path::Path::new("/nonexistent.pem")),
    )
    .expect_err("missing CA file");
    assert!(err.to_string().contains("store.ca_file"), "{err}");
}

/// A store keeps working after the server closed its connections (a restart, a failover):
/// broken connections are dropped and new ones made.
#[test]
fn connections_closed_by_the_server_are_replaced() {
    let db = TestDb::new();
    let store = open_pg(&db.url);
    store.set_meta("k", "v1").expect("write");
    let admin = open_pg(&db.url);
    admin
        .run("kill", async |c| {
            Ok(c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await?)
        })
        .expect("terminate");
    // wait (bounded) until the server has ended the store's session
    for _ in 0..250 {
        let others = admin
            .run("count", async |c| {
                let row = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                        &[],
                    )
                    .await?;
                Ok(row.try_get::<_, i64>(0)?)
            })
            .expect("count");
        if others == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A call that meets the dead connection fails, and drops it; the next gets a new one.
    let first = store.set_meta("k", "v2");
    if let Err(e) = first {
        assert!(matches!(e, StoreError::Postgres { .. }), "{e:?}");
    }
    store.set_meta("k", "v3").expect("reconnected");
    assert_eq!(store.get_meta("k").expect("read").as_deref(), Some("v3"));
}
