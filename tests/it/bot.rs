//! The bot end to end: `faqbot run` (in-process, or the real executable where a crash or a
//! signal is the point) with the real teloxide client talking HTTP to the strict fake Bot API on
//! 127.0.0.1. The tests assert what the fake received; they never assert on elapsed time except
//! where Telegram demands a minimum wait (429 `retry_after`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use faqbot::settings::Settings;
use faqbot::store::{Backend, Outbox, PgStore, SqliteStore};
use faqbot_dev::pg::TestDb;
use serde_json::Value;
use tempfile::TempDir;

use crate::fake_api::{FakeTelegram, Fault, SentMessage, BOT_USERNAME};
use crate::helpers::shipped_content;

pub const TOKEN: &str = "123456:TEST-token-never-logged";
const WAIT: Duration = Duration::from_secs(30);

/// Which store a test's bot runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEngine {
    /// A SQLite file in the home.
    Sqlite,
    /// A fresh PostgreSQL database (see `faqbot_dev::pg`).
    Postgres,
}

/// Runs each named test function (taking a [`StoreEngine`]) on both stores:
/// `<test>::sqlite` and `<test>::postgres`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::bot::StoreEngine::Sqlite);
                }
                #[test]
                fn postgres() {
                    super::$name($crate::bot::StoreEngine::Postgres);
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;

/// What the tests read from a bot's store beside the roles.
pub trait Inspect: Backend {
    fn feedback_counts(&self, passage_id: &str) -> faqbot::store::StoreResult<(u64, u64)>;
    fn is_blocked(&self, chat_id: i64) -> faqbot::store::StoreResult<bool>;
    /// SQLite's integrity check; on PostgreSQL, that the database answers (the server keeps
    /// its own pages consistent).
    fn integrity_check(&self) -> faqbot::store::StoreResult<bool>;
}

impl Inspect for SqliteStore {
    fn feedback_counts(&self, passage_id: &str) -> faqbot::store::StoreResult<(u64, u64)> {
        SqliteStore::feedback_counts(self, passage_id)
    }
    fn is_blocked(&self, chat_id: i64) -> faqbot::store::StoreResult<bool> {
        SqliteStore::is_blocked(self, chat_id)
    }
    fn integrity_check(&self) -> faqbot::store::StoreResult<bool> {
        SqliteStore::integrity_check(self)
    }
}

impl Inspect for PgStore {
    fn feedback_counts(&self, passage_id: &str) -> faqbot::store::StoreResult<(u64, u64)> {
        PgStore::feedback_counts(self, passage_id)
    }
    fn is_blocked(&self, chat_id: i64) -> faqbot::store::StoreResult<bool> {
        PgStore::is_blocked(self, chat_id)
    }
    fn integrity_check(&self) -> faqbot::store::StoreResult<bool> {
        self.outbox_len().map(|_| true)
    }
}

/// A temporary home for one bot: its store, index and (optionally) content.
pub struct Home {
    pub dir: TempDir,
    pub content: PathBuf,
    /// The PostgreSQL database, when the bot runs on one (dropped after the home's bot).
    pub pg: Option<TestDb>,
}

impl Home {
    pub fn shipped() -> Home {
        Home::shipped_on(StoreEngine::Sqlite)
    }

    /// The shipped content, on the given store.
    pub fn shipped_on(engine: StoreEngine) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("faqbot-bot-")
            .tempdir()
            .expect("tempdir");
        Home {
            dir,
            content: shipped_content(),
            pg: (engine == StoreEngine::Postgres).then(TestDb::new),
        }
    }

    /// A home whose content is the shipped content plus `extra` files.
    pub fn with_content(extra: &[(&str, &str)]) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("faqbot-bot-")
            .tempdir()
            .expect("tempdir");
        let content = dir.path().join("faq");
        std::fs::create_dir_all(&content).expect("content dir");
        for entry in std::fs::read_dir(shipped_content()).expect("shipped content") {
            let path = entry.expect("entry").path();
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, content.join(name)).expect("copy content");
            }
        }
        for (name, text) in extra {
            std::fs::write(content.join(name), text).expect("write content");
        }
        Home {
            dir,
            content,
            pg: None,
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("faqbot.db")
    }

    pub fn env(&self, fake: &FakeTelegram) -> Vec<(String, String)> {
        [
            ("FAQBOT_TELEGRAM__TOKEN", TOKEN.to_string()),
            ("FAQBOT_TELEGRAM__API_URL", fake.url()),
            ("FAQBOT_TELEGRAM__POLL_TIMEOUT_SECS", "1".to_string()),
            ("FAQBOT_CONTENT__DIR", self.content.display().to_string()),
            ("FAQBOT_CONTENT__RELOAD_SECS", "1".to_string()),
            (
                "FAQBOT_INDEX__DIR",
                self.dir.path().join("index").display().to_string(),
            ),
            ("FAQBOT_STORE__PATH", self.db().display().to_string()),
            (
                "FAQBOT_STORE__URL",
                self.pg
                    .as_ref()
                    .map(|db| db.url.clone())
                    .unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    pub fn settings(&self, fake: &FakeTelegram, extra: &[(&str, &str)]) -> Settings {
        let mut env = self.env(fake);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::load_from(None, env).expect("settings")
    }

    /// A second connection to the bot's store, for checking what it recorded.
    pub fn store(&self) -> Box<dyn Inspect> {
        match &self.pg {
            None => Box::new(SqliteStore::open(self.db()).expect("open the store")),
            Some(db) => {
                let settings =
                    faqbot::store::postgres::connect_settings(&db.url, None, None).expect("url");
                Box::new(PgStore::open(settings, 2).expect("open the store"))
            }
        }
    }
}

/// `faqbot run` in-process, on its own runtime and thread; stopped (gracefully) on drop.
pub struct Bot {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Bot {
    pub fn start(settings: Settings) -> Bot {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(faqbot::telegram::run::run(settings, async {
                let _ = rx.await;
            }))
        });
        Bot {
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("bot thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

on_both_stores!(
    a_question_is_answered_with_disclaimer_and_buttons,
    no_match_and_emergency,
    helpful_and_not_helpful_are_stored_and_acknowledged,
    forget_asks_first_then_erases,
    the_same_update_delivered_twice_is_answered_once,
    blocked_users_are_recorded_and_not_retried,
    kill_9_mid_queue_loses_nothing_and_doubles_nothing,
);

fn fake() -> FakeTelegram {
    FakeTelegram::start(TOKEN)
}

/// Waits until `chat` received at least `n` messages, and returns them.
pub fn wait_messages(fake: &FakeTelegram, chat: i64, n: usize) -> Vec<SentMessage> {
    let ok = fake.wait_until(WAIT, |f| f.messages_to(chat).len() >= n);
    let got = fake.messages_to(chat);
    assert!(
        ok,
        "chat {chat}: expected {n} messages, got {}: {:?}",
        got.len(),
        got.iter().map(|m| &m.visible).collect::<Vec<_>>()
    );
    got
}

/// Waits until the bot has been idle long enough for an unexpected extra message to show.
pub fn settle(fake: &FakeTelegram) {
    let polls = fake.get_updates_offsets().len();
    // two more polls after the last update: everything handled has been sent
    fake.wait_until(WAIT, |f| {
        f.get_updates_offsets().len() >= polls + 2 && f.pending_updates() == 0
    });
}

pub fn buttons(m: &SentMessage) -> Vec<(String, Option<String>, Option<String>)> {
    let rows = m
        .reply_markup
        .as_ref()
        .and_then(|k| k.get("inline_keyboard"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|b| {
            let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
            (s("text").unwrap_or_default(), s("callback_data"), s("url"))
        })
        .collect()
}

pub fn footer_ok(m: &SentMessage) -> bool {
    m.visible.contains("not medical advice") && m.visible.contains("/human")
}

#[test]
fn start_with_and_without_payload_greets_with_buttons() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_command(101, 101, "/start");
    fake.push_command(102, 102, "/start from-clinic-flyer");
    for chat in [101, 102] {
        let msgs = wait_messages(&fake, chat, 1);
        let m = &msgs[0];
        assert!(
            m.visible.contains("not a doctor") && m.visible.contains("not medical advice"),
            "{}",
            m.visible
        );
        let b = buttons(m);
        assert!(
            b.iter().any(|(_, data, _)| data.as_deref() == Some("b")),
            "Browse topics: {b:?}"
        );
        assert!(
            b.iter().any(|(_, _, url)| url.is_some()),
            "handoff link: {b:?}"
        );
        assert!(
            b.iter().any(|(_, data, _)| data.as_deref() == Some("h")),
            "coordinator: {b:?}"
        );
    }
    let commands = fake.sent("setMyCommands");
    assert_eq!(commands.len(), 1, "commands registered once");
    let names: Vec<&str> = commands[0]["commands"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for c in ["start", "topics", "human", "privacy", "forget", "help"] {
        assert!(names.contains(&c), "{c} missing from {names:?}");
    }
    // the deep-link payload is kept as the chat's source
    let db = rusqlite::Connection::open(home.db()).expect("open the database");
    let source: Option<String> = db
        .query_row("SELECT source FROM chats WHERE chat_id = 102", [], |r| {
            r.get(0)
        })
        .expect("chat 102 recorded");
    assert_eq!(source.as_deref(), Some("from-clinic-flyer"));
    let none: Option<String> = db
        .query_row("SELECT source FROM chats WHERE chat_id = 101", [], |r| {
            r.get(0)
        })
        .expect("chat 101 recorded");
    assert_eq!(none, None);
}

#[test]
fn help_and_privacy() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[("FAQBOT_STORE__RETENTION_DAYS", "30")]));
    fake.push_command(151, 151, "/help");
    fake.push_command(152, 152, "/privacy");
    let help = &wait_messages(&fake, 151, 1)[0];
    for c in ["/topics", "/human", "/privacy", "/forget"] {
        assert!(help.visible.contains(c), "{c} in /help: {}", help.visible);
    }
    let privacy = &wait_messages(&fake, 152, 1)[0];
    assert!(
        privacy.visible.contains("30 days") && privacy.visible.contains("/forget"),
        "{}",
        privacy.visible
    );
}

fn a_question_is_answered_with_disclaimer_and_buttons(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(201, 201, "what are ADCs?");
    let m = &wait_messages(&fake, 201, 1)[0];
    assert!(
        m.visible
            .contains("Targeted antibodies carrying cytotoxic payloads"),
        "{}",
        m.visible
    );
    assert!(footer_ok(m), "{}", m.visible);
    assert_eq!(m.parse_mode.as_deref(), Some("HTML"));
    let data = m.callback_data();
    assert!(
        data.contains(&"f:y:adc".to_string()) && data.contains(&"f:n:adc".to_string()),
        "{data:?}"
    );
    assert!(buttons(m)
        .iter()
        .any(|(_, _, url)| url.as_deref() == Some("https://chinamedwaypoint.com/contact")));
}

fn no_match_and_emergency(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(301, 301, "how do i cook rice");
    fake.push_text(302, 302, "my father can't breathe and his lips are blue");
    let m = &wait_messages(&fake, 301, 1)[0];
    assert!(m.visible.contains("could not find"), "{}", m.visible);
    assert!(footer_ok(m));
    assert!(
        !m.callback_data().iter().any(|d| d.starts_with("f:")),
        "no feedback buttons on a no-match"
    );
    let e = &wait_messages(&fake, 302, 1)[0];
    assert!(e.visible.contains("emergency number"), "{}", e.visible);
    assert!(footer_ok(e));
}

/// Thresholds that make a question of middling certainty a `suggest` whatever the calibration
/// of the day: "what other options do we have" finds related passages (the second opinion, the
/// kind of cancer, why China) and could mean any of them (the question model's certainty 0.3
/// after its fourth training; "what other options are there" had crept up to 0.9), while a
/// clear question ("what is TIL therapy?", 0.999) is still answered.
pub const SUGGEST_ENV: [(&str, &str); 2] = [
    ("FAQBOT_SEARCH__ANSWER_CERTAINTY", "0.9"),
    ("FAQBOT_SEARCH__SUGGEST_CONFIDENCE", "0.2"),
];
pub const SUGGEST_QUESTION: &str = "what other options do we have";

#[test]
fn suggestions_are_buttons_and_a_chosen_one_comes_with_the_disclaimer() {
    let fake = fake();
    let home = Home::shipped();
    let settings = home.settings(&fake, &SUGGEST_ENV);
    let intro = settings.reply.suggest.clone();
    let _bot = Bot::start(settings);
    fake.push_text(451, 451, SUGGEST_QUESTION);
    let offer = wait_messages(&fake, 451, 1).remove(0);
    assert_eq!(offer.parse_mode.as_deref(), Some("HTML"));
    assert!(offer.visible.starts_with(&intro), "{}", offer.visible);
    assert!(
        offer.visible.contains("a coordinator can help"),
        "{}",
        offer.visible
    );
    assert!(footer_ok(&offer), "{}", offer.visible);
    let data = offer.callback_data();
    let chosen: Vec<&str> = data.iter().filter_map(|d| d.strip_prefix("s:")).collect();
    assert!(
        (1..=3).contains(&chosen.len()),
        "one to three suggestions: {data:?}"
    );
    assert!(data.iter().all(|d| d.len() <= 64), "{data:?}");
    assert!(data.contains(&"h".to_string()), "a coordinator: {data:?}");
    assert!(
        !data.iter().any(|d| d.starts_with("f:")),
        "no feedback on suggestions: {data:?}"
    );
    // every suggestion's title is in the text, as a bullet
    let titles: Vec<String> = buttons(&offer)
        .into_iter()
        .filter(|(_, d, _)| d.as_deref().is_some_and(|d| d.starts_with("s:")))
        .map(|(t, _, _)| t.trim_end_matches('…').to_string())
        .collect();
    for t in &titles {
        assert!(
            offer.visible.contains(&format!("• {t}")),
            "{t}: {}",
            offer.visible
        );
    }
    // the second suggestion, pressed: its whole passage, with the disclaimer and feedback
    let pick = chosen.last().expect("a suggestion").to_string();
    fake.push_callback(451, 451, offer.message_id, &format!("s:{pick}"));
    let passage = wait_messages(&fake, 451, 2).remove(1);
    assert!(footer_ok(&passage), "{}", passage.visible);
    let engine = crate::helpers::Shipped::new();
    let body = engine.answer(&format!("/read {pick}"));
    let first_line = body
        .passage
        .as_ref()
        .expect("the passage")
        .text
        .lines()
        .next()
        .unwrap_or_default();
    assert!(
        passage
            .visible
            .contains(first_line.trim_start_matches("- ")),
        "{}",
        passage.visible
    );
    assert!(
        passage.callback_data().contains(&format!("f:n:{pick}")),
        "{:?}",
        passage.callback_data()
    );
    assert!(fake.wait_until(WAIT, |f| !f.sent("answerCallbackQuery").is_empty()));
    // the store knows which was chosen
    let store = home.store();
    assert!(fake.wait_until(WAIT, |_| store
        .questions_between(0, i64::MAX)
        .map(|q| q.len() == 1 && q[0].question.chosen.as_deref() == Some(pick.as_str()))
        .unwrap_or(false)));
}

fn helpful_and_not_helpful_are_stored_and_acknowledged(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(401, 401, "what is car-t cell therapy");
    let answer = wait_messages(&fake, 401, 1).remove(0);
    let passage = answer
        .callback_data()
        .iter()
        .find_map(|d| d.strip_prefix("f:y:").map(str::to_string))
        .expect("feedback button");
    fake.push_callback(401, 401, answer.message_id, &format!("f:y:{passage}"));
    fake.push_callback(401, 401, answer.message_id, &format!("f:n:{passage}"));
    // not helpful offers a coordinator
    let msgs = wait_messages(&fake, 401, 2);
    assert!(
        msgs[1].visible.contains("coordinator"),
        "{}",
        msgs[1].visible
    );
    assert!(fake.wait_until(WAIT, |f| f.sent("answerCallbackQuery").len() >= 2));
    let store = home.store();
    // the second press replaces the first: one vote per chat and passage
    assert!(fake.wait_until(WAIT, |_| store
        .feedback_counts(&passage)
        .map(|c| c == (0, 1))
        .unwrap_or(false)));
}

#[test]
fn topics_are_paged_by_editing_the_message() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_command(501, 501, "/topics");
    let page = wait_messages(&fake, 501, 1).remove(0);
    let data = page.callback_data();
    assert!(
        data.iter().filter(|d| d.starts_with("r:")).count() >= 5,
        "{data:?}"
    );
    assert!(data.contains(&"t:1".to_string()), "a Next button: {data:?}");
    fake.push_callback(501, 501, page.message_id, "t:1");
    assert!(fake.wait_until(WAIT, |f| !f.sent("editMessageText").is_empty()));
    let edit = &fake.sent("editMessageText")[0];
    let edited: Vec<String> = edit["reply_markup"]["inline_keyboard"]
        .as_array()
        .expect("keyboard")
        .iter()
        .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_string))
        .collect();
    assert!(
        edited.iter().any(|d| d == "t:0"),
        "a Previous button on page 2: {edited:?}"
    );
    // reading a topic from the list
    let first = data
        .iter()
        .find(|d| d.starts_with("r:"))
        .expect("a topic")
        .clone();
    fake.push_callback(501, 501, page.message_id, &first);
    let msgs = wait_messages(&fake, 501, 2);
    assert!(footer_ok(&msgs[1]), "{}", msgs[1].visible);
}

