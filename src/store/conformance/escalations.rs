//! Escalations, transcripts and relays.

use super::{both, Fixture};
use crate::store::*;

both!(
    a_chat_has_at_most_one_open_escalation,
    an_urgent_request_upgrades_the_open_escalation,
    claim_close_and_reopen_follow_the_rules,
    the_first_reply_time_is_set_once,
    escalations_are_found_by_topic_and_card,
    mark_caregiver_blocked_marks_the_open_escalation,
    list_filters_and_orders_newest_first,
    an_answer_is_recorded_alone_or_with_its_update,
    transcript_keeps_order_and_returns_the_most_recent,
    relays_are_found_both_ways,
    purge_keeps_open_escalations_and_recent_transcript,
    migrate_chat_moves_transcript_and_escalations,
);

pub(crate) fn new(chat_id: i64, reason: Reason, urgent: bool) -> NewEscalation {
    NewEscalation {
        chat_id,
        user_id: chat_id + 1,
        name: format!("Caregiver {chat_id}"),
        username: Some(format!("user{chat_id}")),
        language: "en".into(),
        reason,
        urgent,
    }
}

pub(crate) fn entry(at: i64, role: Role, text: &str) -> TranscriptEntry {
    TranscriptEntry {
        at,
        role,
        text: text.into(),
        passage_id: None,
    }
}

