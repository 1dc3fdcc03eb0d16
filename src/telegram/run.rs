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
use super::leader::{on_own_thread, Connect, Election, Role, Term};
use super::{inbox, ops, sender, webhook};
use crate::core::{Engine, SharedEngine};
use crate::metrics::Metrics;
use crate::search::{self, Opened, SearchIndex};
use crate::settings::{Settings, TelegramMode};
use crate::store::{Store, StoreKind};

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
    // several replicas share a PostgreSQL store and elect their leader through it; a SQLite
    // file belongs to one process, which always leads
    let pg: Option<Connect> = match &opened.kind {
        StoreKind::Postgres(url) => {
            let cs = crate::store::pg_connect_settings(&settings, url)?;
            Some(Arc::new(move || {
                let cs = cs.clone();
                Box::pin(async move { Ok(crate::store::postgres::connect(&cs).await?) })
            }))
        }
        StoreKind::Sqlite(_) => None,
    };
    let review_on = !settings.review.listen.is_empty();
    let engine = SharedEngine::new(crate::core::open_engine(&settings)?);
    let api = Api::new(&settings)?;
    let metrics = Arc::new(Metrics::new());
    let clock = crate::clock::Clock::system();
    metrics.index_loaded(engine.get().index().num_passages());
    let ctx = Ctx {
        engine: engine.clone(),
        store: store.clone(),
        settings: settings.clone(),
        metrics: metrics.clone(),
        clock: clock.clone(),
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
    let (election, role) = match &pg {
        Some(connect) => Election::postgres(connect.clone(), metrics.clone()),
        None => Election::single(&metrics),
    };
    if settings.telegram.mode == TelegramMode::Webhook {
        // every replica takes updates into the shared inbox; only the leader handles them
        let listener = tokio::net::TcpListener::bind(&settings.telegram.webhook_listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on telegram.webhook_listen = {}",
                    settings.telegram.webhook_listen
                )
            })?;
        let hook = webhook::Hook {
            store: store.clone(),
            metrics: metrics.clone(),
            inbox: inbox_notify.clone(),
            secret: settings.telegram.webhook_secret.clone(),
            clock: clock.clone(),
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
    let mut ops_done = None;
    if !settings.ops.listen.is_empty() {
        let listener = std::net::TcpListener::bind(&settings.ops.listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .with_context(|| format!("cannot listen on ops.listen = {}", settings.ops.listen))?;
        let ops = ops::Ops {
            metrics: metrics.clone(),
            store: store.clone(),
            engine: engine.clone(),
            settings: settings.clone(),
            clock: clock.clone(),
        };
        let stop = stop_rx.clone();
        // on a thread of its own, like the election: /healthz must answer (with the role)
        // while the store's calls hold the bot's workers
        ops_done = Some(on_own_thread("faqbot-ops", async move {
            let served = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => ops::serve(listener, ops, stop).await,
                Err(e) => Err(e),
            };
            if let Err(e) = served {
                tracing::error!(error = %e, "ops listener failed");
            }
        }));
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
        let review =
            crate::review::Review::new(opened.backend.clone(), settings.clone(), clock.clone());
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

    let duties = Duties {
        ctx,
        me,
        api,
        inbox: inbox_notify,
        outbox: outbox_notify,
        // followers store webhook updates without a way to wake the leader: it looks often
        idle: if pg.is_some() {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        },
    };
    lead_while_elected(&duties, role, &election, &mut shutdown).await;
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    election.finish().await;
    if let Some(done) = ops_done {
        let _ = done.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// What the leader does, and what it needs.
struct Duties {
    ctx: Ctx,
    me: Me,
    api: Api,
    inbox: Arc<Notify>,
    outbox: Arc<Notify>,
    idle: Duration,
}

/// Performs the leader's duties during each term this replica is elected for, until shutdown.
/// When a term ends the duties stop at once (nothing new is handled or sent); on shutdown they
/// finish the updates in hand and send what is queued for a moment, while the term is still
/// held, so the next leader starts where this one stopped.
async fn lead_while_elected(
    duties: &Duties,
    mut role: Role,
    election: &Election,
    shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) {
    loop {
        let term = tokio::select! {
            term = role.wait_for(Option::is_some) => match term {
                Ok(t) => t.clone(),
                Err(_) => return,
            },
            _ = shutdown.as_mut() => return,
        };
        let Some(term) = term else { continue };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = duties.start(term.clone(), stop_rx).await;
        let epoch = term.epoch();
        let ended = tokio::select! {
            _ = role.wait_for(|t| t.as_ref().map(Term::epoch) != Some(epoch)) => true,
            _ = shutdown.as_mut() => false,
        };
        if ended {
            tracing::info!(epoch, "term over: the leader's work stops");
        } else {
            tracing::info!(
                "shutting down: finishing the update in hand and sending what is queued"
            );
            let _ = election.stopping.send(true);
        }
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
        if !ended {
            return;
        }
    }
}

impl Duties {
    /// Starts the leader's tasks for `term`: polling (in polling mode), handling, sending and
    /// the retention purge.
    async fn start(&self, term: Term, stop: watch::Receiver<bool>) -> tokio::task::JoinSet<()> {
        let ctx = &self.ctx;
        let settings = &ctx.settings;
        let mut tasks = tokio::task::JoinSet::new();
        // one webhook (or none) per bot: the leader says which, each term, as a follower that
        // took over may run a newer configuration
        let webhook = match settings.telegram.mode {
            TelegramMode::Polling => None,
            TelegramMode::Webhook => Some(settings.telegram.webhook_url.as_str()),
        };
        if let Err(e) = self
            .api
            .set_webhook(webhook, &settings.telegram.webhook_secret)
            .await
        {
            tracing::warn!(error = %e, "cannot set (or remove) the webhook");
        }
        if settings.telegram.mode == TelegramMode::Polling {
            tasks.spawn(inbox::poll(
                self.api.clone(),
                ctx.clone(),
                self.inbox.clone(),
                term.clone(),
                stop.clone(),
            ));
        }
        tasks.spawn(inbox::work(
            ctx.clone(),
            self.me.clone(),
            self.inbox.clone(),
            self.outbox.clone(),
            term.clone(),
            self.idle,
            stop.clone(),
        ));
        tasks.spawn(sender::send(
            self.api.clone(),
            ctx.clone(),
            self.outbox.clone(),
            DRAIN,
            term,
            stop.clone(),
        ));
        tasks.spawn(purge(
            ctx.store.clone(),
            ctx.clock.clone(),
            settings.store.retention_days,
            stop,
        ));
        tasks
    }
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
async fn purge(
    store: Arc<dyn Store>,
    clock: crate::clock::Clock,
    retention_days: u32,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let now = clock.now_ms();
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