fn forget_asks_first_then_erases(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_command(601, 601, "/start marker-source");
    fake.push_text(601, 601, "what is TIL therapy?");
    let answer = wait_messages(&fake, 601, 2).remove(1);
    fake.push_callback(601, 601, answer.message_id, "f:y:til");
    assert!(fake.wait_until(WAIT, |_| home
        .store()
        .feedback_counts("til")
        .map(|c| c.0 == 1)
        .unwrap_or(false)));
    fake.push_command(601, 601, "/forget");
    let confirm = wait_messages(&fake, 601, 3).remove(2);
    assert_eq!(
        confirm.callback_data(),
        vec!["g:y".to_string(), "g:n".to_string()]
    );
    assert_eq!(
        home.store().feedback_counts("til").expect("counts"),
        (1, 0),
        "nothing erased before the confirmation"
    );
    fake.push_callback(601, 601, confirm.message_id, "g:y");
    let done = wait_messages(&fake, 601, 4).remove(3);
    assert!(done.visible.contains("erased"), "{}", done.visible);
    assert_eq!(home.store().feedback_counts("til").expect("counts"), (0, 0));
}

#[test]
fn non_text_messages_get_an_explanation_and_edits_an_answer() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_photo(701, 701, None);
    fake.push_sticker(702, 702);
    fake.push_voice(703, 703);
    for chat in [701, 702, 703] {
        let m = &wait_messages(&fake, chat, 1)[0];
        assert!(m.visible.contains("only read text"), "{}", m.visible);
    }
    let first = fake.push_text(704, 704, "hello");
    wait_messages(&fake, 704, 1);
    let message_id = fake.message_id_of(first).expect("message id");
    fake.push_edited_text(704, 704, message_id, "what are bispecific antibodies");
    let m = &wait_messages(&fake, 704, 2)[1];
    assert!(m.visible.contains("immune effector cells"), "{}", m.visible);
}

