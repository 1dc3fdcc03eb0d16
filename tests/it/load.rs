//! Load tests, ignored by default. Run them in release mode (they take each other's lock, so
//! they never overlap even when the harness runs tests in parallel):
//!
//! ```sh
//! cargo test --release --test it load -- --ignored --nocapture
//! ```
//!
//! Against the strict fake Bot API on 127.0.0.1, with a fresh store each time:
//!
//! - [`load_end_to_end_throttle_off`]: the bot in-process with `telegram.throttle = false`.
//!   A backlog of 10,000 updates from 1,000 private chats (questions, greetings, commands, a few
//!   emergencies) queued before the bot starts: updates answered per second from the first
//!   `getUpdates` answer to the last `sendMessage`, and the latency of each update from the
//!   moment the fake handed it out to the bot's `sendMessage` for it (in a backlog that is mostly
//!   time spent queued). Then the same traffic offered at fixed rates, where the latency is the
//!   bot's own.
//! - [`load_child_rss_and_startup`]: the real `faqbot run` executable: the time from spawning it
//!   to its first `getUpdates` with the index already built, and its peak RSS (`VmHWM` from
//!   `/proc/<pid>/status`) while it serves the 10,000-update backlog.
//! - [`load_throttled_limits`]: throttling on: 300 updates from 50 chats, a burst of 30 to one
//!   chat and 25 to a group; Telegram's limits checked on the fake's arrival timestamps.
//!
//! The tests assert correctness only (every update answered exactly once, in order, limits
//! kept); timings are printed as markdown tables and compared with the targets in BENCHMARKS.md.
//! Every loop is bounded in count and in time.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::bot::{Bot, Home, Inspect, StoreEngine};
use crate::fake_api::{FakeTelegram, SentMessage, BOT_USERNAME};

/// The most any one load run may take before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The updates and chats of the big runs.
const UPDATES: usize = 10_000;
const CHATS: usize = 1_000;

/// The fake's timestamps are `Instant`s taken when a request arrives; the limits are checked
/// with this much slack (the brief allows about a millisecond of timestamp granularity).
const SLACK: Duration = Duration::from_millis(1);

static SERIAL: Mutex<()> = Mutex::new(());

/// One load test at a time: they measure the machine.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- traffic -------------------------------------------------------------------------------

/// Caregiver questions, in the words people use (typos and all).
const QUESTIONS: &[&str] = &[
    "keytruda stopped working, what now?",
    "can my dad try opdivo if keytruda already failed",
    "is there a point where immunotherapy no longer makes sense",
    "are clinical trials worth it after three lines of treatment",
    "can my mother get CAR-T after chemo and immunotherapy failed",
    "should we get a second opinion, the doctor says there are no options left",
    "what are antibody drug conjugates",
    "what is a bispecific antibody and could it help",
    "what is TIL therapy",
    "why did the cancer become resistant to immunotherapy",
    "does the exact type of cancer matter for the next treatment",
    "what should we ask the oncologist after third line failure",
    "how does an online MDT review in China work",
    "what do we need to prepare for treatment abroad",
    "why do some patients go to China for treatment",
    "is supportive care still important during treatment decisions",
    "how can I cope as a caregiver, I am exhausted",
    "what happens next after the scans show progression",
    "are cancer vaccines an option",
    "combination of ipilimumab and nivolumab after failure?",
    "my husband has lung cancer and immunotherapy failed what are the options",
    "immunotherapy stoped working what next",
    "can CAR-T work for solid tumours",
    "how do you decide when to seek a second opinion",
    "what does treatment look like when cure is not possible",
    "what is the quick answer about options after immunotherapy fails",
    "how are complex cancer cases reviewed in China",
    "is it worth switching to another PD-1 inhibitor",
];

/// (text, something its reply must contain): checks that replies are matched to the right
/// update, and that the mix exercises more than search.
const GREETINGS: &[(&str, Option<&str>)] = &[
    ("hi", None),
    ("hello there", None),
    ("thank you", Some("welcome")),
    ("thanks a lot", Some("welcome")),
    ("good morning", None),
];
const COMMANDS: &[(&str, Option<&str>)] = &[
    ("/start", Some("welcome")),
    ("/start from-clinic-flyer", Some("welcome")),
    ("/help", Some("Commands")),
    ("/topics", Some("Topics")),
    ("/privacy", Some("What we keep")),
];
const EMERGENCIES: &[(&str, Option<&str>)] = &[
    (
        "my father cannot breathe and his lips are turning blue",
        Some("emergency"),
    ),
    (
        "she collapsed and is not responding, what do I do",
        Some("emergency"),
    ),
];
const OTHER: &[(&str, Option<&str>)] = &[
    ("what will the weather be in beijing tomorrow", None),
    (
        "¿qué opciones hay si la inmunoterapia dejó de funcionar?",
        None,
    ),
];

