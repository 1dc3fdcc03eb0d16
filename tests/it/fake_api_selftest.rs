//! Tests of the fake Bot API itself: if the fake is wrong, every test built on it is too.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_api::{FakeTelegram, Fault};

const TOKEN: &str = "123456:TEST-fake-token";
const WAIT: Duration = Duration::from_secs(20);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("reqwest client")
}

/// POSTs JSON to a method; returns the HTTP status and the parsed answer.
async fn post(fake: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/bot{}/{method}", fake.url(), fake.token());
    let response = client()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

async fn send(fake: &FakeTelegram, body: Value) -> (u16, Value) {
    post(fake, "sendMessage", body).await
}

fn description(answer: &Value) -> &str {
    answer["description"].as_str().unwrap_or("")
}

fn result_ids(answer: &Value) -> Vec<i64> {
    answer["result"]
        .as_array()
        .expect("a result array")
        .iter()
        .map(|u| u["update_id"].as_i64().expect("update_id"))
        .collect()
}

#[tokio::test]
async fn envelope_unauthorized_and_unknown_method() {
    let fake = FakeTelegram::start(TOKEN);
    let (status, me) = post(&fake, "getMe", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(me["ok"], true);
    assert_eq!(me["result"]["is_bot"], true);
    assert_eq!(me["result"]["username"], "faq_test_bot");
    assert_eq!(me["result"]["id"], 123456);

    // GET works too, and method names are case-insensitive as in Telegram.
    let url = format!("{}/bot{TOKEN}/getme", fake.url());
    let got: Value = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["result"]["first_name"], "FAQ bot");

    let url = format!("{}/botWRONG/getMe", fake.url());
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );

    let (status, body) = post(&fake, "sendTelepathy", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"})
    );

    let calls = fake.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].method, "getMe");
    assert_eq!(calls[1].method, "getMe");
    assert_eq!(fake.rejected().len(), 2);
    assert_eq!(fake.rejected()[0].status, 401);
}

#[tokio::test]
async fn get_updates_offset_confirms_and_drops_forever() {
    let fake = FakeTelegram::start(TOKEN);
    let a = fake.push_text(1, 1, "one") as i64;
    let b = fake.push_text(1, 1, "two") as i64;
    let c = fake.push_text(1, 1, "three") as i64;
    assert!(a < b && b < c, "ids increase");
    assert_eq!(fake.pending_updates(), 3);

    let (_, got) = post(&fake, "getUpdates", json!({})).await;
    assert_eq!(result_ids(&got), vec![a, b, c]);
    assert_eq!(fake.pending_updates(), 3, "returning is not confirming");

    let (_, got) = post(&fake, "getUpdates", json!({"offset": b, "limit": 1})).await;
    assert_eq!(result_ids(&got), vec![b], "limit");
    assert_eq!(fake.pending_updates(), 2);

    let (_, got) = post(&fake, "getUpdates", json!({"offset": c + 1})).await;
    assert_eq!(result_ids(&got), Vec::<i64>::new());
    assert_eq!(fake.pending_updates(), 0);

    let d = fake.push_text(1, 1, "four") as i64;
    let (_, got) = post(&fake, "getUpdates", json!({"offset": a})).await;
    assert_eq!(
        result_ids(&got),
        vec![d],
        "confirmed updates never come back"
    );

    assert_eq!(
        fake.get_updates_offsets(),
        vec![None, Some(b), Some(c + 1), Some(a)]
    );
}

#[tokio::test]
async fn long_poll_returns_when_an_update_arrives() {
    let fake = std::sync::Arc::new(FakeTelegram::start(TOKEN));
    // With a long cap the poll can only end early because the update woke it.
    fake.set_long_poll_cap(Duration::from_secs(120));
    let poller = {
        let fake = fake.clone();
        tokio::spawn(async move { post(&fake, "getUpdates", json!({"timeout": 100})).await })
    };
    assert!(
        fake.wait_until_async(WAIT, |f| f.waiting_polls() == 1)
            .await
    );
    let id = fake.push_text(7, 7, "hello") as i64;
    let (status, got) = poller.await.expect("poll task");
    assert_eq!(status, 200);
    assert_eq!(result_ids(&got), vec![id]);
    assert_eq!(got["result"][0]["message"]["text"], "hello");
}

