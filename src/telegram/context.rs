//! What the handlers and the escalation flow share: the context every handler is given, the
//! journal an update leaves for its completion, and the keyboard row both end replies with.
//! Kept apart so that `handlers` (the routing) uses `escalation` and neither imports the other
//! back.

use std::sync::{Arc, Mutex, PoisonError};

use super::render;
use crate::action::{Action, Button};
use crate::core::SharedEngine;
use crate::settings::Settings;
use crate::store::{AnswerRecord, Store};

/// What every handler may use.
#[derive(Clone)]
pub struct Ctx {
    pub engine: SharedEngine,
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The wall clock everything handling an update reads.
    pub clock: crate::clock::Clock,
    /// The review page's sign-in links, when `review.listen` is set.
    pub review: Option<Arc<dyn crate::store::ReviewStore>>,
    /// What the update being handled leaves for its completion to write; each update is
    /// handled with a fresh one.
    pub journal: Journal,
}

/// What handling an update leaves behind besides its actions, written in the transaction that
/// completes it ([`crate::store::Completion`]): so it is neither lost nor written twice when
/// the bot stops half-way, and costs no transaction of its own.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Option<AnswerRecord>>>);

impl Journal {
    pub(super) fn set(&self, answer: AnswerRecord) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
    }

    /// The answer recorded while handling, if any.
    pub fn take(&self) -> Option<AnswerRecord> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// What a handler produces.
pub type Out = anyhow::Result<Vec<Action>>;

/// The last keyboard row: the handoff link and the in-bot request for a coordinator.
pub fn handoff_row(ctx: &Ctx) -> Vec<Button> {
    let h = &ctx.settings.handoff;
    render::handoff_row(&h.label, &h.url, &ctx.settings.reply.button_coordinator)
}