#[test]
fn in_groups_only_mentions_replies_and_commands_are_answered() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    let group = -4001;
    fake.push_group_text(group, 11, "what are ADCs", false);
    fake.push_group_text(group, 11, "/help@some_other_bot", false);
    fake.push_group_text(
        group,
        11,
        &format!("@{BOT_USERNAME} what is TIL therapy?"),
        false,
    );
    let msgs = wait_messages(&fake, group, 1);
    assert!(
        msgs[0].visible.contains("tumor-infiltrating"),
        "{}",
        msgs[0].visible
    );
    fake.push_group_text(group, 12, "and what are bispecific antibodies?", true);
    let msgs = wait_messages(&fake, group, 2);
    assert!(
        msgs[1].visible.contains("immune effector cells"),
        "{}",
        msgs[1].visible
    );
    settle(&fake);
    assert_eq!(
        fake.messages_to(group).len(),
        2,
        "unaddressed messages are not answered"
    );
}

#[test]
fn a_429_is_waited_out_and_the_message_still_arrives() {
    let fake = fake();
    let home = Home::shipped();
    fake.fail_next("sendMessage", Fault::RetryAfter(2));
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(801, 801, "hello");
    fake.push_text(801, 801, "what is TIL therapy?");
    let msgs = wait_messages(&fake, 801, 2);
    let refused = fake
        .rejected()
        .into_iter()
        .find(|c| c.status == 429)
        .expect("a 429 was answered");
    assert!(
        msgs[0].at >= refused.at + Duration::from_secs(2),
        "resent before retry_after"
    );
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
    let too_early = fake.rejected().iter().filter(|c| c.status == 429).count();
    assert_eq!(too_early, 1, "no retries inside the retry_after window");
    // the spacing itself (one message a second per chat) is checked by the throttle's unit
    // tests and the throttled load test: arrival times at the fake jitter on a loaded machine
}

