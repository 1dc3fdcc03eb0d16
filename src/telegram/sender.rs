//! Performing the outbox: in order within each chat, concurrently across chats, within
//! Telegram's rate limits, waiting out 429s, retrying network failures with backoff, and
//! giving up on chats that blocked the bot.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio::task::{self, JoinError, JoinSet};

use super::api::{Api, ApiError, Performed};
use super::context::Ctx;
use super::leader::Term;
use super::render;
use crate::action::{Action, Record};
use crate::store::{OutboxHead, OutboxItem, RelayDirection, Store};

/// Telegram's limits: about one message a second per chat, 20 a minute per group, 30 a second
/// overall. Answers to button presses count toward the overall limit only.
///
/// Telegram counts a message when it arrives, somewhere between our starting the call and
/// getting its answer, and the network's delay varies. So a call counts from its start until
/// its answer (then at the time of the answer): a new call may start only when fewer than the
/// limit are counted in the window before it, which keeps every window at Telegram, wherever
/// in that span each call arrived, within the limit.
#[derive(Debug)]
pub struct Throttle {
    enabled: bool,
    /// Per chat: when its next message may start (a second after its last was answered).
    per_chat: HashMap<i64, Instant>,
    /// Per group: when its messages were answered, and how many are under way.
    groups: HashMap<i64, Sent>,
    global: Sent,
}

/// Calls answered (oldest first) and calls under way.
#[derive(Debug, Default)]
struct Sent {
    answered: VecDeque<Instant>,
    under_way: usize,
}

impl Sent {
    /// When one more call may start within `max` per `window`.
    fn ready_at(&mut self, now: Instant, window: Duration, max: usize) -> Instant {
        prune(&mut self.answered, now, window);
        let counted = self.answered.len() + self.under_way;
        if counted < max {
            return now;
        }
        // once the oldest answered ones leave the window; if the calls under way alone fill
        // it, once one is answered and has left it (the answer wakes the sender earlier)
        match self.answered.get(counted - max) {
            Some(&t) => t + window,
            None => now + window,
        }
    }
}

const PER_CHAT_GAP: Duration = Duration::from_millis(1000);
const GROUP_WINDOW: Duration = Duration::from_secs(60);
const GROUP_MAX: usize = 20;
const GLOBAL_WINDOW: Duration = Duration::from_secs(1);
const GLOBAL_MAX: usize = 30;

impl Throttle {
    pub fn new(enabled: bool) -> Throttle {
        Throttle {
            enabled,
            per_chat: HashMap::new(),
            groups: HashMap::new(),
            global: Sent::default(),
        }
    }

    /// When a message to `chat` may start (now or later); `None` chat is a callback answer.
    pub fn ready_at(&mut self, chat: Option<i64>, now: Instant) -> Instant {
        if !self.enabled {
            return now;
        }
        let mut at = self.global.ready_at(now, GLOBAL_WINDOW, GLOBAL_MAX);
        if let Some(chat) = chat {
            if let Some(&next) = self.per_chat.get(&chat) {
                at = at.max(next);
            }
            if chat < 0 {
                let group = self.groups.entry(chat).or_default();
                at = at.max(group.ready_at(now, GROUP_WINDOW, GROUP_MAX));
            }
        }
        at
    }

    /// Records that a call to `chat` starts.
    pub fn started(&mut self, chat: Option<i64>) {
        if !self.enabled {
            return;
        }
        self.global.under_way += 1;
        if let Some(chat) = chat.filter(|&c| c < 0) {
            self.groups.entry(chat).or_default().under_way += 1;
        }
    }

    /// Records that a call to `chat` was answered (whatever the answer) at `now`.
    pub fn answered(&mut self, chat: Option<i64>, now: Instant) {
        if !self.enabled {
            return;
        }
        self.global.under_way = self.global.under_way.saturating_sub(1);
        self.global.answered.push_back(now);
        if let Some(chat) = chat {
            let next = self.per_chat.entry(chat).or_insert(now);
            *next = (*next).max(now + PER_CHAT_GAP);
            if chat < 0 {
                let group = self.groups.entry(chat).or_default();
                group.under_way = group.under_way.saturating_sub(1);
                group.answered.push_back(now);
            }
        }
    }

