//! The Telegram adapter: a thin layer that routes updates to the core and renders its replies.
//! Updates go through a durable inbox (`inbox`), handlers turn them into actions (`handlers`),
//! and the outbox is sent within Telegram's limits (`sender`) by the one replica that leads
//! (`leader`).

pub mod api;
pub mod callback;
pub mod context;
pub mod escalation;
pub mod handlers;
pub mod inbox;
pub mod leader;
pub mod ops;
pub mod render;
pub mod review;
pub mod run;
pub mod sender;
pub mod webhook;