fn blocked_users_are_recorded_and_not_retried(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.block_chat(901);
    fake.push_text(901, 901, "what are ADCs");
    fake.push_text(901, 901, "what is TIL therapy");
    assert!(fake.wait_until(WAIT, |_| home.store().is_blocked(901).unwrap_or(false)));
    settle(&fake);
    let attempts = fake
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.chat_id() == Some(901))
        .count();
    assert!(attempts <= 2, "blocked chat retried {attempts} times");
    assert_eq!(home.store().outbox_len().expect("outbox"), 0);
}

#[test]
fn a_long_answer_is_split_into_valid_messages() {
    let long_text: String = (0..40)
        .map(|i| format!("Paragraph {i} explains one more thing about caring for someone <at home> & in hospital, in plain words that keep going for a while."))
        .collect::<Vec<_>>()
        .join("\n\n");
    assert!(long_text.chars().count() > 5000);
    let guide = format!("---\nid: long-guide\ntitle: Long\nlanguage: en\n---\n\n## A very long section\nid: very-long\n\n{long_text}\n");
    let fake = fake();
    let home = Home::with_content(&[("long.md", &guide)]);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_command(1001, 1001, "/read very-long");
    let msgs = wait_messages(&fake, 1001, 2);
    settle(&fake);
    let msgs_now = fake.messages_to(1001);
    assert_eq!(msgs_now.len(), msgs.len().max(2));
    let last = msgs_now.last().expect("messages");
    assert!(
        footer_ok(last),
        "disclaimer and handoff in the last part: {}",
        last.visible
    );
    for m in &msgs_now {
        assert!(crate::tg_html::utf16_len(&m.visible) <= 4096);
    }
    let all: String = msgs_now
        .iter()
        .map(|m| m.visible.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("Paragraph 0 ") && all.contains("Paragraph 39 "),
        "nothing lost"
    );
    assert!(
        all.contains("<at home> & in hospital"),
        "escaped text arrives as written"
    );
    assert!(
        fake.rejected().iter().all(|c| c.method != "sendMessage"),
        "the fake refused a part: {:?}",
        fake.rejected()
    );
}

