//! Routing updates to small handlers, each returning the actions to take. One function builds
//! the handler tree ([`schema`]); the endpoints do one thing each and never call Telegram
//! themselves: their actions go to the outbox with the update's completion.

use std::time::Instant;

use teloxide::dispatching::{DpHandlerDescription, HandlerExt, UpdateFilterExt};
use teloxide::dptree;
use teloxide::types::{CallbackQuery, ChatKind, Me, Message, MessageKind, Update};
use teloxide::utils::command::BotCommands;
use tracing::Span;

use super::callback::{Ask, Callback};
use super::context::{handoff_row, Ctx, Out};
use super::escalation::{self, CloseKind, GroupCommand};
use super::render;
use crate::action::{Action, Button, OutMessage};
use crate::core::{Alarm, Outcome, Reply};
use crate::store::{AnswerRecord, AskedQuestion, Role};

/// The commands caregivers can use; the doc comments are the `/help` text and Telegram's menu.
#[derive(BotCommands, Clone, Debug, PartialEq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    #[command(description = "what this bot is, and how to start")]
    Start(String),
    #[command(description = "browse the topics of our guides")]
    Topics,
    #[command(description = "talk to a coordinator")]
    Human,
    #[command(description = "what we keep about you, and for how long")]
    Privacy,
    #[command(description = "erase your data")]
    Forget,
    #[command(description = "how to use this bot")]
    Help,
    #[command(description = "read a whole section: /read <id>")]
    Read(String),
    #[command(description = "withdraw a request for a coordinator")]
    Cancel,
    /// For coordinators, so not in caregivers' help and menu.
    #[command(hide)]
    Review,
}

impl Command {
    /// The command as typed, without its argument: what the update's span records.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start(_) => "start",
            Command::Topics => "topics",
            Command::Human => "human",
            Command::Privacy => "privacy",
            Command::Forget => "forget",
            Command::Help => "help",
            Command::Read(_) => "read",
            Command::Cancel => "cancel",
            Command::Review => "review",
        }
    }
}

/// The handler tree.
pub fn schema() -> dptree::Handler<'static, Out, DpHandlerDescription> {
    // the coordinators' group: only its members' commands and replies, never answered by search
    let coordinators = dptree::filter(|m: Message, ctx: Ctx| {
        escalation::enabled(&ctx) && m.chat.id.0 == ctx.settings.coordinators.chat_id
    })
    .filter(|m: Message, ctx: Ctx| {
        let ok = escalation::allowed(&ctx, m.from.as_ref());
        if !ok {
            tracing::info!(
                user_id = m.from.as_ref().map(|u| u.id.0),
                "ignored: not an allowed coordinator"
            );
        }
        ok
    })
    .branch(
        dptree::entry()
            .filter_command::<GroupCommand>()
            .endpoint(on_group_command),
    )
    .endpoint(on_coordinator_message);
    let caregivers = dptree::filter(|m: Message, ctx: Ctx| {
        m.chat.id.0 != ctx.settings.coordinators.chat_id || !escalation::enabled(&ctx)
    })
    .filter(addressed_to_us)
    .branch(
        dptree::entry()
            .filter_command::<Command>()
            .endpoint(on_command),
    )
    .branch(dptree::filter_map(|m: Message| m.text().map(str::to_owned)).endpoint(on_text))
    .endpoint(on_other_message);
    let message = dptree::entry().branch(coordinators).branch(caregivers);
    dptree::entry()
        .branch(Update::filter_message().chain(message.clone()))
        .branch(Update::filter_edited_message().chain(message))
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

fn is_private(msg: &Message) -> bool {
    matches!(msg.chat.kind, ChatKind::Private(_))
}

/// In a private chat everything is for us; in a group only commands without another bot's
/// name, mentions of our name, and replies to our messages.
fn addressed_to_us(msg: Message, me: Me) -> bool {
    if is_private(&msg) {
        return true;
    }
    let username = me.username().to_lowercase();
    let text = msg
        .text()
        .or(msg.caption())
        .unwrap_or_default()
        .to_lowercase();
    if let Some(first) = text
        .split_whitespace()
        .next()
        .filter(|w| w.starts_with('/'))
    {
        return match first.split_once('@') {
            Some((_, name)) => name == username,
            None => true,
        };
    }
    let mentioned = text.contains(&format!("@{username}"));
    let replied = msg
        .reply_to_message()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|u| u.id == me.id);
    mentioned || replied
}

fn thread_of(msg: &Message) -> Option<i32> {
    msg.thread_id.map(|t| t.0 .0)
}

