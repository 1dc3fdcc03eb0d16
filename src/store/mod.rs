//! The bot's durable state: the inbox of Telegram updates, the outbox of actions to perform,
//! per-chat state, feedback, escalations to coordinators with the chats' transcripts, the
//! questions answered (for the editors' report, [`QuestionLog`]), and a few meta values.
//!
//! Why it exists: teloxide confirms an update before its handler finishes, so a crash would lose
//! it (see RELIABILITY.md). The bot therefore writes each update to the inbox before confirming
//! it, and a handler's outcome (the update marked done, its actions queued) is committed in one
//! transaction, so a restart answers every update exactly once. The outbox survives restarts and
//! keeps each chat's actions in order while the sender throttles and retries.
//!
//! Privacy: message text is health information. A handled update's body is erased at once,
//! [`Upkeep::forget_chat`] deletes everything about a chat and truncates the write-ahead log so the
//! text is gone from the files on disk, and [`Upkeep::purge_older_than`] enforces retention.
//!
//! The interface is a few role traits ([`Inbox`], [`Outbox`], [`Chats`], [`Escalations`],
//! [`Upkeep`], and [`QuestionLog`] for the editors' report), deliberately narrow and synchronous,
//! so that each backend follows one role at a time; [`Store`] is all of them. [`SqliteStore`]
//! (in `sqlite/`, a file per role) is the one-file store for one machine and for `ask`;
//! [`PgStore`] (in `postgres/`, the same files) is the store several replicas share. [`open`]
//! picks one from the settings (`store.url`), and the rest of the bot sees only the traits.
//! Timestamps are unix milliseconds passed in by the caller, so tests control time.

#[cfg(test)]
mod conformance;
pub mod copy;
mod error;
pub mod lease;
mod open;
pub mod postgres;
mod questions;
mod review;
mod schema;
mod sqlite;

pub use error::{StoreError, StoreResult};
pub use open::{open, open_url, pg_connect_settings, Backend, OpenedStore, StoreKind};
pub use postgres::PgStore;
pub use questions::{AskedQuestion, LoggedQuestion, NotHelpful, QuestionLog};
pub use review::{Relay, ReviewStore};
pub use sqlite::SqliteStore;

use crate::action::Action;

/// A Telegram update to keep in the inbox until it has been handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpdate {
    /// Telegram's `update_id`.
    pub update_id: i32,
    /// The chat the update belongs to, 0 when unknown (such rows cannot be found by
    /// [`Upkeep::forget_chat`], so give the chat whenever the update has one).
    pub chat_id: i64,
    /// The update as received (JSON); erased once the update is handled.
    pub body: String,
}

/// An update waiting to be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// Telegram's `update_id`.
    pub update_id: i32,
    /// The chat, 0 when unknown.
    pub chat_id: i64,
    /// The update as received.
    pub body: String,
    /// When it was enqueued, unix milliseconds.
    pub received_at: i64,
}

/// Where an action stands in the outbox: [`OutboxItem`] without the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxHead {
    pub id: i64,
    pub chat_id: Option<i64>,
    pub not_before: i64,
    pub attempts: u32,
}

/// An action waiting to be performed.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// Increasing in the order actions were queued; never reused, so a stale id cannot touch a
    /// newer action.
    pub id: i64,
    /// The chat the action is ordered within (`Action::chat_id`).
    pub chat_id: Option<i64>,
    /// What to do.
    pub action: Action,
    /// Do not perform before this time (unix milliseconds), e.g. after a 429.
    pub not_before: i64,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// The item of an outbox row; `None` when its action no longer decodes (written by an
/// incompatible version: it can never be performed, and left in place it would block its
/// chat's queue forever, so the caller drops the row). The decoding error's text may quote the
/// action (user text), so only its position is logged.
pub(crate) fn decode_outbox(
    head: OutboxHead,
    json: &str,
    store: &dyn std::fmt::Display,
) -> Option<OutboxItem> {
    match serde_json::from_str::<Action>(json) {
        Ok(action) => Some(OutboxItem {
            id: head.id,
            chat_id: head.chat_id,
            action,
            not_before: head.not_before,
            attempts: head.attempts,
        }),
        Err(e) => {
            tracing::warn!(
                store = %store,
                outbox_id = head.id,
                error_kind = ?e.classify(),
                line = e.line(),
                column = e.column(),
                "dropping an outbox action that cannot be decoded"
            );
            None
        }
    }
}

