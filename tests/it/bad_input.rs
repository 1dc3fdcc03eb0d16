//! Whatever a user types, the engine answers with the disclaimer and the way to a person, and
//! the CLI keeps going: nothing reaches a query parser, nothing is too long or too strange.

use faqbot::cli::reply_json;
use faqbot::core::Outcome;

use crate::helpers::{assert_footer, builtin_settings, reply_footer, Faqbot, Shipped};

/// Hostile, odd or empty messages, named for failure messages. None contains a newline, so each
/// is one line of `ask` input.
fn nasty_inputs() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("whitespace", " \t  \u{3000}\u{a0}\r ".to_string()),
        (
            "20k characters",
            "immunotherapy failed what next ".repeat(650),
        ),
        ("20k one word", "a".repeat(20_000)),
        (
            "control characters and NUL",
            "what\0 are\u{1} ADCs\u{7f}\u{1b}[31m\u{8}".to_string(),
        ),
        ("only NUL", "\0\0\0".to_string()),
        ("query syntax", "title:x AND (".to_string()),
        ("unbalanced quote", "\"x".to_string()),
        (
            "deep nesting",
            format!("{}car-t{}", "(".repeat(10_000), ")".repeat(10_000)),
        ),
        ("star", "*".to_string()),
        ("regex", ".*[a-z]+$".to_string()),
        (
            "operators",
            "+keytruda -opdivo ~2 ^3 NOT OR AND {} [] \\".to_string(),
        ),
        ("emoji only", "\u{1f64f}\u{1f622}\u{1f48a}".to_string()),
        ("hebrew", "מה זה טיפול אימונותרפי?".to_string()),
        (
            "arabic with bidi marks",
            "\u{200f}ما هي الأجسام المضادة؟\u{200e}".to_string(),
        ),
        (
            "mixed scripts",
            "keytruda 和 化疗 失败 что делать ADC".to_string(),
        ),
        (
            "zero-width",
            "car\u{200b}-t\u{feff} therapy\u{2060}".to_string(),
        ),
        ("combining marks", format!("e{}", "\u{301}".repeat(2_000))),
        (
            "url",
            "https://example.com/search?q=car-t&x=1#frag".to_string(),
        ),
        ("phone number", "+1 (555) 010-9999".to_string()),
        ("field:value", "body:keytruda id:adc".to_string()),
        ("long read", format!("/read {}", "x".repeat(5_000))),
        (
            "html",
            "<b>car-t</b> <script>alert(1)</script> &amp;".to_string(),
        ),
    ]
}

#[test]
fn the_engine_answers_every_bad_input_with_the_disclaimer() {
    let bot = Shipped::new();
    let settings = bot.engine.settings().clone();
    for (name, input) in nasty_inputs() {
        let reply = bot.answer(&input);
        assert!(!reply.message.is_empty(), "{name}: no message");
        assert_footer(&reply, &settings, name);
        // the JSON line of the contract is valid for it too
        let json: serde_json::Value = serde_json::from_str(&reply_json(&reply))
            .unwrap_or_else(|e| panic!("{name}: invalid JSON: {e}"));
        assert_eq!(
            json["reply"].as_str(),
            Some(reply.plain_text().as_str()),
            "{name}"
        );
    }
}

#[test]
fn empty_and_punctuation_only_messages_ask_for_a_question() {
    let bot = Shipped::new();
    let empty = &bot.engine.settings().reply.empty;
    for input in ["", "   ", "\0", "?!", "\u{1f4a4}", "*"] {
        let reply = bot.answer(input);
        assert_eq!(&reply.message, empty, "{input:?}");
        assert!(
            reply.passage.is_none() && reply.passages.is_empty(),
            "{input:?}"
        );
    }
    // folded hands or a thumbs up alone say thanks
    for input in ["\u{1f64f}\u{1f64f}", "\u{1f44d}"] {
        let reply = bot.answer(input);
        assert_eq!(
            reply.message,
            bot.engine.settings().reply.thanks,
            "{input:?}"
        );
    }
}

#[test]
fn query_syntax_is_just_words() {
    let bot = Shipped::new();
    // an operator or a field name changes nothing: the words are searched as words, and the
    // same passage comes first (a field name is one more word, which may make the bot less
    // sure, so the passage may be offered rather than given: "title" is not in the guide)
    // "car-t" alone could mean any of three CAR-T passages: answered or offered, as the
    // question model is sure or not, but the same passage first either way
    let plain = bot.answer("car-t");
    assert!(
        matches!(plain.outcome, Outcome::Answer | Outcome::Suggest),
        "{}",
        plain.plain_text()
    );
    let shown = plain.passages.first().map(|p| p.id.clone());
    assert!(shown.is_some(), "{}", plain.plain_text());
    for input in [
        "car-t AND (",
        "\"car-t",
        "(((car-t",
        "car-t*",
        "title:car-t",
    ] {
        let reply = bot.answer(input);
        assert!(
            matches!(reply.outcome, Outcome::Answer | Outcome::Suggest),
            "{input:?}: {}",
            reply.plain_text()
        );
        assert_eq!(
            reply.passages.first().map(|p| p.id.clone()),
            shown,
            "{input:?}: {}",
            reply.plain_text()
        );
    }
}

#[test]
fn the_cli_answers_every_bad_input_line_and_exits_0() {
    let idx = tempfile::tempdir().expect("tempdir");
    let inputs = nasty_inputs();
    let mut stdin = Vec::new();
    for (_, input) in &inputs {
        stdin.extend_from_slice(input.as_bytes());
        stdin.push(b'\n');
    }
    let run = Faqbot::shipped(&idx.path().join("index"), &["ask", "--json"])
        .stdin(stdin)
        .run()
        .ok();
    let lines = run.json_lines();
    assert_eq!(
        lines.len(),
        inputs.len(),
        "one JSON line per input:\n{}",
        run.stdout
    );
    let footer = reply_footer(&builtin_settings());
    for ((name, _), json) in inputs.iter().zip(&lines) {
        let reply = json["reply"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {json}"));
        assert!(reply.contains("not medical advice"), "{name}: {reply}");
        assert!(reply.ends_with(&footer), "{name}: {reply}");
    }
}

#[test]
fn the_cli_takes_bad_input_as_arguments_too() {
    let idx = tempfile::tempdir().expect("tempdir");
    let index = idx.path().join("index");
    let deep = "(".repeat(10_000);
    let long = "x ".repeat(10_000);
    for input in [
        "",
        "title:x AND (",
        "\"x",
        deep.as_str(),
        "*",
        ".*[a-z]+$",
        "\u{1f64f}",
        "שלום",
        long.as_str(),
    ] {
        for json in [true, false] {
            let mut args = vec!["ask"];
            if json {
                args.push("--json");
            }
            args.push(input);
            let run = Faqbot::shipped(&index, &args).run().ok();
            assert!(
                run.stdout.contains("not medical advice"),
                "{input:?}: {}",
                run.stdout
            );
            if json {
                assert_eq!(run.json_lines().len(), 1, "{input:?}");
            }
        }
    }
}
