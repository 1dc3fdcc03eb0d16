//! Coordinator escalation end to end: the bot, the strict fake Bot API with a coordinators'
//! group (a forum, or a plain group with cards), and a real store (the core scenarios on SQLite
//! and on PostgreSQL).

use std::time::Duration;

use serde_json::Value;

use crate::bot::{on_both_stores, Bot, Home, StoreEngine, TOKEN};
use crate::fake_api::{FakeTelegram, Fault, SentMessage};

const WAIT: Duration = Duration::from_secs(30);
/// A supergroup id (≤ −10¹² in the fake).
const GROUP: i64 = -1_001_234_567_890;
const ANNA: i64 = 900_001;
const BORIS: i64 = 900_002;

on_both_stores!(
    full_round_trip_in_a_forum_group,
    plain_group_uses_a_card_and_replies_to_it,
    forget_during_an_open_escalation_closes_it_and_tells_the_coordinators,
    a_coordinator_reply_survives_kill_9_and_arrives_once,
);

fn fake(forum: bool) -> FakeTelegram {
    let fake = FakeTelegram::start(TOKEN);
    if forum {
        fake.make_forum(GROUP);
    }
    fake
}

fn start(fake: &FakeTelegram, home: &Home, extra: &[(&str, &str)]) -> Bot {
    let group = GROUP.to_string();
    let mut env = vec![("FAQBOT_COORDINATORS__CHAT_ID", group.as_str())];
    env.extend_from_slice(extra);
    Bot::start(home.settings(fake, &env))
}

fn wait(fake: &FakeTelegram, what: &str, pred: impl Fn(&FakeTelegram) -> bool) {
    assert!(
        fake.wait_until(WAIT, pred),
        "timed out waiting for: {what}\ncalls: {:?}",
        fake.calls()
            .iter()
            .map(|c| (
                c.method.clone(),
                c.status,
                c.description().map(str::to_string)
            ))
            .collect::<Vec<_>>()
    );
}

fn texts(fake: &FakeTelegram, chat: i64) -> Vec<String> {
    fake.messages_to(chat)
        .into_iter()
        .map(|m| m.visible)
        .collect()
}

fn has_text(fake: &FakeTelegram, chat: i64, needle: &str) -> bool {
    texts(fake, chat).iter().any(|t| t.contains(needle))
}

fn last(fake: &FakeTelegram, chat: i64) -> SentMessage {
    fake.messages_to(chat).pop().expect("a message")
}