/// A message in the chat of `msg` (and its forum topic, if any).
fn say(msg: &Message, text: &str, keyboard: Vec<Vec<Button>>) -> Action {
    Action::Send(render::plain_message(
        msg.chat.id.0,
        thread_of(msg),
        text,
        keyboard,
    ))
}

async fn on_command(msg: Message, cmd: Command, ctx: Ctx) -> Out {
    let t = &ctx.settings.reply;
    let chat = msg.chat.id.0;
    Span::current().record("command", cmd.name());
    Ok(match cmd {
        Command::Start(payload) => {
            let source = payload.trim();
            let source = (!source.is_empty()).then(|| source.chars().take(64).collect::<String>());
            ctx.store
                .record_chat_start(chat, source.as_deref(), ctx.clock.now_ms())?;
            let keyboard = vec![
                vec![Button::callback(
                    &t.button_topics,
                    Callback::StartTopics.encode(),
                )],
                handoff_row(&ctx),
            ];
            let text = format!("{}\n\n{}", t.welcome, t.disclaimer);
            vec![say(&msg, &text, keyboard)]
        }
        Command::Help => {
            let commands = Command::descriptions().to_string();
            let text = format!("{}\n\n{}\n\n{}", t.help, commands, t.disclaimer);
            vec![say(&msg, &text, vec![handoff_row(&ctx)])]
        }
        Command::Topics => vec![topics(&ctx, chat, thread_of(&msg), 0, None)],
        Command::Human => escalation::confirm(&ctx, chat, thread_of(&msg), Ask::Asked),
        Command::Cancel => match ctx.store.open_escalation_for_chat(chat)? {
            Some(e) => escalation::close(&ctx, &e, "the caregiver", CloseKind::Withdrawn)?,
            None => vec![say(&msg, &t.escalation_none, Vec::new())],
        },
        Command::Privacy => {
            let text = t
                .privacy
                .replace("{days}", &ctx.settings.store.retention_days.to_string());
            vec![say(&msg, &text, Vec::new())]
        }
        Command::Forget => {
            let keyboard = vec![vec![
                Button::callback(
                    &t.button_yes_forget,
                    Callback::Forget { confirm: true }.encode(),
                ),
                Button::callback(
                    &t.button_cancel,
                    Callback::Forget { confirm: false }.encode(),
                ),
            ]];
            vec![say(&msg, &t.forget_confirm, keyboard)]
        }
        Command::Read(id) => answer(&ctx, &msg, &format!("/read {}", id.trim()), Log::Read).0,
        Command::Review => return super::review::on_review(&ctx, &msg),
    })
}

/// A page of topics, as a new message or (when paging) an edit of the one shown.
fn topics(ctx: &Ctx, chat: i64, thread: Option<i32>, page: u32, edit: Option<i32>) -> Action {
    let engine = ctx.engine.get();
    let titles = engine.index().topics().unwrap_or_default();
    let t = &ctx.settings.reply;
    let page = render::topics_page(
        &titles,
        page,
        8,
        chat,
        &t.topics,
        &t.button_previous,
        &t.button_next,
    );
    match edit {
        Some(message_id) => Action::Edit {
            chat_id: chat,
            message_id,
            html: page.html,
            keyboard: page.keyboard,
        },
        None => Action::Send(OutMessage {
            thread_id: thread,
            ..page
        }),
    }
}

async fn on_text(msg: Message, text: String, me: Me, ctx: Ctx) -> Out {
    let chat = msg.chat.id.0;
    if is_private(&msg) {
        if let Some(e) = ctx.store.open_escalation_for_chat(chat)? {
            Span::current().record("outcome", "relayed");
            return escalation::from_caregiver(&ctx, &msg, &e);
        }
    }
    // in groups the bot is addressed by name; the name is not part of the question
    let mention = format!("@{}", me.username());
    let question = text.replace(&mention, " ");
    let (mut actions, outcome, no_match_streak, alarm) =
        answer(&ctx, &msg, &question, Log::Question);
    if is_private(&msg) {
        match outcome {
            Outcome::Emergency => {
                if let Some(user) = msg.from.as_ref() {
                    actions.extend(escalation::open(
                        &ctx,
                        user,
                        chat,
                        crate::store::Reason::Emergency,
                        alarm.as_ref(),
                    )?);
                }
            }
            Outcome::Handoff => actions.extend(escalation::confirm(&ctx, chat, None, Ask::Asked)),
            Outcome::NoMatch if no_match_streak >= 2 && escalation::enabled(&ctx) => {
                let t = &ctx.settings.reply;
                let offer = vec![vec![Button::callback(
                    &t.button_coordinator,
                    Callback::Human(Ask::NoMatch).encode(),
                )]];
                actions.push(say(&msg, &t.no_match_offer, offer));
            }
            _ => {}
        }
    }
    Ok(actions)
}

