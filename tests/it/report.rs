//! `faqbot report` on a store filled by a real conversation: the bot against the fake Bot API
//! (questions found, not found and offered as suggestions, a suggestion chosen, a Not helpful
//! vote, thanks), then the real executable reading that store; then `/forget` and retention,
//! and what the report still shows.

use std::time::Duration;

use serde_json::Value;

use crate::bot::{wait_messages, Bot, Home, SUGGEST_ENV, SUGGEST_QUESTION, TOKEN};
use crate::fake_api::FakeTelegram;
use crate::helpers::Faqbot;

const WAIT: Duration = Duration::from_secs(30);
const ANN: i64 = 7_001;
const BEN: i64 = 7_002;
const DAY_MS: i64 = 86_400_000;

fn start(home: &Home, fake: &FakeTelegram) -> Bot {
    let mut extra: Vec<(&str, &str)> = SUGGEST_ENV.to_vec();
    extra.push(("FAQBOT_TELEGRAM__THROTTLE", "false"));
    Bot::start(home.settings(fake, &extra))
}

/// `faqbot report ARGS` on the home's store, with text kept 30 days.
fn report(home: &Home, args: &[&str]) -> String {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    Faqbot::new(&all)
        .env("FAQBOT_STORE__PATH", &home.db().display().to_string())
        .env("FAQBOT_STORE__RETENTION_DAYS", "30")
        .run()
        .ok()
        .stdout
}

fn report_json(home: &Home, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&report(home, &all)).expect("the report is JSON")
}

fn group<'a>(groups: &'a Value, needle: &str) -> Option<&'a Value> {
    groups.as_array()?.iter().find(|g| {
        g["text"].as_str().is_some_and(|t| t.contains(needle))
            || g["variants"].as_array().is_some_and(|v| {
                v.iter()
                    .any(|t| t.as_str().is_some_and(|t| t.contains(needle)))
            })
    })
}

