//! What the bot does in Telegram, as data: handlers decide on actions, the store keeps them in
//! the outbox, and the sender performs them. Serializable so a restart loses none.
//!
//! Plain data with no dependency on the adapter, so that the store (below the adapter) can
//! keep them without naming `telegram`.

use serde::{Deserialize, Serialize};

/// One call the bot will make to the Bot API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// sendMessage, in HTML parse mode.
    Send(OutMessage),
    /// editMessageText: replaces a message the bot sent (paging through topics, a card).
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
    /// copyMessage: relays a message (text or media) between a caregiver and the coordinators.
    Copy(CopyMessage),
    /// createForumTopic for an escalation in the coordinators' group; the sender stores the
    /// topic, or notes that the group has no topics (then escalations use card messages).
    OpenTopic {
        chat_id: i64,
        escalation: i64,
        name: String,
    },
    /// closeForumTopic / reopenForumTopic for an escalation's topic, if it has one.
    TopicState {
        chat_id: i64,
        escalation: i64,
        open: bool,
    },
}

impl Action {
    /// The chat this action is ordered and throttled within (`None`: not chat-bound).
    pub fn chat_id(&self) -> Option<i64> {
        match self {
            Action::Send(m) => Some(m.chat_id),
            Action::Edit { chat_id, .. } => Some(*chat_id),
            Action::AnswerCallback { .. } => None,
            Action::Copy(c) => Some(c.to_chat),
            Action::OpenTopic { chat_id, .. } | Action::TopicState { chat_id, .. } => {
                Some(*chat_id)
            }
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
    /// For the coordinators' group: the escalation this message belongs to. The sender puts
    /// it in the escalation's topic, or under its card, as they are when it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<i64>,
    /// What to remember about the sent message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

impl OutMessage {
    /// A message with no keyboard, reply or escalation.
    pub fn new(chat_id: i64, html: String) -> OutMessage {
        OutMessage {
            chat_id,
            thread_id: None,
            html,
            keyboard: Vec::new(),
            reply_to: None,
            escalation: None,
            record: None,
        }
    }
}

/// A message to copy from one chat to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyMessage {
    pub from_chat: i64,
    pub message_id: i32,
    pub to_chat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<i32>,
    /// A new caption (HTML) for media; `None` keeps the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

/// What the sender stores once a message is sent, by its new message id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The escalation's card in the coordinators' group.
    Card { escalation: i64 },
    /// A relayed message: `source` is the original's id in the chat it came from.
    Relay {
        escalation: i64,
        source: i32,
        to_caregiver: bool,
    },
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
