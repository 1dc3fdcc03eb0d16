//! `faqbot run`: wires the store, the engine, the Bot API and the tasks together, and stops
//! them in order on SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teloxide::types::{BotCommand, Me};
use teloxide::utils::command::BotCommands;
use tokio::sync::{watch, Notify};

use super::api::{Api, ApiError};
use super::context::Ctx;
use super::handlers::Command;
use super::{inbox, ops, sender, webhook};
use crate::core::{Engine, SharedEngine};
use crate::metrics::Metrics;
use crate::search::{self, Opened, SearchIndex};
use crate::settings::{Settings, TelegramMode};
use crate::store::Store;

/// How long a shutdown keeps sending what is queued before exiting (the rest stays stored).
const DRAIN: Duration = Duration::from_secs(5);

/// Runs the bot until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    settings.validate_for_run()?;
    let settings = Arc::new(settings);
    let opened = crate::store::open(&settings)?;
    tracing::info!(store = %opened.kind, "store open");
    let store: Arc<dyn Store> = opened.store();
    let review_on = !settings.review.listen.is_empty();
    let engine = SharedEngine::new(crate::core::open_engine(&settings)?);
    let api = Api::new(&settings)?;
    let metrics = Arc::new(Metrics::new());
    metrics.index_loaded(engine.get().index().num_passages());
    let ctx = Ctx {
        engine: engine.clone(),
        store: store.clone(),
        settings: settings.clone(),
        metrics: metrics.clone(),
        review: review_on.then(|| opened.review()),
        journal: Default::default(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);

    tokio::pin!(shutdown);
    let me = tokio::select! {
        me = wait_for_me(&api, stop_rx.clone()) => me,
        _ = &mut shutdown => return Ok(()),
    };
    let Some(me) = me else { return Ok(()) };
    tracing::info!(bot = %me.username(), mode = ?settings.telegram.mode, "connected to the Bot API");
    // Telegram wants command names without the slash; /read is reached from answers, not the menu
    let commands: Vec<BotCommand> = Command::bot_commands()
        .into_iter()
        .map(|c| BotCommand::new(c.command.trim_start_matches('/'), c.description))
        .filter(|c| c.command != "read")
        .collect();
    if let Err(e) = api.set_commands(commands).await {
        tracing::warn!(error = %e, "cannot register the command menu");
    }

    let inbox_notify = Arc::new(Notify::new());
    let outbox_notify = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    match settings.telegram.mode {
        TelegramMode::Polling => {
            if let Err(e) = api
                .set_webhook(None, &settings.telegram.webhook_secret)
                .await
            {
                tracing::warn!(error = %e, "cannot remove a webhook before polling");
            }
            tasks.spawn(inbox::poll(
                api.clone(),
                store.clone(),
                metrics.clone(),
                inbox_notify.clone(),
                settings.telegram.max_pending_updates,
                stop_rx.clone(),
            ));
        }
        TelegramMode::Webhook => {
            let listener = tokio::net::TcpListener::bind(&settings.telegram.webhook_listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on telegram.webhook_listen = {}",
                        settings.telegram.webhook_listen
                    )
                })?;
            api.set_webhook(
                Some(&settings.telegram.webhook_url),
                &settings.telegram.webhook_secret,
            )
            .await
            .map_err(|e| anyhow::anyhow!("setWebhook failed: {e}"))?;
            let hook = webhook::Hook {
                store: store.clone(),
                metrics: metrics.clone(),
                inbox: inbox_notify.clone(),
                secret: settings.telegram.webhook_secret.clone(),
                max_pending: settings.telegram.max_pending_updates,
            };
            let serve = webhook::serve(
                listener,
                webhook::path_of(&settings.telegram.webhook_url),
                hook,
                stop_rx.clone(),
            );
            tasks.spawn(async move {
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "webhook server failed");
                }
            });
        }
    }
    tasks.spawn(inbox::work(
        ctx,
        me,
        inbox_notify,
        outbox_notify.clone(),
        stop_rx.clone(),
    ));
    tasks.spawn(sender::send(
        api.clone(),
        store.clone(),
        settings.clone(),
        metrics.clone(),
        outbox_notify,
        DRAIN,
        stop_rx.clone(),
    ));
    if !settings.ops.listen.is_empty() {
        let listener = tokio::net::TcpListener::bind(&settings.ops.listen)
            .await
            .with_context(|| format!("cannot listen on ops.listen = {}", settings.ops.listen))?;
        let ops = ops::Ops {
            metrics: metrics.clone(),
            store: store.clone(),
            engine: engine.clone(),
            settings: settings.clone(),
        };
        let stop = stop_rx.clone();
        tasks.spawn(async move {
            if let Err(e) = ops::serve(listener, ops, stop).await {
                tracing::error!(error = %e, "ops listener failed");
            }
        });
    }
    if review_on {
        let listener = tokio::net::TcpListener::bind(&settings.review.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on review.listen = {}",
                    settings.review.listen
                )
            })?;
        let review = crate::review::Review::new(opened.backend.clone(), settings.clone());
        let stop = stop_rx.clone();
        tracing::info!(listen = %settings.review.listen, "review page listening");
        tasks.spawn(async move {
            if let Err(e) = crate::review::serve(listener, review, stop).await {
                tracing::error!(error = %e, "review listener failed");
            }
        });
    }
    tasks.spawn(reload_content(
        engine,
        settings.clone(),
        metrics.clone(),
        stop_rx.clone(),
    ));
    tasks.spawn(purge(
        store.clone(),
        settings.store.retention_days,
        stop_rx.clone(),
    ));

    (&mut shutdown).await;
    tracing::info!("shutting down: finishing the update in hand and sending what is queued");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped");
    Ok(())
}

