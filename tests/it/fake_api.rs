//! A strict fake of the Telegram Bot API on 127.0.0.1, for integration tests.
//!
//! [`FakeTelegram::start`] runs an axum server in its own thread with its own tokio runtime, so
//! sync tests, async tests and tests driving the real binary as a child process can all use it.
//! It answers in Telegram's envelope (`{"ok":true,"result":…}` /
//! `{"ok":false,"error_code":N,"description":"…","parameters":{…}}`) and is strict where
//! Telegram is strict, with Telegram's own error texts: text length in UTF-16 code units after
//! entity parsing, HTML checked by [`crate::tg_html`], callback data of 1–64 bytes, blocked
//! chats, migrated groups, closed topics, unknown callback query ids, flood waits.
//!
//! Tests push updates (`push_*`), queue faults ([`FakeTelegram::fail_next`]) and inspect every
//! call afterwards ([`FakeTelegram::calls`], [`FakeTelegram::messages_to`], …).
//!
//! Telegram behaviour reproduced on purpose:
//! - `getUpdates`: updates with `update_id < offset` are confirmed and dropped forever; a
//!   negative offset keeps only the last `-offset` updates; `timeout` long-polls (capped at
//!   [`LONG_POLL_CAP`]); `limit` 1–100; `allowed_updates` is remembered between calls (known
//!   update types outside it are never delivered; unknown types always are, so tests of unknown
//!   updates stay meaningful); a second `getUpdates` while one is waiting ends the first with
//!   409 "Conflict: terminated by other getUpdates request…"; `getUpdates` while a webhook is
//!   set is a 409 too; `deleteWebhook` with `drop_pending_updates` drops the queue.
//! - After a 429 (a queued [`Fault::RetryAfter`]) the same method to the same chat keeps getting
//!   429 until `retry_after` seconds have passed, so a bot that retries early is visible in
//!   [`FakeTelegram::rejected`].
//! - A migrated group ([`Fault::Migrate`], [`FakeTelegram::migrate_chat`]) answers every later
//!   call to the old id with the migration error, as Telegram does.
//! - Message ids increase per chat and are shared by pushed (user) and sent (bot) messages;
//!   replies, edits, copies and forwards must name a message that exists in that chat.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::tg_html;

/// The longest a `getUpdates` long poll waits, whatever `timeout` it asks for (keeps tests fast).
pub const LONG_POLL_CAP: Duration = Duration::from_secs(2);

/// The bot's `username` as `getMe` reports it.
pub const BOT_USERNAME: &str = "faq_test_bot";

/// Methods that create a message, counted by [`FakeTelegram::max_rate`].
pub const MESSAGE_METHODS: &[&str] = &["sendMessage", "copyMessage", "forwardMessage"];

const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "deleteWebhook",
    "setWebhook",
    "getWebhookInfo",
    "sendChatAction",
    "copyMessage",
    "forwardMessage",
    "createForumTopic",
    "closeForumTopic",
    "reopenForumTopic",
    "getChat",
];

const KNOWN_UPDATE_KINDS: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// Update types Telegram leaves out when `allowed_updates` was never set.
const NOT_DELIVERED_BY_DEFAULT: &[&str] =
    &["chat_member", "message_reaction", "message_reaction_count"];

const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

const TOO_OLD_QUERY: &str =
    "Bad Request: query is too old and response timeout expired or query ID is invalid";
const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a content and reply markup of the current message";
const MIGRATED: &str = "Bad Request: group chat was upgraded to a supergroup chat";

/// A fault answered to the next call of a method instead of (or before) its normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 "Too Many Requests: retry after N" with `parameters.retry_after`; the method keeps
    /// answering 429 for that chat until N seconds have passed.
    RetryAfter(u32),
    /// Any status with this description, e.g. `(500, "Internal Server Error")`,
    /// `(403, "Forbidden: bot was blocked by the user")`, `(409, "Conflict: terminated by other
    /// getUpdates request; make sure that only one bot instance is running")`.
    Status(u16, &'static str),
    /// Stall this long, then answer normally.
    Delay(Duration),
    /// 400 "Bad Request: group chat was upgraded to a supergroup chat" with
    /// `parameters.migrate_to_chat_id`; the call's chat stays migrated afterwards.
    Migrate(i64),
}

/// One request the fake answered.
#[derive(Clone, Debug)]
pub struct Call {
    /// Canonical method name (`sendMessage`), or the path segment as sent for 401/404.
    pub method: String,
    /// Parameters: the JSON body, form fields and query string merged into one object; the
    /// raw body as a string when it could not be parsed.
    pub body: Value,
    /// When the request arrived.
    pub at: Instant,
    /// HTTP status of the answer.
    pub status: u16,
    /// The whole answer (envelope included).
    pub response: Value,
}

impl Call {
    /// The error description, for calls answered with an error.
    pub fn description(&self) -> Option<&str> {
        self.response.get("description").and_then(Value::as_str)
    }

    /// The call's `chat_id` when numeric.
    pub fn chat_id(&self) -> Option<i64> {
        as_i64(self.body.get("chat_id")?)
    }

    /// `result` of a successful call.
    pub fn result(&self) -> Option<&Value> {
        self.response.get("result")
    }
}

/// A message the bot sent with a successful `sendMessage`.
#[derive(Clone, Debug)]
pub struct SentMessage {
    pub chat_id: i64,
    pub message_id: i32,
    /// `text` as the bot sent it (markup included).
    pub text: String,
    /// The text as a user sees it (tags removed, entities decoded).
    pub visible: String,
    pub parse_mode: Option<String>,
    pub reply_markup: Option<Value>,
    pub message_thread_id: Option<i32>,
    /// The message this one replies to.
    pub reply_to: Option<i32>,
    /// When the request arrived.
    pub at: Instant,
}

impl SentMessage {
    /// `callback_data` of every inline button, row by row.
    pub fn callback_data(&self) -> Vec<String> {
        let rows = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"))
            .and_then(Value::as_array);
        rows.into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|b| b.get("callback_data").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }
}

