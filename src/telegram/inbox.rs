//! Getting updates into the durable inbox (long polling, or the webhook in `webhook.rs`), and
//! handling them from there. An update is confirmed to Telegram only after it is stored, and
//! marked done in the same transaction that queues its answer, so a crash at any point loses
//! nothing and a redelivered update is not answered twice.

use std::sync::Arc;
use std::time::Duration;

use teloxide::types::{Me, Update};
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use super::api::{Api, ApiError};
use super::handlers::{handle, Ctx};
use crate::metrics::Metrics;
use crate::store::{NewUpdate, Store};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The update's id and the chat it belongs to (0 when it names none), read from the raw JSON.
pub fn describe(value: &serde_json::Value) -> Option<(i32, i64)> {
    let id = i32::try_from(value.get("update_id")?.as_i64()?).ok()?;
    let chat = ["message", "edited_message"]
        .iter()
        .find_map(|k| value.get(k)?.get("chat")?.get("id")?.as_i64())
        .or_else(|| {
            let q = value.get("callback_query")?;
            q.get("message")
                .and_then(|m| m.get("chat")?.get("id")?.as_i64())
                .or_else(|| q.get("from")?.get("id")?.as_i64())
        })
        .unwrap_or(0);
    Some((id, chat))
}

/// Stores raw updates; returns how many were new.
pub fn store_updates(store: &dyn Store, values: &[serde_json::Value]) -> anyhow::Result<usize> {
    let items: Vec<NewUpdate> = values
        .iter()
        .filter_map(|v| {
            let Some((update_id, chat_id)) = describe(v) else {
                tracing::warn!("skipping an update without a readable update_id");
                return None;
            };
            Some(NewUpdate {
                update_id,
                chat_id,
                body: v.to_string(),
            })
        })
        .collect();
    Ok(store.enqueue_updates(&items, now_ms())?)
}

/// Exponential backoff for a run of failures: 1 s, 2 s, 4 s … up to 60 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// Long polling until shutdown. The offset sent with each getUpdates is one past the highest
/// update already stored, which is what confirms earlier updates to Telegram.
pub async fn poll(
    api: Api,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    inbox: Arc<Notify>,
    max_pending: u64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        // back-pressure: do not fetch more than the handlers can keep up with
        if store.pending_count().unwrap_or(0) >= max_pending {
            sleep_or_shutdown(Duration::from_millis(200), &mut shutdown).await;
            continue;
        }
        let offset = match store.next_update_offset() {
            Ok(offset) => offset,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the update offset");
                sleep_or_shutdown(backoff(failures), &mut shutdown).await;
                failures += 1;
                continue;
            }
        };
        let result = tokio::select! {
            r = api.get_updates(offset) => r,
            _ = shutdown.changed() => break,
        };
        if let Err(e) = &result {
            metrics.api_error(e.kind());
        }
        let wait = match result {
            Ok(values) => {
                failures = 0;
                metrics.polled(now_ms());
                if values.is_empty() {
                    continue;
                }
                match store_updates(store.as_ref(), &values) {
                    Ok(new) => {
                        tracing::debug!(received = values.len(), new, "updates stored");
                        inbox.notify_one();
                        continue;
                    }
                    Err(e) => {
                        // not stored, so not confirmed: Telegram delivers them again
                        tracing::error!(error = %e, "cannot store updates");
                        backoff(failures)
                    }
                }
            }
            Err(ApiError::RetryAfter(d)) => d,
            Err(ApiError::Conflict) => {
                tracing::warn!("another instance is polling with this token (409); waiting");
                Duration::from_secs(5)
            }
            Err(ApiError::Unauthorized) => {
                tracing::error!("the Bot API refused the token; check telegram.token");
                Duration::from_secs(30)
            }
            Err(e) => {
                tracing::warn!(error = %e, failures, "getUpdates failed; backing off");
                backoff(failures)
            }
        };
        failures += 1;
        sleep_or_shutdown(wait, &mut shutdown).await;
    }
}

/// Sleeps, returning early when shutdown is signalled.
pub async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) {
    if *shutdown.borrow() {
        return;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}

/// Handles stored updates in order until shutdown; the update being handled when shutdown
/// comes is finished first.
pub async fn work(
    ctx: Ctx,
    me: Me,
    inbox: Arc<Notify>,
    outbox: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let store = ctx.store.clone();
    let tree = super::handlers::schema();
    let mut failures = 0u32;
    loop {
        let batch = match store.pending_updates(64) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the inbox");
                sleep_or_shutdown(backoff(failures), &mut shutdown).await;
                failures += 1;
                if *shutdown.borrow() {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = inbox.notified() => {}
                _ = shutdown.changed() => {}
                // belt and braces: a notification can race with the read above
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        for item in batch {
            let span = tracing::info_span!(
                "update",
                update_id = item.update_id,
                chat_id = item.chat_id,
                outcome = tracing::field::Empty,
                passage = tracing::field::Empty,
                score = tracing::field::Empty,
                coverage = tracing::field::Empty,
                command = tracing::field::Empty,
                callback = tracing::field::Empty,
                latency_us = tracing::field::Empty,
            );
            let started = std::time::Instant::now();
            let kind = ["message", "edited_message", "callback_query"]
                .into_iter()
                .find(|k| item.body.contains(&format!("\"{k}\":")))
                .unwrap_or("other");
            let actions = match serde_json::from_str::<Update>(&item.body) {
                Ok(update) => {
                    handle(&tree, update, me.clone(), ctx.clone())
                        .instrument(span.clone())
                        .await
                }
                Err(_) => {
                    // the body may hold a user's text: log only that it was unreadable
                    span.in_scope(|| tracing::warn!("skipping an update teloxide cannot read"));
                    Vec::new()
                }
            };
            loop {
                match store.complete_update(item.update_id, &actions, now_ms()) {
                    Ok(()) => break,
                    Err(e) => {
                        // the answer is not lost while the update stays pending: retry
                        span.in_scope(|| tracing::error!(error = %e, "cannot complete the update"));
                        tokio::time::sleep(backoff(failures)).await;
                        failures = failures.saturating_add(1);
                    }
                }
            }
            failures = 0;
            ctx.metrics.update(kind, started.elapsed().as_secs_f64());
            span.in_scope(|| tracing::info!(actions = actions.len(), "handled"));
            outbox.notify_one();
        }
    }
}