/// getMe until it works: Telegram may be unreachable when the bot starts.
async fn wait_for_me(api: &Api, mut stop: watch::Receiver<bool>) -> Option<Me> {
    let mut failures = 0;
    loop {
        match api.get_me().await {
            Ok(me) => return Some(me),
            Err(ApiError::Unauthorized) => {
                tracing::error!("the Bot API refused the token; check telegram.token")
            }
            Err(e) => tracing::warn!(error = %e, "cannot reach the Bot API yet; retrying"),
        }
        inbox::sleep_or_shutdown(inbox::backoff(failures), &mut stop).await;
        if *stop.borrow() {
            return None;
        }
        failures += 1;
    }
}

/// Watches the content and swaps in a new index when it changed; content errors keep the
/// current index and are logged with file and line.
async fn reload_content(
    engine: SharedEngine,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(settings.content.reload_secs);
    let mut reported = String::new();
    loop {
        inbox::sleep_or_shutdown(every, &mut stop).await;
        if *stop.borrow() {
            return;
        }
        let current = engine.get().index().meta().content_hash.clone();
        let dir = settings.content.dir.clone();
        let Ok(hash) = crate::content::content_hash(&dir) else {
            continue;
        };
        if hash == current || hash == reported {
            continue;
        }
        let s = settings.clone();
        let built = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<Engine>> {
            let (index, meta, opened) = search::open_or_build(&s.content.dir, &s.index.dir)?;
            if let Opened::Stale(errors) = opened {
                tracing::error!(
                    "content has errors; still answering from the previous index:\n{errors}"
                );
                return Ok(None);
            }
            Ok(Some(Engine::new(
                SearchIndex::new(index, meta)?,
                (*s).clone(),
            )?))
        })
        .await;
        match built {
            Ok(Ok(Some(new))) => {
                let passages = new.index().num_passages();
                engine.replace(new);
                metrics.index_loaded(passages);
                reported.clear();
                tracing::info!(passages, "content changed: new index in use");
            }
            Ok(Ok(None)) => reported = hash,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot rebuild the index; still answering from the previous one");
                reported = hash;
            }
            Err(e) => tracing::error!(error = %e, "index rebuild task failed"),
        }
    }
}

/// Deletes data older than the retention period, hourly.
async fn purge(store: Arc<dyn Store>, retention_days: u32, mut stop: watch::Receiver<bool>) {
    loop {
        let now = crate::clock::now_ms();
        let cutoff = now - i64::from(retention_days) * 86_400_000;
        match store.purge_older_than(cutoff) {
            Ok(n) if n > 0 => tracing::info!(rows = n, "retention: old data deleted"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention purge failed"),
        }
        inbox::sleep_or_shutdown(Duration::from_secs(3600), &mut stop).await;
        if *stop.borrow() {
            return;
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
