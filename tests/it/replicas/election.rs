//! The leader election on a real PostgreSQL server, in-process: three replicas' elections, each
//! reaching the database through a proxy of its own that the test cuts (the leader's
//! connection then hangs, half-open, and nothing is released: the worst case for a lock held
//! on a connection). At every moment at most one replica holds a current term (the cut-off one
//! included: its term must run out before another begins), a cut-off leader is replaced within
//! 10 s, and a leader that finishes hands over at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faqbot::metrics::Metrics;
use faqbot::telegram::leader::{Connect, Election, Role};

use super::cluster::Cluster;
use super::proxy::Proxy;

/// Connections made the plain way (the test server has no TLS).
pub fn connect(url: &str) -> Connect {
    let url = url.to_string();
    Arc::new(move || {
        let url = url.clone();
        Box::pin(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        })
    })
}

/// One replica's election, through its own proxy.
struct Replica {
    runtime: tokio::runtime::Runtime,
    election: Option<Election>,
    role: Role,
    proxy: Proxy,
}

impl Replica {
    fn start(cluster: &Cluster, database: &str) -> Replica {
        let proxy = Proxy::start(cluster.port());
        let url = cluster.url(database).replace(
            &format!(":{}/", cluster.port()),
            &format!(":{}/", proxy.port),
        );
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let (election, role) =
            runtime.block_on(async { Election::postgres(connect(&url), Arc::new(Metrics::new())) });
        Replica {
            runtime,
            election: Some(election),
            role,
            proxy,
        }
    }

    /// The epoch of the term this replica may act in now, if any.
    fn leading(&self) -> Option<i64> {
        self.role
            .borrow()
            .as_ref()
            .filter(|t| t.current())
            .map(|t| t.epoch())
    }

    /// Cut off from the database for good.
    fn cut(&mut self) {
        self.proxy.set_cut(true);
    }

    /// SIGTERM: the term ends and the lease is released.
    fn finish(&mut self) {
        if let Some(e) = self.election.take() {
            self.runtime.block_on(e.finish());
        }
    }
}

/// Samples every replica until `done` says so (or `limit` passes), asserting at every sample
/// that at most one of them (cut-off ones included, whose last term must run out by itself) may act.
fn watch(replicas: &[Replica], limit: Duration, done: impl Fn(&[Replica]) -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let leading: Vec<(usize, i64)> = replicas
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, r.leading()?)))
            .collect();
        assert!(leading.len() <= 1, "two replicas lead at once: {leading:?}");
        if done(replicas) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn leader(replicas: &[Replica]) -> Option<(usize, i64)> {
    replicas
        .iter()
        .enumerate()
        .find_map(|(i, r)| Some((i, r.leading()?)))
}

#[test]
fn one_leader_at_a_time_and_a_lost_leader_is_replaced_within_ten_seconds() {
    let cluster = Cluster::start();
    let url = cluster.create_database("election");
    // the store's migrations create the lease's tables
    let settings = faqbot::store::postgres::connect_settings(&url, None, None).expect("settings");
    drop(faqbot::store::PgStore::open(settings, 1).expect("open and migrate the store"));

    let mut replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::start(&cluster, "election"))
        .collect();
    assert!(
        watch(&replicas, Duration::from_secs(15), |r| leader(r).is_some()),
        "no leader within 15 s"
    );
    let mut epoch = leader(&replicas).map(|(_, e)| e).unwrap_or_default();
    let mut measured = Vec::new();
    for round in 0..4 {
        let (i, _) = leader(&replicas).expect("a leader");
        let graceful = round == 3;
        let lost = Instant::now();
        if graceful {
            replicas[i].finish();
        } else {
            replicas[i].cut();
        }
        let took_over = watch(&replicas, Duration::from_secs(10), |r| {
            leader(r).is_some_and(|(j, _)| j != i)
        });
        let after = lost.elapsed();
        assert!(
            took_over,
            "round {round}: nobody took over within 10 s of the leader's {}",
            if graceful { "release" } else { "network cut" }
        );
        let (_, next) = leader(&replicas).expect("a leader");
        assert!(next > epoch, "epochs only grow: {next} after {epoch}");
        epoch = next;
        measured.push((graceful, after));
        if !graceful {
            assert_eq!(replicas[i].leading(), None, "a cut-off leader stands down");
        }
        // a fresh replica in the place of the one that went
        replicas.push(Replica::start(&cluster, "election"));
    }
    for (graceful, after) in &measured {
        println!(
            "failover after the leader's {}: {:.2} s",
            if *graceful {
                "release (SIGTERM)"
            } else {
                "network cut"
            },
            after.as_secs_f64()
        );
    }
    for r in replicas.iter_mut().filter(|r| !r.proxy.is_cut()) {
        r.finish();
    }
}
