//! Entry points shared by the fuzz targets (`fuzz/`) and the regression tests that replay what
//! the fuzzers found (`tests/it/fuzz_regressions.rs`). Each panics when an invariant breaks,
//! which is how libFuzzer notices.

use std::sync::Arc;

use teloxide::types::{Me, Update};

use faqbot::action::{Action, ButtonTarget, OutMessage};
use faqbot::core::{Engine, SharedEngine};
use faqbot::metrics::Metrics;
use faqbot::settings::Settings;
use faqbot::store::SqliteStore;
use faqbot::telegram::context::Ctx;
use faqbot::telegram::handlers::{self, Tree};
use faqbot::telegram::render;
use faqbot::text::utf16_len;

/// The content parsers must never panic, whatever the bytes.
pub fn content_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = faqbot::content::parse_guide(&text);
    let _ = faqbot::content::Synonyms::parse(&text);
}

/// Checks a message the bot would send: within Telegram's limits, with callback data that fits.
pub fn check_message(m: &OutMessage) {
    let plain = render::html_to_plain(&m.html);
    let units = utf16_len(&plain);
    assert!(
        (1..=4096).contains(&units),
        "message of {units} UTF-16 units"
    );
    for b in m.keyboard.iter().flatten() {
        assert!(!b.text.is_empty(), "empty button text");
        if let ButtonTarget::Callback(data) = &b.target {
            assert!(
                !data.is_empty() && data.len() <= 64,
                "callback data {data:?}"
            );
        }
    }
}

/// The engine over the shipped content, with a temporary index.
pub struct Harness {
    pub engine: SharedEngine,
    pub settings: Settings,
    store: Arc<SqliteStore>,
    tree: Tree,
    me: Me,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Builds the harness; panics if the shipped content cannot be indexed (a setup error).
    pub fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temporary folder");
        let env = vec![
            (
                "FAQBOT_CONTENT__DIR".to_string(),
                // the shipped content, in the project folder above this crate
                concat!(env!("CARGO_MANIFEST_DIR"), "/../faq").to_string(),
            ),
            (
                "FAQBOT_INDEX__DIR".to_string(),
                dir.path().join("index").display().to_string(),
            ),
            (
                "FAQBOT_COORDINATORS__CHAT_ID".to_string(),
                "-1001000000001".to_string(),
            ),
        ];
        let file = dir.path().join("defaults.toml");
        std::fs::write(&file, faqbot::settings::DEFAULTS).expect("write the defaults");
        let settings = Settings::load_from(Some(&file), env).expect("settings");
        let engine: Engine = faqbot::core::open_engine(&settings).expect("engine");
        let store = Arc::new(SqliteStore::open(dir.path().join("fuzz.db")).expect("store"));
        let me: Me = serde_json::from_value(serde_json::json!({
            "id": 1, "is_bot": true, "first_name": "FAQ", "username": "faq_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        }))
        .expect("bot user");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Harness {
            engine: SharedEngine::new(engine),
            settings,
            store,
            tree: handlers::schema(),
            me,
            runtime,
            _dir: dir,
        }
    }

    /// Any text: a reply that renders within limits and ends with the disclaimer.
    pub fn core_reply(&self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let engine = self.engine.get();
        let reply = engine.answer(&text);
        assert!(
            reply.plain_text().ends_with(&reply.handoff),
            "reply without the handoff line"
        );
        let messages = render::render_reply(&reply, 1, None);
        assert!(!messages.is_empty());
        for m in &messages {
            check_message(m);
        }
        let last = render::html_to_plain(&messages[messages.len() - 1].html);
        assert!(
            last.contains(&self.settings.reply.disclaimer),
            "the disclaimer is not in the last message"
        );
    }

    /// Any bytes as a Bot API update: skipped or handled, every resulting message within limits.
    pub fn update_handling(&self, data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let _ = faqbot::telegram::inbox::describe(&serde_json::from_str(text).unwrap_or_default());
        let Ok(update) = serde_json::from_str::<Update>(text) else {
            return;
        };
        let ctx = Ctx {
            engine: self.engine.clone(),
            store: self.store.clone(),
            settings: Arc::new(self.settings.clone()),
            metrics: Arc::new(Metrics::new()),
            // a fixed time: a crash found by fuzzing replays the same
            clock: faqbot::clock::Clock::manual(1_800_000_000_000),
            review: None,
            journal: Default::default(),
        };
        let actions =
            self.runtime
                .block_on(handlers::handle(&self.tree, update, self.me.clone(), ctx));
        for action in &actions {
            if let Action::Send(m) = action {
                check_message(m);
            }
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