/// A small deterministic generator (xorshift64*), so every run offers the same traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One update to offer.
#[derive(Clone, Copy, Debug)]
struct Msg {
    chat: i64,
    text: &'static str,
    expect: Option<&'static str>,
}

/// A realistic mix: 80% questions, 8% greetings and thanks, 8% commands, 2% emergencies, 2%
/// off-topic or not in English.
fn pick(rng: &mut Rng) -> (&'static str, Option<&'static str>) {
    let from =
        |rng: &mut Rng, list: &[(&'static str, Option<&'static str>)]| list[rng.below(list.len())];
    match rng.below(100) {
        0..=79 => (QUESTIONS[rng.below(QUESTIONS.len())], None),
        80..=87 => from(rng, GREETINGS),
        88..=95 => from(rng, COMMANDS),
        96..=97 => from(rng, EMERGENCIES),
        _ => from(rng, OTHER),
    }
}

/// `updates` updates spread evenly over `chats` private chats (ids from `first_chat`), in a
/// shuffled order.
fn plan(updates: usize, chats: usize, first_chat: i64, seed: u64) -> Vec<Msg> {
    let mut rng = Rng(seed | 1);
    let mut order: Vec<i64> = (0..updates)
        .map(|i| first_chat + (i % chats) as i64)
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
        .into_iter()
        .map(|chat| {
            let (text, expect) = pick(&mut rng);
            Msg { chat, text, expect }
        })
        .collect()
}

/// Queues one update at the fake. In a group, a question names the bot.
fn push(fake: &FakeTelegram, m: &Msg) -> Pushed {
    let user = m.chat.abs();
    let update_id = if m.text.starts_with('/') {
        fake.push_command(m.chat, user, m.text)
    } else if m.chat < 0 {
        fake.push_text(m.chat, user, &format!("@{BOT_USERNAME} {}", m.text))
    } else {
        fake.push_text(m.chat, user, m.text)
    };
    Pushed { msg: *m, update_id }
}

/// An update the fake queued.
#[derive(Clone, Copy, Debug)]
struct Pushed {
    msg: Msg,
    update_id: i32,
}

// ---- measuring -----------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `q` quantile (nearest rank) of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// What one run measured.
struct Measured {
    label: String,
    updates: usize,
    /// First update handed out by `getUpdates` to the last answer's arrival at the fake.
    span: Duration,
    /// Sorted: per update, handed out → its reply arrives at the fake.
    latencies: Vec<Duration>,
    /// When the last update was handed out, from the first.
    ingest: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.updates as f64 / self.span.as_secs_f64().max(1e-9)
    }

    fn row(&self) -> String {
        let l = &self.latencies;
        format!(
            "| {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
            self.label,
            self.updates,
            self.span.as_secs_f64(),
            self.per_second(),
            ms(quantile(l, 0.50)),
            ms(quantile(l, 0.90)),
            ms(quantile(l, 0.99)),
            ms(l.last().copied().unwrap_or_default()),
            self.ingest.as_secs_f64(),
        )
    }
}

const HEADER: &str = "| run | updates | first getUpdates → last answer (s) | updates/s | p50 ms | p90 ms | p99 ms | max ms | all handed out after (s) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|";

/// Waits (bounded) until the fake has answered `n` sendMessage calls.
fn wait_answers(fake: &FakeTelegram, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if fake.sent_message_count() >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    fake.sent_message_count() >= n
}