#[tokio::test]
async fn long_poll_times_out_empty_at_the_cap() {
    let fake = FakeTelegram::start(TOKEN);
    fake.set_long_poll_cap(Duration::from_millis(200));
    let (status, got) = post(&fake, "getUpdates", json!({"timeout": 50})).await;
    assert_eq!(status, 200);
    assert_eq!(got["result"], json!([]));
}

#[tokio::test]
async fn a_second_poller_terminates_the_first_with_409() {
    let fake = std::sync::Arc::new(FakeTelegram::start(TOKEN));
    fake.set_long_poll_cap(Duration::from_secs(120));
    let first = {
        let fake = fake.clone();
        tokio::spawn(async move { post(&fake, "getUpdates", json!({"timeout": 100})).await })
    };
    assert!(
        fake.wait_until_async(WAIT, |f| f.waiting_polls() == 1)
            .await
    );
    let second = {
        let fake = fake.clone();
        tokio::spawn(async move { post(&fake, "getUpdates", json!({"timeout": 100})).await })
    };
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 409);
    assert!(description(&body).starts_with("Conflict: terminated by other getUpdates request"));
    assert!(
        fake.wait_until_async(WAIT, |f| f.waiting_polls() == 1)
            .await
    );
    let id = fake.push_text(1, 1, "x") as i64;
    let (status, body) = second.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(result_ids(&body), vec![id]);
}