/// A running fake Bot API server. Dropping it stops the server.
pub struct FakeTelegram {
    inner: Arc<Inner>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Inner {
    token: String,
    bot_id: i64,
    state: Mutex<St>,
    /// Bumped on every pushed update and every new `getUpdates`, to wake long polls.
    wake: tokio::sync::watch::Sender<u64>,
}

struct Queued {
    id: i64,
    kind: Option<String>,
    json: String,
}

#[derive(Default)]
struct St {
    next_update_id: i64,
    queue: VecDeque<Queued>,
    pushed: Vec<(i64, Value)>,
    allowed_updates: Option<Vec<String>>,
    poll_generation: u64,
    long_poll_cap: Duration,
    waiting_polls: usize,
    offsets: Vec<Option<i64>>,
    calls: Vec<(u64, Call)>,
    next_seq: u64,
    faults: HashMap<String, VecDeque<Fault>>,
    flood_until: HashMap<(String, Option<i64>), Instant>,
    chats: HashMap<i64, ChatSt>,
    callbacks: HashMap<String, bool>,
    next_callback: u64,
    next_file: u64,
    webhook_url: String,
    commands: HashMap<String, Value>,
    sent_messages: Vec<SentMessage>,
    created: Vec<(i64, Instant, &'static str)>,
    /// When each update was first handed out in a `getUpdates` answer, by update id.
    delivered: HashMap<i64, Instant>,
    /// When each `getUpdates` request arrived, in arrival order.
    poll_arrivals: Vec<Instant>,
    /// First names set by a test (`set_first_name`); others are `User<id>`.
    first_names: HashMap<i64, String>,
}

#[derive(Default)]
struct ChatSt {
    last_message_id: i32,
    messages: HashMap<i32, Stored>,
    blocked: bool,
    migrated_to: Option<i64>,
    supergroup: bool,
    forum: bool,
    topics: HashMap<i32, Topic>,
}

struct Stored {
    from_bot: bool,
    /// The Message object, without `reply_to_message`.
    json: Value,
}

struct Topic {
    name: String,
    closed: bool,
}

#[derive(Debug)]
struct ApiError {
    code: u16,
    description: String,
    parameters: Option<Value>,
}

fn bad(description: impl Into<String>) -> ApiError {
    err(400, description)
}

fn err(code: u16, description: impl Into<String>) -> ApiError {
    ApiError {
        code,
        description: description.into(),
        parameters: None,
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl FakeTelegram {
    /// Starts a fake for bot `token` on 127.0.0.1 with a free port.
    pub fn start(token: &str) -> FakeTelegram {
        let bot_id = token
            .split(':')
            .next()
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(4242);
        let state = St {
            next_update_id: 100_000,
            long_poll_cap: LONG_POLL_CAP,
            ..St::default()
        };
        let inner = Arc::new(Inner {
            token: token.to_string(),
            bot_id,
            state: Mutex::new(state),
            wake: tokio::sync::watch::channel(0u64).0,
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("fake-telegram".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake Telegram runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind the fake Telegram server");
                    addr_tx
                        .send(listener.local_addr().expect("local address"))
                        .expect("report the address");
                    let app = Router::new()
                        .route("/{bot}/{method}", any(handle))
                        .fallback(not_found)
                        .with_state(server_inner);
                    let server = axum::serve(listener, app);
                    tokio::select! {
                        result = async { server.await } => {
                            if let Err(e) = result {
                                eprintln!("fake Telegram server stopped: {e}");
                            }
                        }
                        _ = stop_rx => {}
                    }
                });
                // In-flight long polls are dropped rather than awaited.
                rt.shutdown_background();
            })
            .expect("spawn the fake Telegram thread");
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the fake Telegram server did not start");
        FakeTelegram {
            inner,
            url: format!("http://{addr}"),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `telegram.api_url`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The token the fake accepts.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The bot's user id (the numeric prefix of the token, else 4242).
    pub fn bot_id(&self) -> i64 {
        self.inner.bot_id
    }

    /// The bot's `User` object, as in messages it sent.
    pub fn bot_user(&self) -> Value {
        self.inner.bot_user()
    }

    fn lock(&self) -> MutexGuard<'_, St> {
        self.inner.lock()
    }

    // ---- updates -------------------------------------------------------------------------

    /// Queues an update; assigns `update_id` when missing (ids increase). Messages in it are
    /// registered in their chats, callback query ids become answerable.
    pub fn push_update(&self, update: Value) -> i32 {
        let id = {
            let mut st = self.lock();
            self.inner.push_locked(&mut st, update)
        };
        self.inner.wake();
        id
    }

    /// Queues raw JSON text as one element of the `getUpdates` result array (an unknown update
    /// type, a malformed object, even invalid JSON). Its `update_id` is read when present;
    /// otherwise the next id is used internally for confirmation by offset.
    pub fn push_raw(&self, raw: impl AsRef<[u8]>) -> i32 {
        let json = String::from_utf8_lossy(raw.as_ref()).into_owned();
        let parsed: Option<Value> = serde_json::from_str(&json).ok();
        let id = {
            let mut st = self.lock();
            let id = parsed
                .as_ref()
                .and_then(|v| v.get("update_id"))
                .and_then(as_i64)
                .unwrap_or(st.next_update_id);
            st.next_update_id = st.next_update_id.max(id + 1);
            let kind = parsed.as_ref().and_then(update_kind);
            st.pushed
                .push((id, parsed.unwrap_or(Value::String(json.clone()))));
            insert_sorted(&mut st.queue, Queued { id, kind, json });
            id
        };
        self.inner.wake();
        id as i32
    }

    /// A text message from `user_id` in chat `chat_id` (private when positive).
    pub fn push_text(&self, chat_id: i64, user_id: i64, text: &str) -> i32 {
        self.push_message(chat_id, user_id, |_, m| {
            m.insert("text".into(), text.into());
        })
    }

    /// A text message in a group; with `reply_to_bot` it replies to the bot's latest message in
    /// that chat (one is created when the bot has sent none).
    pub fn push_group_text(
        &self,
        chat_id: i64,
        user_id: i64,
        text: &str,
        reply_to_bot: bool,
    ) -> i32 {
        let inner = &self.inner;
        self.push_message(chat_id, user_id, |st, m| {
            m.insert("text".into(), text.into());
            if reply_to_bot {
                let replied = inner.latest_bot_message(st, chat_id);
                m.insert("reply_to_message".into(), replied);
            }
        })
    }

    /// A command such as `"/start payload"`, with a `bot_command` entity at offset 0.
    pub fn push_command(&self, chat_id: i64, user_id: i64, command_line: &str) -> i32 {
        let command = command_line
            .split_whitespace()
            .next()
            .unwrap_or(command_line);
        let length = tg_html::utf16_len(command);
        self.push_message(chat_id, user_id, |_, m| {
            m.insert("text".into(), command_line.into());
            m.insert(
                "entities".into(),
                json!([{"type": "bot_command", "offset": 0, "length": length}]),
            );
        })
    }

    /// A photo (two sizes), with an optional caption.
    pub fn push_photo(&self, chat_id: i64, user_id: i64, caption: Option<&str>) -> i32 {
        self.push_message(chat_id, user_id, |st, m| {
            let small = file(st, "photo", 1_500);
            let large = file(st, "photo", 60_000);
            m.insert(
                "photo".into(),
                json!([
                    merge(small, json!({"width": 90, "height": 67})),
                    merge(large, json!({"width": 800, "height": 600})),
                ]),
            );
            if let Some(caption) = caption {
                m.insert("caption".into(), caption.into());
            }
        })
    }

    /// A regular static sticker.
    pub fn push_sticker(&self, chat_id: i64, user_id: i64) -> i32 {
        self.push_message(chat_id, user_id, |st, m| {
            let f = file(st, "sticker", 20_000);
            m.insert(
                "sticker".into(),
                merge(
                    f,
                    json!({"width": 512, "height": 512, "type": "regular", "is_animated": false,
                           "is_video": false, "emoji": "👍", "set_name": "TestStickers"}),
                ),
            );
        })
    }

    /// A three-second voice message.
    pub fn push_voice(&self, chat_id: i64, user_id: i64) -> i32 {
        self.push_message(chat_id, user_id, |st, m| {
            let f = file(st, "voice", 9_000);
            m.insert(
                "voice".into(),
                merge(f, json!({"duration": 3, "mime_type": "audio/ogg"})),
            );
        })
    }

    /// An `edited_message` update: user `user_id` changed message `message_id` to `text`.
    pub fn push_edited_text(&self, chat_id: i64, user_id: i64, message_id: i32, text: &str) -> i32 {
        let id = {
            let mut st = self.lock();
            let date = st
                .chats
                .get(&chat_id)
                .and_then(|c| c.messages.get(&message_id))
                .and_then(|m| m.json.get("date").and_then(Value::as_i64))
                .unwrap_or(now_unix() - 60);
            let message = json!({
                "message_id": message_id,
                "from": user_json(&st, user_id),
                "chat": chat_json(&st, chat_id),
                "date": date,
                "edit_date": now_unix(),
                "text": text,
            });
            let update = json!({"edited_message": message});
            self.inner.push_locked(&mut st, update)
        };
        self.inner.wake();
        id
    }

    /// A button press by `user_id` on message `message_id` of chat `chat_id`. The message is
    /// taken from the chat's history (a placeholder bot message with that id is created when
    /// unknown). The query id becomes answerable once.
    pub fn push_callback(&self, chat_id: i64, user_id: i64, message_id: i32, data: &str) -> i32 {
        let id = {
            let mut st = self.lock();
            let message = match st
                .chats
                .get(&chat_id)
                .and_then(|c| c.messages.get(&message_id))
            {
                Some(stored) => stored.json.clone(),
                None => {
                    let m = json!({
                        "message_id": message_id,
                        "from": self.inner.bot_user(),
                        "chat": chat_json(&st, chat_id),
                        "date": now_unix() - 1,
                        "text": "(an earlier message of the bot)",
                    });
                    let chat = st.chats.entry(chat_id).or_default();
                    chat.last_message_id = chat.last_message_id.max(message_id);
                    chat.messages.insert(
                        message_id,
                        Stored {
                            from_bot: true,
                            json: m.clone(),
                        },
                    );
                    m
                }
            };
            st.next_callback += 1;
            let query_id = format!("{}", 4_700_000_000_000_000u64 + st.next_callback);
            let update = json!({
                "callback_query": {
                    "id": query_id,
                    "from": user_json(&st, user_id),
                    "message": message,
                    "chat_instance": format!("ci{}", chat_id.unsigned_abs()),
                    "data": data,
                }
            });
            self.inner.push_locked(&mut st, update)
        };
        self.inner.wake();
        id
    }

    fn push_message(
        &self,
        chat_id: i64,
        user_id: i64,
        fill: impl FnOnce(&mut St, &mut Map<String, Value>),
    ) -> i32 {
        let id = {
            let mut st = self.lock();
            let message_id = alloc_message_id(&mut st, chat_id);
            let mut m = Map::new();
            m.insert("message_id".into(), message_id.into());
            m.insert("from".into(), user_json(&st, user_id));
            m.insert("chat".into(), chat_json(&st, chat_id));
            m.insert("date".into(), now_unix().into());
            fill(&mut st, &mut m);
            let update = json!({"message": Value::Object(m)});
            self.inner.push_locked(&mut st, update)
        };
        self.inner.wake();
        id
    }

    /// A message in a forum topic of a group (what Telegram delivers: `message_thread_id`,
    /// `is_topic_message`, and the topic's first message as `reply_to_message`).
    pub fn push_topic_text(&self, chat_id: i64, user_id: i64, thread: i32, text: &str) -> i32 {
        self.push_message(chat_id, user_id, |st, m| {
            m.insert("text".into(), text.into());
            m.insert("message_thread_id".into(), thread.into());
            m.insert("is_topic_message".into(), true.into());
            let root = json!({
                "message_id": thread,
                "date": now_unix(),
                "chat": chat_json(st, chat_id),
                "message_thread_id": thread,
                "is_topic_message": true,
                "forum_topic_created": {"name": "topic", "icon_color": 7_322_096},
            });
            m.insert("reply_to_message".into(), root);
        })
    }

    /// A photo in a forum topic.
    pub fn push_topic_photo(
        &self,
        chat_id: i64,
        user_id: i64,
        thread: i32,
        caption: Option<&str>,
    ) -> i32 {
        self.push_message(chat_id, user_id, |st, m| {
            let small = file(st, "photo", 1_500);
            m.insert(
                "photo".into(),
                json!([merge(small, json!({"width": 90, "height": 67}))]),
            );
            if let Some(c) = caption {
                m.insert("caption".into(), c.into());
            }
            m.insert("message_thread_id".into(), thread.into());
            m.insert("is_topic_message".into(), true.into());
        })
    }

    /// A text message in a group that replies to the bot's message `reply_to`.
    pub fn push_reply_to(&self, chat_id: i64, user_id: i64, reply_to: i32, text: &str) -> i32 {
        self.push_message(chat_id, user_id, |st, m| {
            m.insert("text".into(), text.into());
            let replied = st
                .chats
                .get(&chat_id)
                .and_then(|c| c.messages.get(&reply_to))
                .map(|r| r.json.clone())
                .unwrap_or_else(
                    || json!({"message_id": reply_to, "date": 0, "chat": chat_json(st, chat_id)}),
                );
            m.insert("reply_to_message".into(), replied);
        })
    }

    /// Deletes a forum topic: later messages to it fail with "message thread not found".
    pub fn delete_topic(&self, chat_id: i64, thread: i32) {
        if let Some(c) = self.lock().chats.get_mut(&chat_id) {
            c.topics.remove(&thread);
        }
    }

    /// The update pushed with `update_id`, as pushed (to post it to a webhook).
    pub fn pushed_update(&self, update_id: i32) -> Option<Value> {
        self.lock()
            .pushed
            .iter()
            .rev()
            .find(|(id, _)| *id == i64::from(update_id))
            .map(|(_, v)| v.clone())
    }

    /// Every update pushed so far (raw ones as parsed JSON, or as a string when invalid).
    pub fn pushed(&self) -> Vec<Value> {
        self.lock().pushed.iter().map(|(_, v)| v.clone()).collect()
    }

    /// The `message_id` of the message in a pushed update (message, edited message, or the
    /// message under a callback query).
    pub fn message_id_of(&self, update_id: i32) -> Option<i32> {
        let st = self.lock();
        let (_, u) = st
            .pushed
            .iter()
            .find(|(id, _)| *id == i64::from(update_id))?;
        let m = u
            .get("message")
            .or_else(|| u.get("edited_message"))
            .or_else(|| u.pointer("/callback_query/message"))?;
        m.get("message_id").and_then(as_i64).map(|id| id as i32)
    }

    /// The callback query id of a pushed callback update.
    pub fn callback_id_of(&self, update_id: i32) -> Option<String> {
        let st = self.lock();
        let (_, u) = st
            .pushed
            .iter()
            .find(|(id, _)| *id == i64::from(update_id))?;
        u.pointer("/callback_query/id")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Updates not yet confirmed by an offset.
    pub fn pending_updates(&self) -> usize {
        self.lock().queue.len()
    }

    /// `getUpdates` calls now waiting for an update.
    pub fn waiting_polls(&self) -> usize {
        self.lock().waiting_polls
    }

    /// Changes the cap on `getUpdates` long polls (default [`LONG_POLL_CAP`]). A long cap lets
    /// a test prove that a poll returns because an update arrived, not because it timed out.
    pub fn set_long_poll_cap(&self, cap: Duration) {
        self.lock().long_poll_cap = cap;
    }

    /// The `offset` each `getUpdates` call carried, in arrival order.
    pub fn get_updates_offsets(&self) -> Vec<Option<i64>> {
        self.lock().offsets.clone()
    }

    /// When each update was first handed out in a `getUpdates` answer (taken just before the
    /// answer is written), by update id; updates never delivered are absent. For latency
    /// measurements: pair with [`SentMessage::at`].
    pub fn delivery_times(&self) -> HashMap<i64, Instant> {
        self.lock().delivered.clone()
    }

    /// When each `getUpdates` request arrived, in arrival order (also while it is still
    /// waiting, unlike [`FakeTelegram::calls`], which records a call once it is answered).
    pub fn get_updates_arrivals(&self) -> Vec<Instant> {
        self.lock().poll_arrivals.clone()
    }

    /// How many distinct updates have been handed out by `getUpdates` so far (cheap: no copy).
    pub fn delivered_count(&self) -> usize {
        self.lock().delivered.len()
    }

    /// How many successful `sendMessage` calls the fake has answered so far (cheap: no copy).
    pub fn sent_message_count(&self) -> usize {
        self.lock().sent_messages.len()
    }

    // ---- chats ---------------------------------------------------------------------------

    /// Every later call to this chat is answered 403 ("bot was blocked by the user" for a
    /// private chat, "bot was kicked from the group chat" for a group).
    pub fn block_chat(&self, chat_id: i64) {
        self.lock().chats.entry(chat_id).or_default().blocked = true;
    }

    /// Undoes [`FakeTelegram::block_chat`].
    pub fn unblock_chat(&self, chat_id: i64) {
        self.lock().chats.entry(chat_id).or_default().blocked = false;
    }

    /// Group `old` became supergroup `new`: calls to `old` get the migration error from now on.
    pub fn migrate_chat(&self, old: i64, new: i64) {
        let mut st = self.lock();
        st.chats.entry(old).or_default().migrated_to = Some(new);
        st.chats.entry(new).or_default().supergroup = true;
    }

    /// Gives `user_id` a first name (e.g. a hostile one) in the updates pushed from now on.
    pub fn set_first_name(&self, user_id: i64, name: &str) {
        self.lock().first_names.insert(user_id, name.to_string());
    }

    /// Makes `chat_id` a forum supergroup, where `createForumTopic` works and messages may
    /// carry `message_thread_id`.
    pub fn make_forum(&self, chat_id: i64) {
        let mut st = self.lock();
        let chat = st.chats.entry(chat_id).or_default();
        chat.supergroup = true;
        chat.forum = true;
    }

    /// Forum topics created in a chat: `(message_thread_id, name, closed)`.
    pub fn topics(&self, chat_id: i64) -> Vec<(i32, String, bool)> {
        let st = self.lock();
        let mut topics: Vec<_> = st
            .chats
            .get(&chat_id)
            .map(|c| {
                c.topics
                    .iter()
                    .map(|(id, t)| (*id, t.name.clone(), t.closed))
                    .collect()
            })
            .unwrap_or_default();
        topics.sort();
        topics
    }

    /// The chat's message as the fake holds it now (after edits).
    pub fn message(&self, chat_id: i64, message_id: i32) -> Option<Value> {
        let st = self.lock();
        st.chats
            .get(&chat_id)?
            .messages
            .get(&message_id)
            .map(|m| m.json.clone())
    }

    // ---- faults --------------------------------------------------------------------------

    /// Queues a fault for the next call of `method`; faults are consumed in order, then
    /// normal behaviour resumes.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        let method = canonical(method).unwrap_or(method).to_string();
        self.lock()
            .faults
            .entry(method)
            .or_default()
            .push_back(fault);
    }

    /// Drops the faults queued for a method and not yet consumed.
    pub fn clear_faults(&self, method: &str) {
        let method = canonical(method).unwrap_or(method).to_string();
        self.lock().faults.remove(&method);
    }

    /// Faults queued and not yet consumed.
    pub fn pending_faults(&self, method: &str) -> usize {
        let method = canonical(method).unwrap_or(method);
        self.lock().faults.get(method).map_or(0, VecDeque::len)
    }

    // ---- inspection ----------------------------------------------------------------------

    /// Every call answered so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.lock().calls.clone();
        calls.sort_by_key(|(seq, _)| *seq);
        calls.into_iter().map(|(_, c)| c).collect()
    }

    /// Every call of one method, whatever its answer.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        let method = canonical(method).unwrap_or(method);
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Parameters of the successful calls of `method`.
    pub fn sent(&self, method: &str) -> Vec<Value> {
        self.calls_of(method)
            .into_iter()
            .filter(|c| c.status == 200)
            .map(|c| c.body)
            .collect()
    }

    /// Calls answered with an error.
    pub fn rejected(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.status != 200)
            .collect()
    }

    /// Messages delivered to `chat_id` by successful `sendMessage` calls, in delivery order.
    pub fn messages_to(&self, chat_id: i64) -> Vec<SentMessage> {
        self.sent_messages()
            .into_iter()
            .filter(|m| m.chat_id == chat_id)
            .collect()
    }

    /// Messages delivered by successful `sendMessage` calls to any chat, in the order the fake
    /// delivered them (a stalled request is delivered when it is answered).
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.lock().sent_messages.clone()
    }

