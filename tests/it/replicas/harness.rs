//! Three `faqbot run` child processes on one PostgreSQL database (a server of the test's own),
//! the strict fake Bot API, and traffic from many chats while replicas are killed, restarted or
//! cut off from the database. What the fake received is checked at the end: every update
//! answered, in order per chat, duplicates only where a kill can explain them, Telegram's limits
//! kept, an escalation's relays in both directions intact.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::Cluster;
use super::proxy::Proxy;
use crate::bot::{free_port, post_update, spawn_with, Home, TOKEN};
use crate::fake_api::FakeTelegram;
use crate::load;
use crate::ops::get;

/// The coordinators' group (a forum).
pub const GROUP: i64 = -1_009_100_000_001;
/// The caregiver whose chat is escalated before the faults begin.
pub const CAREGIVER: i64 = 29_999;
const COORDINATOR: i64 = 900_888;
const SECRET: &str = "replicas-webhook-secret-0123";

/// Private chats sending messages at once.
const CHATS: usize = 40;

/// The fake stamps a request when it arrives; Telegram's windows are checked this much short.
const SLACK: Duration = Duration::from_millis(1);

/// What each chat sends, in turn, and a piece of text only the reply to it has.
const MESSAGES: &[(&str, &str)] = &[
    ("/help", "for example:"),
    ("/privacy", "What we keep"),
    ("thank you", "You are welcome"),
    ("/topics", "Topics in our guides"),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Polling,
    Webhook,
}

/// One replica's place: its ports.
struct Slot {
    ops: u16,
    hook: u16,
}

/// The replicas, their database, the fake Bot API.
pub struct Replicas {
    /// Replica 0's way to the database, when it has one of its own.
    proxy: Option<Proxy>,
    pub fake: FakeTelegram,
    pub home: Home,
    pub cluster: Cluster,
    url: String,
    mode: Mode,
    slots: Vec<Slot>,
    /// Each replica's process while it runs.
    children: Mutex<Vec<Option<Child>>>,
}

impl Replicas {
    /// `n` replicas in `mode` on a new database, the coordinators' group a forum, the index
    /// built once for all of them.
    pub fn start(mode: Mode, n: usize) -> Replicas {
        let r = Replicas::new(mode, n, false);
        for i in 0..n {
            r.spawn(i);
        }
        r
    }

    /// Like [`Replicas::start`], with replica 0 reaching the database through a [`Proxy`] that
    /// can be cut, and leading when the others start.
    pub fn start_behind_proxy(mode: Mode, n: usize) -> Replicas {
        let r = Replicas::new(mode, n, true);
        r.spawn(0);
        assert_eq!(
            r.wait_leader(None, Duration::from_secs(60)),
            Some(0),
            "replica 0 alone should lead"
        );
        for i in 1..n {
            r.spawn(i);
        }
        r
    }

    fn new(mode: Mode, n: usize, proxy: bool) -> Replicas {
        let cluster = Cluster::start();
        let url = cluster.create_database("faqbot");
        let fake = FakeTelegram::start(TOKEN);
        fake.make_forum(GROUP);
        let home = Home::shipped();
        let proxy = proxy.then(|| Proxy::start(cluster.port()));
        let r = Replicas {
            proxy,
            fake,
            home,
            cluster,
            url,
            mode,
            slots: (0..n)
                .map(|_| Slot {
                    ops: free_port(),
                    hook: free_port(),
                })
                .collect(),
            children: Mutex::new((0..n).map(|_| None).collect()),
        };
        load::build_index(&r.home, &r.fake);
        r
    }

    /// Cuts (true) or heals (false) replica 0's way to the database.
    pub fn cut(&self, cut: bool) {
        self.proxy
            .as_ref()
            .expect("started behind a proxy")
            .set_cut(cut);
    }

    fn env(&self, i: usize) -> Vec<(String, String)> {
        let slot = &self.slots[i];
        let mut env = self.home.env(&self.fake);
        env.retain(|(k, _)| k != "FAQBOT_STORE__PATH");
        let mut add = |k: &str, v: String| env.push((k.to_string(), v));
        let url = match &self.proxy {
            Some(p) if i == 0 => self.url.replace(
                &format!(":{}/", self.cluster.port()),
                &format!(":{}/", p.port),
            ),
            _ => self.url.clone(),
        };
        add("FAQBOT_STORE__URL", url);
        add("FAQBOT_COORDINATORS__CHAT_ID", GROUP.to_string());
        add("FAQBOT_OPS__LISTEN", format!("127.0.0.1:{}", slot.ops));
        if self.mode == Mode::Webhook {
            add("FAQBOT_TELEGRAM__MODE", "webhook".into());
            add(
                "FAQBOT_TELEGRAM__WEBHOOK_URL",
                "https://bot.example.org/tg/hook".into(),
            );
            add(
                "FAQBOT_TELEGRAM__WEBHOOK_LISTEN",
                format!("127.0.0.1:{}", slot.hook),
            );
            add("FAQBOT_TELEGRAM__WEBHOOK_SECRET", SECRET.into());
        }
        env
    }

