//! Coordinator escalation: a caregiver's chat handed to a person in the coordinators' group
//! (one forum topic per escalation, or a card coordinators reply to), messages relayed both
//! ways, and the conversation closed when done. State lives in the store, and every message goes
//! through the outbox, so a restart loses no escalation and no relayed message.

use teloxide::types::{Message, MessageKind, User};
use teloxide::utils::command::BotCommands;

use super::callback::{Ask, Callback};
use super::context::{handoff_row, Ctx, Out};
use super::render::{self, Block, MessageBuilder};
use crate::action::{Action, Button, CopyMessage, OutMessage, Record};
use crate::core::Alarm;
use crate::store::{Escalation, NewEscalation, Reason, Role, TranscriptEntry};
use crate::text::{format_age, format_utc};

/// Commands coordinators use in their group.
#[derive(BotCommands, Clone, Debug, PartialEq)]
#[command(rename_rule = "lowercase")]
pub enum GroupCommand {
    #[command(description = "close this request and tell the caregiver")]
    Close,
    #[command(description = "list open requests")]
    Open,
    #[command(description = "reopen this request")]
    Reopen,
    #[command(description = "a sign-in link to the review page, sent to you privately")]
    Review,
}

pub fn reason_of(ask: Ask) -> Reason {
    match ask {
        Ask::Asked => Reason::Asked,
        Ask::NoMatch => Reason::NoMatch,
        Ask::NotHelpful => Reason::NotHelpful,
    }
}

fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::Asked => "asked for a coordinator",
        Reason::NoMatch => "the bot found no answer twice",
        Reason::NotHelpful => "an answer was not helpful",
        Reason::Emergency => "emergency",
    }
}

/// Whether escalation is set up at all (a coordinators' group is configured).
pub fn enabled(ctx: &Ctx) -> bool {
    ctx.settings.coordinators.chat_id != 0
}

fn send(chat: i64, thread: Option<i32>, text: &str, keyboard: Vec<Vec<Button>>) -> Action {
    Action::Send(render::plain_message(chat, thread, text, keyboard))
}

/// A message to the coordinators about escalation `id` (in its topic, or under its card).
fn to_group(ctx: &Ctx, id: i64, text: &str) -> Action {
    let mut m = render::plain_message(ctx.settings.coordinators.chat_id, None, text, Vec::new());
    m.escalation = Some(id);
    Action::Send(m)
}

/// The question before anyone is paged: a mis-tap must not reach a coordinator.
pub fn confirm(ctx: &Ctx, chat: i64, thread: Option<i32>, ask: Ask) -> Vec<Action> {
    let t = &ctx.settings.reply;
    if !enabled(ctx) {
        return vec![send(chat, thread, &t.human, vec![handoff_row(ctx)])];
    }
    if let Ok(Some(_)) = ctx.store.open_escalation_for_chat(chat) {
        return vec![send(chat, thread, &t.escalation_exists, Vec::new())];
    }
    let keyboard = vec![vec![
        Button::callback(
            &t.button_yes_coordinator,
            Callback::HumanConfirm(ask).encode(),
        ),
        Button::callback(&t.button_cancel, Callback::HumanCancel.encode()),
    ]];
    vec![send(chat, thread, &t.escalation_confirm, keyboard)]
}

fn display_name(user: &User) -> String {
    let name = user.full_name();
    if name.trim().is_empty() {
        format!("user {}", user.id.0)
    } else {
        name
    }
}