/// What an answered message leaves in the editors' log.
enum Log {
    /// A message the caregiver typed: logged as a question.
    Question,
    /// A passage asked for by `/read` or a button: not a question.
    Read,
    /// A suggestion chosen (the passage id).
    Chosen(String),
}

/// The core's reply to `question`, rendered, with the no-match streak, the transcript kept for
/// escalation and the editors' log, and, for an emergency, what the emergency check found.
///
/// The streak counts messages in a row that found nothing, to offer a coordinator after two.
/// A `suggest` reply neither adds to it nor ends it: the caregiver was offered passages and a
/// coordinator in the same message, and whether that helped shows in what they do next
/// (choosing a suggestion shows a passage, which ends the streak).
fn answer(
    ctx: &Ctx,
    msg: &Message,
    question: &str,
    log: Log,
) -> (Vec<Action>, Outcome, u32, Option<Alarm>) {
    let started = Instant::now();
    let engine = ctx.engine.get();
    let reply = engine.answer(question);
    ctx.metrics.outcome(reply.outcome.as_str());
    let chat = msg.chat.id.0;
    let mut transcript = Vec::new();
    if is_private(msg) {
        let said = match (&reply.passage, &reply.alarm) {
            (Some(p), _) => format!("answered with “{}”", p.title),
            (None, Some(alarm)) => format!(
                "emergency: {} (language {}); told what to do now",
                alarm.label, alarm.language
            ),
            (None, None) => format!(
                "{}: {}",
                reply.outcome.as_str(),
                reply.message.lines().next().unwrap_or_default()
            ),
        };
        let passage = reply.passage.as_ref().map(|p| p.id.as_str());
        let now = ctx.clock.now_ms();
        transcript.push(escalation::entry(now, Role::Caregiver, question, None));
        transcript.push(escalation::entry(now, Role::Bot, &said, passage));
    }
    let span = Span::current();
    span.record("outcome", reply.outcome.as_str());
    if let Some(p) = reply.passages.first() {
        span.record("passage", p.id.as_str());
        span.record("score", p.score);
        span.record("coverage", p.coverage);
    }
    if ctx.settings.log.message_text {
        tracing::info!(text = question, "message text (log.message_text is on)");
    }
    let current = || {
        ctx.store.chat_state(chat).map_or_else(
            |e| {
                tracing::warn!(error = %e, "cannot read the no-match streak");
                0
            },
            |s| s.no_match_streak,
        )
    };
    let streak = match reply.outcome {
        Outcome::NoMatch => current() + 1,
        Outcome::Suggest => current(),
        _ => 0,
    };
    let (asked, chosen) = match log {
        Log::Question => (
            Some(asked_question(&reply, question, ctx.clock.now_ms())),
            None,
        ),
        Log::Read => (None, None),
        Log::Chosen(id) => (None, Some(id)),
    };
    let record = AnswerRecord {
        chat_id: chat,
        transcript,
        no_match_streak: streak,
        question: asked,
        chosen,
    };
    if reply.escalate {
        // an escalation may open in this update, and its card shows the transcript: now
        if let Err(e) = ctx.store.record_answer(&record) {
            tracing::warn!(error = %e, "cannot record the transcript and no-match streak");
        }
    } else {
        ctx.journal.set(record);
    }
    span.record("latency_us", started.elapsed().as_micros() as u64);
    let labels = render::Labels::from_texts(&ctx.settings.reply);
    let actions = render::render_reply_with(&reply, chat, thread_of(msg), &labels)
        .into_iter()
        .map(Action::Send)
        .collect();
    (actions, reply.outcome, streak, reply.alarm)
}

/// A typed message and the reply to it, as the editors' log keeps it (the store keeps the text
/// only for the outcomes editors read).
fn asked_question(reply: &Reply, text: &str, at: i64) -> AskedQuestion {
    AskedQuestion {
        at,
        outcome: reply.outcome.as_str().to_string(),
        text: Some(text.trim().to_string()),
        passage_id: reply.passage.as_ref().map(|p| p.id.clone()),
        offered: reply.suggestions.iter().map(|s| s.id.clone()).collect(),
        confidence: reply.confidence,
        chosen: None,
    }
}