#[test]
fn forged_callback_data_gets_a_polite_answer() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(1101, 1101, "hello");
    let m = wait_messages(&fake, 1101, 1).remove(0);
    fake.push_callback(1101, 1101, m.message_id, "f:y:no-such-passage");
    fake.push_callback(1101, 1101, m.message_id, "DROP TABLE chats; --");
    assert!(fake.wait_until(WAIT, |f| f.sent("answerCallbackQuery").len() >= 2));
    for answer in fake.sent("answerCallbackQuery") {
        assert!(
            answer["text"]
                .as_str()
                .is_some_and(|t| t.contains("no longer valid")),
            "{answer}"
        );
    }
}

fn the_same_update_delivered_twice_is_answered_once(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    let id = fake.push_text(1201, 1201, "hello");
    let again = fake
        .pushed()
        .into_iter()
        .find(|u| u["update_id"].as_i64() == Some(i64::from(id)))
        .expect("pushed");
    let _bot = Bot::start(home.settings(&fake, &[]));
    wait_messages(&fake, 1201, 1);
    fake.push_update(again);
    settle(&fake);
    assert_eq!(fake.messages_to(1201).len(), 1);
}

#[test]
fn an_unreadable_update_is_skipped_and_the_rest_answered() {
    let fake = fake();
    let home = Home::shipped();
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_raw(
        r#"{"update_id": 1, "message": {"chat": "not an object", "text": "secret words"}}"#,
    );
    fake.push_update(serde_json::json!({"poll_answer": {"poll_id": "1"}}));
    fake.push_text(1301, 1301, "hello");
    wait_messages(&fake, 1301, 1);
}