    /// Counts a send to a group by an earlier leader, answered at `at`.
    pub fn seed_group(&mut self, group: i64, at: Instant) {
        if self.enabled && group < 0 {
            let sent = &mut self.groups.entry(group).or_default().answered;
            let i = sent.partition_point(|t| *t <= at);
            sent.insert(i, at);
        }
    }

    /// Holds a chat back (after a 429 for it).
    pub fn pause(&mut self, chat: Option<i64>, until: Instant) {
        if let Some(chat) = chat {
            let next = self.per_chat.entry(chat).or_insert(until);
            *next = (*next).max(until);
        }
    }

    /// Forgets chats idle for a while, so the maps do not grow without bound.
    fn shrink(&mut self, now: Instant) {
        self.per_chat.retain(|_, next| *next + GROUP_WINDOW > now);
        self.groups.retain(|_, sent| {
            sent.under_way > 0
                || sent
                    .answered
                    .back()
                    .is_some_and(|&t| t + GROUP_WINDOW > now)
        });
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|&t| t + window <= now) {
        q.pop_front();
    }
}

/// How many calls may be in flight at once.
const MAX_IN_FLIGHT: usize = 32;

/// How many queued actions the sender looks through for chats it may send to now (the oldest
/// action of each chat), and how many it reads at a time.
const LOOK_AHEAD: usize = 512;
const PAGE: usize = 64;

/// Gives up on an action after this many failed attempts that were not rate limits.
const MAX_ATTEMPTS: u32 = 8;

/// The ordering key of an outbox item: its chat, or its own id for callback answers.
fn key(id: i64, chat_id: Option<i64>) -> i64 {
    chat_id.unwrap_or(i64::MIN + id)
}

/// An action and how its send went; `None` when it was not sent at all (the term ended before
/// the task could start it).
type Sending = (OutboxItem, Option<Result<Performed, ApiError>>);

/// The sends under way: at most one per chat, each task's outbox row known.
#[derive(Default)]
struct InFlight {
    tasks: JoinSet<Sending>,
    /// The ordering keys ([`key`]) with a send under way.
    chats: HashSet<i64>,
    rows: HashMap<task::Id, OutboxHead>,
}

impl InFlight {
    fn start(&mut self, head: OutboxHead, send: impl Future<Output = Sending> + Send + 'static) {
        self.chats.insert(key(head.id, head.chat_id));
        let task = self.tasks.spawn(send);
        self.rows.insert(task.id(), head);
    }

    /// Bookkeeping for a finished task; its action and result when it ran to the end. A task
    /// that panicked is a bug, not an answer from Telegram: the action would fail the same way
    /// again, so it goes to `done` to be dropped.
    fn finish(
        &mut self,
        joined: Result<(task::Id, Sending), JoinError>,
        throttle: &mut Throttle,
        done: &mut Vec<i64>,
    ) -> Option<Sending> {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let head = self.rows.remove(&id);
        if let Some(head) = head {
            self.chats.remove(&key(head.id, head.chat_id));
            throttle.answered(head.chat_id, Instant::now());
        }
        match joined {
            Ok((_, sending)) => Some(sending),
            Err(_) => {
                tracing::error!(
                    outbox_id = head.map(|h| h.id),
                    "a send task failed; dropping its action"
                );
                done.extend(head.map(|h| h.id));
                None
            }
        }
    }
}

