//! Property tests: for any text a person can send, the core replies, deterministically, and
//! every Telegram message it renders is valid (HTML Telegram accepts, within 4,096 UTF-16 units,
//! callback data within 64 bytes) and ends with the disclaimer and the way to a coordinator.

use std::sync::OnceLock;

use faqbot::action::ButtonTarget;
use faqbot::telegram::render;
use proptest::prelude::*;

use crate::helpers::Shipped;
use crate::tg_html;

fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(Shipped::new)
}

/// Text people send, and text meant to break things.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        // anything Unicode, astral planes and control characters included
        any::<String>(),
        // words from the guide with noise around them
        prop::collection::vec(
            prop_oneof![
                Just("immunotherapy".to_string()),
                Just("keytruda".to_string()),
                Just("car-t".to_string()),
                Just("trial".to_string()),
                Just("<b>".to_string()),
                Just("&amp;".to_string()),
                Just("title:x".to_string()),
                Just("AND (".to_string()),
                Just("\"".to_string()),
                Just("*".to_string()),
                Just("🙏".to_string()),
                Just("שלום".to_string()),
                Just("مرحبا".to_string()),
                Just("/read".to_string()),
                "[a-z]{1,12}",
                "\\PC{1,8}",
            ],
            0..40,
        )
        .prop_map(|w| w.join(" ")),
        // deep nesting and query syntax
        (1usize..3000).prop_map(|n| format!("{}x{}", "(".repeat(n), ")".repeat(n / 2))),
        // long messages
        (1usize..25_000).prop_map(|n| "a ".repeat(n / 2)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn every_reply_renders_to_valid_telegram_messages(text in message()) {
        let engine = &shipped().engine;
        let reply = engine.answer(&text);
        prop_assert_eq!(&reply, &engine.answer(&text), "not deterministic");
        let plain = reply.plain_text();
        prop_assert!(plain.contains("not medical advice"));
        prop_assert!(plain.ends_with(&reply.handoff));
        let messages = render::render_reply(&reply, 1, None);
        prop_assert!(!messages.is_empty());
        for m in &messages {
            let visible = tg_html::validate(&m.html).map_err(|e| TestCaseError::fail(format!("{e}: {}", m.html)))?;
            prop_assert!((1..=4096).contains(&tg_html::utf16_len(&visible)));
            for b in m.keyboard.iter().flatten() {
                prop_assert!(!b.text.is_empty());
                if let ButtonTarget::Callback(data) = &b.target {
                    prop_assert!(!data.is_empty() && data.len() <= 64, "{}", data);
                }
            }
        }
        let last = tg_html::validate(&messages[messages.len() - 1].html).unwrap_or_default();
        prop_assert!(last.contains("not medical advice"), "the disclaimer is in the last message");
    }

    #[test]
    fn callback_data_decodes_only_what_encode_writes(data in any::<String>()) {
        use faqbot::telegram::callback::Callback;
        if let Some(cb) = Callback::decode(&data) {
            prop_assert_eq!(cb.encode(), data);
        }
    }
}
