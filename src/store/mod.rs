//! The bot's durable state: the inbox of Telegram updates, the outbox of actions to perform,
//! per-chat state, feedback, and a few meta values.
//!
//! Why it exists: teloxide confirms an update before its handler finishes, so a crash would lose
//! it (see RELIABILITY.md). The bot therefore writes each update to the inbox before confirming
//! it, and a handler's outcome (the update marked done, its actions queued) is committed in one
//! transaction, so a restart answers every update exactly once. The outbox survives restarts and
//! keeps each chat's actions in order while the sender throttles and retries.
//!
//! Privacy: message text is health information. A handled update's body is erased at once,
//! [`Store::forget_chat`] deletes everything about a chat and truncates the write-ahead log so the
//! text is gone from the files on disk, and [`Store::purge_older_than`] enforces retention.
//!
//! The interface is the [`Store`] trait, deliberately narrow and synchronous, so a PostgreSQL
//! implementation shared by several instances can follow; [`SqliteStore`] is the one-file
//! implementation used today. Timestamps are unix milliseconds passed in by the caller, so tests
//! control time.

mod error;
mod schema;
mod sqlite;

pub use error::{StoreError, StoreResult};
pub use sqlite::SqliteStore;

use crate::telegram::action::Action;

/// A Telegram update to keep in the inbox until it has been handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpdate {
    /// Telegram's `update_id`.
    pub update_id: i32,
    /// The chat the update belongs to, 0 when unknown (such rows cannot be found by
    /// [`Store::forget_chat`], so give the chat whenever the update has one).
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

/// Per-chat state the handlers keep between messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatState {
    /// Consecutive messages that found no passage (to offer a coordinator sooner).
    pub no_match_streak: u32,
}

/// The bot's persistent state. Methods are synchronous and short (one transaction each); callers
/// in async code run them directly or via `spawn_blocking` as they see fit.
///
/// Every method that changes several rows does so atomically: after a crash either all of its
/// effect is there or none.
pub trait Store: Send + Sync {
    // ---- Inbox ----

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

    /// Records that an update was handled, in one transaction: marks it done, erases its body,
    /// and appends `actions` to the outbox in order.
    ///
    /// Completing an update that is already done changes nothing and queues nothing, so a
    /// redelivered update is never answered twice. Completing an update that has no row (never
    /// enqueued, or deleted by [`Store::forget_chat`] while it was being handled, as `/forget`
    /// does to itself) records it as done and queues the actions.
    fn complete_update(&self, update_id: i32, actions: &[Action], now: i64) -> StoreResult<()>;

    /// Whether the update has been handled.
    fn is_update_done(&self, update_id: i32) -> StoreResult<bool>;

    // ---- Outbox ----

    /// The oldest queued actions, in queue order (lowest id first), at most `limit`, whether or
    /// not their `not_before` has come; the sender keeps each chat's order by not skipping past
    /// a chat's waiting action. An action stored by an incompatible version that no longer
    /// decodes is dropped with a warning (it could never be performed and would block its
    /// chat), so a batch may be shorter than `limit` while more remain.
    fn outbox_batch(&self, limit: usize) -> StoreResult<Vec<OutboxItem>>;

    /// Removes a performed (or abandoned) action. An unknown id is not an error: the action may
    /// have been dropped meanwhile.
    fn outbox_done(&self, id: i64) -> StoreResult<()>;

    /// Postpones an action after a failure. An unknown id is ignored.
    fn outbox_retry(&self, id: i64, not_before: i64, attempts: u32) -> StoreResult<()>;

    /// Replaces an action in place, keeping its position (e.g. resend as plain text). Its chat
    /// becomes the new action's chat. An unknown id is ignored.
    fn outbox_replace(&self, id: i64, action: &Action) -> StoreResult<()>;

    /// Drops every queued action for a chat (the user blocked the bot). Returns how many.
    fn outbox_drop_chat(&self, chat_id: i64) -> StoreResult<u64>;

    /// How many actions are queued.
    fn outbox_len(&self) -> StoreResult<u64>;

    // ---- Chats ----

    /// Records a `/start`. The first one keeps its deep-link `source`; later ones only update
    /// the time the chat was last seen.
    fn record_chat_start(&self, chat_id: i64, source: Option<&str>, now: i64) -> StoreResult<()>;

    /// Records that the user blocked (or unblocked) the bot. `now` is used only when the chat
    /// has no row yet; blocking is not activity.
    fn set_blocked(&self, chat_id: i64, blocked: bool, now: i64) -> StoreResult<()>;

    /// Whether the chat is recorded as blocked (false for unknown chats).
    fn is_blocked(&self, chat_id: i64) -> StoreResult<bool>;

    /// The chat's state; the default for an unknown chat.
    fn chat_state(&self, chat_id: i64) -> StoreResult<ChatState>;

    /// Sets the chat's count of consecutive unmatched messages.
    fn set_no_match_streak(&self, chat_id: i64, n: u32) -> StoreResult<()>;

    /// A group became a supergroup: moves the chat's row, inbox rows, feedback and queued
    /// actions (including the chat id inside them) to the new id, in one transaction. Where the
    /// new id already has a row, the new id's values win (it is the chat's current identity).
    fn migrate_chat(&self, old_chat_id: i64, new_chat_id: i64) -> StoreResult<()>;

    // ---- Feedback ----

    /// Records a Helpful / Not helpful vote. One vote per chat and passage counts: a later vote
    /// replaces an earlier one, so repeated taps do not inflate the counts.
    fn record_feedback(
        &self,
        chat_id: i64,
        passage_id: &str,
        helpful: bool,
        now: i64,
    ) -> StoreResult<()>;

    /// `(helpful, not_helpful)` votes for a passage.
    fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)>;

    // ---- Meta ----

    /// A stored value (e.g. the content version the index was built from).
    fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Stores a value, replacing any previous one.
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;

    // ---- Privacy and upkeep ----

    /// Deletes everything about a chat (inbox rows with their bodies, queued actions for it,
    /// its row, its feedback) and makes sure the text is gone from the files on disk, not just
    /// unreachable. Actions queued for *other* chats (e.g. an escalation card in the
    /// coordinators' group) are not touched.
    fn forget_chat(&self, chat_id: i64) -> StoreResult<()>;

    /// Retention: deletes handled inbox rows, feedback and chat rows older than `cutoff`
    /// (unix milliseconds). Pending updates, queued actions and the update offset are kept.
    /// Returns how many rows were deleted.
    fn purge_older_than(&self, cutoff: i64) -> StoreResult<u64>;

    /// Whether the database passes its own integrity check.
    fn integrity_check(&self) -> StoreResult<bool>;
}
