//! Crash tests: the real executable killed with SIGKILL at arbitrary points while updates are
//! arriving and answers going out, restarted each time. At the end every update is answered, no
//! answer is sent twice (except one whose send was in flight at the very moment of a kill: Telegram
//! has no idempotency key, so that one window cannot be closed), and SQLite's own integrity
//! check passes.

use std::time::{Duration, Instant};

use faqbot::store::Store;

use crate::bot::{spawn_with, Bot, Home, TOKEN};
use crate::fake_api::FakeTelegram;

const GROUP: i64 = -1_009_000_000_001;
const CAREGIVER: i64 = 19_999;
const COORDINATOR: i64 = 900_777;

#[test]
fn twenty_kills_lose_nothing() {
    let fake = FakeTelegram::start(TOKEN);
    fake.make_forum(GROUP);
    let home = Home::shipped();
    let log = home.dir.path().join("crash.log");
    let mut env = home.env(&fake);
    env.push(("FAQBOT_COORDINATORS__CHAT_ID".into(), GROUP.to_string()));
    // an open escalation whose topic the coordinator writes into during the kills
    let thread = {
        let group = GROUP.to_string();
        let _bot =
            Bot::start(home.settings(&fake, &[("FAQBOT_COORDINATORS__CHAT_ID", group.as_str())]));
        fake.push_command(CAREGIVER, CAREGIVER, "/human");
        assert!(fake.wait_until(Duration::from_secs(30), |f| !f
            .messages_to(CAREGIVER)
            .is_empty()));
        let confirm = fake.messages_to(CAREGIVER)[0].message_id;
        fake.push_callback(CAREGIVER, CAREGIVER, confirm, "h:y");
        assert!(
            fake.wait_until(Duration::from_secs(30), |f| !f.topics(GROUP).is_empty()
                && !f.messages_to(GROUP).is_empty())
        );
        fake.topics(GROUP)[0].0
    };
    let relayed_before = fake.messages_to(CAREGIVER).len();
    let mut replies = Vec::new();
    let questions = [
        "hello",
        "what are ADCs",
        "what is TIL therapy?",
        "thanks!",
        "how do i cook rice",
    ];
    let mut chats = Vec::new();
    let mut kills: Vec<Instant> = Vec::new();
    // a small deterministic generator for the kill delays
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..20i64 {
        for i in 0..5i64 {
            let chat = 20_000 + round * 10 + i;
            fake.push_text(chat, chat, questions[(i as usize) % questions.len()]);
            chats.push(chat);
        }
        let reply = format!("coordinator reply number {round}.");
        fake.push_topic_text(GROUP, COORDINATOR, thread, &reply);
        replies.push(reply);
        let mut child = spawn_with(&home, env.clone(), &log);
        std::thread::sleep(Duration::from_millis(150 + next() % 900));
        kills.push(Instant::now());
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
    let mut child = spawn_with(&home, env, &log);
    let relayed = |f: &FakeTelegram, r: &str| {
        f.messages_to(CAREGIVER)
            .iter()
            .filter(|m| m.visible.contains(r))
            .count()
    };
    let all = fake.wait_until(Duration::from_secs(90), |f| {
        chats.iter().all(|c| !f.messages_to(*c).is_empty())
            && replies.iter().all(|r| relayed(f, r) > 0)
    });
    // a few more polls: nothing more may arrive
    let polls = fake.get_updates_offsets().len();
    fake.wait_until(Duration::from_secs(30), |f| {
        f.get_updates_offsets().len() >= polls + 2
    });
    let _ = child.kill();
    let _ = child.wait();
    let missing: Vec<i64> = chats
        .iter()
        .copied()
        .filter(|c| fake.messages_to(*c).is_empty())
        .collect();
    assert!(all && missing.is_empty(), "never answered: {missing:?}");
    for c in &chats {
        let msgs = fake.messages_to(*c);
        if msgs.len() > 1 {
            // only a send that was under way when a kill came may repeat
            let first = msgs[0].at;
            let in_flight = kills
                .iter()
                .any(|k| *k >= first && k.duration_since(first) < Duration::from_millis(200));
            assert!(
                in_flight,
                "chat {c} answered {} times with no kill during its send",
                msgs.len()
            );
        }
    }
    for r in &replies {
        let copies: Vec<_> = fake
            .messages_to(CAREGIVER)
            .into_iter()
            .filter(|m| m.visible.contains(r.as_str()))
            .collect();
        assert!(!copies.is_empty(), "{r} never relayed");
        if copies.len() > 1 {
            let first = copies[0].at;
            assert!(
                kills
                    .iter()
                    .any(|k| *k >= first && k.duration_since(first) < Duration::from_millis(200)),
                "{r} relayed {} times with no kill during its send",
                copies.len()
            );
        }
    }
    assert!(fake.messages_to(CAREGIVER).len() >= relayed_before + replies.len());
    assert!(home.store().integrity_check().expect("integrity"));
}