    fn log(&self, i: usize) -> PathBuf {
        self.home.dir.path().join(format!("replica-{i}.log"))
    }

    fn children(&self) -> std::sync::MutexGuard<'_, Vec<Option<Child>>> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts replica `i` (again).
    pub fn spawn(&self, i: usize) {
        let child = spawn_with(&self.home, self.env(i), &self.log(i));
        self.children()[i] = Some(child);
    }

    /// SIGKILL.
    pub fn kill(&self, i: usize) {
        let child = self.children()[i].take();
        if let Some(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and a clean exit (within 20 s).
    pub fn terminate(&self, i: usize) {
        let child = self.children()[i].take();
        if let Some(child) = child {
            load::terminate(child, &self.log(i));
        }
    }

    /// The end of replica `i`'s log, for failure messages.
    pub fn tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.log(i)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// What replica `i`'s `/healthz` says its role is (None while it does not answer).
    pub fn role(&self, i: usize) -> Option<String> {
        self.children()[i].as_ref()?;
        let (_, body) = get(&format!("http://127.0.0.1:{}/healthz", self.slots[i].ops))?;
        let v: Value = serde_json::from_str(&body).ok()?;
        Some(v["role"].as_str()?.to_string())
    }

    /// Replica `i`'s `faqbot_leader` metric.
    pub fn leader_metric(&self, i: usize) -> Option<String> {
        let (_, body) = get(&format!("http://127.0.0.1:{}/metrics", self.slots[i].ops))?;
        body.lines()
            .find(|l| l.starts_with("faqbot_leader "))
            .map(str::to_string)
    }

    /// Waits (up to `limit`) until a running replica other than `not` says it leads.
    pub fn wait_leader(&self, not: Option<usize>, limit: Duration) -> Option<usize> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            for i in 0..self.slots.len() {
                if Some(i) != not && self.role(i).as_deref() == Some("leader") {
                    return Some(i);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The webhook ports of the running replicas (the load balancer's pool).
    fn hooks(&self) -> Vec<u16> {
        self.slots.iter().map(|s| s.hook).collect()
    }

    /// Escalates the caregiver's chat (a topic in the group) before the faults begin; returns
    /// the topic.
    fn escalate(&self, tx: &Sender) -> i32 {
        tx.send(&self.fake, |f| {
            f.push_command(CAREGIVER, CAREGIVER, "/human")
        });
        assert!(self.fake.wait_until(Duration::from_secs(60), |f| !f
            .messages_to(CAREGIVER)
            .is_empty()));
        let confirm = self.fake.messages_to(CAREGIVER)[0].message_id;
        tx.send(&self.fake, |f| {
            f.push_callback(CAREGIVER, CAREGIVER, confirm, "h:y")
        });
        assert!(
            self.fake
                .wait_until(Duration::from_secs(60), |f| !f.topics(GROUP).is_empty()),
            "no topic for the escalation"
        );
        self.fake.topics(GROUP)[0].0
    }

    /// Traffic from [`CHATS`] chats and the escalated caregiver while `faults` runs (once a
    /// replica leads and the caregiver's chat is escalated), and for 3 s after; what was sent.
    pub fn under_load(&self, faults: impl FnOnce()) -> Traffic {
        let tx = self.sender();
        self.wait_leader(None, Duration::from_secs(60))
            .expect("no leader within 60 s");
        let thread = self.escalate(&tx);
        let stop = AtomicBool::new(false);
        /// Stops the traffic however the faults end (a failed assertion too), or the scope
        /// would wait for it forever.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        std::thread::scope(|s| {
            let load = s.spawn(|| traffic(self, &tx, thread, CHATS, &stop));
            let stopper = Stop(&stop);
            faults();
            std::thread::sleep(Duration::from_secs(3));
            drop(stopper);
            load.join().expect("traffic")
        })
    }

    /// How updates reach the replicas in this mode.
    fn sender(&self) -> Sender {
        Sender {
            mode: self.mode,
            hooks: self.hooks(),
            next: Mutex::new(0),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::new(),
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for i in 0..self.slots.len() {
            self.kill(i);
        }
    }
}

/// Delivers updates: queued at the fake for `getUpdates`, or posted to a replica's webhook the
/// way Telegram reaches a load balancer (another replica when one refuses, again until one
/// stores it).
pub struct Sender {
    mode: Mode,
    hooks: Vec<u16>,
    next: Mutex<usize>,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Sender {
    /// Pushes an update through `push` (which queues it at the fake); in webhook mode also posts
    /// it until a replica answers 200. Returns the update id.
    pub fn send(&self, fake: &FakeTelegram, push: impl FnOnce(&FakeTelegram) -> i32) -> i32 {
        let id = push(fake);
        if self.mode == Mode::Polling {
            return id;
        }
        let body = fake
            .pushed_update(id)
            .expect("the update just pushed")
            .to_string();
        self.runtime.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                let port = {
                    let mut n = self.next.lock().unwrap_or_else(|e| e.into_inner());
                    *n += 1;
                    self.hooks[*n % self.hooks.len()]
                };
                let url = format!("http://127.0.0.1:{port}/tg/hook");
                if post_update(&self.client, &url, &body, Some(SECRET)).await == Some(200) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no replica stored update {id} within 120 s");
        });
        id
    }
}

/// What the traffic sent, to check against what the fake received.
#[derive(Default)]
pub struct Traffic {
    /// Per chat, the piece of text each reply must have, in the order the messages were sent.
    pub sent: HashMap<i64, Vec<&'static str>>,
    /// The coordinator's messages in the escalation's topic, in order.
    pub replies: Vec<String>,
    /// The caregiver's messages (their ids in the caregiver's chat), relayed to the topic.
    pub notes: Vec<i32>,
}

/// Messages from `chats` private chats, one every 75 ms in turn (each chat every few seconds),
/// with a coordinator's message in `thread` every 3 s and a caregiver's message every 6 s,
/// until `stop`.
pub fn traffic(r: &Replicas, tx: &Sender, thread: i32, chats: usize, stop: &AtomicBool) -> Traffic {
    let mut t = Traffic::default();
    let start = Instant::now();
    let mut tick = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let chat = 30_000 + (tick % chats) as i64;
        let (text, needle) = MESSAGES[(tick / chats + tick % chats) % MESSAGES.len()];
        if text.starts_with('/') {
            tx.send(&r.fake, |f| f.push_command(chat, chat, text));
        } else {
            tx.send(&r.fake, |f| f.push_text(chat, chat, text));
        }
        t.sent.entry(chat).or_default().push(needle);
        if tick % 40 == 39 {
            let reply = format!("coordinator message number {}.", t.replies.len());
            tx.send(&r.fake, |f| {
                f.push_topic_text(GROUP, COORDINATOR, thread, &reply)
            });
            t.replies.push(reply);
        }
        if tick % 80 == 79 {
            let note = format!("caregiver message number {}", t.notes.len());
            let id = tx.send(&r.fake, |f| f.push_text(CAREGIVER, CAREGIVER, &note));
            t.notes
                .push(r.fake.message_id_of(id).expect("the note's message id"));
        }
        tick += 1;
        let due = start + Duration::from_millis(75 * tick as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    t
}

/// The caregiver's messages copied into the group, by their id in the caregiver's chat, in the
/// order the fake received them, with when.
fn notes_relayed(fake: &FakeTelegram) -> Vec<(i32, Instant)> {
    fake.calls_of("copyMessage")
        .into_iter()
        .filter(|c| c.status == 200 && c.chat_id() == Some(GROUP))
        .filter_map(|c| {
            let id = c.body["message_id"].as_i64()?;
            Some((i32::try_from(id).ok()?, c.at))
        })
        .collect()
}

/// `got` (with arrival times) in the order `want`, each item at least once; a repeat of the
/// item just seen is returned as the times of its two copies; anything else out of place fails.
fn in_order<T: PartialEq + std::fmt::Debug, W: std::fmt::Debug>(
    what: &str,
    got: &[(T, Instant)],
    want: &[W],
    same: impl Fn(&T, &W) -> bool,
) -> Vec<(Instant, Instant)> {
    let mut k = 0;
    let mut repeats = Vec::new();
    let mut last: Option<&(T, Instant)> = None;
    for (i, g) in got.iter().enumerate() {
        if k < want.len() && same(&g.0, &want[k]) {
            k += 1;
            last = Some(g);
        } else if let Some(l) = last.filter(|l| l.0 == g.0) {
            repeats.push((l.1, g.1));
            last = Some(g);
        } else {
            let first = got[0].1;
            let all: Vec<String> = got
                .iter()
                .map(|(g, at)| format!("{:.3} s: {g:?}", (*at - first).as_secs_f64()))
                .collect();
            panic!(
                "{what}: item {i} ({:?}) out of order; expected {:?}; wanted {want:?}, got:\n{}",
                g.0,
                want.get(k),
                all.join("\n")
            );
        }
    }
    assert_eq!(k, want.len(), "{what}: only {k} of {} arrived", want.len());
    repeats
}

/// The fake stamps a request when it starts handling it, which can be a moment after a kill for
/// a request the killed process had already written.
const IN_FLIGHT: Duration = Duration::from_millis(100);

/// Waits until everything the traffic sent was answered or relayed, then checks order, repeats
/// and Telegram's limits at the fake. A message may arrive twice only when its send was under
/// way at one of the `kills` (Telegram has no idempotency key): each repeat must have a kill
/// between its two copies, and no chat may get more repeats than there were kills. A replica
/// sends to many chats at once, so one kill may repeat one message in each of several chats.
/// Returns the number of repeats.
pub fn check(r: &Replicas, t: &Traffic, kills: &[Instant]) -> usize {
    let fake = &r.fake;
    let done = |f: &FakeTelegram| {
        let notes: Vec<i32> = notes_relayed(f).into_iter().map(|n| n.0).collect();
        t.sent
            .iter()
            .all(|(c, s)| f.messages_to(*c).len() >= s.len())
            && t.replies.iter().all(|reply| {
                f.messages_to(CAREGIVER)
                    .iter()
                    .any(|m| m.visible.contains(reply.as_str()))
            })
            && t.notes.iter().all(|n| notes.contains(n))
    };
    let all = fake.wait_until(Duration::from_secs(120), done);
    // time for a late repeat to show
    std::thread::sleep(Duration::from_secs(2));
    let logs: String = (0..r.len())
        .map(|i| r.tail(i))
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert!(
        all,
        "not everything was answered within 120 s; logs:\n{logs}"
    );
    if std::env::var_os("FAQBOT_TEST_SHOW_LOGS").is_some() {
        println!("{logs}");
    }
    let mut repeats = 0;
    let mut explained = |what: &str, pairs: Vec<(Instant, Instant)>| {
        assert!(
            pairs.len() <= kills.len(),
            "{what}: {} repeats for {} kills",
            pairs.len(),
            kills.len()
        );
        for (a, b) in &pairs {
            assert!(
                kills.iter().any(|k| *k + IN_FLIGHT >= *a && k <= b),
                "{what}: a message sent twice with no kill in between"
            );
        }
        repeats += pairs.len();
    };
    for (chat, needles) in &t.sent {
        let got: Vec<(String, Instant)> = fake
            .messages_to(*chat)
            .into_iter()
            .map(|m| (m.visible, m.at))
            .collect();
        let what = format!("chat {chat}");
        explained(&what, in_order(&what, &got, needles, |g, n| g.contains(n)));
    }
    let relayed: Vec<(String, Instant)> = fake
        .messages_to(CAREGIVER)
        .into_iter()
        .filter(|m| m.visible.contains("coordinator message number"))
        .map(|m| (m.visible, m.at))
        .collect();
    let what = "the coordinator's messages";
    explained(
        what,
        in_order(what, &relayed, &t.replies, |g, w| g.contains(w.as_str())),
    );
    let what = "the caregiver's messages";
    explained(
        what,
        in_order(what, &notes_relayed(fake), &t.notes, |g, w| g == w),
    );
    let per_chat = fake.max_rate(Duration::from_secs(1) - SLACK, true);
    let overall = fake.max_rate(Duration::from_secs(1) - SLACK, false);
    let group = fake.max_rate_in_chat(GROUP, Duration::from_secs(60) - SLACK);
    println!(
        "limits at the fake: {per_chat} per chat per second, {overall} per second overall, \
         {group} per minute in the group; {repeats} repeats for {} kills; {} updates",
        kills.len(),
        t.sent.values().map(Vec::len).sum::<usize>() + t.replies.len() + t.notes.len()
    );
    assert!(
        per_chat <= 1,
        "a chat got {per_chat} messages within a second"
    );
    assert!(overall <= 30, "{overall} messages within a second");
    assert!(
        group <= 20,
        "the group got {group} messages within a minute"
    );
    repeats
}