    /// Polls `pred` every 10 ms until it holds or `timeout` passes; returns its last value.
    /// Blocks the thread: in async tests use [`FakeTelegram::wait_until_async`].
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&FakeTelegram) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// [`FakeTelegram::wait_until`] for async tests (sleeps with tokio).
    pub async fn wait_until_async(
        &self,
        timeout: Duration,
        pred: impl Fn(&FakeTelegram) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The largest number of messages created (successful `sendMessage`, `copyMessage`,
    /// `forwardMessage`) within any sliding `window`: in any single chat when `per_chat`, else
    /// over all chats. Timestamps are request arrival times.
    pub fn max_rate(&self, window: Duration, per_chat: bool) -> usize {
        self.max_rate_of(MESSAGE_METHODS, window, per_chat)
    }

    /// [`FakeTelegram::max_rate`] over the successful calls of the given methods only.
    pub fn max_rate_of(&self, methods: &[&str], window: Duration, per_chat: bool) -> usize {
        let events: Vec<(i64, Instant)> = self
            .lock()
            .created
            .iter()
            .filter(|(_, _, m)| methods.iter().any(|x| x.eq_ignore_ascii_case(m)))
            .map(|(chat, at, _)| (*chat, *at))
            .collect();
        if per_chat {
            let mut by_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
            for (chat, at) in events {
                by_chat.entry(chat).or_default().push(at);
            }
            by_chat
                .into_values()
                .map(|t| window_max(t, window))
                .max()
                .unwrap_or(0)
        } else {
            window_max(events.into_iter().map(|(_, at)| at).collect(), window)
        }
    }

    /// The largest number of messages created in `chat_id` within any sliding `window`.
    pub fn max_rate_in_chat(&self, chat_id: i64, window: Duration) -> usize {
        let times = self
            .lock()
            .created
            .iter()
            .filter(|(chat, _, _)| *chat == chat_id)
            .map(|(_, at, _)| *at)
            .collect();
        window_max(times, window)
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Most events within any window `[t, t + window)`.
fn window_max(mut times: Vec<Instant>, window: Duration) -> usize {
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn insert_sorted(queue: &mut VecDeque<Queued>, item: Queued) {
    let pos = queue
        .iter()
        .position(|q| q.id > item.id)
        .unwrap_or(queue.len());
    queue.insert(pos, item);
}

fn update_kind(update: &Value) -> Option<String> {
    update
        .as_object()?
        .keys()
        .find(|k| k.as_str() != "update_id")
        .cloned()
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

fn file(st: &mut St, kind: &str, size: u32) -> Value {
    st.next_file += 1;
    json!({
        "file_id": format!("AgAD-{kind}-{}", st.next_file),
        "file_unique_id": format!("AQAD{kind}{}", st.next_file),
        "file_size": size,
    })
}

fn user_json(st: &St, user_id: i64) -> Value {
    let first_name = st
        .first_names
        .get(&user_id)
        .cloned()
        .unwrap_or_else(|| format!("User{user_id}"));
    json!({
        "id": user_id,
        "is_bot": false,
        "first_name": first_name,
        "username": format!("user{user_id}"),
        "language_code": "en",
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Private,
    Group,
    Supergroup,
}

fn chat_kind(st: &St, chat_id: i64) -> Kind {
    let chat = st.chats.get(&chat_id);
    if chat_id > 0 {
        Kind::Private
    } else if chat.is_some_and(|c| c.supergroup) || chat_id <= -1_000_000_000_000 {
        Kind::Supergroup
    } else {
        Kind::Group
    }
}

fn is_forum(st: &St, chat_id: i64) -> bool {
    st.chats.get(&chat_id).is_some_and(|c| c.forum)
}

fn chat_json(st: &St, chat_id: i64) -> Value {
    match chat_kind(st, chat_id) {
        Kind::Private => json!({
            "id": chat_id,
            "type": "private",
            "first_name": format!("User{chat_id}"),
            "username": format!("user{chat_id}"),
        }),
        Kind::Group => json!({"id": chat_id, "type": "group", "title": format!("Group {chat_id}")}),
        Kind::Supergroup if is_forum(st, chat_id) => json!({
            "id": chat_id, "type": "supergroup", "title": format!("Group {chat_id}"), "is_forum": true,
        }),
        Kind::Supergroup => {
            json!({"id": chat_id, "type": "supergroup", "title": format!("Group {chat_id}")})
        }
    }
}

fn alloc_message_id(st: &mut St, chat_id: i64) -> i32 {
    let chat = st.chats.entry(chat_id).or_default();
    chat.last_message_id += 1;
    chat.last_message_id
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, St> {
        // A panicking test thread must not hide the calls from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        self.wake.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn bot_user(&self) -> Value {
        json!({"id": self.bot_id, "is_bot": true, "first_name": "FAQ bot", "username": BOT_USERNAME})
    }

    fn push_locked(&self, st: &mut St, mut update: Value) -> i32 {
        let id = match update.get("update_id").and_then(as_i64) {
            Some(id) => id,
            None => {
                let id = st.next_update_id;
                if let Some(obj) = update.as_object_mut() {
                    obj.insert("update_id".into(), id.into());
                }
                id
            }
        };
        st.next_update_id = st.next_update_id.max(id + 1);
        for key in [
            "message",
            "edited_message",
            "channel_post",
            "edited_channel_post",
        ] {
            if let Some(m) = update.get(key) {
                self.register_message(st, m);
            }
        }
        if let Some(q) = update.get("callback_query") {
            if let Some(m) = q.get("message") {
                self.register_message(st, m);
            }
            if let Some(qid) = q.get("id").and_then(Value::as_str) {
                st.callbacks.insert(qid.to_string(), false);
            }
        }
        let kind = update_kind(&update);
        let json = update.to_string();
        st.pushed.push((id, update));
        insert_sorted(&mut st.queue, Queued { id, kind, json });
        id as i32
    }

    fn register_message(&self, st: &mut St, m: &Value) {
        let (Some(chat_id), Some(message_id)) = (
            m.pointer("/chat/id").and_then(as_i64),
            m.get("message_id").and_then(as_i64),
        ) else {
            return;
        };
        if let Some(replied) = m.get("reply_to_message") {
            let known = st.chats.get(&chat_id).is_some_and(|c| {
                c.messages
                    .contains_key(&(replied.get("message_id").and_then(as_i64).unwrap_or(0) as i32))
            });
            if !known {
                self.register_message(st, replied);
            }
        }
        let from_bot = m.pointer("/from/id").and_then(as_i64) == Some(self.bot_id);
        let mut json = m.clone();
        if let Some(obj) = json.as_object_mut() {
            obj.remove("reply_to_message");
        }
        let chat = st.chats.entry(chat_id).or_default();
        chat.last_message_id = chat.last_message_id.max(message_id as i32);
        chat.messages
            .insert(message_id as i32, Stored { from_bot, json });
    }

    fn latest_bot_message(&self, st: &mut St, chat_id: i64) -> Value {
        let latest = st.chats.get(&chat_id).and_then(|c| {
            c.messages
                .iter()
                .filter(|(_, m)| m.from_bot)
                .max_by_key(|(id, _)| **id)
                .map(|(_, m)| m.json.clone())
        });
        if let Some(m) = latest {
            return m;
        }
        let id = alloc_message_id(st, chat_id);
        let m = json!({
            "message_id": id,
            "from": self.bot_user(),
            "chat": chat_json(st, chat_id),
            "date": now_unix() - 1,
            "text": "(an earlier message of the bot)",
        });
        st.chats.entry(chat_id).or_default().messages.insert(
            id,
            Stored {
                from_bot: true,
                json: m.clone(),
            },
        );
        m
    }

    /// Creates a message of the bot in `chat_id` and returns the Message object.
    fn new_bot_message(
        &self,
        st: &mut St,
        chat_id: i64,
        thread: Option<i32>,
        content: Map<String, Value>,
        reply_to: Option<Value>,
    ) -> Value {
        let id = alloc_message_id(st, chat_id);
        let mut m = Map::new();
        m.insert("message_id".into(), id.into());
        if let Some(thread) = thread {
            m.insert("message_thread_id".into(), thread.into());
            m.insert("is_topic_message".into(), true.into());
        }
        m.insert("from".into(), self.bot_user());
        m.insert("chat".into(), chat_json(st, chat_id));
        m.insert("date".into(), now_unix().into());
        m.extend(content);
        let stored = Value::Object(m.clone());
        if let Some(r) = reply_to {
            m.insert("reply_to_message".into(), r);
        }
        st.chats.entry(chat_id).or_default().messages.insert(
            id,
            Stored {
                from_bot: true,
                json: stored,
            },
        );
        Value::Object(m)
    }
}

// ---- HTTP ----------------------------------------------------------------------------------

fn canonical(method: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(method))
}

async fn not_found() -> Response {
    envelope_response(Err(err(404, "Not Found"))).0
}

fn envelope_response(result: Result<String, ApiError>) -> (Response, u16, Value) {
    let (status, body) = match result {
        Ok(result) => (200, format!("{{\"ok\":true,\"result\":{result}}}")),
        Err(e) => {
            let mut v = json!({"ok": false, "error_code": e.code, "description": e.description});
            if let Some(p) = e.parameters {
                v["parameters"] = p;
            }
            (e.code, v.to_string())
        }
    };
    let recorded = serde_json::from_str(&body).unwrap_or_else(|_| Value::String(body.clone()));
    let response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    (response, status, recorded)
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path((bot, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let seq = {
        let mut st = inner.lock();
        st.next_seq += 1;
        st.next_seq
    };
    let (name, params, result) = process(&inner, &bot, &method, &uri, &headers, &body).await;
    let (response, status, recorded) = envelope_response(result);
    inner.lock().calls.push((
        seq,
        Call {
            method: name,
            body: params,
            at,
            status,
            response: recorded,
        },
    ));
    response
}

async fn process(
    inner: &Arc<Inner>,
    bot: &str,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (String, Value, Result<String, ApiError>) {
    let params = parse_params(headers, uri, body);
    let (params, parse_error) = match params {
        Ok(p) => (p, None),
        Err((raw, e)) => (raw, Some(e)),
    };
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        return (method.to_string(), params, Err(err(401, "Unauthorized")));
    }
    let Some(name) = canonical(method) else {
        return (
            method.to_string(),
            params,
            Err(err(404, "Not Found: method not found")),
        );
    };
    if let Some(e) = parse_error {
        return (name.to_string(), params, Err(e));
    }
    let fault = {
        let mut st = inner.lock();
        st.faults.get_mut(name).and_then(VecDeque::pop_front)
    };
    let chat = params.get("chat_id").and_then(as_i64);
    match fault {
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(fault) => {
            let e = fault_error(inner, name, chat, fault);
            return (name.to_string(), params, Err(e));
        }
        None => {}
    }
    if let Some(e) = flood_wait(inner, name, chat) {
        return (name.to_string(), params, Err(e));
    }
    let result = if name == "getUpdates" {
        get_updates(inner, &params).await
    } else {
        let mut st = inner.lock();
        dispatch(inner, &mut st, name, &params, Instant::now()).map(|v| v.to_string())
    };
    (name.to_string(), params, result)
}

fn fault_error(inner: &Inner, method: &str, chat: Option<i64>, fault: Fault) -> ApiError {
    match fault {
        Fault::RetryAfter(secs) => {
            inner.lock().flood_until.insert(
                (method.to_string(), chat),
                Instant::now() + Duration::from_secs(u64::from(secs)),
            );
            retry_after(secs)
        }
        Fault::Status(code, description) => err(code, description),
        Fault::Migrate(new) => {
            if let Some(old) = chat {
                let mut st = inner.lock();
                st.chats.entry(old).or_default().migrated_to = Some(new);
                st.chats.entry(new).or_default().supergroup = true;
            }
            migrated(new)
        }
        Fault::Delay(_) => unreachable!("delays are not errors"),
    }
}

fn retry_after(secs: u32) -> ApiError {
    ApiError {
        code: 429,
        description: format!("Too Many Requests: retry after {secs}"),
        parameters: Some(json!({"retry_after": secs})),
    }
}

fn migrated(new: i64) -> ApiError {
    ApiError {
        code: 400,
        description: MIGRATED.into(),
        parameters: Some(json!({"migrate_to_chat_id": new})),
    }
}

fn flood_wait(inner: &Inner, method: &str, chat: Option<i64>) -> Option<ApiError> {
    let st = inner.lock();
    let until = *st.flood_until.get(&(method.to_string(), chat))?;
    let now = Instant::now();
    if now >= until {
        return None;
    }
    let left = until - now;
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Some(retry_after(secs.max(1) as u32))
}

/// Fields that stay strings when sent as form fields.
const STRING_FIELDS: &[&str] = &[
    "text",
    "caption",
    "parse_mode",
    "callback_query_id",
    "inline_message_id",
    "url",
    "name",
    "secret_token",
    "action",
    "language_code",
    "icon_custom_emoji_id",
    "business_connection_id",
];

fn parse_params(headers: &HeaderMap, uri: &Uri, body: &Bytes) -> Result<Value, (Value, ApiError)> {
    let mut params = Map::new();
    if let Some(query) = uri.query() {
        params.extend(form_fields(query));
    }
    if body.is_empty() {
        return Ok(Value::Object(params));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let raw = || Value::String(String::from_utf8_lossy(body).into_owned());
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => {
                params.extend(obj);
                Ok(Value::Object(params))
            }
            _ => Err((raw(), bad("Bad Request: can't parse JSON object"))),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(form_fields(&String::from_utf8_lossy(body)));
        Ok(Value::Object(params))
    } else if content_type.starts_with("multipart/form-data") {
        // teloxide sends some calls (setWebhook) as multipart; text fields are enough here
        match multipart_fields(&content_type, body) {
            Some(fields) => {
                params.extend(fields);
                Ok(Value::Object(params))
            }
            None => Err((raw(), bad("Bad Request: can't parse multipart/form-data"))),
        }
    } else {
        Err((raw(), bad("Bad Request: unsupported Content-Type")))
    }
}

/// The text fields of a multipart/form-data body (file parts are recorded by name only).
fn multipart_fields(content_type: &str, body: &Bytes) -> Option<Map<String, Value>> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Map::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let (head, value) = part.split_once("\r\n\r\n")?;
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))?
            .trim_matches('"')
            .to_string();
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let parsed = if STRING_FIELDS.contains(&name.as_str()) {
            Value::String(value.to_string())
        } else {
            serde_json::from_str(value).unwrap_or(Value::String(value.to_string()))
        };
        out.insert(name, parsed);
    }
    Some(out)
}

fn form_fields(s: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        let value = if STRING_FIELDS.contains(&k.as_str()) {
            Value::String(v)
        } else {
            serde_json::from_str(&v).unwrap_or(Value::String(v))
        };
        out.insert(k, value);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- parameters ----------------------------------------------------------------------------

fn get<'a>(p: &'a Value, k: &str) -> Option<&'a Value> {
    p.get(k).filter(|v| !v.is_null())
}

fn int(p: &Value, k: &str) -> Result<Option<i64>, ApiError> {
    match get(p, k) {
        None => Ok(None),
        Some(v) => as_i64(v).map(Some).ok_or_else(|| {
            bad(format!(
                "Bad Request: field \"{k}\" must be of type Integer"
            ))
        }),
    }
}

fn string(p: &Value, k: &str) -> Option<String> {
    match get(p, k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn boolean(p: &Value, k: &str) -> bool {
    match get(p, k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// A JSON-serialized parameter: an object/array, or a string holding one (form fields).
fn json_param(p: &Value, k: &str, what: &str) -> Result<Option<Value>, ApiError> {
    match get(p, k) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map(Some)
            .map_err(|_| bad(format!("Bad Request: can't parse {what} JSON object"))),
        Some(v) => Ok(Some(v.clone())),
    }
}

fn chat_param(p: &Value, k: &str) -> Result<i64, ApiError> {
    match get(p, k) {
        None => Err(bad(format!("Bad Request: {k} is empty"))),
        Some(v) => as_i64(v).ok_or_else(|| bad("Bad Request: chat not found")),
    }
}

fn message_id_param(p: &Value) -> Result<i32, ApiError> {
    int(p, "message_id")?
        .map(|id| id as i32)
        .ok_or_else(|| bad("Bad Request: message identifier is not specified"))
}

/// Refuses calls to blocked or migrated chats.
fn check_chat(st: &St, chat_id: i64) -> Result<(), ApiError> {
    let Some(chat) = st.chats.get(&chat_id) else {
        return Ok(());
    };
    if let Some(new) = chat.migrated_to {
        return Err(migrated(new));
    }
    if chat.blocked {
        return Err(err(
            403,
            match chat_kind(st, chat_id) {
                Kind::Private => "Forbidden: bot was blocked by the user",
                Kind::Group => "Forbidden: bot was kicked from the group chat",
                Kind::Supergroup => "Forbidden: bot was kicked from the supergroup chat",
            },
        ));
    }
    Ok(())
}

fn thread_param(st: &St, chat_id: i64, p: &Value) -> Result<Option<i32>, ApiError> {
    let Some(thread) = int(p, "message_thread_id")? else {
        return Ok(None);
    };
    let topic = st
        .chats
        .get(&chat_id)
        .filter(|c| c.forum)
        .and_then(|c| c.topics.get(&(thread as i32)));
    match topic {
        None => Err(bad("Bad Request: message thread not found")),
        Some(t) if t.closed => Err(bad("Bad Request: TOPIC_CLOSED")),
        Some(_) => Ok(Some(thread as i32)),
    }
}

/// Parses and checks a formatted text; returns the visible text and its entities.
fn format_text(
    text: Option<&str>,
    parse_mode: Option<&str>,
    limit: usize,
    too_long: &str,
    empty: Option<&str>,
) -> Result<(String, Vec<Value>), ApiError> {
    let text = text.unwrap_or("");
    let parsed = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(tg_html::Parsed {
            text: text.to_string(),
            entities: Vec::new(),
        }),
        Some("html") => tg_html::parse(text),
        Some("markdownv2") => tg_html::validate_markdown_v2(text).map(|text| tg_html::Parsed {
            text,
            entities: Vec::new(),
        }),
        Some("markdown") => tg_html::validate_markdown(text).map(|text| tg_html::Parsed {
            text,
            entities: Vec::new(),
        }),
        Some(_) => return Err(bad("Bad Request: unsupported parse_mode")),
    }
    .map_err(|e| bad(format!("Bad Request: can't parse entities: {e}")))?;
    if let Some(empty) = empty {
        if parsed.text.trim().is_empty() {
            return Err(bad(empty));
        }
    }
    if tg_html::utf16_len(&parsed.text) > limit {
        return Err(bad(too_long));
    }
    let entities = parsed
        .entities
        .iter()
        .map(tg_html::Entity::to_json)
        .collect();
    Ok((parsed.text, entities))
}

/// Checks `reply_markup`; returns it and, for an inline keyboard, the markup a Message shows.
fn markup_param(p: &Value) -> Result<(Option<Value>, Option<Value>), ApiError> {
    let Some(markup) = json_param(p, "reply_markup", "reply keyboard markup")? else {
        return Ok((None, None));
    };
    let Some(obj) = markup.as_object() else {
        return Err(bad(
            "Bad Request: can't parse reply keyboard markup JSON object",
        ));
    };
    if let Some(rows) = obj.get("inline_keyboard") {
        check_inline_keyboard(rows)?;
        let shown = json!({"inline_keyboard": rows});
        return Ok((Some(markup.clone()), Some(shown)));
    }
    if let Some(rows) = obj.get("keyboard") {
        let rows = rows.as_array().ok_or_else(|| {
            bad("Bad Request: field \"keyboard\" of the ReplyKeyboardMarkup must be an Array")
        })?;
        for button in rows.iter().filter_map(Value::as_array).flatten() {
            let text = button
                .as_str()
                .or_else(|| button.get("text").and_then(Value::as_str));
            if text.is_none_or(str::is_empty) {
                return Err(bad("Bad Request: keyboard button text is empty"));
            }
        }
        return Ok((Some(markup.clone()), None));
    }
    if obj.contains_key("remove_keyboard") || obj.contains_key("force_reply") {
        return Ok((Some(markup.clone()), None));
    }
    Err(bad(
        "Bad Request: can't parse reply keyboard markup JSON object",
    ))
}

const BUTTON_ACTIONS: &[&str] = &[
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

fn check_inline_keyboard(rows: &Value) -> Result<(), ApiError> {
    let rows = rows.as_array().ok_or_else(|| {
        bad("Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
    })?;
    let mut count = 0;
    for row in rows {
        let row = row.as_array().ok_or_else(|| {
            bad("Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
        })?;
        for button in row {
            count += 1;
            let text = match button.get("text") {
                None => return Err(bad("Bad Request: can't parse inline keyboard button: Can't find field \"text\"")),
                Some(Value::String(t)) => t,
                Some(_) => {
                    return Err(bad(
                        "Bad Request: can't parse inline keyboard button: Field \"text\" must be of type String",
                    ))
                }
            };
            if text.trim().is_empty() {
                return Err(bad("Bad Request: BUTTON_TEXT_INVALID"));
            }
            // An empty string counts as absent, as in Telegram.
            let actions: Vec<&str> = BUTTON_ACTIONS
                .iter()
                .copied()
                .filter(|a| match button.get(*a) {
                    None | Some(Value::Null) => false,
                    Some(Value::String(s)) => {
                        !s.is_empty()
                            || *a == "switch_inline_query"
                            || *a == "switch_inline_query_current_chat"
                    }
                    Some(_) => true,
                })
                .collect();
            if actions.is_empty() {
                return Err(bad(
                    "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                ));
            }
            if let Some(data) = button.get("callback_data").and_then(Value::as_str) {
                if data.len() > 64 {
                    return Err(bad("Bad Request: BUTTON_DATA_INVALID"));
                }
            }
            if let Some(url) = button.get("url").and_then(Value::as_str) {
                let ok = ["http://", "https://", "tg://"]
                    .iter()
                    .any(|s| url.starts_with(s))
                    && url.len() > url.find("://").unwrap_or(0) + 3;
                if !ok {
                    return Err(bad(format!(
                        "Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )));
                }
            }
        }
    }
    if count > 100 {
        return Err(bad("Bad Request: reply markup is too long"));
    }
    Ok(())
}

/// The replied-to message, from `reply_parameters` or the older `reply_to_message_id`.
fn reply_param(st: &St, chat_id: i64, p: &Value) -> Result<Option<(i32, Value)>, ApiError> {
    let (message_id, allow) = match json_param(p, "reply_parameters", "reply parameters")? {
        Some(rp) => (
            rp.get("message_id").and_then(as_i64),
            boolean(&rp, "allow_sending_without_reply"),
        ),
        None => (
            int(p, "reply_to_message_id")?,
            boolean(p, "allow_sending_without_reply"),
        ),
    };
    let Some(message_id) = message_id else {
        return Ok(None);
    };
    let message_id = message_id as i32;
    match st
        .chats
        .get(&chat_id)
        .and_then(|c| c.messages.get(&message_id))
    {
        Some(m) => Ok(Some((message_id, m.json.clone()))),
        None if allow => Ok(None),
        None => Err(bad("Bad Request: message to be replied not found")),
    }
}

// ---- methods -------------------------------------------------------------------------------

fn dispatch(
    inner: &Inner,
    st: &mut St,
    method: &str,
    p: &Value,
    at: Instant,
) -> Result<Value, ApiError> {
    match method {
        "getMe" => Ok(merge(
            inner.bot_user(),
            json!({"can_join_groups": true, "can_read_all_group_messages": false,
                   "supports_inline_queries": false, "can_connect_to_business": false,
                   "has_main_web_app": false}),
        )),
        "sendMessage" => send_message(inner, st, p, at),
        "editMessageText" => edit_message_text(st, p),
        "editMessageReplyMarkup" => edit_message_reply_markup(st, p),
        "deleteMessage" => {
            let chat = chat_param(p, "chat_id")?;
            check_chat(st, chat)?;
            let id = message_id_param(p)?;
            let chat_kind = chat_kind(st, chat);
            let chat = st.chats.entry(chat).or_default();
            match chat.messages.get(&id) {
                Some(m) if m.from_bot || chat_kind != Kind::Private => {
                    chat.messages.remove(&id);
                    Ok(json!(true))
                }
                Some(_) => Err(bad("Bad Request: message can't be deleted")),
                None => Err(bad("Bad Request: message to delete not found")),
            }
        }
        "answerCallbackQuery" => {
            let id = string(p, "callback_query_id").unwrap_or_default();
            if let Some(text) = string(p, "text") {
                if tg_html::utf16_len(&text) > 200 {
                    return Err(bad("Bad Request: MESSAGE_TOO_LONG"));
                }
            }
            match st.callbacks.get_mut(&id) {
                Some(answered) if !*answered => {
                    *answered = true;
                    Ok(json!(true))
                }
                _ => Err(bad(TOO_OLD_QUERY)),
            }
        }
        "setMyCommands" => {
            let commands = json_param(p, "commands", "commands")?
                .ok_or_else(|| bad("Bad Request: parameter \"commands\" is required"))?;
            let list = commands
                .as_array()
                .ok_or_else(|| bad("Bad Request: can't parse commands JSON object"))?;
            if list.len() > 100 {
                return Err(bad("Bad Request: too many commands specified"));
            }
            for c in list {
                let name = c.get("command").and_then(Value::as_str).unwrap_or("");
                let name = name.strip_prefix('/').unwrap_or(name);
                let valid = (1..=32).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(bad("Bad Request: BOT_COMMAND_INVALID"));
                }
                let description = c.get("description").and_then(Value::as_str).unwrap_or("");
                if !(1..=256).contains(&description.chars().count()) {
                    return Err(bad("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"));
                }
            }
            st.commands.insert(commands_key(p)?, commands);
            Ok(json!(true))
        }
        "getMyCommands" => Ok(st
            .commands
            .get(&commands_key(p)?)
            .cloned()
            .unwrap_or(json!([]))),
        "deleteMyCommands" => {
            st.commands.remove(&commands_key(p)?);
            Ok(json!(true))
        }
        "deleteWebhook" => {
            st.webhook_url.clear();
            if boolean(p, "drop_pending_updates") {
                st.queue.clear();
            }
            Ok(json!(true))
        }
        "setWebhook" => {
            let url = string(p, "url").unwrap_or_default();
            if !url.is_empty() && !url.starts_with("https://") {
                return Err(bad(
                    "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                ));
            }
            if let Some(secret) = string(p, "secret_token") {
                let ok = (1..=256).contains(&secret.len())
                    && secret
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !ok {
                    return Err(bad(
                        "Bad Request: secret token contains unallowed characters",
                    ));
                }
            }
            if boolean(p, "drop_pending_updates") {
                st.queue.clear();
            }
            st.webhook_url = url;
            Ok(json!(true))
        }
        "getWebhookInfo" => Ok(json!({
            "url": st.webhook_url,
            "has_custom_certificate": false,
            "pending_update_count": st.queue.len(),
        })),
        "sendChatAction" => {
            let chat = chat_param(p, "chat_id")?;
            check_chat(st, chat)?;
            let action = string(p, "action").unwrap_or_default();
            if !CHAT_ACTIONS.contains(&action.as_str()) {
                return Err(bad("Bad Request: wrong parameter action in request"));
            }
            Ok(json!(true))
        }
        "copyMessage" | "forwardMessage" => copy_or_forward(inner, st, method, p, at),
        "createForumTopic" => {
            let chat = chat_param(p, "chat_id")?;
            check_chat(st, chat)?;
            if !is_forum(st, chat) {
                return Err(bad("Bad Request: the chat is not a forum"));
            }
            let name = string(p, "name").unwrap_or_default();
            if name.trim().is_empty() {
                return Err(bad("Bad Request: TOPIC_TITLE_EMPTY"));
            }
            if name.chars().count() > 128 {
                return Err(bad("Bad Request: TOPIC_NAME_INVALID"));
            }
            let thread = alloc_message_id(st, chat);
            st.chats.entry(chat).or_default().topics.insert(
                thread,
                Topic {
                    name: name.clone(),
                    closed: false,
                },
            );
            Ok(json!({"message_thread_id": thread, "name": name, "icon_color": 7_322_096}))
        }
        "closeForumTopic" | "reopenForumTopic" => {
            let chat = chat_param(p, "chat_id")?;
            check_chat(st, chat)?;
            if !is_forum(st, chat) {
                return Err(bad("Bad Request: the chat is not a forum"));
            }
            let thread = int(p, "message_thread_id")?.unwrap_or(0) as i32;
            let close = method == "closeForumTopic";
            let topic = st
                .chats
                .entry(chat)
                .or_default()
                .topics
                .get_mut(&thread)
                .ok_or_else(|| bad("Bad Request: TOPIC_ID_INVALID"))?;
            if topic.closed == close {
                return Err(bad("Bad Request: TOPIC_NOT_MODIFIED"));
            }
            topic.closed = close;
            Ok(json!(true))
        }
        "getChat" => {
            let chat = chat_param(p, "chat_id")?;
            if let Some(new) = st.chats.get(&chat).and_then(|c| c.migrated_to) {
                return Err(migrated(new));
            }
            Ok(merge(
                chat_json(st, chat),
                json!({
                    "accepted_gift_types": {"unlimited_gifts": false, "limited_gifts": false,
                                            "unique_gifts": false, "premium_subscription": false},
                    "max_reaction_count": 11,
                }),
            ))
        }
        other => Err(err(
            404,
            format!("Not Found: method {other} is not implemented by the fake"),
        )),
    }
}

fn commands_key(p: &Value) -> Result<String, ApiError> {
    let scope = json_param(p, "scope", "bot command scope")?.unwrap_or(json!({"type": "default"}));
    Ok(format!(
        "{scope}|{}",
        string(p, "language_code").unwrap_or_default()
    ))
}

fn send_message(inner: &Inner, st: &mut St, p: &Value, at: Instant) -> Result<Value, ApiError> {
    let chat = chat_param(p, "chat_id")?;
    check_chat(st, chat)?;
    let thread = thread_param(st, chat, p)?;
    let text = string(p, "text");
    let parse_mode = string(p, "parse_mode").filter(|m| !m.is_empty());
    let (visible, entities) = format_text(
        text.as_deref(),
        parse_mode.as_deref(),
        tg_html::MAX_TEXT_UTF16,
        "Bad Request: message is too long",
        Some("Bad Request: message text is empty"),
    )?;
    let (markup, shown_markup) = markup_param(p)?;
    let reply = reply_param(st, chat, p)?;
    let mut content = Map::new();
    content.insert("text".into(), visible.clone().into());
    if !entities.is_empty() {
        content.insert("entities".into(), entities.into());
    }
    if let Some(m) = shown_markup {
        content.insert("reply_markup".into(), m);
    }
    let reply_to = reply.as_ref().map(|(id, _)| *id);
    let message = inner.new_bot_message(st, chat, thread, content, reply.map(|(_, m)| m));
    let message_id = message["message_id"].as_i64().unwrap_or(0) as i32;
    st.sent_messages.push(SentMessage {
        chat_id: chat,
        message_id,
        text: text.unwrap_or_default(),
        visible,
        parse_mode,
        reply_markup: markup,
        message_thread_id: thread,
        reply_to,
        at,
    });
    st.created.push((chat, at, "sendMessage"));
    Ok(message)
}

/// The bot's own text message `(chat_id, message_id)` for an edit.
fn editable(st: &mut St, chat: i64, id: i32) -> Result<&mut Stored, ApiError> {
    let stored = st
        .chats
        .get_mut(&chat)
        .and_then(|c| c.messages.get_mut(&id))
        .ok_or_else(|| bad("Bad Request: message to edit not found"))?;
    if !stored.from_bot {
        return Err(bad("Bad Request: message can't be edited"));
    }
    Ok(stored)
}

fn edit_message_text(st: &mut St, p: &Value) -> Result<Value, ApiError> {
    let text = string(p, "text");
    let parse_mode = string(p, "parse_mode").filter(|m| !m.is_empty());
    let (visible, entities) = format_text(
        text.as_deref(),
        parse_mode.as_deref(),
        tg_html::MAX_TEXT_UTF16,
        "Bad Request: message is too long",
        Some("Bad Request: message text is empty"),
    )?;
    let (_, shown_markup) = markup_param(p)?;
    if get(p, "inline_message_id").is_some() {
        return Ok(json!(true));
    }
    let chat = chat_param(p, "chat_id")?;
    check_chat(st, chat)?;
    let id = message_id_param(p)?;
    let stored = editable(st, chat, id)?;
    let m = stored.json.as_object_mut().expect("messages are objects");
    if !m.contains_key("text") {
        return Err(bad("Bad Request: there is no text in the message to edit"));
    }
    let entities = (!entities.is_empty()).then(|| Value::from(entities));
    if m.get("text") == Some(&Value::from(visible.clone()))
        && m.get("entities") == entities.as_ref()
        && m.get("reply_markup") == shown_markup.as_ref()
    {
        return Err(bad(NOT_MODIFIED));
    }
    m.insert("text".into(), visible.into());
    set_or_remove(m, "entities", entities);
    set_or_remove(m, "reply_markup", shown_markup);
    m.insert("edit_date".into(), now_unix().into());
    Ok(stored.json.clone())
}

fn edit_message_reply_markup(st: &mut St, p: &Value) -> Result<Value, ApiError> {
    let (_, shown_markup) = markup_param(p)?;
    if get(p, "inline_message_id").is_some() {
        return Ok(json!(true));
    }
    let chat = chat_param(p, "chat_id")?;
    check_chat(st, chat)?;
    let id = message_id_param(p)?;
    let stored = editable(st, chat, id)?;
    let m = stored.json.as_object_mut().expect("messages are objects");
    if m.get("reply_markup") == shown_markup.as_ref() {
        return Err(bad(NOT_MODIFIED));
    }
    set_or_remove(m, "reply_markup", shown_markup);
    m.insert("edit_date".into(), now_unix().into());
    Ok(stored.json.clone())
}

fn set_or_remove(m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            m.insert(key.into(), v);
        }
        None => {
            m.remove(key);
        }
    }
}

/// Keys of a Message that describe where and when it is, not what it holds.
const ENVELOPE_KEYS: &[&str] = &[
    "message_id",
    "message_thread_id",
    "is_topic_message",
    "from",
    "sender_chat",
    "chat",
    "date",
    "edit_date",
    "reply_to_message",
    "forward_origin",
    "reply_markup",
    "has_protected_content",
];

fn copy_or_forward(
    inner: &Inner,
    st: &mut St,
    method: &str,
    p: &Value,
    at: Instant,
) -> Result<Value, ApiError> {
    let chat = chat_param(p, "chat_id")?;
    let from_chat = chat_param(p, "from_chat_id")?;
    check_chat(st, chat)?;
    let thread = thread_param(st, chat, p)?;
    let id = message_id_param(p)?;
    let copy = method == "copyMessage";
    let source = st
        .chats
        .get(&from_chat)
        .and_then(|c| c.messages.get(&id))
        .map(|m| m.json.clone())
        .ok_or_else(|| {
            bad(if copy {
                "Bad Request: message to copy not found"
            } else {
                "Bad Request: message to forward not found"
            })
        })?;
    let mut content: Map<String, Value> = source
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !ENVELOPE_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut reply = None;
    if copy {
        if let Some(caption) = string(p, "caption") {
            let parse_mode = string(p, "parse_mode").filter(|m| !m.is_empty());
            let (visible, entities) = format_text(
                Some(&caption),
                parse_mode.as_deref(),
                tg_html::MAX_CAPTION_UTF16,
                "Bad Request: message caption is too long",
                None,
            )?;
            content.remove("caption_entities");
            if content.contains_key("text") {
                // A text message has no caption to replace; Telegram ignores it.
            } else if !visible.is_empty() {
                content.insert("caption".into(), visible.into());
                if !entities.is_empty() {
                    content.insert("caption_entities".into(), entities.into());
                }
            } else {
                content.remove("caption");
            }
        }
        let (_, shown_markup) = markup_param(p)?;
        if let Some(m) = shown_markup {
            content.insert("reply_markup".into(), m);
        }
        reply = reply_param(st, chat, p)?.map(|(_, m)| m);
    } else if let Some(from) = source.get("from") {
        content.insert(
            "forward_origin".into(),
            json!({"type": "user", "sender_user": from, "date": source.get("date").cloned().unwrap_or(json!(0))}),
        );
    }
    let message = inner.new_bot_message(st, chat, thread, content, reply);
    st.created.push((
        chat,
        at,
        if copy {
            "copyMessage"
        } else {
            "forwardMessage"
        },
    ));
    if copy {
        Ok(json!({"message_id": message["message_id"]}))
    } else {
        Ok(message)
    }
}

async fn get_updates(inner: &Arc<Inner>, p: &Value) -> Result<String, ApiError> {
    let offset = int(p, "offset")?;
    let limit = int(p, "limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let timeout = int(p, "timeout")?.unwrap_or(0).max(0) as u64;
    let allowed = json_param(p, "allowed_updates", "allowed updates")?;
    let mut rx = inner.wake.subscribe();
    let (generation, wait) = {
        let mut st = inner.lock();
        st.offsets.push(offset);
        st.poll_arrivals.push(Instant::now());
        if !st.webhook_url.is_empty() {
            return Err(err(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        if let Some(allowed) = allowed {
            let list: Vec<String> = allowed
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            st.allowed_updates = (!list.is_empty()).then_some(list);
        }
        match offset {
            Some(o) if o >= 0 => st.queue.retain(|u| u.id >= o),
            Some(o) => {
                let keep = o.unsigned_abs() as usize;
                let len = st.queue.len();
                st.queue.drain(..len.saturating_sub(keep));
            }
            None => {}
        }
        st.poll_generation += 1;
        st.waiting_polls += 1;
        (
            st.poll_generation,
            Duration::from_secs(timeout).min(st.long_poll_cap),
        )
    };
    // Counts this poll as waiting until it returns or its connection is dropped.
    let _waiting = WaitingGuard(inner);
    inner.wake();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        {
            let mut st = inner.lock();
            if st.poll_generation != generation {
                return Err(err(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            let allowed = st.allowed_updates.clone();
            st.queue
                .retain(|u| deliverable(u.kind.as_deref(), allowed.as_deref()));
            if !st.queue.is_empty() || tokio::time::Instant::now() >= deadline {
                let now = Instant::now();
                let St {
                    queue, delivered, ..
                } = &mut *st;
                let items: Vec<&str> = queue
                    .iter()
                    .take(limit)
                    .map(|u| {
                        delivered.entry(u.id).or_insert(now);
                        u.json.as_str()
                    })
                    .collect();
                return Ok(format!("[{}]", items.join(",")));
            }
        }
        let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
    }
}

struct WaitingGuard<'a>(&'a Inner);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.waiting_polls = st.waiting_polls.saturating_sub(1);
    }
}

fn deliverable(kind: Option<&str>, allowed: Option<&[String]>) -> bool {
    let Some(kind) = kind else { return true };
    if !KNOWN_UPDATE_KINDS.contains(&kind) {
        return true;
    }
    match allowed {
        None => !NOT_DELIVERED_BY_DEFAULT.contains(&kind),
        Some(list) => list.iter().any(|k| k == kind),
    }
}
