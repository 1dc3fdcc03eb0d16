//! Chats: /start, blocks, streaks, feedback, meta values and a group's move to a supergroup.

use super::{both, send, update, Fixture};
use crate::store::*;

both!(
    chats_keep_the_first_source_blocked_flag_and_streak,
    migrate_chat_moves_everything_to_the_new_id,
    feedback_counts_one_vote_per_chat_and_passage,
    meta_values_are_stored_and_replaced,
    forget_chat_deletes_every_row_of_the_chat,
);

fn chats_keep_the_first_source_blocked_flag_and_streak(f: &mut Fixture) {
    let store = &*f.store;
    let row = |chat: i64| -> (Option<String>, Option<i64>, i64) {
        let source = store.query_text(&format!("SELECT source FROM chats WHERE chat_id = {chat}"));
        let started = store.query_i64(&format!(
            "SELECT coalesce(started_at, -1) FROM chats WHERE chat_id = {chat}"
        ));
        let seen = store.query_i64(&format!(
            "SELECT last_seen FROM chats WHERE chat_id = {chat}"
        ));
        (source, (started >= 0).then_some(started), seen)
    };
    // A message before any /start creates the row without a source.
    store
        .enqueue_updates(&[update(1, 7, "hi")], 50)
        .expect("enqueue");
    assert_eq!(row(7), (None, None, 50));
    store
        .record_chat_start(7, Some("flyer"), 100)
        .expect("start");
    store
        .record_chat_start(7, Some("other"), 200)
        .expect("start again");
    store.record_chat_start(7, None, 300).expect("start again");
    assert_eq!(row(7), (Some("flyer".into()), Some(100), 300));

    assert!(!store.is_blocked(7).expect("blocked?"));
    assert!(!store.is_blocked(8).expect("unknown chat"));
    store.set_blocked(7, true, 400).expect("block");
    assert!(store.is_blocked(7).expect("blocked?"));
    assert_eq!(row(7).2, 300, "blocking is not activity");
    store.set_blocked(7, false, 500).expect("unblock");
    assert!(!store.is_blocked(7).expect("blocked?"));
    store.set_blocked(8, true, 600).expect("block unknown chat");
    assert!(store.is_blocked(8).expect("blocked?"));

    assert_eq!(store.chat_state(9).expect("state"), ChatState::default());
    store.set_no_match_streak(7, 2).expect("streak");
    store
        .set_no_match_streak(9, 1)
        .expect("streak for a new chat");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 2);
    assert_eq!(store.chat_state(9).expect("state").no_match_streak, 1);
    store.set_no_match_streak(7, 0).expect("reset");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 0);
    assert_eq!(
        row(7).0.as_deref(),
        Some("flyer"),
        "other columns untouched"
    );
}

fn migrate_chat_moves_everything_to_the_new_id(f: &mut Fixture) {
    let store = &*f.store;
    let (old, new, other) = (-100, -1_001_234_567_890_i64, 55);
    store
        .enqueue_updates(&[update(1, old, "pending")], 100)
        .expect("enqueue");
    store
        .record_chat_start(old, Some("group-link"), 100)
        .expect("start");
    store.set_no_match_streak(old, 3).expect("streak");
    store
        .record_feedback(old, "p1", true, 100)
        .expect("feedback");
    store
        .record_feedback(old, "p2", true, 100)
        .expect("feedback");
    store
        .record_feedback(new, "p2", false, 150)
        .expect("feedback");
    store
        .complete_update(
            2,
            &[send(old, "for the group"), send(other, "elsewhere")],
            200,
        )
        .expect("complete");

    store.migrate_chat(old, new).expect("migrate");

    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch[0].chat_id, Some(new));
    assert_eq!(batch[0].action, send(new, "for the group"));
    assert_eq!(batch[1].action, send(other, "elsewhere"));
    assert_eq!(store.chat_state(new).expect("state").no_match_streak, 3);
    assert_eq!(store.chat_state(old).expect("state"), ChatState::default());
    assert_eq!(store.pending_updates(10).expect("pending")[0].chat_id, new);
    assert_eq!(store.feedback_counts("p1").expect("counts"), (1, 0));
    assert_eq!(
        store.feedback_counts("p2").expect("counts"),
        (0, 1),
        "new id's vote stands"
    );
    let source = store.query_text(&format!("SELECT source FROM chats WHERE chat_id = {new}"));
    assert_eq!(source.as_deref(), Some("group-link"));
    // Nothing is left under the old id.
    store.forget_chat(new).expect("forget");
    assert_eq!(store.outbox_len().expect("len"), 1);
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(store.feedback_counts("p1").expect("counts"), (0, 0));
}

