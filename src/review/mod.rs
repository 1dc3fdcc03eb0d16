//! The coordinators' review page: a small read-only web inbox served by `faqbot run` on its own
//! listener (`review.listen`): the requests with their transcripts, the content gaps of
//! `faqbot report`, and the outcomes over time as charts drawn on the server, each also as CSV.
//!
//! Coordinators on the allow-list sign in with a one-time link the bot sends them on `/review`
//! ([`auth`]); everyone else sees only the sign-in notice. The pages read the store as it is at
//! each request, so what `/forget` or retention erased is gone from them too. Access is logged
//! with the coordinator's id and the page, never with any text.
//!
//! It sits beside the Telegram adapter: it reads the store (and the report's data), never the
//! bot's internals.

pub mod auth;
mod csv;
mod data;
mod pages;
mod routes;
mod svg;

pub use auth::{hash_secret, is_coordinator, issue_link};
pub use routes::{router, serve, Review, CSP};

/// Everything the pages read: the store's general interface, the question log and the review
/// role, i.e. any backend of the store.
pub use crate::store::Backend as ReviewData;