#[test]
fn content_changes_are_picked_up_without_a_restart() {
    let fake = fake();
    let home = Home::with_content(&[]);
    let _bot = Bot::start(home.settings(&fake, &[]));
    fake.push_text(1401, 1401, "what is the zorblat protocol");
    let m = &wait_messages(&fake, 1401, 1)[0];
    assert!(m.visible.contains("could not find"), "{}", m.visible);
    std::fs::write(
        home.content.join("zorblat.md"),
        "---\nid: zorblat\ntitle: Zorblat\n---\n\n## The zorblat protocol\nid: zorblat-protocol\n\nThe zorblat protocol is a made-up test passage.\n",
    )
    .expect("write content");
    // the reload runs every second: ask again after each answer until the new passage answers
    let asked = std::cell::Cell::new(1);
    let found = fake.wait_until(WAIT, |f| {
        let answers = f.messages_to(1401);
        if answers
            .iter()
            .any(|m| m.visible.contains("made-up test passage"))
        {
            return true;
        }
        if answers.len() >= asked.get() && asked.get() < 20 {
            asked.set(asked.get() + 1);
            f.push_text(1401, 1401, "what is the zorblat protocol");
        }
        false
    });
    assert!(found, "the new content was never used");
    // a content error keeps the current index serving
    std::fs::write(home.content.join("broken.md"), "no front matter here\n")
        .expect("write content");
    std::thread::sleep(Duration::from_millis(1500));
    let before = fake.messages_to(1402).len();
    fake.push_text(1402, 1402, "what is the zorblat protocol");
    let m = wait_messages(&fake, 1402, before + 1).remove(before);
    assert!(m.visible.contains("made-up test passage"), "{}", m.visible);
}

