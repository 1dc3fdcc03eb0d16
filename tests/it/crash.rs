//! Crash tests: the real executable killed with SIGKILL at arbitrary points while updates are
//! arriving and answers going out, restarted each time. At the end every update is answered, no
//! answer is sent twice (except one whose send was under way at the moment of a kill: Telegram
//! has no idempotency key, so that one window cannot be closed), and SQLite's own integrity
//! check passes.

use std::time::{Duration, Instant};

use crate::bot::{on_both_stores, spawn_with, Bot, Home, StoreEngine, TOKEN};
use crate::fake_api::FakeTelegram;

const GROUP: i64 = -1_009_000_000_001;
const CAREGIVER: i64 = 19_999;
const COORDINATOR: i64 = 900_777;

on_both_stores!(twenty_kills_lose_nothing);

fn twenty_kills_lose_nothing(engine: StoreEngine) {
    let fake = FakeTelegram::start(TOKEN);
    fake.make_forum(GROUP);
    let home = Home::shipped_on(engine);
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
    // A repeat is only possible across a kill (a send under way at that instant), so each
    // repeat must have a kill between it and the message before it, and there can be at most
    // one per kill; a process that answered twice, or resent finished work after every
    // restart, fails here.
    let mut repeats = 0;
    //
    // The fake stamps a request when it starts handling it, which can be a moment after the
    // kill for a request the killed process had already written; IN_FLIGHT covers that moment.
    // It is far shorter than a restart, so two sends by one process still fail.
    const IN_FLIGHT: Duration = Duration::from_millis(100);
    let check_repeats = |sends: &[Instant], what: &str, repeats: &mut usize| {
        for pair in sends.windows(2) {
            *repeats += 1;
            assert!(
                kills
                    .iter()
                    .any(|k| *k + IN_FLIGHT >= pair[0] && *k <= pair[1]),
                "{what} sent twice with no kill in between"
            );
        }
    };
    for c in &chats {
        let sends: Vec<Instant> = fake.messages_to(*c).iter().map(|m| m.at).collect();
        check_repeats(&sends, &format!("chat {c}'s answer"), &mut repeats);
    }
    for r in &replies {
        let sends: Vec<Instant> = fake
            .messages_to(CAREGIVER)
            .into_iter()
            .filter(|m| m.visible.contains(r.as_str()))
            .map(|m| m.at)
            .collect();
        assert!(!sends.is_empty(), "{r} never relayed");
        check_repeats(&sends, r, &mut repeats);
    }
    assert!(
        repeats <= kills.len(),
        "{repeats} repeats for {} kills",
        kills.len()
    );
    assert!(fake.messages_to(CAREGIVER).len() >= relayed_before + replies.len());
    assert!(home.store().integrity_check().expect("integrity"));
}