/// Actions as the outbox stores them: `(chat, JSON)`.
pub(crate) type EncodedActions = Vec<(Option<i64>, String)>;

/// Each completion's actions, encoded before a transaction starts so that no lock is held
/// while encoding.
pub(crate) fn encode_completions(
    updates: &[Completion<'_>],
    encode: impl Fn(&Action) -> StoreResult<String>,
) -> StoreResult<Vec<EncodedActions>> {
    updates
        .iter()
        .map(|u| {
            u.actions
                .iter()
                .map(|a| Ok((a.chat_id(), encode(a)?)))
                .collect()
        })
        .collect()
}

/// Per-chat state the handlers keep between messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatState {
    /// Consecutive messages that found no passage (to offer a coordinator sooner).
    pub no_match_streak: u32,
}

/// Why a chat was escalated to the coordinators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The caregiver asked for a person.
    Asked,
    /// The bot found no passage for the question.
    NoMatch,
    /// The caregiver marked an answer as not helpful and asked for a person.
    NotHelpful,
    /// The message had an emergency red flag.
    Emergency,
}

impl Reason {
    /// Every reason, for listings and tests.
    pub const ALL: [Reason; 4] = [
        Reason::Asked,
        Reason::NoMatch,
        Reason::NotHelpful,
        Reason::Emergency,
    ];

    /// The stable name used in the database, exports and callback data.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Asked => "asked",
            Reason::NoMatch => "no_match",
            Reason::NotHelpful => "not_helpful",
            Reason::Emergency => "emergency",
        }
    }

    /// The reason named by [`Reason::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A chat to escalate, as the bot knows it when the caregiver asks (or the bot decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalation {
    /// The caregiver's chat.
    pub chat_id: i64,
    /// The caregiver's Telegram user id.
    pub user_id: i64,
    /// The caregiver's display name, for the coordinators.
    pub name: String,
    /// The caregiver's `@username`, without the `@`, when they have one.
    pub username: Option<String>,
    /// The language the caregiver writes in (e.g. `en`).
    pub language: String,
    /// Why the chat is escalated.
    pub reason: Reason,
    /// Whether coordinators should see it first. An emergency is always urgent.
    pub urgent: bool,
}

/// An escalation as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Escalation {
    /// Shown to coordinators (`/reopen 12`); never reused.
    pub id: i64,
    /// The caregiver's chat.
    pub chat_id: i64,
    /// The caregiver's Telegram user id.
    pub user_id: i64,
    /// The caregiver's display name when escalated.
    pub name: String,
    /// The caregiver's `@username`, without the `@`.
    pub username: Option<String>,
    /// The caregiver's language.
    pub language: String,
    /// Why it was escalated (raised to [`Reason::Emergency`] if an emergency came later).
    pub reason: Reason,
    /// Whether coordinators should see it first.
    pub urgent: bool,
    /// Open until a coordinator closes it (derived from `closed_at` being unset).
    pub open: bool,
    /// When it was opened, unix milliseconds.
    pub created_at: i64,
    /// The coordinator who took it, if one did.
    pub claimed_by: Option<String>,
    /// When a coordinator's message was first relayed to the caregiver.
    pub first_reply_at: Option<i64>,
    /// When it was closed (unset while open, also after a reopen).
    pub closed_at: Option<i64>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// The forum topic in the coordinators' group, when the group has topics.
    pub thread_id: Option<i32>,
    /// The card message coordinators reply to, when the group has no topics.
    pub card_message_id: Option<i32>,
    /// Creating a topic failed (the group has no topics): use a card.
    pub topic_failed: bool,
    /// The caregiver blocked the bot while this escalation was open.
    pub caregiver_blocked: bool,
}

