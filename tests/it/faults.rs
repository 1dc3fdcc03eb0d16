//! Faults from RELIABILITY.md that involve Telegram, each through the strict fake Bot API:
//! nothing lost, nothing doubled, the process keeps running.

use std::sync::Arc;
use std::time::Duration;

use faqbot::metrics::Metrics;
use faqbot::settings::Secret;
use faqbot::store::{NewUpdate, SqliteStore, Store};
use faqbot::telegram::webhook;

use crate::bot::{Bot, Home, TOKEN};
use crate::fake_api::{FakeTelegram, Fault};

const WAIT: Duration = Duration::from_secs(40);

fn answered_once(fake: &FakeTelegram, chats: &[i64]) {
    assert!(
        fake.wait_until(WAIT, |f| chats
            .iter()
            .all(|c| !f.messages_to(*c).is_empty())),
        "not all answered: {:?}",
        chats
            .iter()
            .map(|c| fake.messages_to(*c).len())
            .collect::<Vec<_>>()
    );
    // a few more polls: nothing more may arrive
    let polls = fake.get_updates_offsets().len();
    fake.wait_until(WAIT, |f| f.get_updates_offsets().len() >= polls + 2);
    for c in chats {
        assert_eq!(fake.messages_to(*c).len(), 1, "chat {c}");
    }
}

#[test]
fn telegram_unreachable_at_start_then_back() {
    let fake = FakeTelegram::start(TOKEN);
    for _ in 0..3 {
        fake.fail_next("getMe", Fault::Status(502, "Bad Gateway"));
    }
    let home = Home::shipped();
    fake.push_text(8001, 8001, "hello");
    let _bot = Bot::start(home.settings(&fake, &[]));
    answered_once(&fake, &[8001]);
    assert!(fake.calls_of("getMe").len() >= 4, "retried getMe");
}

#[test]
fn get_updates_conflicts_errors_and_stalls() {
    let fake = FakeTelegram::start(TOKEN);
    fake.fail_next("getUpdates", Fault::Status(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"));
    fake.fail_next("getUpdates", Fault::Status(500, "Internal Server Error"));
    fake.fail_next("getUpdates", Fault::Delay(Duration::from_secs(3)));
    fake.fail_next("getUpdates", Fault::Status(502, "Bad Gateway"));
    let home = Home::shipped();
    for chat in [8101, 8102, 8103] {
        fake.push_text(chat, chat, "hello");
    }
    let _bot = Bot::start(home.settings(&fake, &[]));
    answered_once(&fake, &[8101, 8102, 8103]);
}

#[test]
fn send_stalls_and_5xx_are_retried_in_order() {
    let fake = FakeTelegram::start(TOKEN);
    fake.fail_next("sendMessage", Fault::Delay(Duration::from_secs(2)));
    fake.fail_next("sendMessage", Fault::Status(500, "Internal Server Error"));
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(8201, 8201, "hello");
    fake.push_text(8201, 8201, "what is TIL therapy?");
    assert!(fake.wait_until(WAIT, |f| f.messages_to(8201).len() >= 2));
    let msgs = fake.messages_to(8201);
    assert!(
        msgs[0].visible.contains("Hello"),
        "order kept: {}",
        msgs[0].visible
    );
    assert!(
        msgs[1].visible.contains("tumor-infiltrating"),
        "order kept: {}",
        msgs[1].visible
    );
}

#[test]
fn a_group_that_became_a_supergroup_gets_the_message_at_its_new_id() {
    let fake = FakeTelegram::start(TOKEN);
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    let old = -5001;
    let new = -1_000_000_005_001;
    fake.fail_next("sendMessage", Fault::Migrate(new));
    fake.push_group_text(old, 12, "/help", false);
    assert!(
        fake.wait_until(WAIT, |f| !f.messages_to(new).is_empty()),
        "resent to the supergroup"
    );
    assert!(fake.messages_to(old).is_empty());
}

#[test]
fn a_full_webhook_inbox_answers_503_and_keeps_memory_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("db.sqlite")).expect("store"));
    let pending: Vec<NewUpdate> = (1..=3)
        .map(|i| NewUpdate {
            update_id: i,
            chat_id: 1,
            body: "{}".into(),
        })
        .collect();
    store.enqueue_updates(&pending, 0).expect("enqueue");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let status = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let hook = webhook::Hook {
            store: store.clone(),
            metrics: Arc::new(Metrics::new()),
            clock: faqbot::clock::Clock::system(),
            inbox: Arc::new(tokio::sync::Notify::new()),
            secret: Secret::new("a-long-webhook-secret-123"),
            max_pending: 3,
        };
        let server = tokio::spawn(webhook::serve(listener, "/hook".into(), hook, stop_rx));
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for id in 10..15 {
            let body = format!(r#"{{"update_id": {id}, "message": {{"message_id": 1, "date": 0, "chat": {{"id": 2, "type": "private"}}, "text": "x"}}}}"#);
            let response = client
                .post(format!("http://{addr}/hook"))
                .header(webhook::SECRET_HEADER, "a-long-webhook-secret-123")
                .body(body)
                .send()
                .await
                .expect("post");
            statuses.push(response.status().as_u16());
        }
        let _ = stop_tx.send(true);
        let _ = server.await;
        statuses
    });
    assert_eq!(
        status,
        vec![503; 5],
        "a full inbox refuses, so Telegram keeps and retries"
    );
    assert_eq!(
        store.pending_count().expect("count"),
        3,
        "nothing stored beyond the bound"
    );
}
