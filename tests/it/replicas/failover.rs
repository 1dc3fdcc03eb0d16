//! Three replicas under load: the leader killed ten times (polling), a rolling restart
//! (webhook), the database stopped and started (webhook). Each ends with [`check`]: every
//! update answered exactly once (a kill may repeat the one send under way), in order per chat,
//! Telegram's limits kept at the fake, the escalation's relays intact. Failover times are
//! printed; only the bound (10 s) is asserted.

use std::time::{Duration, Instant};

use super::harness::{check, Mode, Replicas};

/// The bound on a failover.
const FAILOVER: Duration = Duration::from_secs(10);

/// A small deterministic generator (xorshift64) for the moments of the kills.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seconds(d: &[Duration]) -> String {
    d.iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn polling_the_leader_killed_ten_times_under_load() {
    let r = Replicas::start(Mode::Polling, 3);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failovers = Vec::new();
    let mut kills = Vec::new();
    let t = r.under_load(|| {
        for kill in 0..10 {
            let leader = r
                .wait_leader(None, FAILOVER)
                .unwrap_or_else(|| panic!("kill {kill}: no leader"));
            if kill == 0 {
                assert_eq!(r.leader_metric(leader).as_deref(), Some("faqbot_leader 1"));
            }
            // a random point of its term: waiting out the quiet second, handling, sending
            std::thread::sleep(Duration::from_millis(300 + rng.below(3000)));
            let killed = Instant::now();
            r.kill(leader);
            kills.push(killed);
            let next = r.wait_leader(Some(leader), Duration::from_secs(30));
            let took = killed.elapsed();
            assert!(next.is_some(), "kill {kill}: nobody took over within 30 s");
            assert!(took < FAILOVER, "kill {kill}: failover took {took:?}");
            failovers.push(took);
            r.spawn(leader);
        }
    });
    println!(
        "failover after SIGKILL of the leader (polling), s: {}",
        seconds(&failovers)
    );
    check(&r, &t, &kills);
}

#[test]
fn webhook_a_rolling_restart_under_load_loses_and_repeats_nothing() {
    let r = Replicas::start(Mode::Webhook, 3);
    let mut handovers = Vec::new();
    let t = r.under_load(|| {
        std::thread::sleep(Duration::from_secs(2));
        for i in 0..r.len() {
            let was_leader = r.role(i).as_deref() == Some("leader");
            let stopped = Instant::now();
            r.terminate(i);
            if was_leader {
                assert!(
                    r.wait_leader(Some(i), FAILOVER).is_some(),
                    "nobody took over from replica {i}"
                );
                handovers.push(stopped.elapsed());
            }
            r.spawn(i);
            // the new process is up (a follower) before the next one goes
            let up = Instant::now() + Duration::from_secs(30);
            while r.role(i).is_none() && Instant::now() < up {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(r.role(i).is_some(), "replica {i} did not come back");
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    println!(
        "handover after SIGTERM of the leader (webhook), from the signal, s: {}",
        seconds(&handovers)
    );
    check(&r, &t, &[]);
}

#[test]
fn webhook_the_database_restarted_under_load_loses_nothing() {
    let r = Replicas::start(Mode::Webhook, 3);
    let mut back = Duration::ZERO;
    let t = r.under_load(|| {
        std::thread::sleep(Duration::from_secs(4));
        r.cluster.stop_server();
        // the leader cannot renew its lease, so it steps down: nobody works while the
        // database is away (the webhook answers 503 and Telegram retries)
        let away = Instant::now() + Duration::from_secs(10);
        let mut stepped_down = false;
        while Instant::now() < away {
            stepped_down |= (0..r.len()).all(|i| r.role(i).as_deref() == Some("follower"));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            stepped_down,
            "the leader kept its role without its database"
        );
        r.cluster.start_server();
        let started = Instant::now();
        assert!(
            r.wait_leader(None, Duration::from_secs(30)).is_some(),
            "no leader within 30 s of the database's return"
        );
        back = started.elapsed();
    });
    println!(
        "a leader again {:.2} s after the database came back",
        back.as_secs_f64()
    );
    // nothing is killed: what was sent while the database was away is removed from the outbox
    // when it comes back, and not sent again
    check(&r, &t, &[]);
}

#[test]
fn polling_the_leader_cut_off_from_the_database_is_replaced() {
    let r = Replicas::start_behind_proxy(Mode::Polling, 3);
    let mut cuts = Vec::new();
    let mut took = Duration::ZERO;
    let t = r.under_load(|| {
        std::thread::sleep(Duration::from_secs(3));
        let cut = Instant::now();
        r.cut(true);
        cuts.push(cut);
        let next = r.wait_leader(Some(0), Duration::from_secs(30));
        took = cut.elapsed();
        assert!(next.is_some(), "nobody took over within 30 s of the cut");
        assert!(
            took < FAILOVER,
            "failover after a network cut took {took:?}"
        );
        // the cut-off replica stands by (its health check still answers, the store as
        // unreachable), and rejoins as a follower once the network is back
        assert_eq!(r.role(0).as_deref(), Some("follower"));
        std::thread::sleep(Duration::from_secs(3));
        r.cut(false);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(r.role(0).as_deref(), Some("follower"));
    });
    println!(
        "failover after the leader's network cut (polling): {:.2} s",
        took.as_secs_f64()
    );
    // a send under way at the cut may be repeated: its removal from the outbox waits for the
    // network while the next leader sends it again
    check(&r, &t, &cuts);
}