/// Sends while `term` lasts, until shutdown; on shutdown, keeps sending for at most `drain` to
/// empty the outbox (what is left stays stored for the next start or the next leader). When the
/// term ends it starts nothing more.
pub async fn send(
    api: Api,
    ctx: Ctx,
    outbox: Arc<Notify>,
    drain: Duration,
    term: Term,
    mut shutdown: watch::Receiver<bool>,
) {
    let (store, settings) = (&ctx.store, &ctx.settings);
    let group = settings.coordinators.chat_id;
    let mut throttle = Throttle::new(settings.telegram.throttle);
    for &(chat, at) in term.group_sends() {
        throttle.seed_group(chat, at);
    }
    // the previous leader's last sends count for no chat's gap and no second's window
    let quiet = tokio::time::Instant::from_std(term.quiet_until());
    tokio::select! {
        _ = tokio::time::sleep_until(quiet) => {}
        _ = shutdown.changed() => {}
    }
    let mut in_flight = InFlight::default();
    let mut deadline: Option<Instant> = None;
    // performed actions whose removal from the outbox failed (the database went away)
    let mut undone: Vec<i64> = Vec::new();
    loop {
        let now = Instant::now();
        if !term.current() {
            break;
        }
        if !undone.is_empty() && store.outbox_done(&undone).is_ok() {
            undone.clear();
        }
        if *shutdown.borrow() && deadline.is_none() {
            deadline = Some(now + drain);
        }
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        let mut wake = now + Duration::from_secs(1);
        let mut seen: HashSet<i64> = HashSet::new();
        let now_unix = ctx.clock.now_ms();
        // the outbox, oldest first, a page at a time until the sends are full or the look-ahead
        // is used up: under load the first page is usually enough
        let (mut after, mut scanned, mut outbox_empty) = (0, 0, false);
        while in_flight.tasks.len() < MAX_IN_FLIGHT && scanned < LOOK_AHEAD {
            let page = match store.outbox_heads(after, PAGE) {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    wake = now;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            };
            outbox_empty |= scanned == 0 && page.is_empty();
            scanned += page.len();
            for &head in &page {
                // checked before every send: the term may end while the outbox is read
                if in_flight.tasks.len() >= MAX_IN_FLIGHT || !term.current() {
                    break;
                }
                if undone.contains(&head.id) {
                    continue;
                }
                let k = key(head.id, head.chat_id);
                // only the oldest action of each chat is eligible: order within a chat is kept
                if !seen.insert(k) || in_flight.chats.contains(&k) {
                    continue;
                }
                if head.not_before > now_unix {
                    let later = Duration::from_millis((head.not_before - now_unix) as u64);
                    wake = wake.min(now + later);
                    continue;
                }
                let at = throttle.ready_at(head.chat_id, now);
                if at > now {
                    wake = wake.min(at);
                    continue;
                }
                // only an action about to be performed is decoded
                let item = match store.outbox_item(head.id) {
                    Ok(Some(item)) => item,
                    // erased or dropped since its head was read: the chat's next one goes next
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read an outbox action");
                        continue;
                    }
                };
                // reading it may have waited for a stalled database past the end of the term
                if !term.current() {
                    break;
                }
                // a group's minute is counted across leaders: recorded before the send, and
                // refused once this replica's term is over
                if let Some(chat) = item.chat_id.filter(|c| *c < 0) {
                    match term.may_send_to_group(chat).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot record a send to a group; later");
                            wake = now + Duration::from_millis(250);
                            continue;
                        }
                    }
                }
                throttle.started(item.chat_id);
                let api = api.clone();
                let store = store.clone();
                let term = term.clone();
                in_flight.start(head, async move {
                    // The task may have waited for a worker (the store's calls hold them while
                    // the database stalls) past the end of the term: a send not yet started must
                    // not start, or it would reach Telegram after the next leader's.
                    if !term.current() {
                        return (item, None);
                    }
                    let result = deliver(&api, store.as_ref(), group, &item.action).await;
                    // Removed at once rather than with the next batch: until it is, a kill (and
                    // the next leader, or the next start) would perform it again. On a blocking
                    // thread, so that a stalled database holds no worker; a failure is dealt with
                    // by the batch, which removes it again.
                    if result.is_ok() {
                        let (store, id) = (store.clone(), item.id);
                        let _ = tokio::task::spawn_blocking(move || store.outbox_done(&[id])).await;
                    }
                    (item, Some(result))
                });
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = last.id,
                _ => break,
            }
        }
        if outbox_empty && in_flight.tasks.is_empty() && deadline.is_some() {
            break;
        }
        throttle.shrink(now);
        let sleep =
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake.max(Instant::now())));
        tokio::select! {
            Some(joined) = in_flight.tasks.join_next_with_id(), if !in_flight.tasks.is_empty() => {
                // every send that has finished is settled before the outbox is read again
                let mut finished = vec![joined];
                while let Some(joined) = in_flight.tasks.try_join_next_with_id() {
                    finished.push(joined);
                }
                settle_all(finished, &mut undone, &mut in_flight, &ctx, &mut throttle);
            }
            _ = outbox.notified() => {}
            _ = sleep => {}
            _ = shutdown.changed(), if deadline.is_none() => {}
        }
    }
    // what was started is finished, so it is not sent twice after a restart
    while let Some(joined) = in_flight.tasks.join_next_with_id().await {
        let finished = vec![joined];
        settle_all(finished, &mut undone, &mut in_flight, &ctx, &mut throttle);
    }
    // The database may be back in a moment (a restart): the next leader must not perform these
    // again, and it waits a while before its first send, so keep trying for longer than that.
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut failures = 0;
    while !undone.is_empty() && Instant::now() < give_up {
        if store.outbox_done(&undone).is_ok() {
            undone.clear();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        failures += 1;
    }
    if !undone.is_empty() {
        tracing::error!(
            actions = undone.len(),
            failures,
            "performed actions could not be removed from the outbox; they may be sent again"
        );
    }
}