/// After the last expected answer: two more long polls (every update confirmed and handled,
/// the bot idle), then a pause long enough for a duplicate to show.
fn settle(fake: &FakeTelegram) {
    let polls = fake.get_updates_arrivals().len();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if fake.get_updates_arrivals().len() >= polls + 2 && fake.pending_updates() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Checks that every update got exactly one reply, in order within its chat, and that replies
/// with a known wording match their update; returns the latencies and the span.
fn analyse(label: &str, fake: &FakeTelegram, pushed: &[Pushed]) -> Measured {
    let delivered = fake.delivery_times();
    let sent = fake.sent_messages();
    let mut want: HashMap<i64, Vec<&Pushed>> = HashMap::new();
    for p in pushed {
        want.entry(p.msg.chat).or_default().push(p);
    }
    let mut got: HashMap<i64, Vec<&SentMessage>> = HashMap::new();
    for m in &sent {
        got.entry(m.chat_id).or_default().push(m);
    }
    let extra: Vec<i64> = got
        .keys()
        .filter(|c| !want.contains_key(c))
        .copied()
        .collect();
    assert!(
        extra.is_empty(),
        "{label}: messages to unknown chats {extra:?}"
    );
    let mut latencies = Vec::with_capacity(pushed.len());
    let mut wrong = Vec::new();
    for (chat, updates) in &want {
        let replies = got.get(chat).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            replies.len(),
            updates.len(),
            "{label}: chat {chat} sent {} updates and got {} replies (exactly one each expected): {:?}",
            updates.len(),
            replies.len(),
            replies.iter().map(|m| &m.visible).collect::<Vec<_>>()
        );
        for (p, reply) in updates.iter().zip(replies) {
            let at = delivered
                .get(&i64::from(p.update_id))
                .unwrap_or_else(|| panic!("{label}: update {} never delivered", p.update_id));
            latencies.push(reply.at.saturating_duration_since(*at));
            if let Some(needle) = p.msg.expect {
                if !reply.visible.contains(needle) {
                    wrong.push((
                        p.msg.text,
                        reply.visible.chars().take(80).collect::<String>(),
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{label}: {} replies do not fit their update (order mixed up?), e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    latencies.sort();
    let first = pushed
        .iter()
        .filter_map(|p| delivered.get(&i64::from(p.update_id)))
        .min()
        .copied()
        .expect("something was delivered");
    let last_delivery = pushed
        .iter()
        .filter_map(|p| delivered.get(&i64::from(p.update_id)))
        .max()
        .copied()
        .expect("something was delivered");
    let last = sent.iter().map(|m| m.at).max().expect("something was sent");
    Measured {
        label: label.to_string(),
        updates: pushed.len(),
        span: last.saturating_duration_since(first),
        latencies,
        ingest: last_delivery.saturating_duration_since(first),
    }
}

/// The store is empty afterwards: every update done, every action sent.
fn assert_drained(label: &str, home: &Home) {
    let store = home.store();
    assert_eq!(
        store.pending_count().expect("pending"),
        0,
        "{label}: updates left pending in the inbox"
    );
    assert_eq!(
        store.outbox_len().expect("outbox"),
        0,
        "{label}: actions left in the outbox"
    );
}

/// A `kB` field of `/proc/<pid>/status` (`self` for this process), e.g. `VmHWM`.
fn proc_status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the fields after the command name, which is in parentheses and may hold spaces
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let out = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    let ticks: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((utime + stime) as f64 / ticks as f64)
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0))
}

/// Samples the bot's progress every 250 ms until `n` answers arrived (or the limit passed):
/// `(seconds, handed out, handled, answered)`. `handled` counts updates whose completion (the
/// answer queued) is committed; read through a second connection to the bot's store.
fn timeline(fake: &FakeTelegram, home: &Home, n: usize) -> Vec<(f64, usize, usize, usize)> {
    let start = Instant::now();
    let deadline = start + RUN_LIMIT;
    let mut store: Option<Box<dyn Inspect>> = None;
    let mut rows = Vec::new();
    while Instant::now() < deadline {
        let answered = fake.sent_message_count();
        let handed = fake.delivered_count();
        if store.is_none() && (home.pg.is_some() || home.db().exists()) {
            store = Some(home.store());
        }
        let pending = store
            .as_ref()
            .and_then(|s| s.pending_count().ok())
            .unwrap_or(0) as usize;
        rows.push((
            start.elapsed().as_secs_f64(),
            handed,
            handed.saturating_sub(pending),
            answered,
        ));
        if answered >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    rows
}

fn print_timeline(rows: &[(f64, usize, usize, usize)]) {
    println!(
        "\n| t (s) | handed out | handled (answer queued) | answered |\n|---:|---:|---:|---:|"
    );
    // about one row a second
    for (i, (t, handed, handled, answered)) in rows.iter().enumerate() {
        if i % 4 == 0 || i + 1 == rows.len() {
            println!("| {t:.2} | {handed} | {handled} | {answered} |");
        }
    }
}

// ---- the bot -------------------------------------------------------------------------------

/// Settings overrides for an unthrottled run; content is re-checked at the default interval.
const UNTHROTTLED: &[(&str, &str)] = &[
    ("FAQBOT_TELEGRAM__THROTTLE", "false"),
    ("FAQBOT_CONTENT__RELOAD_SECS", "5"),
];

/// One in-process run: the traffic queued up front (`rate` = None) or offered at `rate`
/// updates a second; the bot starts on a fresh store.
fn run_in_process(
    engine: StoreEngine,
    label: &str,
    traffic: &[Msg],
    rate: Option<f64>,
    show_timeline: bool,
) -> Measured {
    let fake = FakeTelegram::start(crate::bot::TOKEN);
    let home = Home::shipped_on(engine);
    let mut pushed = Vec::with_capacity(traffic.len());
    let bot;
    match rate {
        None => {
            for m in traffic {
                pushed.push(push(&fake, m));
            }
            bot = Bot::start(home.settings(&fake, UNTHROTTLED));
            if show_timeline {
                let rows = timeline(&fake, &home, traffic.len());
                print_timeline(&rows);
            }
        }
        Some(rate) => {
            bot = Bot::start(home.settings(&fake, UNTHROTTLED));
            // the bot is polling before the first update is offered
            assert!(
                fake.wait_until(Duration::from_secs(30), |f| !f
                    .get_updates_arrivals()
                    .is_empty()),
                "{label}: the bot never polled"
            );
            let start = Instant::now();
            for (k, m) in traffic.iter().enumerate() {
                let due = start + Duration::from_secs_f64(k as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                pushed.push(push(&fake, m));
            }
            let offered = start.elapsed();
            println!(
                "{label}: offered {} updates in {:.2} s ({:.0}/s)",
                traffic.len(),
                offered.as_secs_f64(),
                traffic.len() as f64 / offered.as_secs_f64()
            );
        }
    }
    assert!(
        wait_answers(&fake, traffic.len(), RUN_LIMIT),
        "{label}: only {} of {} answered within {RUN_LIMIT:?}",
        fake.sent_message_count(),
        traffic.len()
    );
    settle(&fake);
    let measured = analyse(label, &fake, &pushed);
    drop(bot);
    assert_drained(label, &home);
    measured
}

#[test]
#[ignore = "load test: cargo test --release --test it load -- --ignored --nocapture"]
fn load_end_to_end_throttle_off() {
    load_end_to_end(StoreEngine::Sqlite);
}

/// The same on PostgreSQL (`faqbot_dev::pg`'s server: set `FAQBOT_TEST_POSTGRES_DURABLE=1` for
/// a private server with fsync and synchronous commits on, as BENCHMARKS.md measures).
#[test]
#[ignore = "load test: cargo test --release --test it load -- --ignored --nocapture"]
fn load_end_to_end_throttle_off_postgres() {
    load_end_to_end(StoreEngine::Postgres);
}

fn load_end_to_end(engine: StoreEngine) {
    let _serial = serial();
    // reset this process's peak RSS, so the number below is this test's (Linux 4.0+)
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let hwm_before = proc_status_kb("self", "VmHWM");
    let rss_before = proc_status_kb("self", "VmRSS");
    let traffic = plan(UPDATES, CHATS, 10_000_001, 0x5eed_0001);
    let mut rows = Vec::new();

    rows.push(run_in_process(
        engine,
        "backlog: 10,000 queued before start",
        &traffic,
        None,
        true,
    ));
    let hwm_after = proc_status_kb("self", "VmHWM");

    let rates: Vec<f64> = std::env::var("FAQBOT_LOAD_RATES")
        .unwrap_or_else(|_| "250,500,1000,2000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .filter(|r: &f64| *r > 0.0)
        .take(8)
        .collect();
    for (i, rate) in rates.iter().enumerate() {
        // about ten seconds of traffic at each rate, at least 1,000 updates, at most 10,000
        let n = ((rate * 10.0) as usize).clamp(1_000, UPDATES);
        let traffic = plan(n, CHATS.min(n), 20_000_001, 0x5eed_0100 + i as u64);
        rows.push(run_in_process(
            engine,
            &format!("paced: {rate:.0}/s offered"),
            &traffic,
            Some(*rate),
            false,
        ));
    }

    println!("\n### End to end, throttling off, bot in-process, store: {engine:?}\n");
    println!("{HEADER}");
    for r in &rows {
        println!("{}", r.row());
    }
    println!(
        "\nPeak RSS (VmHWM) of the test process, which holds the bot, the fake Bot API and the \
         fake's full log of calls: {} at the start{} (VmRSS {}), {} after the backlog run. \
         The bot's own number is the child's, in load_child_rss_and_startup.",
        mib(hwm_before),
        if reset { ", peak reset" } else { "" },
        mib(rss_before),
        mib(hwm_after)
    );
}

// ---- the real executable -------------------------------------------------------------------

/// `faqbot ARGS` with the home's environment (and only that, plus `PATH`).
pub fn faqbot(home: &Home, fake: &FakeTelegram, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faqbot"));
    cmd.args(args)
        .current_dir(home.dir.path())
        .env_clear()
        .envs(home.env(fake))
        .envs(extra.iter().copied())
        .stdin(Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

/// `faqbot index` in the home, so that the bots started there find the index built.
pub fn build_index(home: &Home, fake: &FakeTelegram) {
    let out = faqbot(home, fake, &["index"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("faqbot index");
    assert!(
        out.status.success(),
        "faqbot index: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `faqbot run` as a child, its log (info level, as shipped) in a file.
fn spawn_run(home: &Home, fake: &FakeTelegram, extra: &[(&str, &str)], log: &str) -> Child {
    let log = std::fs::File::create(home.dir.path().join(log)).expect("log file");
    faqbot(home, fake, &["run"], extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start faqbot run")
}

/// SIGTERM, then waits (bounded; SIGKILL after 20 s). Asserts a clean exit.
pub fn terminate(mut child: Child, log: &Path) {
    let tail = || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(
                exit.success(),
                "faqbot run exited with {exit:?}; its log ends:\n{}",
                tail()
            );
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "faqbot run did not stop within 20 s of SIGTERM; its log ends:\n{}",
                tail()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "load test: cargo test --release --test it load -- --ignored --nocapture"]
fn load_child_rss_and_startup() {
    let _serial = serial();
    let home = Home::shipped();
    let extra = [
        ("FAQBOT_TELEGRAM__THROTTLE", "false"),
        ("FAQBOT_CONTENT__RELOAD_SECS", "5"),
    ];

    // the index is built once, up front
    build_index(&home, &FakeTelegram::start(crate::bot::TOKEN));

    // spawn → first getUpdates; the first start also creates the store
    const STARTS: usize = 7;
    let mut ready = Vec::with_capacity(STARTS);
    for i in 0..STARTS {
        let fake = FakeTelegram::start(crate::bot::TOKEN);
        let spawned = Instant::now();
        let log = format!("start-{i}.log");
        let child = spawn_run(&home, &fake, &extra, &log);
        let polled = fake.wait_until(Duration::from_secs(30), |f| {
            !f.get_updates_arrivals().is_empty()
        });
        assert!(polled, "start {i}: no getUpdates within 30 s");
        let first = fake.get_updates_arrivals()[0];
        ready.push(first.saturating_duration_since(spawned));
        terminate(child, &home.dir.path().join(log));
    }
    let fresh_store = ready[0];
    let mut warm = ready[1..].to_vec();
    warm.sort();

    // the 10,000-update backlog, on a fresh store
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", home.db().display()));
    }
    let fake = FakeTelegram::start(crate::bot::TOKEN);
    let traffic = plan(UPDATES, CHATS, 30_000_001, 0x5eed_0002);
    let pushed: Vec<Pushed> = traffic.iter().map(|m| push(&fake, m)).collect();
    let child = spawn_run(&home, &fake, &extra, "load.log");
    let pid = child.id().to_string();
    let (idle_rss, cpu_start) = {
        fake.wait_until(Duration::from_secs(30), |f| f.delivered_count() > 0);
        (proc_status_kb(&pid, "VmRSS"), cpu_seconds(&pid))
    };
    let fake_cpu_start = cpu_seconds("self");
    let answered = wait_answers(&fake, UPDATES, RUN_LIMIT);
    let cpu_end = cpu_seconds(&pid);
    let fake_cpu_end = cpu_seconds("self");
    let hwm = proc_status_kb(&pid, "VmHWM");
    let rss_end = proc_status_kb(&pid, "VmRSS");
    assert!(
        answered,
        "child: only {} of {UPDATES} answered within {RUN_LIMIT:?}",
        fake.sent_message_count()
    );
    settle(&fake);
    let measured = analyse("child process: backlog of 10,000", &fake, &pushed);
    terminate(child, &home.dir.path().join("load.log"));
    assert_drained("child", &home);

    println!("\n### The real executable (`faqbot run`, info logging to a file)\n");
    println!("{HEADER}");
    println!("{}", measured.row());
    println!("\n| measurement | value |\n|---|---:|");
    println!(
        "| spawn → first getUpdates, index built, new store (1 start) | {:.0} ms |",
        ms(fresh_store)
    );
    println!(
        "| spawn → first getUpdates, index built, existing store (median of {}) | {:.0} ms |",
        warm.len(),
        ms(quantile(&warm, 0.5))
    );
    println!(
        "| spawn → first getUpdates, slowest of all {STARTS} starts | {:.0} ms |",
        ms(ready.iter().max().copied().unwrap_or_default())
    );
    println!(
        "| RSS when the first updates were handed out | {} |",
        mib(idle_rss)
    );
    println!("| peak RSS (VmHWM) serving 10,000 updates | {} |", mib(hwm));
    println!("| RSS at the end of the load | {} |", mib(rss_end));
    if let (Some(a), Some(b)) = (cpu_start, cpu_end) {
        let per_update = (b - a) / UPDATES as f64;
        println!(
            "| bot CPU time (user + system) per update while serving the backlog | {:.3} ms |",
            per_update * 1e3
        );
        println!(
            "| implied capacity with 2 cores to itself (2 / CPU per update) | {:.0} updates/s |",
            2.0 / per_update
        );
        println!(
            "| bot CPU use during the run (cores busy on average) | {:.2} |",
            (b - a) / measured.span.as_secs_f64()
        );
    }
    if let (Some(a), Some(b)) = (fake_cpu_start, fake_cpu_end) {
        println!(
            "| CPU time of the test process (the fake Bot API) per update, same cores | {:.3} ms |",
            (b - a) / UPDATES as f64 * 1e3
        );
    }
    println!(
        "| load average after the run (other work on this machine) | {} |",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

// ---- throttling on -------------------------------------------------------------------------

/// The smallest gap between consecutive arrivals in each chat, over all chats of `chats`.
fn min_gap(sent: &[SentMessage], keep: impl Fn(i64) -> bool) -> Option<(i64, Duration)> {
    let mut by_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
    for m in sent.iter().filter(|m| keep(m.chat_id)) {
        by_chat.entry(m.chat_id).or_default().push(m.at);
    }
    by_chat
        .into_iter()
        .filter_map(|(chat, mut times)| {
            times.sort();
            times
                .windows(2)
                .map(|w| w[1] - w[0])
                .min()
                .map(|gap| (chat, gap))
        })
        .min_by_key(|(_, gap)| *gap)
}

/// Most arrivals within any window `[t, t + window)`.
fn window_max(times: Vec<Instant>, window: Duration) -> usize {
    busiest_window(times, window).0
}

/// Most arrivals within any window `[t, t + window)`, and the first arrival of that window.
fn busiest_window(mut times: Vec<Instant>, window: Duration) -> (usize, Option<Instant>) {
    times.sort();
    let mut best = (0, None);
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= window {
            start += 1;
        }
        if end - start + 1 > best.0 {
            best = (end - start + 1, Some(times[start]));
        }
    }
    best
}

#[test]
#[ignore = "load test: cargo test --release --test it load -- --ignored --nocapture"]
fn load_throttled_limits() {
    let _serial = serial();
    const GROUP: i64 = -4_242;
    const BURST_CHAT: i64 = 40_000_999;
    let fake = FakeTelegram::start(crate::bot::TOKEN);
    let home = Home::shipped();

    let mut traffic = plan(300, 50, 40_000_001, 0x5eed_0003);
    let mut rng = Rng(0x5eed_0004);
    for _ in 0..30 {
        let (text, expect) = pick(&mut rng);
        traffic.push(Msg {
            chat: BURST_CHAT,
            text,
            expect,
        });
    }
    for i in 0..25 {
        // in a group the bot answers commands and questions that name it
        let (text, expect) = if i % 5 == 0 {
            ("/help", Some("Commands"))
        } else {
            (QUESTIONS[rng.below(QUESTIONS.len())], None)
        };
        traffic.push(Msg {
            chat: GROUP,
            text,
            expect,
        });
    }
    let pushed: Vec<Pushed> = traffic.iter().map(|m| push(&fake, m)).collect();
    let _bot = Bot::start(home.settings(&fake, &[("FAQBOT_CONTENT__RELOAD_SECS", "5")]));
    assert!(
        wait_answers(&fake, traffic.len(), Duration::from_secs(150)),
        "throttled: only {} of {} answered",
        fake.sent_message_count(),
        traffic.len()
    );
    settle(&fake);
    let measured = analyse("throttled", &fake, &pushed);
    let sent = fake.sent_messages();

    let (gap_chat, gap) = min_gap(&sent, |c| c > 0).expect("private chats got several messages");
    let group_times: Vec<Instant> = sent
        .iter()
        .filter(|m| m.chat_id == GROUP)
        .map(|m| m.at)
        .collect();
    let group_minute = window_max(group_times.clone(), Duration::from_secs(60) - SLACK);
    let group_minute_strict = window_max(group_times, Duration::from_secs(60));
    let all: Vec<Instant> = sent.iter().map(|m| m.at).collect();
    let (overall, busiest) = busiest_window(all.clone(), Duration::from_secs(1) - SLACK);
    let overall_strict = window_max(all.clone(), Duration::from_secs(1));
    // messages per second since the first one, to show where a limit was passed
    let first = all.iter().min().copied().expect("messages");
    let mut per_second = vec![
        0usize;
        1 + all
            .iter()
            .map(|t| (*t - first).as_secs())
            .max()
            .unwrap_or(0) as usize
    ];
    for t in &all {
        per_second[(*t - first).as_secs() as usize] += 1;
    }
    let (group_gap_chat, group_gap) = min_gap(&sent, |c| c == GROUP).expect("group messages");

    println!("\n### Throttling on: Telegram's limits at the fake\n");
    println!("{HEADER}");
    println!("{}", measured.row());
    println!("\n| limit | measured at the fake | result |\n|---|---:|---|");
    let verdict = |ok: bool| if ok { "kept" } else { "EXCEEDED" };
    println!(
        "| ≤ 1 message per second per private chat | smallest gap {:.1} ms (chat {gap_chat}) | {} |",
        ms(gap),
        verdict(gap + SLACK >= Duration::from_secs(1))
    );
    println!(
        "| ≤ 20 per minute per group | {group_minute} in any 60 s window ({group_minute_strict} counting a window of exactly 60 s); smallest gap {:.1} ms (chat {group_gap_chat}) | {} |",
        ms(group_gap),
        verdict(group_minute <= 20)
    );
    println!(
        "| ≤ 30 per second overall | {overall} in any 1 s window ({overall_strict} counting a window of exactly 1 s) | {} |",
        verdict(overall <= 30)
    );

    let mut first_3s = [0usize; 30];
    for t in &all {
        if let Some(n) = first_3s.get_mut(((*t - first).as_millis() / 100) as usize) {
            *n += 1;
        }
    }
    println!(
        "\nMessages arriving at the fake in each 100 ms of the first 3 s (all chats): {}",
        first_3s
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(at) = busiest {
        let offsets: Vec<String> = all
            .iter()
            .filter(|t| **t >= at && **t - at < Duration::from_secs(1))
            .map(|t| format!("{:.0}", ms(*t - first)))
            .collect();
        println!(
            "\nThe busiest second starts {:.3} s after the first message; arrivals in it (ms since the first message): {}",
            (at - first).as_secs_f64(),
            offsets.join(" ")
        );
    }
    println!(
        "\nMessages arriving at the fake in each second since the first (all chats): {}",
        per_second
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );

    assert!(
        gap + SLACK >= Duration::from_secs(1),
        "chat {gap_chat} got two messages {:.1} ms apart",
        ms(gap)
    );
    assert!(
        group_minute <= 20,
        "the group got {group_minute} messages within a minute"
    );
    assert!(overall <= 30, "{overall} messages within one second");
}