#[test]
fn the_report_reads_a_real_conversation_and_forgets_with_the_caregiver() {
    let fake = FakeTelegram::start(TOKEN);
    let home = Home::shipped();
    {
        let _bot = start(&home, &fake);
        // Ann: two near-duplicate questions the guide cannot answer, an answer she finds not
        // helpful, thanks
        fake.push_text(ANN, ANN, "how do i cook rice");
        fake.push_text(ANN, ANN, "How do I cook rice??");
        fake.push_text(ANN, ANN, "what is TIL therapy?");
        let answer = wait_messages(&fake, ANN, 3).remove(2);
        assert!(answer.callback_data().contains(&"f:n:til".to_string()));
        fake.push_callback(ANN, ANN, answer.message_id, "f:n:til");
        fake.push_text(ANN, ANN, "thanks a lot, that was really useful 🙏");
        wait_messages(&fake, ANN, 5);
        // Ben: the same unanswerable question in other words, and a question answered with
        // suggestions, of which he picks the second
        fake.push_text(BEN, BEN, "best way to cook rice please");
        fake.push_text(BEN, BEN, SUGGEST_QUESTION);
        let offer = wait_messages(&fake, BEN, 2).remove(1);
        let offered: Vec<String> = offer
            .callback_data()
            .iter()
            .filter_map(|d| d.strip_prefix("s:").map(str::to_string))
            .collect();
        assert!(offered.len() >= 2, "{offered:?}");
        fake.push_callback(BEN, BEN, offer.message_id, &format!("s:{}", offered[1]));
        wait_messages(&fake, BEN, 3);
        assert!(fake.wait_until(WAIT, |f| f.sent("answerCallbackQuery").len() >= 2));
        // the choice is written when its update completes
        let store = home.store();
        assert!(fake.wait_until(WAIT, |_| store
            .questions_between(0, i64::MAX)
            .map(|q| q.iter().any(|q| q.question.chosen.is_some()))
            .unwrap_or(false)));
    }

    let json = report_json(&home, &[]);
    let rice = group(&json["no_match"], "cook rice").expect("the rice questions, grouped");
    assert_eq!(rice["count"], 3, "{rice}");
    assert_eq!(rice["people"], 2, "{rice}");
    let suggested = group(&json["suggest"], SUGGEST_QUESTION).expect("the suggest question");
    assert_eq!(suggested["count"], 1);
    assert_eq!(suggested["chosen"][offered_second(&json)], 1, "{suggested}");
    let chosen = &json["suggestions_chosen"];
    let pick = chosen
        .as_array()
        .and_then(|c| c.iter().find(|c| c["chosen"] == 1))
        .expect("a chosen suggestion");
    assert_eq!(
        pick["chosen_at_rank"],
        serde_json::json!([0, 1, 0]),
        "{pick}"
    );
    let til = &json["not_helpful"][0];
    assert_eq!(
        (til["passage"].as_str(), til["votes"].as_u64()),
        (Some("til"), Some(1))
    );
    assert_eq!(til["questions"][0]["text"], "what is TIL therapy?");
    let days = json["outcomes_per_day"].as_array().expect("days");
    let total: u64 = days.iter().filter_map(|d| d["total"].as_u64()).sum();
    assert_eq!(total, 6, "six messages typed: {days:?}");
    let day = days.last().expect("today");
    for (outcome, n) in [
        ("answer", 1),
        ("no_match", 3),
        ("suggest", 1),
        ("smalltalk", 1),
    ] {
        assert!(
            day["counts"][outcome].as_u64().unwrap_or(0) >= n,
            "{outcome}: {day}"
        );
    }
    // smalltalk is counted, its words not kept
    assert!(!report(&home, &["--format", "csv"]).contains("really useful"));

    let text = report(&home, &[]);
    for needle in [
        "Outcomes per day",
        "3×  “how do i cook rice”",
        "also “best way to cook rice please”",
        "Suggestions chosen",
        "after “what is TIL therapy?”",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let csv = report(&home, &["--format", "csv"]);
    assert!(csv.starts_with("section,date,outcome,passage,count,people,text,detail\n"));
    assert!(csv.contains(",how do i cook rice,"), "{csv}");
    // a period without the conversation
    let empty = report_json(&home, &["--since", "2001-01-01", "--until", "2001-01-31"]);
    assert_eq!(empty["outcomes_per_day"], serde_json::json!([]));

    // Ann forgets: her questions and vote leave the report
    {
        let _bot = start(&home, &fake);
        let before = fake.messages_to(ANN).len();
        fake.push_command(ANN, ANN, "/forget");
        let confirm = wait_messages(&fake, ANN, before + 1).remove(before);
        fake.push_callback(ANN, ANN, confirm.message_id, "g:y");
        let done = wait_messages(&fake, ANN, before + 2).remove(before + 1);
        assert!(done.visible.contains("erased"), "{}", done.visible);
    }
    let json = report_json(&home, &[]);
    let rice = group(&json["no_match"], "rice").expect("Ben's question stays");
    assert_eq!(
        (rice["count"].as_u64(), rice["people"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(json["not_helpful"], serde_json::json!([]));
    let all = serde_json::to_string(&json).expect("json");
    assert!(!all.contains("TIL therapy"), "{all}");

    // retention: Ben's questions, 40 days old, are counted without their words
    let db = rusqlite::Connection::open(home.db()).expect("open the database");
    db.execute("UPDATE questions SET at = at - ?1", [40 * DAY_MS])
        .expect("age the questions");
    drop(db);
    let json = report_json(&home, &["--days", "60"]);
    let all = serde_json::to_string(&json).expect("json");
    assert!(
        !all.contains("rice") && !all.contains(SUGGEST_QUESTION),
        "{all}"
    );
    assert_eq!(json["no_match"][0]["text"], Value::Null);
    assert_eq!(json["no_match"][0]["count"], 1);
    assert!(report(&home, &["--days", "60"]).contains("(text erased after store.retention_days)"));
    // the last 30 days no longer hold them
    assert_eq!(report_json(&home, &[])["no_match"], serde_json::json!([]));
}

/// The id of the passage Ben chose: the only one with a choice in the report.
fn offered_second(json: &Value) -> &str {
    json["suggestions_chosen"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["chosen"] == 1))
        .and_then(|c| c["passage"].as_str())
        .unwrap_or_default()
}

#[test]
fn report_errors_name_the_fix() {
    let home = Home::shipped();
    let missing = Faqbot::new(&["report"])
        .env("FAQBOT_STORE__PATH", &home.db().display().to_string())
        .run();
    let err = missing.failed().join("\n");
    assert!(
        err.contains("no store at") && err.contains("FAQBOT_STORE__PATH"),
        "{err}"
    );
    let bad = Faqbot::new(&["report", "--since", "2026-02-30"]).run();
    let err = bad.failed().join("\n");
    assert!(
        err.contains("--since") && err.contains("YYYY-MM-DD"),
        "{err}"
    );
}