/// The caregiver asks for a person and confirms.
fn escalate(fake: &FakeTelegram, chat: i64) {
    fake.push_command(chat, chat, "/human");
    wait(fake, "the confirmation question", |f| {
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
    wait(fake, "the caregiver is told what happens next", |f| {
        has_text(f, chat, "A coordinator has been asked")
    });
}

fn copies_to(fake: &FakeTelegram, chat: i64) -> Vec<Value> {
    fake.sent("copyMessage")
        .into_iter()
        .filter(|c| c["chat_id"].as_i64() == Some(chat))
        .collect()
}

fn full_round_trip_in_a_forum_group(engine: StoreEngine) {
    let fake = fake(true);
    let home = Home::shipped_on(engine);
    let _bot = start(&fake, &home, &[]);
    let chat = 5001;
    fake.push_text(chat, chat, "what is car-t cell therapy");
    wait(&fake, "the answer", |f| !f.messages_to(chat).is_empty());
    escalate(&fake, chat);

    // a topic with the card and the transcript
    wait(&fake, "a topic", |f| !f.topics(GROUP).is_empty());
    let (thread, name, _) = fake.topics(GROUP)[0].clone();
    assert!(name.contains("asked"), "{name}");
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    let card = fake.messages_to(GROUP).remove(0);
    assert_eq!(
        card.message_thread_id,
        Some(thread),
        "the card is in the topic"
    );
    assert!(
        card.visible.contains("what is car-t cell therapy"),
        "transcript on the card: {}",
        card.visible
    );
    assert!(
        card.visible.contains("CAR-T Cell Therapy"),
        "the passage answered with: {}",
        card.visible
    );
    assert!(
        card.visible.contains("Who:")
            && card.visible.contains("Why:")
            && card.visible.contains("When:")
    );
    let buttons = card.callback_data();
    assert!(
        buttons.iter().any(|d| d.starts_with("c:")) && buttons.iter().any(|d| d.starts_with("x:")),
        "{buttons:?}"
    );

    // a coordinator answers in the topic; the caregiver gets it, labelled
    fake.push_topic_text(
        GROUP,
        ANNA,
        thread,
        "Hello, I am here to help. Which hospital is treating her?",
    );
    wait(
        &fake,
        "the coordinator's reply reaches the caregiver",
        |f| has_text(f, chat, "Which hospital is treating her?"),
    );
    let relayed = last(&fake, chat);
    assert!(
        relayed.visible.starts_with("Coordinator"),
        "labelled: {}",
        relayed.visible
    );

    // the caregiver answers with a photo: copied into the topic
    fake.push_photo(chat, chat, Some("the scan report"));
    wait(&fake, "the photo reaches the topic", |f| {
        !copies_to(f, GROUP).is_empty()
    });
    let copy = &copies_to(&fake, GROUP)[0];
    assert_eq!(copy["message_thread_id"].as_i64(), Some(i64::from(thread)));
    // while the coordinator has the chat, the bot does not answer questions itself
    fake.push_text(chat, chat, "what are ADCs");
    wait(&fake, "the question relayed", |f| {
        copies_to(f, GROUP).len() >= 2
    });
    assert!(
        !has_text(&fake, chat, "cytotoxic payloads"),
        "the bot answered during an escalation"
    );

    // /close in the topic: the caregiver is told, the topic closed, and the bot answers again
    fake.push_topic_text(GROUP, ANNA, thread, "/close");
    wait(&fake, "the caregiver is told it is closed", |f| {
        has_text(f, chat, "closed this conversation")
    });
    wait(&fake, "the topic is closed", |f| {
        f.topics(GROUP)
            .iter()
            .any(|(t, _, closed)| *t == thread && *closed)
    });
    fake.push_text(chat, chat, "what are ADCs");
    wait(&fake, "the bot answers again", |f| {
        has_text(f, chat, "cytotoxic payloads")
    });

    let store = home.store();
    let all = store.list_escalations(None).expect("list");
    assert_eq!(all.len(), 1);
    assert!(!all[0].open && all[0].first_reply_at.is_some());
}

fn plain_group_uses_a_card_and_replies_to_it(engine: StoreEngine) {
    let fake = fake(false);
    let home = Home::shipped_on(engine);
    let _bot = start(&fake, &home, &[]);
    let chat = 5101;
    escalate(&fake, chat);
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    let card = fake.messages_to(GROUP).remove(0);
    assert_eq!(card.message_thread_id, None);
    assert!(fake.topics(GROUP).is_empty());
    // Claim, then a reply to the card
    fake.push_callback(
        GROUP,
        BORIS,
        card.message_id,
        &card
            .callback_data()
            .into_iter()
            .find(|d| d.starts_with("c:"))
            .expect("claim"),
    );
    wait(&fake, "claimed", |f| has_text(f, GROUP, "Claimed by"));
    fake.push_reply_to(
        GROUP,
        BORIS,
        card.message_id,
        "Good morning, this is Boris.",
    );
    wait(&fake, "relayed to the caregiver", |f| {
        has_text(f, chat, "Good morning, this is Boris.")
    });
    // the caregiver's answer goes under the card
    fake.push_text(chat, chat, "thank you Boris");
    wait(&fake, "relayed to the group", |f| {
        !copies_to(f, GROUP).is_empty()
    });
    assert_eq!(
        copies_to(&fake, GROUP)[0]["reply_parameters"]["message_id"].as_i64(),
        Some(i64::from(card.message_id))
    );
    // the bot asked whether the group has topics, and never had a call refused
    assert!(fake.calls_of("createForumTopic").is_empty());
    assert!(!fake.calls_of("getChat").is_empty());
    let refused: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.status >= 400)
        .map(|c| (c.method.clone(), c.status))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn a_deleted_topic_is_recreated() {
    let fake = fake(true);
    let home = Home::shipped();
    let _bot = start(&fake, &home, &[]);
    let chat = 5201;
    escalate(&fake, chat);
    wait(&fake, "a topic", |f| !f.topics(GROUP).is_empty());
    let (first, _, _) = fake.topics(GROUP)[0].clone();
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    fake.delete_topic(GROUP, first);
    fake.push_text(chat, chat, "are you there?");
    wait(&fake, "a new topic", |f| {
        f.topics(GROUP).len() == 1 && f.topics(GROUP)[0].0 != first
    });
    let (second, _, _) = fake.topics(GROUP)[0].clone();
    wait(&fake, "the message in the new topic", |f| {
        copies_to(f, GROUP)
            .iter()
            .any(|c| c["message_thread_id"].as_i64() == Some(i64::from(second)))
    });
}

#[test]
fn an_emergency_escalates_by_itself_and_inside_an_open_escalation() {
    let fake = fake(true);
    let home = Home::shipped();
    let _bot = start(&fake, &home, &[]);
    let chat = 5301;
    fake.push_text(chat, chat, "he is unconscious and not breathing");
    wait(&fake, "the emergency notice", |f| {
        has_text(f, chat, "emergency number")
    });
    wait(&fake, "an urgent card", |f| has_text(f, GROUP, "URGENT"));
    assert!(
        fake.topics(GROUP)[0].1.starts_with("URGENT"),
        "{:?}",
        fake.topics(GROUP)
    );

    let other = 5302;
    escalate(&fake, other);
    wait(&fake, "second card", |f| f.topics(GROUP).len() == 2);
    fake.push_text(other, other, "she is having a seizure now");
    wait(&fake, "the emergency notice inside the escalation", |f| {
        has_text(f, other, "emergency number")
    });
    wait(&fake, "the coordinators are told", |f| {
        texts(f, GROUP)
            .iter()
            .filter(|t| t.contains("URGENT"))
            .count()
            >= 2
    });
    let e = home
        .store()
        .open_escalation_for_chat(other)
        .expect("store")
        .expect("open");
    assert!(e.urgent);
}

#[test]
fn an_urgent_request_names_the_category_and_the_language_of_the_message() {
    let fake = fake(true);
    let home = Home::shipped();
    let _bot = start(&fake, &home, &[]);
    let chat = 5311;
    fake.push_text(
        chat,
        chat,
        "mi padre tiene fiebre de 39 después de la quimio",
    );
    // the caregiver: what to do now, in Spanish and in English
    wait(&fake, "the notice in Spanish", |f| {
        has_text(f, chat, "equipo de oncología")
    });
    assert!(has_text(&fake, chat, "24-hour line"));
    // the coordinators: URGENT, with the category and the language
    wait(&fake, "an urgent card", |f| has_text(f, GROUP, "URGENT"));
    let card = texts(&fake, GROUP)
        .into_iter()
        .find(|t| t.contains("URGENT"))
        .expect("the card");
    assert!(card.contains("possible sepsis"), "{card}");
    assert!(card.contains("written in es"), "{card}");
    let e = home
        .store()
        .open_escalation_for_chat(chat)
        .expect("store")
        .expect("open");
    assert!(e.urgent);
    assert_eq!(e.language, "es");
}

#[test]
fn messages_from_non_coordinators_and_forged_buttons_are_ignored() {
    let fake = fake(true);
    let home = Home::shipped();
    let allowed = ANNA.to_string();
    let _bot = start(
        &fake,
        &home,
        &[("FAQBOT_COORDINATORS__ALLOWED_USER_IDS", allowed.as_str())],
    );
    let chat = 5401;
    escalate(&fake, chat);
    wait(&fake, "a topic", |f| !f.topics(GROUP).is_empty());
    let (thread, _, _) = fake.topics(GROUP)[0].clone();
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    let card = fake.messages_to(GROUP).remove(0);
    fake.push_topic_text(GROUP, BORIS, thread, "I am not on the list");
    fake.push_callback(GROUP, BORIS, card.message_id, &format!("x:{}", 1));
    // a forged close from the caregiver's own chat
    fake.push_callback(chat, chat, card.message_id, "x:1");
    wait(&fake, "both callbacks answered", |f| {
        f.sent("answerCallbackQuery").len() >= 3
    });
    fake.push_topic_text(GROUP, ANNA, thread, "Anna here.");
    wait(&fake, "Anna's message relayed", |f| {
        has_text(f, chat, "Anna here.")
    });
    assert!(!has_text(&fake, chat, "I am not on the list"));
    assert!(
        home.store()
            .open_escalation_for_chat(chat)
            .expect("store")
            .is_some(),
        "still open"
    );
}

fn forget_during_an_open_escalation_closes_it_and_tells_the_coordinators(engine: StoreEngine) {
    let fake = fake(true);
    let home = Home::shipped_on(engine);
    let _bot = start(&fake, &home, &[]);
    let chat = 5501;
    fake.push_text(chat, chat, "what is TIL therapy secret-marker-q7");
    wait(&fake, "answer", |f| !f.messages_to(chat).is_empty());
    escalate(&fake, chat);
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    fake.push_command(chat, chat, "/forget");
    wait(&fake, "confirm", |f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.callback_data().contains(&"g:y".to_string()))
    });
    let confirm = fake
        .messages_to(chat)
        .into_iter()
        .find(|m| m.callback_data().contains(&"g:y".to_string()))
        .expect("confirm");
    fake.push_callback(chat, chat, confirm.message_id, "g:y");
    wait(&fake, "erased", |f| has_text(f, chat, "erased"));
    wait(&fake, "the coordinators are told", |f| {
        has_text(f, GROUP, "erased their data")
    });
    let store = home.store();
    assert!(store.list_escalations(None).expect("list").is_empty());
    assert!(store.transcript(chat, 100).expect("transcript").is_empty());
    if engine == StoreEngine::Postgres {
        // rows deleted (above); PostgreSQL's files are the server's (see the README)
        return;
    }
    let db = std::fs::read(home.db()).expect("db bytes");
    let wal = std::fs::read(home.db().with_extension("db-wal")).unwrap_or_default();
    let marker = b"secret-marker-q7";
    assert!(
        !db.windows(marker.len()).any(|w| w == marker)
            && !wal.windows(marker.len()).any(|w| w == marker),
        "the text is still in the database files"
    );
}

