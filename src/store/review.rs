//! What the coordinators' review page keeps: one-time sign-in links and browser sessions, and
//! the one read the rest of the store does not offer (the relayed messages of an escalation).
//!
//! Links and sessions are stored as hashes of the secrets (the caller hashes; the store never
//! sees a secret), so a copy of the database file signs nobody in. A link is deleted when it is
//! redeemed, so it works once; expired rows are swept whenever a new one is written.

use super::{RelayDirection, StoreResult};

/// A message relayed within an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relay {
    /// The message in the coordinators' group.
    pub group_message_id: i32,
    /// The message in the caregiver's chat.
    pub caregiver_message_id: i32,
    pub direction: RelayDirection,
}

/// The review page's storage role.
pub trait ReviewStore: Send + Sync {
    /// Stores a sign-in link for `user_id` (by the hash of its secret) valid until
    /// `expires_at`; links and sessions expired at `now` are deleted on the way.
    fn create_review_link(
        &self,
        hash: &str,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()>;

    /// Redeems a link: deletes it and returns its user when it was still valid at `now`. A
    /// second redemption of the same link finds nothing.
    fn redeem_review_link(&self, hash: &str, now: i64) -> StoreResult<Option<i64>>;

    /// Stores a session for `user_id` (by the hash of its secret) valid until `expires_at`.
    fn create_review_session(
        &self,
        hash: &str,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()>;

    /// The user of a session still valid at `now`.
    fn review_session(&self, hash: &str, now: i64) -> StoreResult<Option<i64>>;

    /// Ends one session (signing out). Unknown hashes are ignored.
    fn end_review_session(&self, hash: &str) -> StoreResult<()>;

    /// Ends every session and link of users not in `allowed` (someone removed from the
    /// coordinators' allow-list). Returns how many sessions ended.
    fn end_review_sessions_except(&self, allowed: &[i64]) -> StoreResult<u64>;

    /// The messages relayed within an escalation, in the order they were relayed.
    fn relays_of(&self, escalation_id: i64) -> StoreResult<Vec<Relay>>;
}