#[tokio::test]
async fn webhook_blocks_polling_and_drop_pending_updates_drops() {
    let fake = FakeTelegram::start(TOKEN);
    fake.push_text(1, 1, "x");
    let (status, _) = post(
        &fake,
        "setWebhook",
        json!({"url": "https://example.org/hook"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(&fake, "getUpdates", json!({})).await;
    assert_eq!(status, 409);
    assert!(description(&body).contains("webhook is active"));
    let (_, info) = post(&fake, "getWebhookInfo", json!({})).await;
    assert_eq!(info["result"]["pending_update_count"], 1);
    let (status, _) = post(
        &fake,
        "deleteWebhook",
        json!({"drop_pending_updates": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fake.pending_updates(), 0);
    let (status, body) = post(&fake, "getUpdates", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"], json!([]));
}

#[tokio::test]
async fn allowed_updates_filter_known_types_only() {
    let fake = FakeTelegram::start(TOKEN);
    let text = fake.push_text(1, 1, "x") as i64;
    fake.push_edited_text(1, 1, 1, "y");
    let unknown = fake.push_raw(br#"{"update_id": 900000, "some_future_update": {"x": 1}}"#) as i64;
    let (_, body) = post(
        &fake,
        "getUpdates",
        json!({"allowed_updates": ["message", "callback_query"]}),
    )
    .await;
    assert_eq!(result_ids(&body), vec![text, unknown]);
    // The setting is remembered.
    fake.push_edited_text(1, 1, 1, "z");
    let (_, body) = post(&fake, "getUpdates", json!({"offset": unknown + 1})).await;
    assert_eq!(result_ids(&body), Vec::<i64>::new());
}

#[tokio::test]
async fn raw_updates_are_passed_through_verbatim() {
    let fake = FakeTelegram::start(TOKEN);
    let id = fake.push_raw(r#"{"update_id":555,"message":{"weird":true}}"#);
    assert_eq!(id, 555);
    let next = fake.push_text(1, 1, "after");
    assert!(next > 555);
    let url = format!("{}/bot{TOKEN}/getUpdates", fake.url());
    let text = client()
        .post(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"{"update_id":555,"message":{"weird":true}}"#),
        "{text}"
    );
}

#[tokio::test]
async fn send_message_accepts_valid_html_and_returns_a_message() {
    let fake = FakeTelegram::start(TOKEN);
    let (status, body) = send(
        &fake,
        json!({
            "chat_id": 42,
            "text": "<b>Hi</b> &amp; <a href=\"https://example.org/?a=1&amp;b=2\">link</a>",
            "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "fb:1:y"}]]},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let message: teloxide::types::Message =
        serde_json::from_value(body["result"].clone()).expect("teloxide parses the Message");
    assert_eq!(message.text(), Some("Hi & link"));
    assert_eq!(message.chat.id, teloxide::types::ChatId(42));
    assert!(message.chat.is_private());
    assert!(message.from.as_ref().is_some_and(|u| u.is_bot));
    assert_eq!(message.entities().map(<[_]>::len), Some(2));
    assert!(message.reply_markup().is_some());

    let second = send(&fake, json!({"chat_id": 42, "text": "again"})).await.1;
    assert_eq!(
        second["result"]["message_id"].as_i64(),
        Some(i64::from(message.id.0) + 1),
        "message ids increase per chat"
    );

    let sent = fake.messages_to(42);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].visible, "Hi & link");
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(sent[0].callback_data(), vec!["fb:1:y".to_string()]);
    assert_eq!(sent[1].text, "again");
    assert_eq!(fake.sent("sendMessage").len(), 2);
    assert!(fake.messages_to(43).is_empty());
}

#[tokio::test]
async fn text_length_is_counted_in_utf16_after_entity_parsing() {
    let fake = FakeTelegram::start(TOKEN);
    let ok = |body: Value| async { send(&fake, body).await };

    let (status, _) = ok(json!({"chat_id": 1, "text": "a".repeat(4096)})).await;
    assert_eq!(status, 200);
    let (status, body) = ok(json!({"chat_id": 1, "text": "a".repeat(4097)})).await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: message is too long");

    // Emoji outside the BMP count 2.
    let (status, _) = ok(json!({"chat_id": 1, "text": "😀".repeat(2048)})).await;
    assert_eq!(status, 200);
    let (status, body) = ok(json!({"chat_id": 1, "text": format!("{}a", "😀".repeat(2048))})).await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: message is too long");
    let (status, _) = ok(json!({"chat_id": 1, "text": format!("{}😀", "a".repeat(4095))})).await;
    assert_eq!(status, 400);

    // Tags don't count; entities count as one character.
    let html = format!("<b>{}</b>&amp;", "a".repeat(4095));
    let (status, _) = ok(json!({"chat_id": 1, "text": html, "parse_mode": "HTML"})).await;
    assert_eq!(status, 200);
    let html = format!("<b>{}</b>&amp;", "a".repeat(4096));
    let (status, _) = ok(json!({"chat_id": 1, "text": html, "parse_mode": "HTML"})).await;
    assert_eq!(status, 400);

    for empty in [json!(""), json!("   \n"), Value::Null] {
        let (status, body) = ok(json!({"chat_id": 1, "text": empty})).await;
        assert_eq!(status, 400);
        assert_eq!(description(&body), "Bad Request: message text is empty");
    }
    let (status, body) = ok(json!({"chat_id": 1, "text": "<b></b>", "parse_mode": "HTML"})).await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: message text is empty");

    assert_eq!(fake.messages_to(1).len(), 3);
    assert_eq!(fake.rejected().len(), 8);
}

#[tokio::test]
async fn invalid_html_is_rejected_with_telegrams_error() {
    let fake = FakeTelegram::start(TOKEN);
    for (html, expected) in [
        ("a < b", "Unsupported start tag \"\" at byte offset 2"),
        ("Tom & Jerry", "'&' at byte offset 4"),
        (
            "<b>bold",
            "Can't find end tag corresponding to start tag \"b\"",
        ),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("<p>para</p>", "Unsupported start tag \"p\""),
        ("<a>link</a>", "href"),
        ("<b class=\"x\">x</b>", "Unsupported attribute"),
    ] {
        let (status, body) = send(
            &fake,
            json!({"chat_id": 1, "text": html, "parse_mode": "HTML"}),
        )
        .await;
        assert_eq!(status, 400, "{html}");
        let d = description(&body);
        assert!(
            d.starts_with("Bad Request: can't parse entities: "),
            "{html}: {d}"
        );
        assert!(d.contains(expected), "{html}: {d}");
    }
    // The same texts are fine without a parse mode.
    let (status, _) = send(&fake, json!({"chat_id": 1, "text": "a < b & c"})).await;
    assert_eq!(status, 200);

    let (status, body) = send(
        &fake,
        json!({"chat_id": 1, "text": "v1.2", "parse_mode": "MarkdownV2"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(description(&body).contains("Character '.' is reserved"));
    let (status, _) = send(
        &fake,
        json!({"chat_id": 1, "text": "v1\\.2", "parse_mode": "MarkdownV2"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(
        &fake,
        json!({"chat_id": 1, "text": "x", "parse_mode": "BBCode"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: unsupported parse_mode");
}

#[tokio::test]
async fn keyboards_are_checked() {
    let fake = FakeTelegram::start(TOKEN);
    let with_button = |button: Value| json!({"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[button]]}});

    let (status, _) = send(
        &fake,
        with_button(json!({"text": "ok", "callback_data": "d".repeat(64)})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(
        &fake,
        with_button(json!({"text": "ok", "callback_data": "d".repeat(65)})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: BUTTON_DATA_INVALID");
    // 22 three-byte characters are 66 bytes.
    let (status, _) = send(
        &fake,
        with_button(json!({"text": "ok", "callback_data": "€".repeat(22)})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = send(
        &fake,
        with_button(json!({"text": "ok", "callback_data": ""})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(description(&body).contains("Text buttons are unallowed"));
    let (status, _) = send(
        &fake,
        with_button(json!({"text": "", "callback_data": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &fake,
        with_button(json!({"text": "site", "url": "example.org"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &fake,
        with_button(json!({"text": "site", "url": "https://example.org"})),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn blocked_chats_get_403() {
    let fake = FakeTelegram::start(TOKEN);
    fake.block_chat(5);
    let (status, body) = send(&fake, json!({"chat_id": 5, "text": "x"})).await;
    assert_eq!(status, 403);
    assert_eq!(description(&body), "Forbidden: bot was blocked by the user");
    fake.block_chat(-77);
    let (status, body) = send(&fake, json!({"chat_id": -77, "text": "x"})).await;
    assert_eq!(status, 403);
    assert_eq!(
        description(&body),
        "Forbidden: bot was kicked from the group chat"
    );
    assert!(fake.messages_to(5).is_empty());
    fake.unblock_chat(5);
    assert_eq!(send(&fake, json!({"chat_id": 5, "text": "x"})).await.0, 200);
}

#[tokio::test]
async fn faults_come_in_order_then_normal_behaviour_resumes() {
    let fake = FakeTelegram::start(TOKEN);
    fake.fail_next("sendMessage", Fault::Status(500, "Internal Server Error"));
    fake.fail_next(
        "sendMessage",
        Fault::Status(403, "Forbidden: bot was blocked by the user"),
    );
    fake.fail_next("sendMessage", Fault::Delay(Duration::from_millis(50)));
    fake.fail_next("getUpdates", Fault::Status(502, "Bad Gateway"));
    assert_eq!(fake.pending_faults("sendMessage"), 3);

    let body = json!({"chat_id": 1, "text": "x"});
    let (status, answer) = send(&fake, body.clone()).await;
    assert_eq!(
        (status, description(&answer)),
        (500, "Internal Server Error")
    );
    let (status, answer) = send(&fake, body.clone()).await;
    assert_eq!(
        (status, description(&answer)),
        (403, "Forbidden: bot was blocked by the user")
    );
    let (status, _) = send(&fake, body.clone()).await;
    assert_eq!(status, 200, "a delay answers normally");
    let (status, _) = send(&fake, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(fake.pending_faults("sendMessage"), 0);

    assert_eq!(post(&fake, "getUpdates", json!({})).await.0, 502);
    assert_eq!(post(&fake, "getUpdates", json!({})).await.0, 200);

    assert_eq!(fake.messages_to(1).len(), 2);
    let statuses: Vec<u16> = fake
        .calls_of("sendMessage")
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![500, 403, 200, 200]);
}

#[tokio::test]
async fn retry_after_carries_parameters_and_holds_until_it_passes() {
    let fake = FakeTelegram::start(TOKEN);
    fake.fail_next("sendMessage", Fault::RetryAfter(1));
    let body = json!({"chat_id": 3, "text": "x"});
    let (status, answer) = send(&fake, body.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(description(&answer), "Too Many Requests: retry after 1");
    assert_eq!(answer["parameters"], json!({"retry_after": 1}));
    assert_eq!(answer["error_code"], 429);

    // Retrying at once is still too early.
    let (status, answer) = send(&fake, body.clone()).await;
    assert_eq!(status, 429);
    assert!(answer["parameters"]["retry_after"]
        .as_u64()
        .is_some_and(|s| s >= 1));
    // Another chat is not affected.
    assert_eq!(send(&fake, json!({"chat_id": 4, "text": "x"})).await.0, 200);

    let mut delivered = false;
    for _ in 0..200 {
        if send(&fake, body.clone()).await.0 == 200 {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "the flood wait ends");
    assert_eq!(fake.messages_to(3).len(), 1);
}

#[tokio::test]
async fn migration_is_reported_and_sticks() {
    let fake = FakeTelegram::start(TOKEN);
    let new = -1_001_234_567_890;
    fake.fail_next("sendMessage", Fault::Migrate(new));
    let (status, answer) = send(&fake, json!({"chat_id": -55, "text": "x"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        description(&answer),
        "Bad Request: group chat was upgraded to a supergroup chat"
    );
    assert_eq!(answer["parameters"], json!({"migrate_to_chat_id": new}));
    let (status, _) = send(&fake, json!({"chat_id": -55, "text": "x"})).await;
    assert_eq!(status, 400, "the old id stays migrated");
    let (status, answer) = send(&fake, json!({"chat_id": new, "text": "x"})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"]["chat"]["type"], "supergroup");
}

#[tokio::test]
async fn callback_queries_are_answered_once() {
    let fake = FakeTelegram::start(TOKEN);
    let (_, sent) = send(
        &fake,
        json!({"chat_id": 9, "text": "Helpful?", "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}}),
    )
    .await;
    let message_id = sent["result"]["message_id"].as_i64().unwrap() as i32;
    let update = fake.push_callback(9, 9, message_id, "y");
    let query_id = fake.callback_id_of(update).expect("a callback id");
    assert_eq!(fake.message_id_of(update), Some(message_id));

    let (status, body) = post(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": query_id, "text": "x".repeat(201)}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: MESSAGE_TOO_LONG");
    let (status, _) = post(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": query_id, "text": "Thanks"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": query_id}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(description(&body).contains("query is too old"));
    let (status, _) = post(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": "forged"}),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn edits_replies_copies_and_topics_follow_telegram() {
    let fake = FakeTelegram::start(TOKEN);
    let user_update = fake.push_text(2, 2, "question");
    let user_message = fake.message_id_of(user_update).unwrap();
    let (status, sent) = send(
        &fake,
        json!({"chat_id": 2, "text": "answer", "reply_parameters": {"message_id": user_message}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sent["result"]["reply_to_message"]["text"], "question");
    let bot_message = sent["result"]["message_id"].as_i64().unwrap();
    assert_eq!(fake.messages_to(2)[0].reply_to, Some(user_message));

    let (status, body) = send(
        &fake,
        json!({"chat_id": 2, "text": "x", "reply_parameters": {"message_id": 999}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        description(&body),
        "Bad Request: message to be replied not found"
    );

    let edit = |text: &str| json!({"chat_id": 2, "message_id": bot_message, "text": text});
    let (status, body) = post(&fake, "editMessageText", edit("answer")).await;
    assert_eq!(status, 400);
    assert!(description(&body).starts_with("Bad Request: message is not modified"));
    let (status, body) = post(&fake, "editMessageText", edit("better answer")).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["text"], "better answer");
    let (status, body) = post(
        &fake,
        "editMessageText",
        json!({"chat_id": 2, "message_id": user_message, "text": "y"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: message can't be edited");
    let (status, body) = post(
        &fake,
        "editMessageText",
        json!({"chat_id": 2, "message_id": 777, "text": "y"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: message to edit not found");

    // Copy the user's question to the coordinators' forum.
    let group = -1_009_000_000_001;
    let (status, body) = post(
        &fake,
        "createForumTopic",
        json!({"chat_id": group, "name": "Case 1"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: the chat is not a forum");
    fake.make_forum(group);
    let (status, body) = post(
        &fake,
        "createForumTopic",
        json!({"chat_id": group, "name": "Case 1"}),
    )
    .await;
    assert_eq!(status, 200);
    let thread = body["result"]["message_thread_id"].as_i64().unwrap();
    let (status, body) = post(
        &fake,
        "copyMessage",
        json!({"chat_id": group, "from_chat_id": 2, "message_id": user_message, "message_thread_id": thread}),
    )
    .await;
    assert_eq!(status, 200);
    let copied = body["result"]["message_id"].as_i64().unwrap() as i32;
    assert_eq!(fake.message(group, copied).unwrap()["text"], "question");
    let (status, body) = post(
        &fake,
        "copyMessage",
        json!({"chat_id": group, "from_chat_id": 2, "message_id": 555}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: message to copy not found");

    assert_eq!(
        post(
            &fake,
            "closeForumTopic",
            json!({"chat_id": group, "message_thread_id": thread})
        )
        .await
        .0,
        200
    );
    let (status, body) = send(
        &fake,
        json!({"chat_id": group, "text": "x", "message_thread_id": thread}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(description(&body), "Bad Request: TOPIC_CLOSED");
    let (status, _) = send(
        &fake,
        json!({"chat_id": group, "text": "x", "message_thread_id": 4242}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        fake.topics(group),
        vec![(thread as i32, "Case 1".to_string(), true)]
    );
}

#[tokio::test]
async fn form_encoded_requests_are_understood() {
    let fake = FakeTelegram::start(TOKEN);
    let url = format!("{}/bot{TOKEN}/sendMessage", fake.url());
    let response = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("chat_id=12&text=1%20%3C%202&reply_markup=%7B%22inline_keyboard%22%3A%5B%5B%7B%22text%22%3A%22a%22%2C%22callback_data%22%3A%22b%22%7D%5D%5D%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let sent = fake.messages_to(12);
    assert_eq!(sent[0].text, "1 < 2");
    assert_eq!(sent[0].callback_data(), vec!["b".to_string()]);

    // multipart text fields are read like form fields (teloxide sends setWebhook this way)
    let url = format!("{}/bot{TOKEN}/sendMessage", fake.url());
    let body = "--x\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n13\r\n--x\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nmulti part\r\n--x--\r\n";
    let response = client()
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=x")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(fake.messages_to(13)[0].text, "multi part");
    let response = client()
        .post(url)
        .header("content-type", "multipart/form-data")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400, "no boundary");
    assert_eq!(fake.rejected()[0].body, json!("--x--"));
}

#[tokio::test]
async fn pushed_updates_deserialize_as_teloxide_updates() {
    use teloxide::types::{MediaKind, MessageKind, UpdateKind};
    let fake = FakeTelegram::start(TOKEN);
    fake.push_text(1, 1, "hello");
    fake.push_group_text(-100, 2, "in the group", true);
    fake.push_command(1, 1, "/start payload");
    fake.push_photo(1, 1, Some("a caption"));
    fake.push_photo(1, 1, None);
    fake.push_sticker(1, 1);
    fake.push_voice(1, 1);
    fake.push_edited_text(1, 1, 1, "hello, edited");
    fake.push_callback(1, 1, 50, "fb:1");
    fake.push_update(json!({"message": {"message_id": 3, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "manual"}}));
    let (_, body) = post(&fake, "getUpdates", json!({})).await;
    let updates = body["result"].as_array().unwrap();
    assert_eq!(updates.len(), 10);
    // teloxide's UpdateKind only deserializes from text (as it does from the HTTP body), not
    // from a serde_json::Value.
    let parse = |i: usize| {
        serde_json::from_str::<teloxide::types::Update>(&updates[i].to_string()).expect("an Update")
    };
    for (i, raw) in updates.iter().enumerate() {
        assert!(!matches!(parse(i).kind, UpdateKind::Error(_)), "{raw}");
    }
    let UpdateKind::Message(group) = parse(1).kind else {
        panic!("a message")
    };
    assert!(group.chat.is_group());
    assert!(group
        .reply_to_message()
        .is_some_and(|m| m.from.as_ref().is_some_and(|u| u.is_bot)));
    let UpdateKind::Message(command) = parse(2).kind else {
        panic!("a message")
    };
    assert_eq!(command.entities().unwrap()[0].length, 6);
    let UpdateKind::Message(photo) = parse(3).kind else {
        panic!("a message")
    };
    assert!(
        matches!(&photo.kind, MessageKind::Common(c) if matches!(c.media_kind, MediaKind::Photo(_)))
    );
    assert_eq!(photo.caption(), Some("a caption"));
    assert!(message_and(parse(5).kind, |m| m.sticker().is_some()));
    assert!(message_and(parse(6).kind, |m| m.voice().is_some()));
    assert!(matches!(parse(7).kind, UpdateKind::EditedMessage(_)));
    let UpdateKind::CallbackQuery(q) = parse(8).kind else {
        panic!("a callback query")
    };
    assert_eq!(q.data.as_deref(), Some("fb:1"));
    assert!(q.message.is_some());
}

fn message_and(
    kind: teloxide::types::UpdateKind,
    f: impl FnOnce(&teloxide::types::Message) -> bool,
) -> bool {
    matches!(kind, teloxide::types::UpdateKind::Message(m) if f(&m))
}

#[tokio::test]
async fn message_rates_are_measured_per_chat_and_overall() {
    let fake = FakeTelegram::start(TOKEN);
    for _ in 0..5 {
        assert_eq!(send(&fake, json!({"chat_id": 1, "text": "x"})).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(send(&fake, json!({"chat_id": 2, "text": "x"})).await.0, 200);
    }
    assert_eq!(send(&fake, json!({"chat_id": 2, "text": ""})).await.0, 400);
    let minute = Duration::from_secs(60);
    assert_eq!(fake.max_rate(minute, true), 5);
    assert_eq!(fake.max_rate(minute, false), 8);
    assert_eq!(fake.max_rate_in_chat(2, minute), 3);
    assert_eq!(fake.max_rate(Duration::from_nanos(1), false), 1);
    assert_eq!(fake.max_rate_of(&["copyMessage"], minute, false), 0);
}

#[tokio::test]
async fn teloxide_bot_talks_to_the_fake() {
    use teloxide::prelude::*;
    use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};
    use teloxide::{ApiError, RequestError};

    let fake = FakeTelegram::start(TOKEN);
    let bot = Bot::new(TOKEN).set_api_url(reqwest::Url::parse(&fake.url()).unwrap());

    let me = bot.get_me().await.expect("getMe parses");
    assert_eq!(me.username(), "faq_test_bot");

    let sent = bot
        .send_message(ChatId(1), "hi")
        .await
        .expect("sendMessage");
    assert_eq!(sent.text(), Some("hi"));

    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Yes", "fb:y")]]);
    let sent = bot
        .send_message(ChatId(1), "<b>Was this helpful?</b>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard)
        .await
        .expect("sendMessage with a keyboard");
    bot.edit_message_text(ChatId(1), sent.id, "Thanks!")
        .await
        .expect("editMessageText");
    bot.edit_message_reply_markup(ChatId(1), sent.id)
        .await
        .expect_err("nothing to change: the edit already removed the keyboard");
    bot.send_chat_action(ChatId(1), teloxide::types::ChatAction::Typing)
        .await
        .expect("sendChatAction");
    bot.copy_message(ChatId(2), ChatId(1), sent.id)
        .await
        .expect("copyMessage");
    bot.forward_message(ChatId(2), ChatId(1), sent.id)
        .await
        .expect("forwardMessage");
    bot.delete_webhook().await.expect("deleteWebhook");
    bot.get_webhook_info().await.expect("getWebhookInfo");
    bot.get_chat(ChatId(1)).await.expect("getChat private");
    bot.get_chat(ChatId(-5)).await.expect("getChat group");
    bot.set_my_commands([teloxide::types::BotCommand::new("start", "Start")])
        .await
        .expect("setMyCommands");
    bot.delete_my_commands().await.expect("deleteMyCommands");
    fake.make_forum(ChatId(-1_001_000_000_000).0);
    let topic = bot
        .create_forum_topic(ChatId(-1_001_000_000_000), "Case")
        .await
        .expect("createForumTopic");
    bot.close_forum_topic(ChatId(-1_001_000_000_000), topic.thread_id)
        .await
        .expect("closeForumTopic");

    let update = fake.push_callback(1, 1, sent.id.0, "fb:y");
    let query_id = fake.callback_id_of(update).unwrap();
    bot.answer_callback_query(teloxide::types::CallbackQueryId(query_id))
        .await
        .expect("answerCallbackQuery");

    // Errors map to teloxide's variants.
    fake.block_chat(66);
    let e = bot.send_message(ChatId(66), "x").await.unwrap_err();
    assert!(
        matches!(e, RequestError::Api(ApiError::BotBlocked)),
        "{e:?}"
    );
    fake.fail_next("sendMessage", Fault::RetryAfter(1));
    let e = bot.send_message(ChatId(67), "x").await.unwrap_err();
    assert!(
        matches!(e, RequestError::RetryAfter(s) if s.seconds() == 1),
        "{e:?}"
    );
    fake.fail_next("sendMessage", Fault::Migrate(-1_002_000_000_000));
    let e = bot.send_message(ChatId(-68), "x").await.unwrap_err();
    assert!(
        matches!(e, RequestError::MigrateToChatId(ChatId(-1_002_000_000_000))),
        "{e:?}"
    );
    let e = bot
        .send_message(ChatId(1), "a < b")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(e, RequestError::Api(ApiError::CantParseEntities(_))),
        "{e:?}"
    );
    let e = bot
        .send_message(ChatId(1), "x".repeat(4097))
        .await
        .unwrap_err();
    assert!(
        matches!(e, RequestError::Api(ApiError::MessageIsTooLong)),
        "{e:?}"
    );
}

#[test]
fn sync_tests_can_use_the_fake_and_drop_stops_it() {
    let fake = std::sync::Arc::new(FakeTelegram::start(TOKEN));
    let pusher = {
        let fake = fake.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            fake.push_text(1, 1, "from another thread");
        })
    };
    assert!(fake.wait_until(WAIT, |f| f.pending_updates() == 1));
    pusher.join().unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt.block_on(post(&fake, "getUpdates", json!({"offset": -1})));
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["message"]["text"], "from another thread");

    let addr = fake.url().trim_start_matches("http://").to_string();
    let fake = std::sync::Arc::into_inner(fake).expect("the only handle");
    drop(fake);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the port is closed after drop"
    );
}

#[tokio::test]
async fn delivery_order_follows_answers_not_arrivals() {
    let fake = std::sync::Arc::new(FakeTelegram::start(TOKEN));
    fake.fail_next("sendMessage", Fault::Delay(Duration::from_millis(300)));
    let slow = {
        let fake = fake.clone();
        tokio::spawn(async move { send(&fake, json!({"chat_id": 1, "text": "first"})).await })
    };
    assert!(
        fake.wait_until_async(WAIT, |f| f.pending_faults("sendMessage") == 0)
            .await
    );
    assert_eq!(
        send(&fake, json!({"chat_id": 1, "text": "second"})).await.0,
        200
    );
    assert_eq!(slow.await.unwrap().0, 200);
    let texts: Vec<String> = fake.messages_to(1).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, vec!["second", "first"]);
    let arrivals: Vec<String> = fake
        .calls_of("sendMessage")
        .into_iter()
        .map(|c| c.body["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(arrivals, vec!["first", "second"]);
}