/// Opens the escalation for `chat` (or finds the open one) and tells both sides. For an
/// emergency the caregiver has already had the emergency notice, so only the group is told,
/// with what the emergency check found (`alarm`) and the language of the message.
pub fn open(
    ctx: &Ctx,
    user: &User,
    chat: i64,
    reason: Reason,
    alarm: Option<&Alarm>,
) -> anyhow::Result<Vec<Action>> {
    let t = &ctx.settings.reply;
    let group = ctx.settings.coordinators.chat_id;
    let urgent = reason == Reason::Emergency;
    if !enabled(ctx) {
        return Ok(if urgent {
            Vec::new()
        } else {
            vec![send(chat, None, &t.human, vec![handoff_row(ctx)])]
        });
    }
    let before = ctx.store.open_escalation_for_chat(chat)?;
    let new = NewEscalation {
        chat_id: chat,
        user_id: i64::try_from(user.id.0).unwrap_or(i64::MAX),
        name: display_name(user),
        username: user.username.clone(),
        // the language the caregiver wrote in, or else the one their Telegram is set to
        language: alarm
            .map(|a| a.language.to_string())
            .or_else(|| user.language_code.clone())
            .unwrap_or_else(|| "en".to_string()),
        reason,
        urgent,
    };
    let (escalation, created) = ctx.store.open_escalation(&new, ctx.clock.now_ms())?;
    let mut actions = Vec::new();
    if created {
        tracing::info!(
            escalation = escalation.id,
            reason = reason.as_str(),
            urgent,
            "escalation opened"
        );
        actions.push(Action::OpenTopic {
            chat_id: group,
            escalation: escalation.id,
            name: render::topic_name(&escalation),
        });
        let mut card = card(ctx, &escalation, alarm)?;
        if let Some(first) = card.first_mut() {
            first.record = Some(Record::Card {
                escalation: escalation.id,
            });
            first.escalation = Some(escalation.id);
            let buttons = vec![vec![
                Button::callback(&t.button_claim, Callback::Claim(escalation.id).encode()),
                Button::callback(&t.button_close, Callback::Close(escalation.id).encode()),
            ]];
            first.keyboard = buttons;
        }
        for (i, m) in card.iter_mut().enumerate() {
            if i > 0 {
                m.escalation = Some(escalation.id);
            }
        }
        actions.extend(card.into_iter().map(Action::Send));
        if !urgent {
            let text = t
                .escalation_created
                .replace("{office_hours}", &ctx.settings.coordinators.office_hours);
            actions.push(send(chat, None, &text, Vec::new()));
        }
    } else {
        if urgent && before.is_some_and(|b| !b.urgent) {
            actions.push(to_group(ctx, escalation.id, &urgent_notice(ctx, alarm)));
        }
        if !urgent {
            actions.push(send(chat, None, &t.escalation_exists, Vec::new()));
        }
    }
    Ok(actions)
}

/// What coordinators are told when a caregiver's message in an escalated chat looks like an
/// emergency.
fn urgent_notice(ctx: &Ctx, alarm: Option<&Alarm>) -> String {
    ctx.settings
        .reply
        .group_emergency
        .replace("{category}", &category(alarm))
}

/// The emergency check's category as coordinators read it, with the message's language.
fn category(alarm: Option<&Alarm>) -> String {
    alarm.map_or_else(
        || "possible emergency".to_string(),
        |a| format!("{} (written in {})", a.label, a.language),
    )
}

/// The card: who, why, when, and the recent conversation.
fn card(ctx: &Ctx, e: &Escalation, alarm: Option<&Alarm>) -> anyhow::Result<Vec<OutMessage>> {
    let t = &ctx.settings.reply;
    let group = ctx.settings.coordinators.chat_id;
    let mut b = MessageBuilder::new(group, None);
    if e.urgent {
        b = b.block(Block::new().bold(&t.group_urgent.replace("{category}", &category(alarm))));
    }
    b = b.block(Block::new().bold(&t.group_new.replace("{id}", &e.id.to_string())));
    let mut who = e.name.clone();
    if let Some(u) = &e.username {
        who.push_str(&format!(" (@{u})"));
    }
    who.push_str(&format!(", language {}", e.language));
    b = b.block(Block::new().bold("Who: ").text(&who));
    b = b.block(Block::new().bold("Why: ").text(reason_text(e.reason)));
    b = b.block(Block::new().bold("When: ").text(&format_utc(e.created_at)));
    let transcript = ctx
        .store
        .transcript(e.chat_id, ctx.settings.coordinators.transcript_lines)?;
    if !transcript.is_empty() {
        b = b.block(Block::new().bold("Recent conversation:"));
        for entry in transcript {
            let who = match entry.role {
                Role::Caregiver => "Caregiver: ",
                Role::Bot => "Bot: ",
                Role::Coordinator => "Coordinator: ",
                Role::Note => "",
            };
            b = b.block(Block::new().italic(who).text(&entry.text));
        }
    }
    Ok(b.tail(Block::new().italic(&t.group_help)).build())
}

/// A transcript line for the card, said at `at` (unix milliseconds).
pub fn entry(at: i64, role: Role, text: &str, passage: Option<&str>) -> TranscriptEntry {
    TranscriptEntry {
        at,
        role,
        text: text.chars().take(1000).collect(),
        passage_id: passage.map(str::to_string),
    }
}

