//! The inbox and the outbox: exactly-once completion, order, retention.

use super::{both, send, update, Fixture};
use crate::action::Action;
use crate::store::*;

both!(
    enqueue_dedupes_and_tracks_the_offset,
    complete_update_is_idempotent_and_erases_the_body,
    complete_update_is_atomic,
    completing_an_unknown_update_records_it,
    outbox_keeps_order_and_supports_retry_replace_and_drop,
    an_undecodable_outbox_action_is_dropped_not_blocking,
    purge_respects_the_cutoff,
    data_survives_closing_and_reopening,
    the_store_is_shared_across_threads,
);

fn enqueue_dedupes_and_tracks_the_offset(f: &mut Fixture) {
    let store = &*f.store;
    assert_eq!(store.next_update_offset().expect("offset"), 0);
    assert_eq!(store.pending_count().expect("count"), 0);

    let n = store
        .enqueue_updates(&[update(11, 5, "b"), update(10, 5, "a")], 1_000)
        .expect("enqueue");
    assert_eq!(n, 2);
    // 11 is pending, 12 appears twice in one batch: only 12 is new, once.
    let n = store
        .enqueue_updates(
            &[update(11, 5, "b2"), update(12, 6, "c"), update(12, 6, "c")],
            2_000,
        )
        .expect("enqueue");
    assert_eq!(n, 1);
    assert_eq!(store.pending_count().expect("count"), 3);
    assert_eq!(store.next_update_offset().expect("offset"), 13);

    store.complete_update(10, &[], 3_000).expect("complete");
    // Done updates are not taken again either.
    assert_eq!(
        store
            .enqueue_updates(&[update(10, 5, "a")], 4_000)
            .expect("enqueue"),
        0
    );
    // A late, lower id is new but does not move the offset back.
    assert_eq!(
        store
            .enqueue_updates(&[update(7, 5, "z")], 4_000)
            .expect("enqueue"),
        1
    );
    assert_eq!(store.next_update_offset().expect("offset"), 13);
    assert_eq!(store.enqueue_updates(&[], 4_000).expect("enqueue"), 0);

    let pending = store.pending_updates(10).expect("pending");
    let ids: Vec<i32> = pending.iter().map(|i| i.update_id).collect();
    assert_eq!(ids, [7, 11, 12]);
    assert_eq!(
        pending[1],
        InboxItem {
            update_id: 11,
            chat_id: 5,
            body: "b".into(),
            received_at: 1_000
        }
    );
    assert_eq!(store.pending_updates(2).expect("pending").len(), 2);
    assert_eq!(store.pending_count().expect("count"), 3);
}

fn complete_update_is_idempotent_and_erases_the_body(f: &mut Fixture) {
    let store = &*f.store;
    store
        .enqueue_updates(&[update(1, 5, "secret text")], 100)
        .expect("enqueue");
    assert!(!store.is_update_done(1).expect("done?"));

    let actions = [send(5, "one"), send(5, "two")];
    store.complete_update(1, &actions, 200).expect("complete");
    assert!(store.is_update_done(1).expect("done?"));
    assert_eq!(store.pending_count().expect("count"), 0);
    let body = store.query_text("SELECT body FROM inbox WHERE update_id = 1");
    assert_eq!(body, None);

    // Completing again (a redelivery handled twice) queues nothing more.
    store
        .complete_update(1, &actions, 300)
        .expect("complete again");
    let batch = store.outbox_batch(10).expect("batch");
    let sent: Vec<Action> = batch.into_iter().map(|i| i.action).collect();
    assert_eq!(sent, actions);
    assert_eq!(store.outbox_len().expect("len"), 2);
}

fn complete_update_is_atomic(f: &mut Fixture) {
    let store = &*f.store;
    store
        .enqueue_updates(&[update(1, 5, "question")], 100)
        .expect("enqueue");
    // Make the second outbox insert fail, as a full disk might.
    store.fail_outbox_inserts(Some("boom"));
    let actions = [send(5, "fine"), send(5, "boom")];
    store
        .complete_update(1, &actions, 200)
        .expect_err("must fail");
    assert!(!store.is_update_done(1).expect("done?"));
    assert_eq!(store.outbox_len().expect("len"), 0, "first action leaked");
    assert_eq!(
        store.pending_updates(10).expect("pending")[0].body,
        "question"
    );

    store.fail_outbox_inserts(None);
    store.complete_update(1, &actions, 300).expect("complete");
    store
        .complete_update(1, &actions, 400)
        .expect("complete again");
    assert_eq!(store.outbox_len().expect("len"), 2);
}