/// Settles finished sends, then removes the finished actions from the outbox in one
/// transaction.
fn settle_all(
    finished: Vec<Result<(task::Id, Sending), JoinError>>,
    undone: &mut Vec<i64>,
    in_flight: &mut InFlight,
    ctx: &Ctx,
    throttle: &mut Throttle,
) {
    let mut done = Vec::with_capacity(finished.len());
    for joined in finished {
        // an action not sent (its term ended first) stays queued for the next leader
        if let Some((item, Some(result))) = in_flight.finish(joined, throttle, &mut done) {
            settle(ctx, throttle, item, result, &mut done);
        }
    }
    if let Err(e) = ctx.store.outbox_done(&done) {
        // performed but still queued: kept aside and removed again, never performed twice
        tracing::error!(error = %e, actions = done.len(), "cannot remove finished actions; will retry");
        undone.extend(done);
    }
}

/// Puts a coordinators'-group message where its escalation is now: in its topic, or under its
/// card (the card itself and messages elsewhere are left as they are).
fn resolve(store: &dyn Store, group: i64, action: &Action) -> Action {
    let mut action = action.clone();
    let (chat, escalation, thread, reply_to, is_card) = match &mut action {
        Action::Send(m) => (
            m.chat_id,
            m.escalation,
            &mut m.thread_id,
            &mut m.reply_to,
            matches!(m.record, Some(Record::Card { .. })),
        ),
        Action::Copy(c) => (
            c.to_chat,
            c.escalation,
            &mut c.thread_id,
            &mut c.reply_to,
            false,
        ),
        _ => return action,
    };
    let Some(id) = escalation.filter(|_| chat == group) else {
        return action;
    };
    match store.escalation(id) {
        Ok(Some(e)) => {
            *thread = e.thread_id;
            if e.thread_id.is_none() && !is_card && reply_to.is_none() {
                *reply_to = e.card_message_id;
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, escalation = id, "cannot look up an escalation"),
    }
    action
}

/// The name of an escalation's forum topic, for recreating a deleted one.
fn topic_name(store: &dyn Store, escalation: i64) -> String {
    match store.escalation(escalation) {
        Ok(Some(e)) => render::topic_name(&e),
        _ => render::unknown_topic_name(escalation),
    }
}

fn log_store(what: &str, r: Result<(), crate::store::StoreError>) {
    if let Err(e) = r {
        tracing::error!(error = %e, "cannot {what}");
    }
}

/// Performs one action, resolving escalation targets and recreating a deleted forum topic.
async fn deliver(
    api: &Api,
    store: &dyn Store,
    group: i64,
    action: &Action,
) -> Result<Performed, ApiError> {
    match action {
        Action::OpenTopic { escalation, .. } => {
            let known = store.escalation(*escalation).ok().flatten();
            if known.is_some_and(|e| e.thread_id.is_some() || e.topic_failed) {
                return Ok(Performed::default());
            }
            // a plain group has no topics: ask before Telegram has to refuse
            match api.is_forum(group).await {
                Ok(false) => {
                    log_store(
                        "note the group has no topics",
                        store.set_escalation_topic(*escalation, None, true),
                    );
                    return Ok(Performed::default());
                }
                Ok(true) => {}
                Err(e) if e.is_transient() => return Err(e),
                // getChat refused: try the topic, as before
                Err(e) => tracing::warn!(error = %e, "cannot tell whether the group has topics"),
            }
            match api.perform(action).await {
                Ok(p) => {
                    log_store(
                        "store the topic",
                        store.set_escalation_topic(*escalation, p.thread_id, false),
                    );
                    Ok(p)
                }
                Err(ApiError::NotForum) => {
                    // topics were turned off: coordinators reply to the card instead
                    api.learn_forum(group, false);
                    log_store(
                        "note the group has no topics",
                        store.set_escalation_topic(*escalation, None, true),
                    );
                    Ok(Performed::default())
                }
                Err(e) => Err(e),
            }
        }
        Action::TopicState {
            chat_id,
            escalation,
            open,
        } => {
            match store
                .escalation(*escalation)
                .ok()
                .flatten()
                .and_then(|e| e.thread_id)
            {
                Some(thread) => api
                    .set_topic_state(*chat_id, thread, *open)
                    .await
                    .map(|()| Performed::default()),
                None => Ok(Performed::default()),
            }
        }
        _ => {
            let resolved = resolve(store, group, action);
            let performed = match api.perform(&resolved).await {
                Err(ApiError::ThreadNotFound) => {
                    // a coordinator deleted the topic: open a new one and carry on there
                    let escalation = match &resolved {
                        Action::Send(m) => m.escalation,
                        Action::Copy(c) => c.escalation,
                        _ => None,
                    };
                    let Some(id) = escalation else {
                        return Err(ApiError::ThreadNotFound);
                    };
                    tracing::warn!(
                        escalation = id,
                        "the request's topic is gone; opening a new one"
                    );
                    let open = Action::OpenTopic {
                        chat_id: group,
                        escalation: id,
                        name: topic_name(store, id),
                    };
                    let topic = api.perform(&open).await?;
                    log_store(
                        "store the new topic",
                        store.set_escalation_topic(id, topic.thread_id, false),
                    );
                    api.perform(&resolve(store, group, action)).await
                }
                other => other,
            }?;
            record(store, &resolved, performed);
            Ok(performed)
        }
    }
}

/// Remembers what a sent message is (an escalation's card, a relayed message).
fn record(store: &dyn Store, action: &Action, performed: Performed) {
    let rec = match action {
        Action::Send(m) => m.record.as_ref(),
        Action::Copy(c) => c.record.as_ref(),
        _ => None,
    };
    let (Some(rec), Some(sent)) = (rec, performed.message_id) else {
        return;
    };
    let result = match rec {
        Record::Card { escalation } => store.set_escalation_card(*escalation, sent),
        Record::Relay {
            escalation,
            source,
            to_caregiver: true,
        } => store.map_relay(*escalation, *source, sent, RelayDirection::ToCaregiver),
        Record::Relay {
            escalation,
            source,
            to_caregiver: false,
        } => store.map_relay(*escalation, sent, *source, RelayDirection::ToCoordinators),
    };
    log_store("record a sent message", result);
}

/// Records the result of one action; the id of one that is finished (performed or given up)
/// goes to `done`, for removal from the outbox with the others finished at the same time.
fn settle(
    ctx: &Ctx,
    throttle: &mut Throttle,
    item: OutboxItem,
    result: Result<Performed, ApiError>,
    done: &mut Vec<i64>,
) {
    let (store, settings, metrics) = (ctx.store.as_ref(), &ctx.settings, &ctx.metrics);
    let now = ctx.clock.now_ms();
    if let Err(e) = &result {
        metrics.api_error(e.kind());
    }
    let log_err = |what: &str, r: Result<(), crate::store::StoreError>| {
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot {what}");
        }
    };
    let chat = item.chat_id;
    match result {
        Ok(_) => done.push(item.id),
        Err(ApiError::RetryAfter(d)) => {
            tracing::warn!(
                chat_id = chat,
                retry_after_s = d.as_secs(),
                "rate limited by Telegram"
            );
            throttle.pause(chat, Instant::now() + d);
            let at = now + d.as_millis() as i64;
            log_err("reschedule", store.outbox_retry(item.id, at, item.attempts));
        }
        Err(ApiError::Blocked) => {
            tracing::warn!(
                chat_id = chat,
                "the bot is blocked in this chat; dropping its pending messages"
            );
            if let Some(chat) = chat {
                log_err("mark the chat blocked", store.set_blocked(chat, true, now));
                log_err(
                    "drop the chat's outbox",
                    store.outbox_drop_chat(chat).map(|_| ()),
                );
                // a caregiver in an open escalation: the coordinators must know
                match store.mark_caregiver_blocked(chat) {
                    Ok(Some(escalation)) => {
                        let notice = super::escalation::blocked_notice(
                            settings.coordinators.chat_id,
                            escalation.id,
                            &settings.reply.group_blocked,
                        );
                        log_err("tell the coordinators", store.enqueue_actions(&notice, now));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot mark the escalation"),
                }
            }
            done.push(item.id);
        }
        Err(ApiError::Migrated(new_chat)) => {
            tracing::info!(
                chat_id = chat,
                new_chat_id = new_chat,
                "group migrated to a supergroup"
            );
            if let Some(old) = chat {
                log_err("move the chat", store.migrate_chat(old, new_chat));
            }
            let moved = match item.action.clone() {
                Action::Send(mut m) => Action::Send({
                    m.chat_id = new_chat;
                    m
                }),
                Action::Edit {
                    message_id,
                    html,
                    keyboard,
                    ..
                } => Action::Edit {
                    chat_id: new_chat,
                    message_id,
                    html,
                    keyboard,
                },
                other => other,
            };
            log_err(
                "resend to the new chat",
                store.outbox_replace(item.id, &moved),
            );
        }
        Err(ApiError::CantParseEntities) if item.attempts == 0 => {
            // our HTML should never be refused; if it is, the text still reaches the person
            tracing::error!(
                chat_id = chat,
                "Telegram refused the HTML; resending as plain text"
            );
            let plain = match item.action.clone() {
                Action::Send(mut m) => Action::Send({
                    m.html = render::without_markup(&m.html);
                    m
                }),
                Action::Edit {
                    chat_id,
                    message_id,
                    html,
                    keyboard,
                } => Action::Edit {
                    chat_id,
                    message_id,
                    html: render::without_markup(&html),
                    keyboard,
                },
                other => other,
            };
            log_err("replace the action", store.outbox_replace(item.id, &plain));
            log_err("reschedule", store.outbox_retry(item.id, now, 1));
        }
        Err(e) if e.is_transient() && item.attempts + 1 < MAX_ATTEMPTS => {
            let wait = super::inbox::backoff(item.attempts);
            tracing::warn!(chat_id = chat, error = %e, attempt = item.attempts + 1, "send failed; retrying");
            log_err(
                "reschedule",
                store.outbox_retry(item.id, now + wait.as_millis() as i64, item.attempts + 1),
            );
        }
        Err(e) => {
            tracing::error!(chat_id = chat, error = %e, attempts = item.attempts + 1, "giving up on an action");
            done.push(item.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call started and answered at once.
    fn send(t: &mut Throttle, chat: Option<i64>, at: Instant) {
        t.started(chat);
        t.answered(chat, at);
    }

    #[test]
    fn a_groups_minute_carries_over_from_the_previous_leader() {
        let mut t = Throttle::new(true);
        let now = Instant::now();
        let before = now - Duration::from_secs(30);
        for i in 0..GROUP_MAX {
            // seeded out of order, as a database may return them
            let at = before + Duration::from_millis(10 * ((i * 7) % GROUP_MAX) as u64);
            t.seed_group(-5, at);
        }
        t.seed_group(7, now);
        assert_eq!(t.ready_at(Some(-5), now), before + GROUP_WINDOW);
        assert_eq!(t.ready_at(Some(-6), now), now, "another group is free");
        assert_eq!(
            t.ready_at(Some(7), now),
            now,
            "private chats are not seeded"
        );
    }

    #[test]
    fn one_message_a_second_per_chat() {
        let mut t = Throttle::new(true);
        let now = Instant::now();
        assert_eq!(t.ready_at(Some(1), now), now);
        send(&mut t, Some(1), now);
        assert_eq!(t.ready_at(Some(1), now), now + PER_CHAT_GAP);
        assert_eq!(
            t.ready_at(Some(2), now),
            now,
            "other chats are not held back"
        );
        assert_eq!(t.ready_at(None, now), now);
    }

    #[test]
    fn the_gap_counts_from_the_answer() {
        let mut t = Throttle::new(true);
        let start = Instant::now();
        t.started(Some(1));
        let answered = start + Duration::from_millis(300);
        t.answered(Some(1), answered);
        assert_eq!(t.ready_at(Some(1), answered), answered + PER_CHAT_GAP);
    }

    #[test]
    fn twenty_a_minute_per_group_and_thirty_a_second_overall() {
        let mut t = Throttle::new(true);
        let start = Instant::now();
        for i in 0..GROUP_MAX as u64 {
            let at = start + Duration::from_secs(i * 2);
            assert!(t.ready_at(Some(-100), at) <= at);
            send(&mut t, Some(-100), at);
        }
        let next = start + Duration::from_secs(40);
        assert_eq!(t.ready_at(Some(-100), next), start + GROUP_WINDOW);

        let mut t = Throttle::new(true);
        for chat in 0..GLOBAL_MAX as i64 {
            send(&mut t, Some(chat + 1), start);
        }
        assert_eq!(t.ready_at(Some(999), start), start + GLOBAL_WINDOW);
    }

    #[test]
    fn calls_under_way_count_toward_the_limits() {
        let mut t = Throttle::new(true);
        let start = Instant::now();
        // 10 answered at the start, 20 still under way: the window is full
        for chat in 0..10 {
            send(&mut t, Some(chat + 1), start);
        }
        for chat in 10..GLOBAL_MAX as i64 {
            assert_eq!(t.ready_at(Some(chat + 1), start), start);
            t.started(Some(chat + 1));
        }
        let later = start + Duration::from_millis(500);
        assert_eq!(t.ready_at(Some(999), later), start + GLOBAL_WINDOW);
        // all 30 under way: nothing may start until one is answered and a second has passed
        let mut t = Throttle::new(true);
        for chat in 0..GLOBAL_MAX as i64 {
            t.started(Some(chat + 1));
        }
        assert_eq!(t.ready_at(None, later), later + GLOBAL_WINDOW);
        t.answered(Some(1), later);
        assert_eq!(t.ready_at(None, later), later + GLOBAL_WINDOW);
        // the same for a group's twenty a minute
        let mut t = Throttle::new(true);
        for _ in 0..GROUP_MAX {
            t.started(Some(-100));
        }
        assert_eq!(t.ready_at(Some(-100), start), start + GROUP_WINDOW);
        assert_eq!(t.ready_at(Some(-200), start), start);
    }

    #[test]
    fn disabled_throttle_never_waits() {
        let mut t = Throttle::new(false);
        let now = Instant::now();
        for _ in 0..100 {
            send(&mut t, Some(1), now);
        }
        assert_eq!(t.ready_at(Some(1), now), now);
    }

    #[test]
    fn a_429_pauses_the_chat() {
        let mut t = Throttle::new(true);
        let now = Instant::now();
        t.pause(Some(5), now + Duration::from_secs(7));
        assert_eq!(t.ready_at(Some(5), now), now + Duration::from_secs(7));
    }
}
