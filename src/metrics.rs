//! The bot's operational metrics, exposed in Prometheus text format by the ops listener
//! (`telegram::ops`). Counters are updated where things happen; gauges that mirror the store
//! are read when scraped.

use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// Everything the bot counts.
pub struct Metrics {
    registry: Registry,
    updates: Family<Labels, Counter>,
    outcomes: Family<Labels, Counter>,
    latency: Histogram,
    api_errors: Family<Labels, Counter>,
    pub escalations_open: Gauge,
    pub inbox_pending: Gauge,
    pub outbox_pending: Gauge,
    index_generation: Gauge,
    index_passages: Gauge,
    /// 1 while this replica leads (handles the inbox and sends), 0 while it stands by.
    leader: Gauge,
    /// Terms of leadership this replica began.
    leader_terms: Counter,
    /// Unix milliseconds of the last successful getUpdates (or webhook request); 0 = never.
    last_poll_ms: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("faqbot");
        let updates = Family::<Labels, Counter>::default();
        let outcomes = Family::<Labels, Counter>::default();
        // 50 µs .. ~1.6 s
        let latency = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let api_errors = Family::<Labels, Counter>::default();
        let escalations_open = Gauge::default();
        let inbox_pending = Gauge::default();
        let outbox_pending = Gauge::default();
        let index_generation = Gauge::default();
        let index_passages = Gauge::default();
        let leader = Gauge::default();
        let leader_terms = Counter::default();
        registry.register("updates", "Updates handled, by kind", updates.clone());
        registry.register("replies", "Replies, by outcome", outcomes.clone());
        registry.register(
            "reply_latency_seconds",
            "Time to handle one update, from the inbox to the queued answer",
            latency.clone(),
        );
        registry.register(
            "telegram_api_errors",
            "Bot API calls that failed, by kind",
            api_errors.clone(),
        );
        registry.register(
            "escalations_open",
            "Open coordinator requests",
            escalations_open.clone(),
        );
        registry.register(
            "inbox_pending",
            "Updates stored and not yet handled",
            inbox_pending.clone(),
        );
        registry.register(
            "outbox_pending",
            "Actions queued and not yet sent",
            outbox_pending.clone(),
        );
        registry.register(
            "index_generation",
            "Index versions loaded since start",
            index_generation.clone(),
        );
        registry.register(
            "index_passages",
            "Passages in the index in use",
            index_passages.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica is the leader (handles updates and sends), 0 while it stands by",
            leader.clone(),
        );
        registry.register(
            "leader_terms",
            "Terms of leadership this replica began",
            leader_terms.clone(),
        );
        Metrics {
            registry,
            updates,
            outcomes,
            latency,
            api_errors,
            escalations_open,
            inbox_pending,
            outbox_pending,
            index_generation,
            index_passages,
            leader,
            leader_terms,
            last_poll_ms: AtomicI64::new(0),
        }
    }

    fn label(name: &str, value: &str) -> Labels {
        vec![(name.to_string(), value.to_string())]
    }

    pub fn update(&self, kind: &str, seconds: f64) {
        self.updates.get_or_create(&Self::label("kind", kind)).inc();
        self.latency.observe(seconds);
    }

    pub fn outcome(&self, outcome: &str) {
        self.outcomes
            .get_or_create(&Self::label("outcome", outcome))
            .inc();
    }

    pub fn api_error(&self, kind: &str) {
        self.api_errors
            .get_or_create(&Self::label("kind", kind))
            .inc();
    }

    pub fn index_loaded(&self, passages: u64) {
        self.index_generation.inc();
        self.index_passages
            .set(i64::try_from(passages).unwrap_or(i64::MAX));
    }

    /// Records this replica's role; a change to leader begins a term.
    pub fn set_leader(&self, leader: bool) {
        if leader && self.leader.get() == 0 {
            self.leader_terms.inc();
        }
        self.leader.set(i64::from(leader));
    }

    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    pub fn polled(&self, now_ms: i64) {
        self.last_poll_ms.store(now_ms, Ordering::Relaxed);
    }

    pub fn last_poll_ms(&self) -> i64 {
        self.last_poll_ms.load(Ordering::Relaxed)
    }

    pub fn index_passages(&self) -> i64 {
        self.index_passages.get()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_the_histogram() {
        let m = Metrics::new();
        m.update("message", 0.0002);
        m.outcome("answer");
        m.outcome("answer");
        m.api_error("rate_limited");
        m.index_loaded(35);
        m.set_leader(true);
        let text = m.render();
        assert!(
            text.contains("faqbot_updates_total{kind=\"message\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("faqbot_replies_total{outcome=\"answer\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("faqbot_telegram_api_errors_total{kind=\"rate_limited\"} 1"),
            "{text}"
        );
        assert!(text.contains("faqbot_index_passages 35"), "{text}");
        assert!(text.contains("faqbot_leader 1"), "{text}");
        assert!(text.contains("faqbot_leader_terms_total 1"), "{text}");
        assert!(
            text.contains("faqbot_reply_latency_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
