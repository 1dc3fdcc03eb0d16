//! faqbot: answers caregivers' questions from a coordination service's guides, and hands the
//! conversation to a human coordinator when a person is needed.
//!
//! The core ([`core::Engine`]) turns a message into a [`core::Reply`] using the search index
//! ([`search`]) built from the content ([`content`]); the command line ([`cli`]) and the
//! Telegram bot are thin layers over it.

pub mod action;
pub mod cli;
pub mod clock;
pub mod content;
pub mod core;
pub mod csv;
pub mod metrics;
pub mod report;
pub mod review;
pub mod search;
pub mod settings;
pub mod store;
pub mod telegram;
pub mod text;