#[test]
fn cancel_withdraws_and_two_no_matches_offer_a_coordinator() {
    let fake = fake(true);
    let home = Home::shipped();
    let _bot = start(&fake, &home, &[]);
    let chat = 5601;
    fake.push_text(chat, chat, "how do i cook rice");
    fake.push_text(chat, chat, "best pizza near me");
    wait(&fake, "an offer after two no-matches", |f| {
        f.messages_to(chat)
            .iter()
            .any(|m| m.callback_data().contains(&"h:m".to_string()))
    });
    escalate(&fake, chat);
    fake.push_command(chat, chat, "/cancel");
    wait(&fake, "withdrawn", |f| has_text(f, chat, "withdrawn"));
    wait(&fake, "the coordinators are told", |f| {
        has_text(f, GROUP, "withdrew")
    });
}

fn a_coordinator_reply_survives_kill_9_and_arrives_once(engine: StoreEngine) {
    let fake = fake(true);
    let home = Home::shipped_on(engine);
    let chat = 5701;
    let log = home.dir.path().join("a.log");
    let bot = start(&fake, &home, &[]);
    escalate(&fake, chat);
    wait(&fake, "a topic", |f| !f.topics(GROUP).is_empty());
    let (thread, _, _) = fake.topics(GROUP)[0].clone();
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    drop(bot);
    // the real executable this time, with the caregiver unreachable at first
    for _ in 0..300 {
        fake.fail_next("sendMessage", Fault::Status(502, "Bad Gateway"));
    }
    let group = GROUP.to_string();
    let mut env = home.env(&fake);
    env.push(("FAQBOT_COORDINATORS__CHAT_ID".to_string(), group));
    let mut child = crate::bot::spawn_with(&home, env.clone(), &log);
    fake.push_topic_text(GROUP, ANNA, thread, "Reply that must arrive exactly once.");
    wait(&fake, "the reply stored and a send tried", |f| {
        f.pending_updates() == 0 && !f.rejected().is_empty()
    });
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    fake.clear_faults("sendMessage");
    let mut child = crate::bot::spawn_with(&home, env, &log);
    wait(&fake, "relayed after the restart", |f| {
        has_text(f, chat, "Reply that must arrive exactly once.")
    });
    std::thread::sleep(Duration::from_secs(2));
    let n = texts(&fake, chat)
        .iter()
        .filter(|t| t.contains("must arrive exactly once"))
        .count();
    assert_eq!(n, 1);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn escalations_export_as_csv_and_json() {
    let fake = fake(true);
    let home = Home::shipped();
    {
        let _bot = start(&fake, &home, &[]);
        escalate(&fake, 5801);
        wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
            .args(args)
            .current_dir(home.dir.path())
            .env_clear()
            .env("FAQBOT_STORE__PATH", home.db())
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let csv = run(&["escalations", "export", "--format", "csv"]);
    let mut lines = csv.lines();
    let header = lines.next().expect("header");
    assert!(
        header.contains("id")
            && header.contains("reason")
            && header.contains("seconds_to_first_reply"),
        "{header}"
    );
    let row = lines.next().expect("a row");
    assert!(row.contains("asked"), "{row}");
    let json: Value =
        serde_json::from_str(&run(&["escalations", "export", "--format", "json"])).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    assert_eq!(json[0]["reason"], "asked");
    let list = run(&["escalations", "list", "--open"]);
    assert!(list.contains("asked"), "{list}");
}

#[test]
fn media_edits_open_and_reopen() {
    let fake = fake(true);
    let home = Home::shipped();
    let _bot = start(
        &fake,
        &home,
        &[("FAQBOT_COORDINATORS__SHOW_NAMES", "false")],
    );
    let chat = 5901;
    escalate(&fake, chat);
    wait(&fake, "a topic", |f| !f.topics(GROUP).is_empty());
    let (thread, _, _) = fake.topics(GROUP)[0].clone();
    wait(&fake, "the card", |f| !f.messages_to(GROUP).is_empty());

    // a coordinator's photo reaches the caregiver as a copy, labelled in the caption
    fake.push_topic_photo(GROUP, ANNA, thread, Some("the form to fill in"));
    wait(&fake, "the photo copied to the caregiver", |f| {
        !copies_to(f, chat).is_empty()
    });
    let copy = &copies_to(&fake, chat)[0];
    let caption = copy["caption"].as_str().unwrap_or_default();
    assert!(
        caption.contains("Coordinator") && caption.contains("the form to fill in"),
        "{caption}"
    );
    assert!(
        !caption.contains("Anna"),
        "names hidden by config: {caption}"
    );

    // a coordinator's text, then its edit arrives as a correction
    let update = fake.push_topic_text(GROUP, ANNA, thread, "The clinic opens at 9.");
    wait(&fake, "relayed", |f| {
        has_text(f, chat, "The clinic opens at 9.")
    });
    let original = fake.message_id_of(update).expect("id");
    fake.push_edited_text(GROUP, ANNA, original, "The clinic opens at 8.");
    wait(&fake, "the correction", |f| has_text(f, chat, "Correction"));
    assert!(last(&fake, chat).visible.contains("The clinic opens at 8."));

    // the caregiver edits a message: the coordinators see the edit
    let mine = fake.push_text(chat, chat, "my mother is 71");
    wait(&fake, "relayed to the group", |f| {
        !copies_to(f, GROUP).is_empty()
    });
    let mine_id = fake.message_id_of(mine).expect("id");
    fake.push_edited_text(chat, chat, mine_id, "my mother is 72");
    wait(&fake, "the edit in the group", |f| {
        has_text(f, GROUP, "Edited: my mother is 72")
    });

    // /open lists it; /close then /reopen in the topic
    fake.push_topic_text(GROUP, ANNA, thread, "/open");
    wait(&fake, "the list", |f| has_text(f, GROUP, "Open requests:"));
    assert!(
        texts(&fake, GROUP)
            .iter()
            .any(|t| t.contains("open 0 min") || t.contains(" min")),
        "with its age"
    );
    fake.push_topic_text(GROUP, ANNA, thread, "/close");
    wait(&fake, "closed", |f| {
        has_text(f, chat, "closed this conversation")
    });
    fake.push_topic_text(GROUP, ANNA, thread, "one more thing");
    wait(&fake, "the coordinator is told it is closed", |f| {
        has_text(f, GROUP, "is closed. Send /reopen")
    });
    // closed topics refuse messages in Telegram: reopen first
    fake.push_topic_text(GROUP, ANNA, thread, "/reopen");
    wait(&fake, "reopened", |f| has_text(f, GROUP, "Reopened by"));
    assert!(home
        .store()
        .open_escalation_for_chat(chat)
        .expect("store")
        .is_some());
}

#[test]
fn a_caregiver_who_blocks_the_bot_is_reported_to_the_coordinators() {
    let fake = fake(true);
    let home = Home::shipped();
    let _bot = start(&fake, &home, &[]);
    let chat = 6001;
    escalate(&fake, chat);
    wait(&fake, "a topic", |f| !f.topics(GROUP).is_empty());
    let (thread, _, _) = fake.topics(GROUP)[0].clone();
    fake.block_chat(chat);
    fake.push_topic_text(GROUP, ANNA, thread, "Are you still there?");
    wait(&fake, "the coordinators are told", |f| {
        has_text(f, GROUP, "blocked the bot")
    });
    let e = home
        .store()
        .open_escalation_for_chat(chat)
        .expect("store")
        .expect("open");
    assert!(e.caregiver_blocked);
}

#[test]
fn retention_purges_old_transcripts_when_the_bot_starts() {
    use faqbot::store::{Role, TranscriptEntry};
    let fake = fake(true);
    let home = Home::shipped();
    {
        let store = home.store();
        let old = TranscriptEntry {
            at: 1_000,
            role: Role::Caregiver,
            text: "an old question".into(),
            passage_id: None,
        };
        store.add_transcript(7001, &old).expect("add");
        let recent = TranscriptEntry {
            at: faqbot::clock::Clock::system().now_ms(),
            role: Role::Caregiver,
            text: "a recent question".into(),
            passage_id: None,
        };
        store.add_transcript(7001, &recent).expect("add");
    }
    let _bot = start(&fake, &home, &[("FAQBOT_STORE__RETENTION_DAYS", "30")]);
    let store = home.store();
    wait(&fake, "the purge", |_| {
        store
            .transcript(7001, 10)
            .map(|t| t.len() == 1)
            .unwrap_or(false)
    });
    assert_eq!(
        store.transcript(7001, 10).expect("transcript")[0].text,
        "a recent question"
    );
}