/// Who said something in a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The caregiver (or patient) writing to the bot.
    Caregiver,
    /// The bot's reply.
    Bot,
    /// A coordinator's message relayed to the caregiver.
    Coordinator,
    /// An event worth keeping in the record (escalated, closed, blocked), not a message.
    Note,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Caregiver, Role::Bot, Role::Coordinator, Role::Note];

    /// The stable name used in the database and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caregiver => "caregiver",
            Role::Bot => "bot",
            Role::Coordinator => "coordinator",
            Role::Note => "note",
        }
    }

    /// The role named by [`Role::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What answering one message leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRecord {
    pub chat_id: i64,
    /// Lines for the chat's transcript (none for a group).
    pub transcript: Vec<TranscriptEntry>,
    /// The chat's count of consecutive unmatched messages, this one included.
    pub no_match_streak: u32,
    /// The message as the editors' report counts it, when a caregiver typed it (not a button or
    /// a command).
    pub question: Option<AskedQuestion>,
    /// A suggestion the caregiver chose (a passage id): marked on the chat's latest question
    /// that offered it.
    pub chosen: Option<String>,
}

/// A handled update to complete ([`Inbox::complete_updates`]).
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub update_id: i32,
    /// To append to the outbox.
    pub actions: &'a [Action],
    /// What answering it left behind, written with it.
    pub answer: Option<&'a AnswerRecord>,
}

/// One line of a chat's transcript.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TranscriptEntry {
    /// When it was said, unix milliseconds.
    pub at: i64,
    /// Who said it.
    pub role: Role,
    /// What was said (plain text).
    pub text: String,
    /// The passage the bot answered with, for bot replies.
    pub passage_id: Option<String>,
}

/// Which way a message was relayed between a caregiver's chat and the coordinators' group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayDirection {
    /// The caregiver wrote; the group message is the bot's copy.
    ToCoordinators,
    /// A coordinator wrote in the group; the caregiver's message is the bot's copy.
    ToCaregiver,
}

impl RelayDirection {
    /// The stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayDirection::ToCoordinators => "to_coordinators",
            RelayDirection::ToCaregiver => "to_caregiver",
        }
    }

    /// The direction named by [`RelayDirection::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<RelayDirection> {
        [RelayDirection::ToCoordinators, RelayDirection::ToCaregiver]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

// The store is split by role, so that each part can be read (and written again for another
// database) on its own. `Store` is all of them, for the bot that needs every role.

/// The durable inbox of Telegram updates: written before Telegram is told an update arrived,
/// completed (with the actions it led to) in one transaction.
pub trait Inbox: Send + Sync {
    /// Stores the updates not seen before (neither pending nor done), in one transaction, and
    /// remembers the highest `update_id` among all of them. Returns how many were new.
    fn enqueue_updates(&self, items: &[NewUpdate], now: i64) -> StoreResult<usize>;

    /// The offset for the next `getUpdates`: the highest `update_id` ever enqueued or completed,
    /// plus one (0 when none). Kept apart from the rows, so it survives forgetting and retention.
    fn next_update_offset(&self) -> StoreResult<i32>;

    /// Updates not yet handled, lowest `update_id` first, at most `limit`.
    fn pending_updates(&self, limit: usize) -> StoreResult<Vec<InboxItem>>;

    /// How many updates are waiting to be handled.
    fn pending_count(&self) -> StoreResult<u64>;