fn feedback_counts_one_vote_per_chat_and_passage(f: &mut Fixture) {
    let store = &*f.store;
    assert_eq!(store.feedback_counts("p").expect("counts"), (0, 0));
    store.record_feedback(1, "p", true, 100).expect("feedback");
    store.record_feedback(1, "p", true, 110).expect("feedback");
    store.record_feedback(2, "p", false, 120).expect("feedback");
    store.record_feedback(3, "p", false, 130).expect("feedback");
    store
        .record_feedback(3, "p", true, 140)
        .expect("changed mind");
    store.record_feedback(3, "q", false, 150).expect("feedback");
    assert_eq!(store.feedback_counts("p").expect("counts"), (2, 1));
    assert_eq!(store.feedback_counts("q").expect("counts"), (0, 1));
}

fn meta_values_are_stored_and_replaced(f: &mut Fixture) {
    let store = &*f.store;
    assert_eq!(store.get_meta("content").expect("get"), None);
    store.set_meta("content", "v1").expect("set");
    store.set_meta("content", "v2").expect("set");
    store.set_meta("other", "x").expect("set");
    assert_eq!(
        store.get_meta("content").expect("get").as_deref(),
        Some("v2")
    );
    assert_eq!(store.get_meta("other").expect("get").as_deref(), Some("x"));
}

/// `/forget` leaves no row of the chat in any table, and other chats' rows alone.
fn forget_chat_deletes_every_row_of_the_chat(f: &mut Fixture) {
    let store = &*f.store;
    let (chat, other) = (77_i64, 78_i64);
    for (id, c) in [(1, chat), (2, other)] {
        store
            .enqueue_updates(&[update(id, c, "pending text")], 100)
            .expect("enqueue");
        store.record_chat_start(c, Some("src"), 100).expect("start");
        store.record_feedback(c, "p", true, 100).expect("vote");
        let answer = AnswerRecord {
            chat_id: c,
            transcript: vec![TranscriptEntry {
                at: 100,
                role: Role::Caregiver,
                text: "my words".into(),
                passage_id: None,
            }],
            no_match_streak: 1,
            question: Some(AskedQuestion {
                at: 100,
                outcome: "no_match".into(),
                text: Some("my words".into()),
                passage_id: None,
                offered: Vec::new(),
                confidence: None,
                chosen: None,
            }),
            chosen: None,
        };
        let completion = Completion {
            update_id: id + 10,
            actions: &[send(c, "reply")],
            answer: Some(&answer),
        };
        store
            .complete_updates(&[completion], 100)
            .expect("complete");
        let (e, _) = store
            .open_escalation(
                &NewEscalation {
                    chat_id: c,
                    user_id: c,
                    name: "N".into(),
                    username: None,
                    language: "en".into(),
                    reason: Reason::Asked,
                    urgent: false,
                },
                100,
            )
            .expect("escalate");
        store
            .map_relay(e.id, 5, 6, RelayDirection::ToCoordinators)
            .expect("relay");
    }
    store.forget_chat(chat).expect("forget");
    for (table, column) in [
        ("inbox", "chat_id"),
        ("outbox", "chat_id"),
        ("chats", "chat_id"),
        ("feedback", "chat_id"),
        ("transcript", "chat_id"),
        ("questions", "chat_id"),
        ("escalations", "chat_id"),
    ] {
        let count = |c: i64| {
            store.query_i64(&format!(
                "SELECT count(*) FROM {table} WHERE {column} = {c}"
            ))
        };
        assert_eq!(count(chat), 0, "{table} keeps rows of the forgotten chat");
        assert!(count(other) > 0, "{table} lost the other chat's rows");
    }
    assert_eq!(store.query_i64("SELECT count(*) FROM relays"), 1);
    assert_eq!(store.next_update_offset().expect("offset"), 13);
}
