//! Privacy: with every log level on, no message text and never the token reaches the logs
//! unless the operator opted in (`log.message_text`); after `/forget` the person's words are gone
//! from the database files, write-ahead log included.

use std::time::Duration;

use crate::bot::{spawn_with, Home, TOKEN};
use crate::fake_api::FakeTelegram;

const GROUP: i64 = -1_009_000_000_002;
const MARKER: &str = "zq-private-marker-71";

/// Runs a conversation that touches every path that sees text: answers, no-match, emergency,
/// buttons, an escalation with relays both ways and edits, then /forget. Returns the log.
fn conversation(opt_in: bool) -> (String, Home) {
    let fake = FakeTelegram::start(TOKEN);
    fake.make_forum(GROUP);
    let home = Home::shipped();
    let log = home.dir.path().join("trace.log");
    let mut env = home.env(&fake);
    env.push(("FAQBOT_COORDINATORS__CHAT_ID".into(), GROUP.to_string()));
    env.push(("FAQBOT_LOG__MESSAGE_TEXT".into(), opt_in.to_string()));
    env.push(("RUST_LOG".into(), "trace".into()));
    let mut child = spawn_with(&home, env, &log);
    let wait = |what: &str, pred: &dyn Fn(&FakeTelegram) -> bool| {
        assert!(
            fake.wait_until(Duration::from_secs(30), pred),
            "timed out: {what}"
        );
    };
    let chat = 31_001;
    fake.push_text(chat, chat, &format!("what are ADCs {MARKER}"));
    fake.push_text(chat, chat, &format!("{MARKER} cook rice"));
    wait("answers", &|f| f.messages_to(chat).len() >= 2);
    let answer = fake.messages_to(chat)[0].clone();
    fake.push_callback(chat, chat, answer.message_id, "f:n:adc");
    fake.push_command(chat, chat, "/human");
    wait("confirm", &|f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.callback_data().contains(&"h:y".to_string()))
    });
    let confirm = fake
        .messages_to(chat)
        .into_iter()
        .find(|m| m.callback_data().contains(&"h:y".to_string()))
        .expect("confirm");
    fake.push_callback(chat, chat, confirm.message_id, "h:y");
    wait("topic", &|f| {
        !f.topics(GROUP).is_empty() && !f.messages_to(GROUP).is_empty()
    });
    let thread = fake.topics(GROUP)[0].0;
    let sent = fake.push_text(chat, chat, &format!("my mother {MARKER} is in pain"));
    fake.push_topic_text(
        GROUP,
        900_001,
        thread,
        &format!("coordinator says {MARKER}"),
    );
    wait("relays", &|f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.visible.contains("coordinator says"))
            && !f.sent("copyMessage").is_empty()
    });
    let id = fake.message_id_of(sent).expect("id");
    fake.push_edited_text(chat, chat, id, &format!("edited {MARKER}"));
    fake.push_text(chat, chat, &format!("{MARKER} he can't breathe"));
    wait("emergency", &|f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.visible.contains("emergency number"))
    });
    fake.push_command(chat, chat, "/forget");
    wait("forget confirm", &|f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.callback_data().contains(&"g:y".to_string()))
    });
    let forget = fake
        .messages_to(chat)
        .into_iter()
        .find(|m| m.callback_data().contains(&"g:y".to_string()))
        .expect("forget");
    fake.push_callback(chat, chat, forget.message_id, "g:y");
    wait("erased", &|f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.visible.contains("erased"))
    });
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
    (std::fs::read_to_string(&log).expect("log"), home)
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_text_or_token_in_trace_logs_and_forget_erases_the_files() {
    let (log, home) = conversation(false);
    assert!(log.lines().count() > 20, "trace logging was on");
    assert!(!log.contains(MARKER), "message text in the log");
    assert!(
        !log.contains(TOKEN) && !log.contains("TEST-token"),
        "the token in the log"
    );
    let db = std::fs::read(home.db()).expect("db");
    let wal = std::fs::read(home.db().with_extension("db-wal")).unwrap_or_default();
    assert!(
        !contains(&db, MARKER) && !contains(&wal, MARKER),
        "the words survive /forget in the database files"
    );
}

#[test]
fn the_operator_can_opt_in_to_message_text() {
    // the check above could fail: with the opt-in the same run logs the text
    let (log, _) = conversation(true);
    assert!(log.contains(MARKER));
    assert!(!log.contains(TOKEN), "never the token");
}
