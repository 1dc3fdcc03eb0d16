//! The Bot API as the bot uses it: raw long polling (so one malformed update cannot block the
//! others, and updates are confirmed only after they are stored), and typed sends through
//! teloxide. Every error is reduced to an [`ApiError`] that carries no URL, token or body.

use std::time::Duration;

use serde::Deserialize;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, CopyMessageSetters, EditMessageTextSetters, SendMessageSetters,
    SetWebhookSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    AllowedUpdate, BotCommand, CallbackQueryId, ChatFullInfoKind, ChatFullInfoPublicKind, ChatId,
    InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Me, MessageId, ParseMode,
    ReplyParameters, ThreadId,
};
use teloxide::{ApiError as TgApiError, Bot, RequestError};

use crate::action::{Action, Button, ButtonTarget};
use crate::settings::{Secret, Settings};

/// The update kinds the bot asks for.
pub const ALLOWED_UPDATES: [AllowedUpdate; 3] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
];

/// A failed Bot API call, classified by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 429: wait at least this long, then send again.
    #[error("rate limited, retry after {0:?}")]
    RetryAfter(Duration),
    /// The user blocked the bot, or it was removed from the chat: stop sending there.
    #[error("blocked or removed from the chat")]
    Blocked,
    /// The group became a supergroup with this id.
    #[error("chat migrated to {0}")]
    Migrated(i64),
    /// The HTML was refused; resend as plain text.
    #[error("can't parse entities")]
    CantParseEntities,
    /// The forum topic the message was for no longer exists.
    #[error("message thread not found")]
    ThreadNotFound,
    /// The group has no forum topics (or the bot may not create them).
    #[error("the chat is not a forum")]
    NotForum,
    /// Another instance is polling with the same token (409).
    #[error("conflict: another instance is polling")]
    Conflict,
    /// The token was refused (401/404 on every call).
    #[error("token rejected")]
    Unauthorized,
    /// A request Telegram will never accept as it is.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Telegram unreachable, timed out or answering 5xx: retry with backoff.
    #[error("transient: {0}")]
    Transient(String),
}

impl ApiError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::RetryAfter(_) => "rate_limited",
            ApiError::Blocked => "blocked",
            ApiError::Migrated(_) => "migrated",
            ApiError::CantParseEntities => "cant_parse_entities",
            ApiError::ThreadNotFound => "thread_not_found",
            ApiError::NotForum => "not_forum",
            ApiError::Conflict => "conflict",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Transient(_) => "transient",
        }
    }

    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::Transient(_) | ApiError::RetryAfter(_) | ApiError::Conflict
        )
    }
}

/// The Bot API client.
#[derive(Clone)]
pub struct Api {
    bot: Bot,
    http: reqwest::Client,
    base: String,
    token: Secret,
    poll_timeout: u32,
    /// Whether each group asked about is a forum, and when that was learnt.
    forums: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<i64, (bool, std::time::Instant)>>,
    >,
}

/// How long what getChat said about a group's topics is trusted: coordinators may turn topics
/// on or off.
const FORUM_FRESH: Duration = Duration::from_secs(600);