pub(crate) fn texts(entries: &[TranscriptEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn names_round_trip_and_match_serde() {
    for r in Reason::ALL {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
        assert_eq!(
            serde_json::to_value(r).expect("json"),
            serde_json::json!(r.as_str())
        );
    }
    for r in Role::ALL {
        assert_eq!(Role::parse(r.as_str()), Some(r));
        assert_eq!(
            serde_json::to_value(r).expect("json"),
            serde_json::json!(r.as_str())
        );
    }
    for d in [RelayDirection::ToCoordinators, RelayDirection::ToCaregiver] {
        assert_eq!(RelayDirection::parse(d.as_str()), Some(d));
    }
    assert_eq!(Reason::NoMatch.as_str(), "no_match");
    assert_eq!(Reason::parse("No_Match"), None);
    assert_eq!(Role::parse(""), None);
}

fn a_chat_has_at_most_one_open_escalation(f: &mut Fixture) {
    let store = &*f.store;
    let (first, created) = store
        .open_escalation(&new(7, Reason::Asked, false), 1_000)
        .expect("open");
    assert!(created);
    assert_eq!(
        first,
        Escalation {
            id: first.id,
            chat_id: 7,
            user_id: 8,
            name: "Caregiver 7".into(),
            username: Some("user7".into()),
            language: "en".into(),
            reason: Reason::Asked,
            urgent: false,
            open: true,
            created_at: 1_000,
            claimed_by: None,
            first_reply_at: None,
            closed_at: None,
            closed_by: None,
            thread_id: None,
            card_message_id: None,
            topic_failed: false,
            caregiver_blocked: false,
        }
    );
    let (again, created) = store
        .open_escalation(&new(7, Reason::NoMatch, false), 2_000)
        .expect("open again");
    assert!(!created);
    assert_eq!(again, first, "the open one is returned unchanged");
    let (other, created) = store
        .open_escalation(&new(9, Reason::NoMatch, false), 3_000)
        .expect("other chat");
    assert!(created);
    assert_ne!(other.id, first.id);
    assert_eq!(
        store.open_escalation_for_chat(7).expect("for chat"),
        Some(first.clone())
    );
    assert_eq!(store.open_escalation_for_chat(8).expect("none"), None);
    assert_eq!(store.query_i64("SELECT count(*) FROM escalations"), 2);

    // The index holds even against a caller bypassing open_escalation.
    let dup = store.exec(
        "INSERT INTO escalations (chat_id, user_id, name, language, reason, created_at)
         VALUES (7, 8, 'x', 'en', 'asked', 5)",
    );
    assert!(dup.is_err(), "a second open escalation was accepted");

    // Once closed, the chat can be escalated again, with a new id.
    assert!(store
        .close_escalation(first.id, "Coord", 4_000)
        .expect("close"));
    let (next, created) = store
        .open_escalation(&new(7, Reason::NotHelpful, false), 5_000)
        .expect("open after close");
    assert!(created);
    assert!(next.id > other.id);
    assert_eq!(next.reason, Reason::NotHelpful);
}

fn an_urgent_request_upgrades_the_open_escalation(f: &mut Fixture) {
    let store = &*f.store;
    let (e, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    assert!(!e.urgent);
    let (e2, created) = store
        .open_escalation(&new(1, Reason::NoMatch, true), 200)
        .expect("urgent");
    assert!(!created);
    assert!(e2.urgent, "marked urgent");
    assert_eq!(
        e2.reason,
        Reason::Asked,
        "only an emergency changes the reason"
    );
    assert_eq!(e2.created_at, 100);
    let (e3, created) = store
        .open_escalation(&new(1, Reason::Emergency, true), 300)
        .expect("emergency");
    assert!(!created);
    assert_eq!(
        (e3.id, e3.reason, e3.urgent),
        (e.id, Reason::Emergency, true)
    );
    // A non-urgent request never lowers it.
    let (e4, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 400)
        .expect("again");
    assert_eq!((e4.reason, e4.urgent), (Reason::Emergency, true));

    // An emergency is urgent even if the caller forgot to say so, new or upgraded.
    let (fresh, _) = store
        .open_escalation(&new(2, Reason::Emergency, false), 500)
        .expect("emergency");
    assert!(fresh.urgent);
    store
        .open_escalation(&new(3, Reason::Asked, false), 600)
        .expect("open");
    let (up, _) = store
        .open_escalation(&new(3, Reason::Emergency, false), 700)
        .expect("emergency later");
    assert_eq!((up.reason, up.urgent), (Reason::Emergency, true));
}

fn claim_close_and_reopen_follow_the_rules(f: &mut Fixture) {
    let store = &*f.store;
    let (e, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    let get = |id| store.escalation(id).expect("get").expect("exists");

    assert!(store.claim_escalation(e.id, "Ann", 150).expect("claim"));
    assert!(store.claim_escalation(e.id, "Bob", 160).expect("take over"));
    assert_eq!(get(e.id).claimed_by.as_deref(), Some("Bob"));

    assert!(store.close_escalation(e.id, "Bob", 200).expect("close"));
    let closed = get(e.id);
    assert!(!closed.open);
    assert_eq!(
        (closed.closed_at, closed.closed_by.as_deref()),
        (Some(200), Some("Bob"))
    );
    assert!(
        !store
            .close_escalation(e.id, "Ann", 250)
            .expect("close again"),
        "already closed"
    );
    assert_eq!(
        get(e.id).closed_by.as_deref(),
        Some("Bob"),
        "first close stands"
    );
    assert!(
        !store
            .claim_escalation(e.id, "Ann", 260)
            .expect("claim closed"),
        "a closed escalation cannot be claimed"
    );
    assert_eq!(get(e.id).claimed_by.as_deref(), Some("Bob"));

    assert!(store.reopen_escalation(e.id, 300).expect("reopen"));
    let reopened = get(e.id);
    assert!(reopened.open);
    assert_eq!(
        (reopened.closed_at, reopened.closed_by.as_deref()),
        (None, None)
    );
    assert_eq!(reopened.created_at, 100);
    assert_eq!(
        store.open_escalation_for_chat(1).expect("open"),
        Some(reopened)
    );
    assert!(
        !store.reopen_escalation(e.id, 310).expect("reopen open"),
        "already open"
    );

    // While the chat has another open escalation, the old one cannot be reopened.
    assert!(store.close_escalation(e.id, "Bob", 400).expect("close"));
    let (other, created) = store
        .open_escalation(&new(1, Reason::NoMatch, false), 500)
        .expect("new");
    assert!(created);
    assert!(!store.reopen_escalation(e.id, 600).expect("reopen blocked"));
    assert!(!get(e.id).open);
    assert!(store.close_escalation(other.id, "Ann", 700).expect("close"));
    assert!(store.reopen_escalation(e.id, 800).expect("reopen now"));

    // Unknown ids.
    assert!(!store.claim_escalation(999, "x", 1).expect("claim"));
    assert!(!store.close_escalation(999, "x", 1).expect("close"));
    assert!(!store.reopen_escalation(999, 1).expect("reopen"));
    assert_eq!(store.escalation(999).expect("get"), None);
}

fn the_first_reply_time_is_set_once(f: &mut Fixture) {
    let store = &*f.store;
    let (e, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    store.record_coordinator_reply(e.id, 250).expect("reply");
    store
        .record_coordinator_reply(e.id, 400)
        .expect("reply again");
    assert_eq!(
        store
            .escalation(e.id)
            .expect("get")
            .expect("e")
            .first_reply_at,
        Some(250)
    );
    store
        .record_coordinator_reply(999, 1)
        .expect("unknown is ignored");
}

fn escalations_are_found_by_topic_and_card(f: &mut Fixture) {
    let store = &*f.store;
    let (a, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    let (b, _) = store
        .open_escalation(&new(2, Reason::Asked, false), 200)
        .expect("open");
    store
        .set_escalation_topic(a.id, Some(55), false)
        .expect("topic");
    store
        .set_escalation_topic(b.id, None, true)
        .expect("no topics");
    store.set_escalation_card(b.id, 77).expect("card");

    let by_thread = store
        .escalation_by_thread(55)
        .expect("thread")
        .expect("found");
    assert_eq!((by_thread.id, by_thread.thread_id), (a.id, Some(55)));
    assert!(!by_thread.topic_failed);
    let by_card = store.escalation_by_card(77).expect("card").expect("found");
    assert_eq!(by_card.id, b.id);
    assert!(by_card.topic_failed && by_card.thread_id.is_none());
    assert_eq!(by_card.card_message_id, Some(77));
    assert_eq!(store.escalation_by_thread(56).expect("thread"), None);
    assert_eq!(store.escalation_by_card(55).expect("card"), None);
    assert_eq!(store.escalation_by_thread(77).expect("thread"), None);

    // A later escalation reusing the topic is the one found.
    assert!(store.close_escalation(a.id, "c", 300).expect("close"));
    let (a2, _) = store
        .open_escalation(&new(1, Reason::NoMatch, false), 400)
        .expect("again");
    store
        .set_escalation_topic(a2.id, Some(55), false)
        .expect("topic");
    assert_eq!(
        store
            .escalation_by_thread(55)
            .expect("thread")
            .map(|e| e.id),
        Some(a2.id)
    );
}

fn mark_caregiver_blocked_marks_the_open_escalation(f: &mut Fixture) {
    let store = &*f.store;
    assert_eq!(store.mark_caregiver_blocked(1).expect("none"), None);
    let (old, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    assert!(store.close_escalation(old.id, "c", 150).expect("close"));
    let (e, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 200)
        .expect("open");
    let marked = store
        .mark_caregiver_blocked(1)
        .expect("mark")
        .expect("some");
    assert_eq!(marked.id, e.id);
    assert!(marked.caregiver_blocked);
    assert!(
        !store
            .escalation(old.id)
            .expect("get")
            .expect("old")
            .caregiver_blocked
    );
}

fn list_filters_and_orders_newest_first(f: &mut Fixture) {
    let store = &*f.store;
    let mut ids = Vec::new();
    for (chat, at) in [(1, 100), (2, 300), (3, 200)] {
        let (e, _) = store
            .open_escalation(&new(chat, Reason::Asked, false), at)
            .expect("open");
        ids.push(e.id);
    }
    assert!(store.close_escalation(ids[2], "c", 400).expect("close"));
    let all: Vec<i64> = store
        .list_escalations(None)
        .expect("list")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(all, [ids[1], ids[2], ids[0]]);
    let open: Vec<i64> = store
        .list_escalations(Some(true))
        .expect("list")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(open, [ids[1], ids[0]]);
    let closed = store.list_escalations(Some(false)).expect("list");
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].id, closed[0].open), (ids[2], false));
}

fn an_answer_is_recorded_alone_or_with_its_update(f: &mut Fixture) {
    let store = &*f.store;
    let answer = |chat_id, lines: &[&str], no_match_streak| AnswerRecord {
        chat_id,
        transcript: lines
            .iter()
            .map(|l| entry(100, Role::Caregiver, l))
            .collect(),
        no_match_streak,
        question: None,
        chosen: None,
    };
    // a chat never seen before gets a row
    store
        .record_answer(&answer(7, &["one"], 1))
        .expect("record");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 1);
    store.record_answer(&answer(7, &[], 0)).expect("record");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 0);

    store
        .enqueue_updates(
            &[
                NewUpdate {
                    update_id: 1,
                    chat_id: 7,
                    body: "{}".into(),
                },
                NewUpdate {
                    update_id: 2,
                    chat_id: 8,
                    body: "{}".into(),
                },
            ],
            50,
        )
        .expect("enqueue");
    let (first, second) = (answer(7, &["two"], 2), answer(8, &["three"], 0));
    let completion = |update_id, answer| Completion {
        update_id,
        actions: &[],
        answer: Some(answer),
    };
    store
        .complete_updates(&[completion(1, &first), completion(2, &second)], 200)
        .expect("complete");
    assert_eq!(store.chat_state(7).expect("state").no_match_streak, 2);
    // a redelivered update is not recorded again
    store
        .complete_updates(&[completion(1, &first)], 300)
        .expect("complete again");
    assert_eq!(
        texts(&store.transcript(7, 10).expect("transcript")),
        ["one", "two"]
    );
    assert_eq!(
        texts(&store.transcript(8, 10).expect("transcript")),
        ["three"]
    );
}

fn transcript_keeps_order_and_returns_the_most_recent(f: &mut Fixture) {
    let store = &*f.store;
    let mut bot = entry(300, Role::Bot, "three");
    bot.passage_id = Some("guide/trials".into());
    // Added out of time order, with a tie at 300 kept in the order added.
    store
        .add_transcript(1, &entry(200, Role::Caregiver, "two"))
        .expect("add");
    store
        .add_transcript(1, &entry(100, Role::Caregiver, "one"))
        .expect("add");
    store.add_transcript(1, &bot).expect("add");
    store
        .add_transcript(1, &entry(300, Role::Note, "four"))
        .expect("add");
    store
        .add_transcript(1, &entry(500, Role::Coordinator, "five"))
        .expect("add");
    store
        .add_transcript(2, &entry(400, Role::Caregiver, "other chat"))
        .expect("add");

    let all = store.transcript(1, 100).expect("all");
    assert_eq!(texts(&all), ["one", "two", "three", "four", "five"]);
    assert_eq!(all[2], bot);
    let recent = store.transcript(1, 3).expect("recent");
    assert_eq!(texts(&recent), ["three", "four", "five"]);
    assert_eq!(recent[2].role, Role::Coordinator);
    assert!(store.transcript(1, 0).expect("none").is_empty());
    assert_eq!(
        texts(&store.transcript(2, usize::MAX).expect("other")),
        ["other chat"]
    );
    assert!(store.transcript(3, 10).expect("unknown").is_empty());
}

fn relays_are_found_both_ways(f: &mut Fixture) {
    let store = &*f.store;
    let (a, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    let (b, _) = store
        .open_escalation(&new(2, Reason::Asked, false), 100)
        .expect("open");
    store
        .map_relay(a.id, 1_000, 10, RelayDirection::ToCoordinators)
        .expect("map");
    store
        .map_relay(a.id, 1_001, 11, RelayDirection::ToCaregiver)
        .expect("map");
    store
        .map_relay(b.id, 1_002, 10, RelayDirection::ToCoordinators)
        .expect("map");

    assert_eq!(
        store.relay_by_group_message(1_000).expect("lookup"),
        Some((a.id, 10, RelayDirection::ToCoordinators))
    );
    assert_eq!(
        store.relay_by_group_message(1_001).expect("lookup"),
        Some((a.id, 11, RelayDirection::ToCaregiver))
    );
    assert_eq!(store.relay_by_group_message(10).expect("lookup"), None);
    // The same caregiver message id in two chats stays apart.
    assert_eq!(
        store.relay_by_caregiver_message(1, 10).expect("lookup"),
        Some((a.id, 1_000, RelayDirection::ToCoordinators))
    );
    assert_eq!(
        store.relay_by_caregiver_message(2, 10).expect("lookup"),
        Some((b.id, 1_002, RelayDirection::ToCoordinators))
    );
    assert_eq!(
        store.relay_by_caregiver_message(1, 1_000).expect("lookup"),
        None
    );
    assert_eq!(
        store.relay_by_caregiver_message(3, 10).expect("lookup"),
        None
    );

    // A correction maps the message again; the latest mapping wins, the old copy still
    // resolves.
    store
        .map_relay(a.id, 1_005, 10, RelayDirection::ToCoordinators)
        .expect("map");
    assert_eq!(
        store.relay_by_caregiver_message(1, 10).expect("lookup"),
        Some((a.id, 1_005, RelayDirection::ToCoordinators))
    );
    assert_eq!(
        store
            .relay_by_group_message(1_000)
            .expect("lookup")
            .map(|r| r.0),
        Some(a.id)
    );

    store
        .map_relay(999, 2_000, 1, RelayDirection::ToCaregiver)
        .expect("unknown escalation is ignored");
    assert_eq!(store.relay_by_group_message(2_000).expect("lookup"), None);
}

fn purge_keeps_open_escalations_and_recent_transcript(f: &mut Fixture) {
    let store = &*f.store;
    let cutoff = 1_000;
    // Chat 1: escalated long ago, still open. Chat 2: closed before the cutoff.
    // Chat 3: closed after the cutoff.
    let (open_old, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    let (closed_old, _) = store
        .open_escalation(&new(2, Reason::Asked, false), 100)
        .expect("open");
    let (closed_new, _) = store
        .open_escalation(&new(3, Reason::Asked, false), 100)
        .expect("open");
    for e in [&open_old, &closed_old, &closed_new] {
        store
            .map_relay(e.id, 100 + e.id as i32, 1, RelayDirection::ToCoordinators)
            .expect("map");
    }
    assert!(store
        .close_escalation(closed_old.id, "c", 900)
        .expect("close"));
    assert!(store
        .close_escalation(closed_new.id, "c", 1_100)
        .expect("close"));
    store
        .add_transcript(1, &entry(999, Role::Caregiver, "old"))
        .expect("add");
    store
        .add_transcript(1, &entry(1_000, Role::Caregiver, "at cutoff"))
        .expect("add");
    store
        .add_transcript(1, &entry(1_500, Role::Bot, "recent"))
        .expect("add");
    store
        .add_transcript(2, &entry(10, Role::Caregiver, "ancient"))
        .expect("add");

    let deleted = store.purge_older_than(cutoff).expect("purge");
    assert_eq!(deleted, 2 + 1 + 1, "transcript 2, relay 1, escalation 1");

    assert!(
        store.escalation(open_old.id).expect("get").is_some(),
        "open is kept"
    );
    assert_eq!(store.escalation(closed_old.id).expect("get"), None);
    assert!(store.escalation(closed_new.id).expect("get").is_some());
    assert_eq!(
        store
            .relay_by_group_message(100 + closed_old.id as i32)
            .expect("relay"),
        None
    );
    assert!(store
        .relay_by_group_message(100 + open_old.id as i32)
        .expect("relay")
        .is_some());
    assert!(store
        .relay_by_group_message(100 + closed_new.id as i32)
        .expect("relay")
        .is_some());
    assert_eq!(
        texts(&store.transcript(1, 10).expect("t")),
        ["at cutoff", "recent"]
    );
    assert!(store.transcript(2, 10).expect("t").is_empty());
    assert_eq!(store.purge_older_than(cutoff).expect("again"), 0);
    // An open escalation is kept however old it is.
    store.purge_older_than(i64::MAX).expect("purge everything");
    assert!(store.escalation(open_old.id).expect("get").is_some());
}

fn migrate_chat_moves_transcript_and_escalations(f: &mut Fixture) {
    let store = &*f.store;
    let (old, newer) = (-100_i64, -1_001_234_567_890_i64);
    let (e, _) = store
        .open_escalation(&new(old, Reason::Asked, false), 100)
        .expect("open");
    store
        .map_relay(e.id, 500, 5, RelayDirection::ToCoordinators)
        .expect("map");
    store
        .add_transcript(old, &entry(100, Role::Caregiver, "hello"))
        .expect("add");
    store.migrate_chat(old, newer).expect("migrate");
    assert_eq!(store.open_escalation_for_chat(old).expect("old"), None);
    assert_eq!(
        store
            .open_escalation_for_chat(newer)
            .expect("new")
            .map(|x| x.id),
        Some(e.id)
    );
    assert_eq!(texts(&store.transcript(newer, 10).expect("t")), ["hello"]);
    assert_eq!(
        store.relay_by_caregiver_message(newer, 5).expect("relay"),
        Some((e.id, 500, RelayDirection::ToCoordinators))
    );

    // Both ids with an open escalation: nothing breaks, the old one stays put.
    let (x, _) = store
        .open_escalation(&new(1, Reason::Asked, false), 100)
        .expect("open");
    let (y, _) = store
        .open_escalation(&new(2, Reason::Asked, false), 100)
        .expect("open");
    store.migrate_chat(1, 2).expect("migrate with conflict");
    assert_eq!(
        store.open_escalation_for_chat(1).expect("1").map(|e| e.id),
        Some(x.id)
    );
    assert_eq!(
        store.open_escalation_for_chat(2).expect("2").map(|e| e.id),
        Some(y.id)
    );
}