    /// Records that updates were handled, in one transaction (all or none), in the order given:
    /// each is marked done, its body erased, its actions appended to the outbox in order, and
    /// what answering it left behind written ([`Chats::record_answer`]). One commit for a round
    /// of updates handled side by side.
    ///
    /// Completing an update that is already done changes nothing and queues nothing, so a
    /// redelivered update is never answered twice. Completing an update that has no row (never
    /// enqueued, or deleted by [`Upkeep::forget_chat`] while it was being handled, as `/forget`
    /// does to itself) records it as done and queues the actions.
    fn complete_updates(&self, updates: &[Completion<'_>], now: i64) -> StoreResult<()>;
}

/// The outbox: actions waiting to be performed, in order per chat, with their retry times.
pub trait Outbox: Send + Sync {
    /// The queued actions after `after_id`, in queue order (lowest id first), at most `limit`,
    /// whether or not their `not_before` has come, without the actions themselves: what the
    /// sender needs to choose what to perform next (it keeps each chat's order by not skipping
    /// past a chat's waiting action), without decoding what must wait.
    fn outbox_heads(&self, after_id: i64, limit: usize) -> StoreResult<Vec<OutboxHead>>;

    /// One queued action; `None` when it is gone (performed, dropped or erased meanwhile) or
    /// no longer decodes. An action stored by an incompatible version can never be performed
    /// and would block its chat, so it is dropped with a warning.
    fn outbox_item(&self, id: i64) -> StoreResult<Option<OutboxItem>>;

    /// Removes performed (or abandoned) actions, in one transaction. An unknown id is not an
    /// error: the action may have been dropped meanwhile.
    fn outbox_done(&self, ids: &[i64]) -> StoreResult<()>;

    /// Postpones an action after a failure. An unknown id is ignored.
    fn outbox_retry(&self, id: i64, not_before: i64, attempts: u32) -> StoreResult<()>;

    /// Replaces an action in place, keeping its position (e.g. resend as plain text). Its chat
    /// becomes the new action's chat. An unknown id is ignored.
    fn outbox_replace(&self, id: i64, action: &Action) -> StoreResult<()>;

    /// Drops every queued action for a chat (the user blocked the bot). Returns how many.
    fn outbox_drop_chat(&self, chat_id: i64) -> StoreResult<u64>;

    /// How many actions are queued.
    fn outbox_len(&self) -> StoreResult<u64>;

    /// Appends actions to the outbox outside the handling of an update (a notice the sender
    /// itself decides on, such as "the caregiver blocked the bot"), in one transaction.
    fn enqueue_actions(&self, actions: &[Action], now: i64) -> StoreResult<()>;
}

/// Per-chat state: `/start`, blocks, the no-match streak, answers with their transcript lines,
/// Helpful / Not helpful votes, and a group's move to a supergroup.
pub trait Chats: Send + Sync {
    /// Records a `/start`. The first one keeps its deep-link `source`; later ones only update
    /// the time the chat was last seen.
    fn record_chat_start(&self, chat_id: i64, source: Option<&str>, now: i64) -> StoreResult<()>;

    /// Records that the user blocked (or unblocked) the bot. `now` is used only when the chat
    /// has no row yet; blocking is not activity.
    fn set_blocked(&self, chat_id: i64, blocked: bool, now: i64) -> StoreResult<()>;

    /// The chat's state; the default for an unknown chat.
    fn chat_state(&self, chat_id: i64) -> StoreResult<ChatState>;

    /// What answering one message leaves behind, in one transaction: lines appended to the
    /// chat's transcript, the question logged (or a suggestion marked chosen) for the editors'
    /// report ([`QuestionLog`]), and the chat's no-match streak.
    fn record_answer(&self, answer: &AnswerRecord) -> StoreResult<()>;

    /// A group became a supergroup: moves the chat's row, inbox rows, feedback, transcript,
    /// escalations and queued actions (including the chat id inside them) to the new id, in one
    /// transaction. Where the new id already has a row, the new id's values win (it is the
    /// chat's current identity); in particular, if the new id already has an open escalation,
    /// the old id's open one stays where it is (still reachable by id, topic and card) rather
    /// than make two open escalations for one chat.
    fn migrate_chat(&self, old_chat_id: i64, new_chat_id: i64) -> StoreResult<()>;

    /// Records a Helpful / Not helpful vote. One vote per chat and passage counts: a later vote
    /// replaces an earlier one, so repeated taps do not inflate the counts.
    fn record_feedback(
        &self,
        chat_id: i64,
        passage_id: &str,
        helpful: bool,
        now: i64,
    ) -> StoreResult<()>;

    /// Appends a line to the chat's transcript.
    fn add_transcript(&self, chat_id: i64, entry: &TranscriptEntry) -> StoreResult<()>;

    /// The chat's most recent `limit` transcript lines, oldest first (by time, then by the
    /// order they were added).
    fn transcript(&self, chat_id: i64, limit: usize) -> StoreResult<Vec<TranscriptEntry>>;
}

/// Escalations to the coordinators and the map of messages relayed between the caregiver's chat
/// and the coordinators' group.
pub trait Escalations: Send + Sync {
    /// Escalates a chat. If the chat already has an open escalation, returns it with `false`,
    /// raised to urgent when the new request is urgent (and to [`Reason::Emergency`] when that
    /// is its reason); otherwise creates one and returns it with `true`. An emergency is always
    /// stored as urgent. A chat never has more than one open escalation.
    fn open_escalation(&self, e: &NewEscalation, now: i64) -> StoreResult<(Escalation, bool)>;

    /// The escalation with this id.
    fn escalation(&self, id: i64) -> StoreResult<Option<Escalation>>;

    /// The chat's open escalation, if any.
    fn open_escalation_for_chat(&self, chat_id: i64) -> StoreResult<Option<Escalation>>;

    /// The most recent escalation with this forum topic in the coordinators' group.
    fn escalation_by_thread(&self, thread_id: i32) -> StoreResult<Option<Escalation>>;

    /// The most recent escalation with this card message in the coordinators' group.
    fn escalation_by_card(&self, card_message_id: i32) -> StoreResult<Option<Escalation>>;

    /// Records the escalation's forum topic, or (`topic_failed`) that the group has none. An
    /// unknown id is ignored.
    fn set_escalation_topic(
        &self,
        id: i64,
        thread_id: Option<i32>,
        topic_failed: bool,
    ) -> StoreResult<()>;

    /// Records the escalation's card message. An unknown id is ignored.
    fn set_escalation_card(&self, id: i64, message_id: i32) -> StoreResult<()>;

    /// A coordinator takes the escalation (replacing an earlier claim). False when it is
    /// closed or unknown.
    fn claim_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool>;

    /// A coordinator's message was relayed to the caregiver: sets the first reply time, only
    /// the first time. An unknown id is ignored.
    fn record_coordinator_reply(&self, id: i64, now: i64) -> StoreResult<()>;

    /// Closes the escalation. True if it was open (false when already closed or unknown).
    fn close_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool>;

    /// Reopens a closed escalation, clearing who closed it and when. False when it is already
    /// open, unknown, or its chat has another open escalation.
    fn reopen_escalation(&self, id: i64, now: i64) -> StoreResult<bool>;

    /// The caregiver blocked the bot: marks the chat's open escalation and returns it (`None`
    /// when the chat has none).
    fn mark_caregiver_blocked(&self, chat_id: i64) -> StoreResult<Option<Escalation>>;

    /// Escalations, newest first: all, only open (`Some(true)`) or only closed (`Some(false)`).
    fn list_escalations(&self, open: Option<bool>) -> StoreResult<Vec<Escalation>>;

    /// Remembers that `group_message_id` in the coordinators' group and
    /// `caregiver_message_id` in the escalation's chat are the same message relayed in
    /// `direction`. Mapping a message again (a correction) adds a mapping; lookups return the
    /// latest. An unknown escalation (forgotten meanwhile) is ignored.
    fn map_relay(
        &self,
        escalation_id: i64,
        group_message_id: i32,
        caregiver_message_id: i32,
        direction: RelayDirection,
    ) -> StoreResult<()>;

    /// The relay of a message in the coordinators' group: `(escalation id, caregiver's message
    /// id, direction)`.
    fn relay_by_group_message(
        &self,
        group_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>>;

    /// The relay of a message in a caregiver's chat: `(escalation id, group message id,
    /// direction)`.
    fn relay_by_caregiver_message(
        &self,
        chat_id: i64,
        caregiver_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>>;
}

/// Privacy and upkeep across every role: forgetting a chat, retention, and small stored values.
pub trait Upkeep: Send + Sync {
    /// Stores a value, replacing any previous one.
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Deletes everything about a chat (inbox rows with their bodies, queued actions for it,
    /// its row, its feedback, its transcript, its questions, its escalations, open or closed,
    /// with their relayed-message map) and makes sure the text is gone from the files on disk, not just
    /// unreachable. Actions queued for *other* chats (e.g. an escalation card in the
    /// coordinators' group) are not touched. Close and announce an open escalation first: after
    /// this, nothing links its topic or card to the chat.
    fn forget_chat(&self, chat_id: i64) -> StoreResult<()>;

    /// Retention: deletes handled inbox rows, feedback, chat rows and transcript lines older
    /// than `cutoff` (unix milliseconds), and escalations closed before it with their relayed-
    /// message map; erases the text and chat of older questions (their outcome, passages and
    /// time stay, for counts). Pending updates, queued actions, open escalations and the update
    /// offset are kept. Returns how many rows were deleted or erased.
    fn purge_older_than(&self, cutoff: i64) -> StoreResult<u64>;
}

/// The bot's persistent state: every role. Methods are synchronous and short (one transaction
/// each); callers in async code run them directly or via `spawn_blocking` as they see fit.
///
/// Every method that changes several rows does so atomically: after a crash either all of its
/// effect is there or none.
pub trait Store: Inbox + Outbox + Chats + Escalations + Upkeep {}

impl<T: Inbox + Outbox + Chats + Escalations + Upkeep> Store for T {}