async fn on_other_message(msg: Message, ctx: Ctx) -> Out {
    // service messages (members joining, pinned messages, …) need no answer
    let MessageKind::Common(_) = msg.kind else {
        return Ok(Vec::new());
    };
    if is_private(&msg) {
        if let Some(e) = ctx.store.open_escalation_for_chat(msg.chat.id.0)? {
            return escalation::from_caregiver(&ctx, &msg, &e);
        }
    }
    Ok(vec![say(
        &msg,
        &ctx.settings.reply.non_text,
        vec![handoff_row(&ctx)],
    )])
}

async fn on_group_command(msg: Message, cmd: GroupCommand, ctx: Ctx) -> Out {
    escalation::on_group_command(&ctx, &msg, cmd)
}

async fn on_coordinator_message(msg: Message, ctx: Ctx) -> Out {
    escalation::from_coordinator(&ctx, &msg)
}

async fn on_callback(q: CallbackQuery, ctx: Ctx) -> Out {
    let t = &ctx.settings.reply;
    let ack = |text: Option<&str>| Action::AnswerCallback {
        callback_id: q.id.0.clone(),
        text: text.map(str::to_owned),
    };
    let message = q.regular_message().cloned();
    let (Some(msg), Some(callback)) = (message, q.data.as_deref().and_then(Callback::decode))
    else {
        // forged, stale, or on a message too old to see: say so politely
        return Ok(vec![ack(Some(&t.stale_button))]);
    };
    let chat = msg.chat.id.0;
    let thread = thread_of(&msg);
    Span::current().record("callback", tracing::field::debug(&callback));
    let in_group = escalation::enabled(&ctx) && chat == ctx.settings.coordinators.chat_id;
    if in_group != matches!(callback, Callback::Claim(_) | Callback::Close(_)) {
        return Ok(vec![ack(Some(&t.stale_button))]);
    }
    if in_group {
        if !escalation::allowed(&ctx, Some(&q.from)) {
            tracing::info!(user_id = q.from.id.0, "ignored: not an allowed coordinator");
            return Ok(vec![ack(Some(&t.stale_button))]);
        }
        let mut actions = vec![ack(None)];
        actions.extend(escalation::on_group_callback(&ctx, &q.from, &callback)?);
        return Ok(actions);
    }
    Ok(match callback {
        Callback::Feedback { helpful, passage } => {
            let engine = ctx.engine.get();
            if engine.index().passage(&passage).ok().flatten().is_none() {
                return Ok(vec![ack(Some(&t.stale_button))]);
            }
            ctx.store
                .record_feedback(chat, &passage, helpful, ctx.clock.now_ms())?;
            if helpful {
                vec![ack(Some(&t.feedback_thanks))]
            } else {
                vec![
                    ack(None),
                    say(&msg, &t.feedback_sorry, vec![handoff_row(&ctx)]),
                ]
            }
        }
        Callback::Read(id) => {
            let mut actions = vec![ack(None)];
            actions.extend(answer(&ctx, &msg, &format!("/read {id}"), Log::Read).0);
            actions
        }
        Callback::Choose(id) => {
            let mut actions = vec![ack(None)];
            let read = format!("/read {id}");
            actions.extend(answer(&ctx, &msg, &read, Log::Chosen(id)).0);
            actions
        }
        Callback::Topics(page) => vec![ack(None), topics(&ctx, chat, thread, page, Some(msg.id.0))],
        Callback::StartTopics => vec![ack(None), topics(&ctx, chat, thread, 0, None)],
        Callback::Forget { confirm: true } => {
            // an open escalation is closed and the coordinators told before the data goes
            let mut actions = vec![ack(None)];
            if let Some(e) = ctx.store.open_escalation_for_chat(chat)? {
                actions.extend(escalation::close(
                    &ctx,
                    &e,
                    "the caregiver",
                    CloseKind::Erased,
                )?);
            }
            ctx.store.forget_chat(chat)?;
            actions.push(say(&msg, &t.forget_done, Vec::new()));
            actions
        }
        Callback::Forget { confirm: false } => vec![ack(Some(&t.forget_cancelled))],
        Callback::Human(ask) => {
            let mut actions = vec![ack(None)];
            actions.extend(escalation::confirm(&ctx, chat, thread, ask));
            actions
        }
        Callback::HumanConfirm(ask) => {
            let mut actions = vec![ack(None)];
            actions.extend(escalation::open(
                &ctx,
                &q.from,
                chat,
                escalation::reason_of(ask),
                None,
            )?);
            actions
        }
        Callback::HumanCancel => vec![ack(Some(&t.escalation_not_confirmed))],
        Callback::Claim(_) | Callback::Close(_) => vec![ack(Some(&t.stale_button))],
    })
}