fn note(ctx: &Ctx, chat: i64, role: Role, text: &str, passage: Option<&str>) {
    if let Err(e) = ctx
        .store
        .add_transcript(chat, &entry(ctx.clock.now_ms(), role, text, passage))
    {
        tracing::warn!(error = %e, "cannot record the transcript");
    }
}

/// What a message is, for the transcript when it is not text.
fn describe(msg: &Message) -> String {
    if let Some(text) = msg.text() {
        return text.to_string();
    }
    let kind = if msg.photo().is_some() {
        "photo"
    } else if msg.voice().is_some() {
        "voice message"
    } else if msg.document().is_some() {
        "document"
    } else if msg.sticker().is_some() {
        "sticker"
    } else if msg.video().is_some() {
        "video"
    } else if msg.location().is_some() {
        "location"
    } else {
        "message"
    };
    match msg.caption() {
        Some(c) => format!("[{kind}] {c}"),
        None => format!("[{kind}]"),
    }
}

/// A caregiver's message while a coordinator has the conversation: the emergency check still
/// runs; the message goes to the coordinators (edits as corrections).
pub fn from_caregiver(ctx: &Ctx, msg: &Message, e: &Escalation) -> anyhow::Result<Vec<Action>> {
    let t = &ctx.settings.reply;
    let chat = msg.chat.id.0;
    let group = ctx.settings.coordinators.chat_id;
    let mut actions = Vec::new();
    if let Some(reply) = msg.text().and_then(|text| ctx.engine.get().emergency(text)) {
        let labels = render::Labels::from_texts(t);
        actions.extend(
            render::render_reply_with(&reply, chat, None, &labels)
                .into_iter()
                .map(Action::Send),
        );
        let (_, _) = ctx.store.open_escalation(
            &NewEscalation {
                chat_id: chat,
                user_id: e.user_id,
                name: e.name.clone(),
                username: e.username.clone(),
                language: e.language.clone(),
                reason: Reason::Emergency,
                urgent: true,
            },
            ctx.clock.now_ms(),
        )?;
        actions.push(to_group(
            ctx,
            e.id,
            &urgent_notice(ctx, reply.alarm.as_ref()),
        ));
    }
    let text = describe(msg);
    note(ctx, chat, Role::Caregiver, &text, None);
    if msg.edit_date().is_some() {
        let original = ctx.store.relay_by_caregiver_message(chat, msg.id.0)?;
        let mut m = render::plain_message(
            group,
            None,
            &format!("{}: {text}", t.group_edited),
            Vec::new(),
        );
        m.escalation = Some(e.id);
        m.reply_to = original.map(|(_, group_message, _)| group_message);
        actions.push(Action::Send(m));
        return Ok(actions);
    }
    actions.push(Action::Copy(CopyMessage {
        from_chat: chat,
        message_id: msg.id.0,
        to_chat: group,
        thread_id: None,
        caption: None,
        reply_to: None,
        escalation: Some(e.id),
        record: Some(Record::Relay {
            escalation: e.id,
            source: msg.id.0,
            to_caregiver: false,
        }),
    }));
    Ok(actions)
}

/// Whether a message in the coordinators' group may act on escalations.
pub fn allowed(ctx: &Ctx, msg_from: Option<&User>) -> bool {
    let list = &ctx.settings.coordinators.allowed_user_ids;
    list.is_empty() || msg_from.is_some_and(|u| list.contains(&u.id.0))
}

/// The escalation a group message is about: its topic, or the card or relayed message it
/// replies to.
fn escalation_of(ctx: &Ctx, msg: &Message) -> anyhow::Result<Option<Escalation>> {
    if let Some(thread) = msg.thread_id.filter(|_| msg.is_topic_message) {
        if let Some(e) = ctx.store.escalation_by_thread(thread.0 .0)? {
            return Ok(Some(e));
        }
    }
    let Some(replied) = msg.reply_to_message() else {
        return Ok(None);
    };
    if let Some(e) = ctx.store.escalation_by_card(replied.id.0)? {
        return Ok(Some(e));
    }
    match ctx.store.relay_by_group_message(replied.id.0)? {
        Some((id, _, _)) => Ok(ctx.store.escalation(id)?),
        None => Ok(None),
    }
}

fn coordinator_label(ctx: &Ctx, from: Option<&User>) -> String {
    let t = &ctx.settings.reply;
    match from.filter(|_| ctx.settings.coordinators.show_names) {
        Some(u) => t.coordinator_label.replace("{name}", &u.first_name),
        None => t.coordinator_label_anonymous.clone(),
    }
}