#[test]
fn webhook_requests_need_the_secret() {
    let fake = fake();
    let home = Home::shipped();
    let port = free_port();
    let secret = "a-long-webhook-secret-123";
    let _bot = Bot::start(home.settings(
        &fake,
        &[
            ("FAQBOT_TELEGRAM__MODE", "webhook"),
            (
                "FAQBOT_TELEGRAM__WEBHOOK_URL",
                "https://bot.example.org/tg/hook",
            ),
            (
                "FAQBOT_TELEGRAM__WEBHOOK_LISTEN",
                &format!("127.0.0.1:{port}"),
            ),
            ("FAQBOT_TELEGRAM__WEBHOOK_SECRET", secret),
        ],
    ));
    let ok = fake.wait_until(WAIT, |f| !f.sent("setWebhook").is_empty());
    assert!(
        ok,
        "setWebhook: {:?}",
        fake.calls()
            .iter()
            .map(|c| (
                c.method.clone(),
                c.status,
                c.description().map(str::to_string)
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(fake.sent("setWebhook")[0]["secret_token"], secret);
    let update = serde_json::json!({
        "update_id": 77,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 1501, "type": "private", "first_name": "A"},
                    "from": {"id": 1501, "is_bot": false, "first_name": "A"}, "text": "hello"}
    });
    let url = format!("http://127.0.0.1:{port}/tg/hook");
    let body = update.to_string();
    let post = |secret: Option<&str>| post_webhook(&url, &body, secret);
    assert_eq!(post(None), 401);
    assert_eq!(post(Some("wrong-secret-of-some-length")), 401);
    settle_webhook(&fake);
    assert!(
        fake.messages_to(1501).is_empty(),
        "a refused update was answered"
    );
    assert_eq!(post(Some(secret)), 200);
    let m = &wait_messages(&fake, 1501, 1)[0];
    assert!(m.visible.contains("Hello"), "{}", m.visible);
    assert!(
        fake.calls_of("getUpdates").is_empty(),
        "no polling in webhook mode"
    );
}

fn settle_webhook(fake: &FakeTelegram) {
    let n = fake.calls().len();
    fake.wait_until(Duration::from_millis(500), |f| f.calls().len() > n);
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// POSTs an update to the webhook the way Telegram does; the HTTP status, or 0 when the
/// listener never came up.
fn post_webhook(url: &str, body: &str, secret: Option<&str>) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Some(status) = post_update(&client, url, body, secret).await {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        0
    })
}