impl Api {
    pub fn new(settings: &Settings) -> anyhow::Result<Api> {
        let base = settings.telegram.api_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base)
            .map_err(|e| anyhow::anyhow!("telegram.api_url {base:?} is not a valid URL: {e}"))?;
        let poll_timeout = settings.telegram.poll_timeout_secs;
        // long polls hold the request open for poll_timeout; give the network some slack
        let http = teloxide::net::default_reqwest_settings()
            .timeout(Duration::from_secs(u64::from(poll_timeout) + 15))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {}", e.without_url()))?;
        let token = settings.telegram.token.clone();
        let bot = Bot::with_client(token.expose(), http.clone()).set_api_url(url);
        Ok(Api {
            bot,
            http,
            base,
            token,
            poll_timeout,
            forums: std::sync::Arc::default(),
        })
    }

    /// Whether `chat_id` is a forum (a supergroup with topics on), from getChat, asked at most
    /// every ten minutes: so that escalations in a plain group never call createForumTopic,
    /// which Telegram refuses there.
    pub async fn is_forum(&self, chat_id: i64) -> Result<bool, ApiError> {
        let known = self
            .forums
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&chat_id)
            .copied();
        if let Some((forum, _)) = known.filter(|(_, at)| at.elapsed() < FORUM_FRESH) {
            return Ok(forum);
        }
        let chat = self
            .bot
            .get_chat(ChatId(chat_id))
            .await
            .map_err(|e| self.classify(e))?;
        let forum = match &chat.kind {
            ChatFullInfoKind::Public(p) => {
                matches!(&p.kind, ChatFullInfoPublicKind::Supergroup(s) if s.is_forum)
            }
            ChatFullInfoKind::Private(_) => false,
        };
        self.learn_forum(chat_id, forum);
        Ok(forum)
    }

    /// Remembers what Telegram said about a group's topics (e.g. "the chat is not a forum").
    pub fn learn_forum(&self, chat_id: i64, forum: bool) {
        self.forums
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(chat_id, (forum, std::time::Instant::now()));
    }

    /// Replaces the token wherever it might appear in a message.
    fn redact(&self, text: &str) -> String {
        if self.token.is_empty() {
            text.to_string()
        } else {
            text.replace(self.token.expose(), "***")
        }
    }

    fn classify(&self, e: RequestError) -> ApiError {
        match e {
            RequestError::RetryAfter(s) => ApiError::RetryAfter(s.duration()),
            RequestError::MigrateToChatId(id) => ApiError::Migrated(id.0),
            RequestError::Api(api) => match api {
                TgApiError::BotBlocked
                | TgApiError::BotKicked
                | TgApiError::BotKickedFromSupergroup
                | TgApiError::BotKickedFromChannel
                | TgApiError::UserDeactivated
                | TgApiError::CantInitiateConversation
                | TgApiError::CantTalkWithBots
                | TgApiError::ChatNotFound => ApiError::Blocked,
                TgApiError::CantParseEntities(_) => ApiError::CantParseEntities,
                TgApiError::TerminatedByOtherGetUpdates => ApiError::Conflict,
                TgApiError::InvalidToken => ApiError::Unauthorized,
                TgApiError::Unknown(text) => classify_description(&self.redact(&text)),
                other => ApiError::BadRequest(self.redact(&other.to_string())),
            },
            RequestError::Network(e) => ApiError::Transient(self.redact(&describe_network(&e))),
            // the raw body may contain a user's message: keep only that it was not JSON
            RequestError::InvalidJson { .. } => {
                ApiError::Transient("invalid JSON in response".into())
            }
            RequestError::Io(e) => ApiError::Transient(self.redact(&e.kind().to_string())),
        }
    }

    /// getMe.
    pub async fn get_me(&self) -> Result<Me, ApiError> {
        self.bot.get_me().await.map_err(|e| self.classify(e))
    }

    /// setMyCommands: the menu Telegram shows.
    pub async fn set_commands(&self, commands: Vec<BotCommand>) -> Result<(), ApiError> {
        self.bot
            .set_my_commands(commands)
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e))
    }

    /// setWebhook with the secret token, or deleteWebhook before long polling (Telegram refuses
    /// getUpdates while a webhook is set).
    pub async fn set_webhook(&self, url: Option<&str>, secret: &Secret) -> Result<(), ApiError> {
        match url {
            Some(url) => {
                let url = reqwest::Url::parse(url)
                    .map_err(|e| ApiError::BadRequest(format!("webhook url: {e}")))?;
                self.bot
                    .set_webhook(url)
                    .secret_token(secret.expose().to_string())
                    .allowed_updates(ALLOWED_UPDATES.to_vec())
                    .await
                    .map(|_| ())
                    .map_err(|e| self.classify(e))
            }
            None => self
                .bot
                .delete_webhook()
                .await
                .map(|_| ())
                .map_err(|e| self.classify(e)),
        }
    }

    /// getUpdates from `offset`, as raw JSON values: each is parsed on its own later, so an
    /// update teloxide cannot read is skipped alone instead of failing the whole batch.
    pub async fn get_updates(&self, offset: i32) -> Result<Vec<serde_json::Value>, ApiError> {
        #[derive(Deserialize)]
        struct Envelope {
            ok: bool,
            #[serde(default)]
            result: Vec<serde_json::Value>,
            #[serde(default)]
            error_code: u16,
            #[serde(default)]
            description: String,
            #[serde(default)]
            parameters: Option<Parameters>,
        }
        #[derive(Deserialize)]
        struct Parameters {
            retry_after: Option<u64>,
        }
        let url = format!("{}/bot{}/getUpdates", self.base, self.token.expose());
        let body = serde_json::json!({
            "offset": offset,
            "timeout": self.poll_timeout,
            "allowed_updates": ["message", "edited_message", "callback_query"],
        });
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| ApiError::Transient(self.redact(&describe_network(&e))))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transient(self.redact(&describe_network(&e))))?;
        let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::Transient(format!(
                "HTTP {status} with a body that is not a Bot API answer"
            ))
        })?;
        if envelope.ok {
            return Ok(envelope.result);
        }
        if let Some(secs) = envelope.parameters.and_then(|p| p.retry_after) {
            return Err(ApiError::RetryAfter(Duration::from_secs(secs)));
        }
        Err(match envelope.error_code {
            401 | 404 => ApiError::Unauthorized,
            409 => ApiError::Conflict,
            code if code >= 500 || code == 0 => ApiError::Transient(format!("HTTP {code}")),
            _ => classify_description(&self.redact(&envelope.description)),
        })
    }

    /// Performs one action; returns the id of a message it created, or of a topic.
    pub async fn perform(&self, action: &Action) -> Result<Performed, ApiError> {
        let no_preview = LinkPreviewOptions {
            is_disabled: true,
            url: None,
            prefer_small_media: false,
            prefer_large_media: false,
            show_above_text: false,
        };
        let done = Performed::default();
        let result = match action {
            Action::Send(m) => {
                let mut req = self
                    .bot
                    .send_message(ChatId(m.chat_id), &m.html)
                    .parse_mode(ParseMode::Html)
                    .link_preview_options(no_preview);
                if let Some(thread) = m.thread_id {
                    req = req.message_thread_id(ThreadId(MessageId(thread)));
                }
                if !m.keyboard.is_empty() {
                    req = req.reply_markup(keyboard(&m.keyboard));
                }
                if let Some(reply_to) = m.reply_to {
                    req = req.reply_parameters(
                        ReplyParameters::new(MessageId(reply_to)).allow_sending_without_reply(),
                    );
                }
                req.await.map(|sent| Performed {
                    message_id: Some(sent.id.0),
                    ..done
                })
            }
            Action::Copy(c) => {
                let mut req = self.bot.copy_message(
                    ChatId(c.to_chat),
                    ChatId(c.from_chat),
                    MessageId(c.message_id),
                );
                if let Some(caption) = &c.caption {
                    req = req.caption(caption.clone()).parse_mode(ParseMode::Html);
                }
                if let Some(thread) = c.thread_id {
                    req = req.message_thread_id(ThreadId(MessageId(thread)));
                }
                if let Some(reply_to) = c.reply_to {
                    req = req.reply_parameters(
                        ReplyParameters::new(MessageId(reply_to)).allow_sending_without_reply(),
                    );
                }
                req.await.map(|id| Performed {
                    message_id: Some(id.0),
                    ..done
                })
            }
            Action::OpenTopic { chat_id, name, .. } => self
                .bot
                .create_forum_topic(ChatId(*chat_id), name.clone())
                .await
                .map(|topic| Performed {
                    thread_id: Some(topic.thread_id.0 .0),
                    ..done
                }),
            Action::TopicState { .. } => {
                // the topic's id is resolved by the sender; see `set_topic_state`
                Ok(done)
            }
            Action::Edit {
                chat_id,
                message_id,
                html,
                keyboard: rows,
            } => {
                let mut req = self
                    .bot
                    .edit_message_text(ChatId(*chat_id), MessageId(*message_id), html)
                    .parse_mode(ParseMode::Html)
                    .link_preview_options(no_preview);
                if !rows.is_empty() {
                    req = req.reply_markup(keyboard(rows));
                }
                match req.await {
                    // pressing the same page twice changes nothing: not an error
                    Err(RequestError::Api(TgApiError::MessageNotModified)) => Ok(done),
                    other => other.map(|_| done),
                }
            }
            Action::AnswerCallback { callback_id, text } => {
                let mut req = self
                    .bot
                    .answer_callback_query(CallbackQueryId(callback_id.clone()));
                if let Some(text) = text {
                    req = req.text(text.clone());
                }
                req.await.map(|_| done)
            }
        };
        match result {
            Ok(performed) => Ok(performed),
            // a callback query older than Telegram keeps is gone: nothing more to do
            Err(RequestError::Api(TgApiError::InvalidQueryId)) => Ok(done),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// closeForumTopic / reopenForumTopic; a topic already in that state is not an error.
    pub async fn set_topic_state(
        &self,
        chat_id: i64,
        thread: i32,
        open: bool,
    ) -> Result<(), ApiError> {
        let result = if open {
            self.bot
                .reopen_forum_topic(ChatId(chat_id), ThreadId(MessageId(thread)))
                .await
        } else {
            self.bot
                .close_forum_topic(ChatId(chat_id), ThreadId(MessageId(thread)))
                .await
        };
        match result {
            Ok(_) => Ok(()),
            Err(RequestError::Api(TgApiError::Unknown(d))) if d.contains("TOPIC_NOT_MODIFIED") => {
                Ok(())
            }
            Err(e) => Err(self.classify(e)),
        }
    }
}

/// What a performed action created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Performed {
    pub message_id: Option<i32>,
    pub thread_id: Option<i32>,
}