/// The handler tree, built once.
pub type Tree = dptree::Handler<'static, Out, DpHandlerDescription>;

/// Handles one update: the actions to take (none for updates that are not for us).
pub async fn handle(tree: &Tree, update: Update, me: Me, ctx: Ctx) -> Vec<Action> {
    let chat = update.chat().map(|c| c.id.0);
    match tree.dispatch(dptree::deps![update, me, ctx.clone()]).await {
        std::ops::ControlFlow::Break(Ok(actions)) => actions,
        std::ops::ControlFlow::Break(Err(e)) => {
            // the one error funnel: log without text, apologise in the chat
            tracing::error!(error = %e, "handler failed");
            chat.map(|c| {
                vec![Action::Send(render::plain_message(
                    c,
                    None,
                    &ctx.settings.reply.error,
                    Vec::new(),
                ))]
            })
            .unwrap_or_default()
        }
        std::ops::ControlFlow::Continue(_) => {
            tracing::debug!("update not for us");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::SharedEngine;
    use crate::settings::Settings;
    use crate::telegram::context::Journal;

    /// Logs name a command as it is typed ("read"), not by the `Debug` of its discriminant.
    #[test]
    fn commands_are_logged_by_name() {
        for (typed, name) in [
            ("/start", "start"),
            ("/read adc", "read"),
            ("/forget", "forget"),
            ("/cancel", "cancel"),
        ] {
            let cmd = Command::parse(typed, "faqbot").expect("a command");
            assert_eq!(cmd.name(), name);
        }
    }

    #[test]
    fn the_handler_tree_has_its_dependencies() {
        // a missing dependency fails here, not at the first user's message
        let dir = tempfile::tempdir().expect("tempdir");
        let deps = dptree::deps![
            Update {
                id: teloxide::types::UpdateId(1),
                kind: teloxide::types::UpdateKind::Error(serde_json::Value::Null)
            },
            sample_me(),
            sample_ctx(dir.path())
        ];
        let tree = schema();
        dptree::type_check(tree.sig(), &deps, &[]);
    }

    fn sample_me() -> Me {
        serde_json::from_value(serde_json::json!({
            "id": 1, "is_bot": true, "first_name": "FAQ", "username": "faq_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        }))
        .expect("valid Me")
    }

    fn sample_ctx(dir: &std::path::Path) -> Ctx {
        let env = vec![
            (
                "FAQBOT_CONTENT__DIR".to_string(),
                concat!(env!("CARGO_MANIFEST_DIR"), "/faq").to_string(),
            ),
            (
                "FAQBOT_INDEX__DIR".to_string(),
                dir.join("index").display().to_string(),
            ),
        ];
        let settings = Settings::load_from(None, env).expect("settings");
        let engine = crate::core::open_engine(&settings).expect("engine");
        let store = crate::store::SqliteStore::open(dir.join("faqbot.db")).expect("store");
        Ctx {
            engine: SharedEngine::new(engine),
            store: Arc::new(store),
            settings: Arc::new(settings),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            clock: crate::clock::Clock::system(),
            review: None,
            journal: Journal::default(),
        }
    }

    #[test]
    fn a_handled_question_is_stamped_with_the_contexts_clock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = 1_700_000_123_456;
        let ctx = Ctx {
            clock: crate::clock::Clock::manual(at),
            ..sample_ctx(dir.path())
        };
        let update: Update = serde_json::from_str(
            r#"{"update_id": 7, "message": {"message_id": 3, "date": 0,
                "chat": {"id": 42, "type": "private", "first_name": "A"},
                "text": "what is an MDT review?"}}"#,
        )
        .expect("update");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let actions = runtime.block_on(handle(&schema(), update, sample_me(), ctx.clone()));
        assert!(!actions.is_empty(), "the question is answered");
        let record = ctx.journal.take().expect("an answer record");
        assert_eq!(record.question.map(|q| q.at), Some(at));
        assert_eq!(record.transcript.len(), 2);
        assert!(record.transcript.iter().all(|e| e.at == at));
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            Command::parse("/start src42", "faq_bot").ok(),
            Some(Command::Start("src42".into()))
        );
        assert_eq!(
            Command::parse("/help@faq_bot", "faq_bot").ok(),
            Some(Command::Help)
        );
        assert!(Command::parse("/help@other_bot", "faq_bot").is_err());
    }
}