/// One POST of an update with Telegram's headers: the HTTP status, or None when nothing
/// answered (within 5 s).
pub async fn post_update(
    client: &reqwest::Client,
    url: &str,
    body: &str,
    secret: Option<&str>,
) -> Option<u16> {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(5))
        .body(body.to_string());
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    req.send().await.ok().map(|r| r.status().as_u16())
}

/// Starts the real `faqbot run` with `env`, logging to `log` (appended).
pub fn spawn_with(home: &Home, env: Vec<(String, String)>, log: &Path) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faqbot"));
    cmd.arg("run")
        .current_dir(home.dir.path())
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.spawn().expect("start faqbot run")
}

/// The real executable, for crashes and signals.
struct Process {
    child: Child,
    stderr: PathBuf,
}

fn spawn_bot(home: &Home, fake: &FakeTelegram, log: &Path) -> Process {
    let stderr = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faqbot"));
    cmd.arg("run")
        .current_dir(home.dir.path())
        .env_clear()
        .envs(home.env(fake))
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    Process {
        child: cmd.spawn().expect("start faqbot run"),
        stderr: log.to_path_buf(),
    }
}

fn kill_9_mid_queue_loses_nothing_and_doubles_nothing(engine: StoreEngine) {
    let fake = fake();
    let home = Home::shipped_on(engine);
    // nothing can be delivered yet: every update is stored and handled, its answer queued
    for _ in 0..400 {
        fake.fail_next("sendMessage", Fault::Status(502, "Bad Gateway"));
    }
    let first: Vec<i64> = (0..10).map(|i| 2000 + i).collect();
    for &chat in &first {
        fake.push_text(chat, chat, "hello marker-zx81");
    }
    let log1 = home.dir.path().join("run1.log");
    let mut p = spawn_bot(&home, &fake, &log1);
    // all ten confirmed (stored), and sends are failing
    assert!(fake.wait_until(WAIT, |f| f.pending_updates() == 0
        && f.rejected().len() >= 3));
    p.child.kill().expect("SIGKILL");
    let _ = p.child.wait();
    fake.clear_faults("sendMessage");
    let second: Vec<i64> = (0..10).map(|i| 3000 + i).collect();
    for &chat in &second {
        fake.push_text(chat, chat, "thanks marker-zx81");
    }
    let log2 = home.dir.path().join("run2.log");
    let mut p2 = spawn_bot(&home, &fake, &log2);
    for &chat in first.iter().chain(&second) {
        wait_messages(&fake, chat, 1);
    }
    settle(&fake);
    for &chat in first.iter().chain(&second) {
        assert_eq!(
            fake.messages_to(chat).len(),
            1,
            "chat {chat} answered more than once"
        );
    }
    // SIGTERM: finishes and exits 0
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(p2.child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = p2.child.wait().expect("wait");
    assert!(exit.success(), "SIGTERM exit status {exit:?}");
    for log in [&p.stderr, &p2.stderr] {
        let text = std::fs::read_to_string(log).expect("log");
        assert!(text.contains("handled"), "trace logging is on: {log:?}");
        assert!(!text.contains("marker-zx81"), "message text in the log");
        assert!(
            !text.contains("TEST-token-never-logged"),
            "the token in the log"
        );
    }
    assert!(home.store().integrity_check().expect("integrity"));
}

#[test]
fn a_missing_token_is_one_clear_error() {
    let home = Home::shipped();
    let out = Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .arg("run")
        .current_dir(home.dir.path())
        .env_clear()
        .env("FAQBOT_CONTENT__DIR", &home.content)
        .env("FAQBOT_STORE__PATH", home.db())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("telegram.token") && err.contains("FAQBOT_TELEGRAM__TOKEN"),
        "{err}"
    );
}