fn keyboard(rows: &[Vec<Button>]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows.iter().map(|row| {
        row.iter()
            .filter_map(|b| match &b.target {
                ButtonTarget::Callback(data) => {
                    Some(InlineKeyboardButton::callback(b.text.clone(), data.clone()))
                }
                ButtonTarget::Url(url) => reqwest::Url::parse(url)
                    .ok()
                    .map(|u| InlineKeyboardButton::url(b.text.clone(), u)),
            })
            .collect::<Vec<_>>()
    }))
}

/// A network error without its URL (which contains the token).
fn describe_network(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "bad response body"
    } else {
        "request failed"
    };
    match e.status() {
        Some(status) => format!("{kind} (HTTP {})", status.as_u16()),
        None => kind.to_string(),
    }
}

/// Errors teloxide does not know, by their description.
fn classify_description(description: &str) -> ApiError {
    let d = description.to_ascii_lowercase();
    if d.contains("message thread not found")
        || d.contains("topic_deleted")
        || d.contains("topic_id_invalid")
    {
        ApiError::ThreadNotFound
    } else if d.contains("not a forum")
        || d.contains("enough rights to create")
        || d.contains("chat_not_forum")
    {
        ApiError::NotForum
    } else if d.contains("blocked")
        || d.contains("kicked")
        || d.contains("deactivated")
        || d.contains("chat not found")
    {
        ApiError::Blocked
    } else if d.contains("can't parse entities") {
        ApiError::CantParseEntities
    } else if d.contains("internal server error")
        || d.contains("bad gateway")
        || d.contains("gateway")
        || d.contains("unavailable")
    {
        ApiError::Transient(description.to_string())
    } else if d.contains("conflict") {
        ApiError::Conflict
    } else {
        ApiError::BadRequest(description.to_string())
    }
}
