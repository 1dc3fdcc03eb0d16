//! `/review`: a coordinator asks for a sign-in link to the review page. The link is sent in a
//! private message to them (a link posted in the group would let anyone there use it); in the
//! group the bot only says that it was sent. Anyone not on the allow-list is told the page is
//! for coordinators, and gets no link.

use teloxide::types::{ChatKind, Message};

use super::context::{Ctx, Out};
use super::render;
use crate::action::Action;

/// Answers `/review` in any chat.
pub fn on_review(ctx: &Ctx, msg: &Message) -> Out {
    let t = &ctx.settings.reply;
    let thread = msg
        .thread_id
        .filter(|_| msg.is_topic_message)
        .map(|t| t.0 .0);
    let here = |text: &str| {
        Action::Send(render::plain_message(
            msg.chat.id.0,
            thread,
            text,
            Vec::new(),
        ))
    };
    let Some(store) = ctx.review.as_ref() else {
        return Ok(vec![here(&t.review_off)]);
    };
    let Some(user) = msg.from.as_ref().and_then(|u| i64::try_from(u.id.0).ok()) else {
        return Ok(Vec::new());
    };
    if !crate::review::is_coordinator(&ctx.settings, user) {
        tracing::info!(user_id = user, "review link refused: not on the allow-list");
        return Ok(vec![here(&t.review_refused)]);
    }
    let url = crate::review::issue_link(store.as_ref(), &ctx.settings, user, ctx.clock.now_ms())?;
    tracing::info!(coordinator = user, "review link issued");
    let text = t
        .review_link
        .replace("{minutes}", &ctx.settings.review.link_minutes.to_string())
        .replace("{url}", &url);
    // a private chat's id is the user's id
    let mut actions = vec![Action::Send(render::plain_message(
        user,
        None,
        &text,
        Vec::new(),
    ))];
    if !matches!(msg.chat.kind, ChatKind::Private(_)) {
        actions.push(here(&t.review_link_sent));
    }
    Ok(actions)
}