fn group_reply(msg: &Message, text: &str) -> Action {
    let mut m = render::plain_message(
        msg.chat.id.0,
        msg.thread_id
            .filter(|_| msg.is_topic_message)
            .map(|t| t.0 .0),
        text,
        Vec::new(),
    );
    m.reply_to = Some(msg.id.0);
    Action::Send(m)
}

/// A coordinator's message in the group: relayed to the caregiver of its escalation.
pub fn from_coordinator(ctx: &Ctx, msg: &Message) -> Out {
    let t = &ctx.settings.reply;
    let MessageKind::Common(_) = msg.kind else {
        // topics created or closed, members joining: nothing to relay
        return Ok(Vec::new());
    };
    // an edit is found by the message it edits: that one was relayed
    let relayed = match msg.edit_date() {
        Some(_) => ctx.store.relay_by_group_message(msg.id.0)?,
        None => None,
    };
    let e = match relayed {
        Some((id, _, _)) => ctx.store.escalation(id)?,
        None if msg.edit_date().is_some() => None,
        None => escalation_of(ctx, msg)?,
    };
    let Some(e) = e else {
        // coordinators talking among themselves
        return Ok(Vec::new());
    };
    if !e.open {
        // a closed request's topic is closed too, and takes no messages: say it outside
        let text = t.group_is_closed.replace("{id}", &e.id.to_string());
        return Ok(vec![send(msg.chat.id.0, None, &text, Vec::new())]);
    }
    if e.caregiver_blocked {
        return Ok(vec![group_reply(
            msg,
            &t.group_blocked.replace("{id}", &e.id.to_string()),
        )]);
    }
    let from = msg.from.as_ref();
    let label = coordinator_label(ctx, from);
    let text = describe(msg);
    note(ctx, e.chat_id, Role::Coordinator, &text, None);
    ctx.store
        .record_coordinator_reply(e.id, ctx.clock.now_ms())?;
    if msg.edit_date().is_some() {
        let mut m = render::plain_message(
            e.chat_id,
            None,
            &format!("{} ({label}): {text}", t.correction),
            Vec::new(),
        );
        m.reply_to = relayed.map(|(_, caregiver_message, _)| caregiver_message);
        return Ok(vec![Action::Send(m)]);
    }
    let record = Some(Record::Relay {
        escalation: e.id,
        source: msg.id.0,
        to_caregiver: true,
    });
    if let Some(body) = msg.text() {
        let mut built = MessageBuilder::new(e.chat_id, None)
            .block(Block::new().bold(&format!("{label}:")))
            .blocks(render::paragraphs(body, render::Style::Plain))
            .build();
        if let Some(first) = built.first_mut() {
            first.record = record;
        }
        return Ok(built.into_iter().map(Action::Send).collect());
    }
    let caption = render::labelled_caption(&label, msg.caption());
    // stickers and some media take no caption: the label goes first as a message
    let captionable = msg.photo().is_some()
        || msg.document().is_some()
        || msg.voice().is_some()
        || msg.video().is_some()
        || msg.audio().is_some()
        || msg.animation().is_some();
    let mut actions = Vec::new();
    if !captionable {
        actions.push(send(e.chat_id, None, &format!("{label}:"), Vec::new()));
    }
    actions.push(Action::Copy(CopyMessage {
        from_chat: msg.chat.id.0,
        message_id: msg.id.0,
        to_chat: e.chat_id,
        thread_id: None,
        caption: captionable.then_some(caption),
        reply_to: None,
        escalation: None,
        record,
    }));
    Ok(actions)
}

