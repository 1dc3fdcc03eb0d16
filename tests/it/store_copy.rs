//! `faqbot store copy`: a SQLite store moved to PostgreSQL (and back) by the real executable,
//! every table with its ids, safe to run again, refusing a target with rows unless told.

use faqbot::action::{Action, OutMessage};
use faqbot::store::*;
use faqbot_dev::pg::TestDb;

use crate::helpers::{builtin_settings, Faqbot};

fn send(chat: i64, text: &str) -> Action {
    Action::Send(OutMessage::new(chat, text.to_string()))
}

/// A store with a row in every table, and an outbox whose newest id was taken and removed.
fn fill(store: &dyn Backend) -> i64 {
    store
        .enqueue_updates(
            &[NewUpdate {
                update_id: 41,
                chat_id: 7,
                body: "{\"pending\":true}".into(),
            }],
            1_000,
        )
        .expect("enqueue");
    let answer = AnswerRecord {
        chat_id: 7,
        transcript: vec![TranscriptEntry {
            at: 1_000,
            role: Role::Caregiver,
            text: "what is til".into(),
            passage_id: None,
        }],
        no_match_streak: 2,
        question: Some(AskedQuestion {
            at: 1_000,
            outcome: "suggest".into(),
            text: Some("what is til".into()),
            passage_id: None,
            offered: vec!["til".into(), "adc".into()],
            confidence: Some(0.25),
            chosen: None,
        }),
        chosen: None,
    };
    store
        .complete_updates(
            &[Completion {
                update_id: 40,
                actions: &[send(7, "one"), send(7, "two"), send(8, "three")],
                answer: Some(&answer),
            }],
            1_000,
        )
        .expect("complete");
    let heads = store.outbox_heads(0, 10).expect("heads");
    let newest = heads.last().expect("queued").id;
    store.outbox_done(&[newest]).expect("sent");
    store
        .record_chat_start(7, Some("flyer"), 900)
        .expect("start");
    store.set_blocked(9, true, 950).expect("block");
    store.record_feedback(7, "til", false, 1_100).expect("vote");
    store.set_meta("content", "v1").expect("meta");
    let (e, _) = store
        .open_escalation(
            &NewEscalation {
                chat_id: 7,
                user_id: 70,
                name: "Ann".into(),
                username: Some("ann".into()),
                language: "en".into(),
                reason: Reason::NoMatch,
                urgent: true,
            },
            1_200,
        )
        .expect("escalate");
    store
        .set_escalation_topic(e.id, Some(55), false)
        .expect("topic");
    store
        .map_relay(e.id, 500, 600, RelayDirection::ToCoordinators)
        .expect("relay");
    store
        .create_review_session("hash", 70, i64::MAX / 2, 1_300)
        .expect("session");
    newest
}

/// Everything the roles can read, to compare two stores.
fn snapshot(store: &dyn Backend) -> String {
    let mut out = String::new();
    out += &format!("offset {}\n", store.next_update_offset().expect("offset"));
    out += &format!("{:?}\n", store.pending_updates(100).expect("pending"));
    for h in store.outbox_heads(0, 100).expect("heads") {
        out += &format!("{:?}\n", store.outbox_item(h.id).expect("item"));
    }
    out += &format!("{:?}\n", store.chat_state(7).expect("state"));
    out += &format!("{:?}\n", store.list_escalations(None).expect("escalations"));
    out += &format!("{:?}\n", store.transcript(7, 100).expect("transcript"));
    out += &format!(
        "{:?}\n",
        store.questions_between(0, i64::MAX).expect("questions")
    );
    out += &format!(
        "{:?}\n",
        store.not_helpful_between(0, i64::MAX).expect("votes")
    );
    out += &format!("{:?}\n", store.relay_by_group_message(500).expect("relay"));
    out += &format!(
        "{:?}\n",
        store.review_session("hash", 2_000).expect("session")
    );
    out
}

fn copy(from: &str, to: &str, merge: bool) -> crate::helpers::Run {
    let mut args = vec!["store", "copy", "--from", from, "--to", to];
    if merge {
        args.push("--merge");
    }
    Faqbot::new(&args).run()
}

/// The ADDED column of the table's line.
fn added(stdout: &str, table: &str) -> u64 {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(table))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line for {table}:\n{stdout}"))
}

#[test]
fn a_sqlite_store_moves_to_postgres_and_back_with_its_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite_path = dir.path().join("faqbot.db");
    let sqlite_url = format!("sqlite://{}", sqlite_path.display());
    let settings = builtin_settings();
    let removed_id = {
        let source = open_url(&settings, &sqlite_url).expect("open sqlite");
        fill(&*source.backend)
    };
    let db = TestDb::new();

    let run = copy(&sqlite_url, &db.url, false).ok();
    assert_eq!(added(&run.stdout, "outbox"), 2, "{}", run.stdout);
    assert_eq!(added(&run.stdout, "escalations"), 1);
    assert_eq!(added(&run.stdout, "transcript"), 1);
    assert_eq!(added(&run.stdout, "review_sessions"), 1);

    let source = open_url(&settings, &sqlite_url).expect("open sqlite");
    let target = open_url(&settings, &db.url).expect("open postgres");
    let expected = snapshot(&*source.backend);
    assert_eq!(snapshot(&*target.backend), expected);

    // Running it again is refused, and with --merge adds nothing.
    let refused = copy(&sqlite_url, &db.url, false);
    let lines = refused.failed();
    assert!(lines.iter().any(|l| l.contains("--merge")), "{lines:?}");
    let again = copy(&sqlite_url, &db.url, true).ok();
    assert_eq!(added(&again.stdout, "outbox"), 0, "{}", again.stdout);
    assert_eq!(added(&again.stdout, "inbox"), 0);
    assert_eq!(snapshot(&*target.backend), expected);

    // The outbox id taken before the copy is not handed out again.
    target
        .backend
        .enqueue_actions(&[send(7, "after the move")], 2_000)
        .expect("queue");
    let newest = target.backend.outbox_heads(0, 10).expect("heads");
    assert!(newest.last().expect("queued").id > removed_id, "{newest:?}");

    // And back to a new SQLite file.
    let back_path = dir.path().join("back.db");
    let back_url = format!("sqlite://{}", back_path.display());
    copy(&db.url, &back_url, false).ok();
    let back = open_url(&settings, &back_url).expect("open copy");
    assert_eq!(snapshot(&*back.backend), snapshot(&*target.backend));
    back.backend
        .enqueue_actions(&[send(7, "later")], 3_000)
        .expect("queue");
    let ids: Vec<i64> = back
        .backend
        .outbox_heads(0, 10)
        .expect("heads")
        .iter()
        .map(|h| h.id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn a_missing_source_and_a_password_in_an_address_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let to = format!("sqlite://{}", dir.path().join("to.db").display());
    let lines = copy(&missing, &to, false).failed().join("\n");
    assert!(lines.contains("no SQLite store"), "{lines}");
    let from = format!("sqlite://{}", dir.path().join("from.db").display());
    drop(open_url(&builtin_settings(), &from).expect("create"));
    let lines = copy(&from, "postgres://u:secret@127.0.0.1:1/x", false)
        .failed()
        .join("\n");
    assert!(lines.contains("FAQBOT_STORE__PASSWORD"), "{lines}");
    assert!(!lines.contains("secret"), "{lines}");
}
