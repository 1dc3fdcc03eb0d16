//! The review page's links and sessions, and the editors' question log.

use super::{both, Fixture};
use crate::store::*;

both!(
    a_link_works_once_and_not_after_it_expired,
    sessions_expire_end_and_follow_the_allow_list,
    relays_are_listed_per_escalation,
    questions_choices_and_votes_are_read_back,
    retention_erases_text_and_chat_and_forget_deletes,
);

pub(crate) fn asked(at: i64, outcome: &str, text: &str) -> AskedQuestion {
    AskedQuestion {
        at,
        outcome: outcome.into(),
        text: Some(text.into()),
        passage_id: None,
        offered: Vec::new(),
        confidence: Some(0.5),
        chosen: None,
    }
}

pub(crate) fn record(
    chat_id: i64,
    question: Option<AskedQuestion>,
    chosen: Option<&str>,
) -> AnswerRecord {
    AnswerRecord {
        chat_id,
        transcript: Vec::new(),
        no_match_streak: 0,
        question,
        chosen: chosen.map(String::from),
    }
}

fn a_link_works_once_and_not_after_it_expired(f: &mut Fixture) {
    let store = &*f.store;
    store.create_review_link("a", 7, 1_000, 0).expect("link");
    assert_eq!(store.redeem_review_link("a", 500).expect("redeem"), Some(7));
    assert_eq!(store.redeem_review_link("a", 500).expect("again"), None);
    store.create_review_link("b", 7, 1_000, 0).expect("link");
    assert_eq!(store.redeem_review_link("b", 1_000).expect("late"), None);
    assert_eq!(store.redeem_review_link("b", 10).expect("gone"), None);
    assert_eq!(store.redeem_review_link("nope", 10).expect("unknown"), None);
}

fn sessions_expire_end_and_follow_the_allow_list(f: &mut Fixture) {
    let store = &*f.store;
    store.create_review_session("s1", 1, 1_000, 0).expect("s1");
    store.create_review_session("s2", 2, 1_000, 0).expect("s2");
    store.create_review_session("s3", 1, 1_000, 0).expect("s3");
    assert_eq!(store.review_session("s1", 999).expect("read"), Some(1));
    assert_eq!(store.review_session("s1", 1_000).expect("expired"), None);
    store.end_review_session("s3").expect("sign out");
    assert_eq!(store.review_session("s3", 10).expect("ended"), None);
    assert_eq!(store.end_review_sessions_except(&[2]).expect("removed"), 1);
    assert_eq!(store.review_session("s1", 10).expect("removed"), None);
    assert_eq!(store.review_session("s2", 10).expect("kept"), Some(2));
    assert_eq!(store.end_review_sessions_except(&[]).expect("all"), 1);
}

fn relays_are_listed_per_escalation(f: &mut Fixture) {
    let store = &*f.store;
    let (e, _) = store
        .open_escalation(
            &NewEscalation {
                chat_id: 5,
                user_id: 5,
                name: "Ann".into(),
                username: None,
                language: "en".into(),
                reason: Reason::Asked,
                urgent: false,
            },
            0,
        )
        .expect("escalate");
    store
        .map_relay(e.id, 10, 20, RelayDirection::ToCoordinators)
        .expect("relay");
    store
        .map_relay(e.id, 11, 21, RelayDirection::ToCaregiver)
        .expect("relay");
    let relays = store.relays_of(e.id).expect("relays");
    assert_eq!(relays.len(), 2);
    assert_eq!(relays[1].direction, RelayDirection::ToCaregiver);
    assert!(store.relays_of(e.id + 1).expect("none").is_empty());
}

fn questions_choices_and_votes_are_read_back(f: &mut Fixture) {
    let store = &*f.store;
    let mut answered = asked(100, "answer", "what is til");
    answered.passage_id = Some("til".into());
    store
        .record_answer(&record(1, Some(answered), None))
        .expect("record");
    let mut suggested = asked(200, "suggest", "when is enough");
    suggested.offered = vec!["faq-when-to-stop".into(), "emotional-reality".into()];
    store
        .record_answer(&record(1, Some(suggested.clone()), None))
        .expect("record");
    // a later suggestion in another chat offering the same passage is not touched
    store
        .record_answer(&record(2, Some(suggested.clone()), None))
        .expect("record");
    store
        .record_answer(&record(1, None, Some("emotional-reality")))
        .expect("choose");
    // smalltalk is counted, its text not kept
    store
        .record_answer(&record(1, Some(asked(300, "smalltalk", "thanks!")), None))
        .expect("record");
    store
        .record_feedback(1, "emotional-reality", false, 400)
        .expect("vote");
    store.record_feedback(1, "til", false, 500).expect("vote");
    store.record_feedback(1, "adc", false, 600).expect("vote");
    store.record_feedback(2, "til", true, 600).expect("vote");

    let qs = store.questions_between(0, 1000).expect("questions");
    assert_eq!(qs.len(), 4);
    assert_eq!(qs[0].question.passage_id.as_deref(), Some("til"));
    assert_eq!(qs[1].question.offered, suggested.offered);
    assert_eq!(qs[1].question.chosen.as_deref(), Some("emotional-reality"));
    assert_eq!(qs[2].question.chosen, None, "chat 2 chose nothing");
    assert_eq!(qs[3].question.text, None, "smalltalk text is not kept");
    assert_eq!(qs[3].question.outcome, "smalltalk");
    assert_eq!(store.questions_between(150, 250).expect("window").len(), 2);

    let votes = store.not_helpful_between(0, 1000).expect("votes");
    let summary: Vec<(&str, Option<&str>)> = votes
        .iter()
        .map(|v| (v.passage_id.as_str(), v.question_text.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("adc", None),
            ("emotional-reality", Some("when is enough")),
            ("til", Some("what is til")),
        ]
    );
}

fn retention_erases_text_and_chat_and_forget_deletes(f: &mut Fixture) {
    let store = &*f.store;
    for (chat, at) in [(1, 100), (1, 300), (2, 100)] {
        store
            .record_answer(&record(
                chat,
                Some(asked(at, "no_match", "secret words")),
                None,
            ))
            .expect("record");
    }
    store.purge_older_than(200).expect("purge");
    let qs = store.questions_between(0, 1000).expect("questions");
    assert_eq!(qs.len(), 3, "counts stay");
    let erased: Vec<bool> = qs
        .iter()
        .map(|q| q.chat_id.is_none() && q.question.text.is_none())
        .collect();
    assert_eq!(erased, vec![true, true, false]);
    store.migrate_chat(1, 11).expect("migrate");
    assert_eq!(
        store.questions_between(0, 1000).expect("questions")[2].chat_id,
        Some(11)
    );
    store.forget_chat(11).expect("forget");
    let qs = store.questions_between(0, 1000).expect("questions");
    assert_eq!(qs.len(), 2, "the anonymous counts stay");
    assert!(qs.iter().all(|q| q.chat_id.is_none()));
}