/// `/close`, `/open`, `/reopen` in the coordinators' group.
pub fn on_group_command(ctx: &Ctx, msg: &Message, cmd: GroupCommand) -> Out {
    let t = &ctx.settings.reply;
    let by = msg
        .from
        .as_ref()
        .map_or_else(|| "a coordinator".to_string(), display_name);
    match cmd {
        GroupCommand::Review => super::review::on_review(ctx, msg),
        GroupCommand::Open => {
            let open = ctx.store.list_escalations(Some(true))?;
            if open.is_empty() {
                return Ok(vec![group_reply(msg, &t.group_none_open)]);
            }
            let now = ctx.clock.now_ms();
            let mut b = MessageBuilder::new(
                msg.chat.id.0,
                msg.thread_id
                    .filter(|_| msg.is_topic_message)
                    .map(|t| t.0 .0),
            )
            .block(Block::new().bold(&t.group_open_list));
            for e in &open {
                let mut line = format!(
                    "#{} {} · {} · open {}",
                    e.id,
                    e.name,
                    reason_text(e.reason),
                    format_age(now - e.created_at)
                );
                if e.urgent {
                    line.push_str(" · URGENT");
                }
                if let Some(c) = &e.claimed_by {
                    line.push_str(&format!(" · claimed by {c}"));
                }
                b = b.block(Block::new().text(&line));
            }
            Ok(b.build().into_iter().map(Action::Send).collect())
        }
        GroupCommand::Close | GroupCommand::Reopen => {
            let Some(e) = escalation_of(ctx, msg)? else {
                return Ok(vec![group_reply(msg, &t.group_not_found)]);
            };
            if cmd == GroupCommand::Close {
                Ok(close(ctx, &e, &by, CloseKind::ByCoordinator)?)
            } else {
                reopen(ctx, &e, &by)
            }
        }
    }
}

/// Why an escalation is being closed: the caregiver is told differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    ByCoordinator,
    Withdrawn,
    Erased,
}

/// Closes `e`, tells the coordinators (then closes its topic) and the caregiver.
pub fn close(ctx: &Ctx, e: &Escalation, by: &str, kind: CloseKind) -> anyhow::Result<Vec<Action>> {
    let t = &ctx.settings.reply;
    if !ctx.store.close_escalation(e.id, by, ctx.clock.now_ms())? {
        return Ok(Vec::new());
    }
    tracing::info!(escalation = e.id, kind = ?kind, "escalation closed");
    let group_text = match kind {
        CloseKind::ByCoordinator => t.group_closed.replace("{name}", by),
        CloseKind::Withdrawn => t.group_withdrawn.clone(),
        CloseKind::Erased => t.group_erased.clone(),
    };
    let mut actions = vec![
        to_group(ctx, e.id, &group_text),
        Action::TopicState {
            chat_id: ctx.settings.coordinators.chat_id,
            escalation: e.id,
            open: false,
        },
    ];
    match kind {
        CloseKind::ByCoordinator if !e.caregiver_blocked => {
            actions.push(send(e.chat_id, None, &t.escalation_closed, Vec::new()))
        }
        CloseKind::Withdrawn => {
            actions.push(send(e.chat_id, None, &t.escalation_cancelled, Vec::new()))
        }
        _ => {}
    }
    Ok(actions)
}

fn reopen(ctx: &Ctx, e: &Escalation, by: &str) -> Out {
    let t = &ctx.settings.reply;
    if !ctx.store.reopen_escalation(e.id, ctx.clock.now_ms())? {
        return Ok(vec![to_group(ctx, e.id, &t.escalation_exists)]);
    }
    Ok(vec![
        Action::TopicState {
            chat_id: ctx.settings.coordinators.chat_id,
            escalation: e.id,
            open: true,
        },
        to_group(ctx, e.id, &t.group_reopened.replace("{name}", by)),
    ])
}

/// Claim and Close on a card.
pub fn on_group_callback(ctx: &Ctx, from: &User, callback: &Callback) -> Out {
    let t = &ctx.settings.reply;
    let by = display_name(from);
    let (Callback::Claim(id) | Callback::Close(id)) = callback else {
        return Ok(Vec::new());
    };
    let Some(e) = ctx.store.escalation(*id)? else {
        return Ok(Vec::new());
    };
    match callback {
        Callback::Claim(_) => {
            if ctx.store.claim_escalation(e.id, &by, ctx.clock.now_ms())? {
                Ok(vec![to_group(
                    ctx,
                    e.id,
                    &t.group_claimed.replace("{name}", &by),
                )])
            } else {
                let text = t.group_is_closed.replace("{id}", &e.id.to_string());
                Ok(vec![send(
                    ctx.settings.coordinators.chat_id,
                    None,
                    &text,
                    Vec::new(),
                )])
            }
        }
        _ => close(ctx, &e, &by, CloseKind::ByCoordinator),
    }
}

/// The notice for the coordinators when a caregiver blocked the bot.
pub fn blocked_notice(group: i64, id: i64, text: &str) -> Vec<Action> {
    vec![Action::Send(render::escalation_notice(group, id, text))]
}
