//! What the bot does in Telegram, as data: handlers decide on actions, the store keeps them in
//! the outbox, and the sender performs them. Serializable so a restart loses none.

use serde::{Deserialize, Serialize};

/// One call the bot will make to the Bot API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// sendMessage, in HTML parse mode.
    Send(OutMessage),
    /// editMessageText: replaces a message the bot sent (paging through topics).
    Edit {
        chat_id: i64,
        message_id: i32,
        html: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keyboard: Vec<Vec<Button>>,
    },
    /// answerCallbackQuery: stops the button's spinner, optionally with a short notice.
    AnswerCallback {
        callback_id: String,
        text: Option<String>,
    },
}

impl Action {
    /// The chat this action is ordered and throttled within (`None`: not chat-bound).
    pub fn chat_id(&self) -> Option<i64> {
        match self {
            Action::Send(m) => Some(m.chat_id),
            Action::Edit { chat_id, .. } => Some(*chat_id),
            Action::AnswerCallback { .. } => None,
        }
    }
}

/// A message to send. `html` is Telegram HTML, already escaped and within Telegram's limits
/// (see `render`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutMessage {
    pub chat_id: i64,
    /// Forum topic (message_thread_id), for coordinators' groups with topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<i32>,
    pub html: String,
    /// Inline keyboard rows, top to bottom; empty for none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyboard: Vec<Vec<Button>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i32>,
}

/// An inline keyboard button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    pub target: ButtonTarget,
}

/// What pressing a button does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonTarget {
    /// Sends callback data (at most 64 bytes) back to the bot.
    Callback(String),
    /// Opens a URL.
    Url(String),
}

impl Button {
    pub fn callback(text: impl Into<String>, data: impl Into<String>) -> Button {
        Button {
            text: text.into(),
            target: ButtonTarget::Callback(data.into()),
        }
    }

    pub fn url(text: impl Into<String>, url: impl Into<String>) -> Button {
        Button {
            text: text.into(),
            target: ButtonTarget::Url(url.into()),
        }
    }
}