fn completing_an_unknown_update_records_it(f: &mut Fixture) {
    let store = &*f.store;
    store
        .complete_update(42, &[send(5, "bye")], 100)
        .expect("complete");
    assert!(store.is_update_done(42).expect("done?"));
    assert_eq!(store.outbox_len().expect("len"), 1);
    assert_eq!(store.next_update_offset().expect("offset"), 43);
    store
        .complete_update(42, &[send(5, "bye")], 200)
        .expect("again");
    assert_eq!(store.outbox_len().expect("len"), 1);
    assert_eq!(
        store
            .enqueue_updates(&[update(42, 5, "x")], 300)
            .expect("enqueue"),
        0
    );
}

fn outbox_keeps_order_and_supports_retry_replace_and_drop(f: &mut Fixture) {
    let store = &*f.store;
    let callback = Action::AnswerCallback {
        callback_id: "cb".into(),
        text: None,
    };
    store
        .complete_update(1, &[send(1, "a1"), send(2, "b1"), callback.clone()], 100)
        .expect("complete");
    store
        .complete_update(2, &[send(1, "a2")], 200)
        .expect("complete");

    let batch = store.outbox_batch(10).expect("batch");
    let ids: Vec<i64> = batch.iter().map(|i| i.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let chats: Vec<Option<i64>> = batch.iter().map(|i| i.chat_id).collect();
    assert_eq!(chats, [Some(1), Some(2), None, Some(1)]);
    assert_eq!(batch[2].action, callback);
    assert_eq!(batch[3].action, send(1, "a2"));
    assert_eq!((batch[0].not_before, batch[0].attempts), (100, 0));
    assert_eq!(batch[3].not_before, 200);
    assert_eq!(store.outbox_batch(2).expect("batch").len(), 2);

    // heads page through the same queue; an item is the batch's entry
    let heads = |after, limit| -> Vec<i64> {
        let heads = store.outbox_heads(after, limit).expect("heads");
        heads.iter().map(|h| h.id).collect()
    };
    assert_eq!(heads(0, 2), ids[..2]);
    assert_eq!(heads(ids[1], 10), ids[2..]);
    assert!(heads(ids[3], 10).is_empty());
    let head = store.outbox_heads(ids[2], 1).expect("heads")[0];
    assert_eq!((head.chat_id, head.not_before), (Some(1), 200));
    assert_eq!(
        store.outbox_item(ids[3]).expect("item").as_ref(),
        Some(&batch[3])
    );

    store.outbox_retry(ids[0], 5_000, 3).expect("retry");
    store
        .outbox_replace(ids[1], &send(9, "b1 plain"))
        .expect("replace");
    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch[0].id, ids[0], "a retried action keeps its place");
    assert_eq!((batch[0].not_before, batch[0].attempts), (5_000, 3));
    assert_eq!(batch[1].id, ids[1], "a replaced action keeps its place");
    assert_eq!(batch[1].action, send(9, "b1 plain"));
    assert_eq!(batch[1].chat_id, Some(9));

    assert_eq!(store.outbox_drop_chat(1).expect("drop"), 2);
    assert_eq!(store.outbox_drop_chat(1).expect("drop"), 0);
    assert_eq!(store.outbox_len().expect("len"), 2);

    store.outbox_done(&ids[2..3]).expect("done");
    store.outbox_done(&ids[2..3]).expect("done twice is fine");
    assert_eq!(store.outbox_item(ids[2]).expect("item"), None, "gone");
    store
        .outbox_retry(ids[2], 1, 1)
        .expect("retry of a gone id is ignored");
    assert_eq!(store.outbox_len().expect("len"), 1);

    // Ids are never reused, even after the newest action is removed.
    let last = *ids.last().expect("ids");
    store.outbox_done(&ids[1..2]).expect("done");
    store
        .complete_update(3, &[send(1, "a3")], 300)
        .expect("complete");
    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch.len(), 1);
    assert!(batch[0].id > last, "{} reused", batch[0].id);
}

