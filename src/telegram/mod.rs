//! The Telegram adapter: a thin layer that routes updates to the core and renders its replies.

pub mod action;
pub mod render;

pub use action::{Action, Button, ButtonTarget, OutMessage};