fn an_undecodable_outbox_action_is_dropped_not_blocking(f: &mut Fixture) {
    let store = &*f.store;
    store
        .exec(r#"INSERT INTO outbox (chat_id, action, not_before) VALUES (1, '{"kind":"teleport"}', 0)"#)
        .expect("insert");
    store
        .complete_update(1, &[send(1, "ok")], 100)
        .expect("complete");
    let batch = store.outbox_batch(1).expect("batch");
    assert!(batch.is_empty(), "the bad row comes first and is dropped");
    let batch = store.outbox_batch(10).expect("batch");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].action, send(1, "ok"));
    assert_eq!(store.outbox_len().expect("len"), 1);
}

fn purge_respects_the_cutoff(f: &mut Fixture) {
    let store = &*f.store;
    store
        .enqueue_updates(&[update(1, 1, "old done")], 100)
        .expect("enqueue");
    store
        .complete_update(1, &[send(1, "queued long ago")], 100)
        .expect("complete");
    store
        .enqueue_updates(&[update(2, 1, "old pending")], 100)
        .expect("enqueue");
    store
        .enqueue_updates(&[update(3, 2, "new done")], 300)
        .expect("enqueue");
    store.complete_update(3, &[], 300).expect("complete");
    store.record_feedback(1, "p", true, 100).expect("feedback");
    store.record_feedback(2, "p", false, 300).expect("feedback");
    store.set_blocked(3, true, 150).expect("old chat");

    // Chat 1 was last seen at 100, chat 2 at 300, chat 3 at 150.
    let deleted = store.purge_older_than(200).expect("purge");
    assert_eq!(
        deleted,
        1 + 1 + 2,
        "inbox 1, feedback at 100, chats 1 and 3"
    );

    assert!(
        !store.is_update_done(1).expect("done?"),
        "old done row purged"
    );
    assert!(
        store.is_update_done(3).expect("done?"),
        "newer done row kept"
    );
    let pending = store.pending_updates(10).expect("pending");
    assert_eq!(pending.len(), 1, "pending updates are never purged");
    assert_eq!(pending[0].update_id, 2);
    assert_eq!(store.feedback_counts("p").expect("counts"), (0, 1));
    assert!(
        !store.is_blocked(3).expect("blocked?"),
        "old chat row purged"
    );
    assert_eq!(
        store.outbox_len().expect("len"),
        1,
        "queued actions are kept"
    );
    assert_eq!(store.next_update_offset().expect("offset"), 4);
    assert_eq!(store.purge_older_than(200).expect("purge again"), 0);
    let chats = store.query_i64("SELECT count(*) FROM chats");
    assert_eq!(chats, 1, "chat 2 kept");
}

fn data_survives_closing_and_reopening(f: &mut Fixture) {
    {
        let store = &*f.store;
        store
            .enqueue_updates(&[update(5, 1, "pending"), update(6, 1, "done")], 100)
            .expect("enqueue");
        store
            .complete_update(6, &[send(1, "reply")], 200)
            .expect("complete");
        store.record_chat_start(1, Some("src"), 100).expect("start");
        store.set_no_match_streak(1, 2).expect("streak");
        store.set_blocked(2, true, 100).expect("block");
        store.record_feedback(1, "p", true, 100).expect("feedback");
        store.set_meta("k", "v").expect("meta");
    }
    f.reopen();
    let store = &*f.store;
    assert_eq!(store.next_update_offset().expect("offset"), 7);
    assert_eq!(
        store.pending_updates(10).expect("pending")[0].body,
        "pending"
    );
    assert!(store.is_update_done(6).expect("done?"));
    assert_eq!(
        store.outbox_batch(10).expect("batch")[0].action,
        send(1, "reply")
    );
    assert_eq!(store.chat_state(1).expect("state").no_match_streak, 2);
    assert!(store.is_blocked(2).expect("blocked?"));
    assert_eq!(store.feedback_counts("p").expect("counts"), (1, 0));
    assert_eq!(store.get_meta("k").expect("meta").as_deref(), Some("v"));
}

fn the_store_is_shared_across_threads(f: &mut Fixture) {
    let store = &*f.store;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..25 {
                        let id = t * 100 + i;
                        store
                            .enqueue_updates(&[update(id, i64::from(t), "x")], 1)
                            .expect("enqueue");
                        store
                            .complete_update(id, &[send(i64::from(t), "y")], 2)
                            .expect("complete");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
    });
    assert_eq!(store.outbox_len().expect("len"), 100);
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(store.next_update_offset().expect("offset"), 325);
}
