//! Replicas on one PostgreSQL database: the leader election (in-process), and `faqbot run`
//! child processes killed, restarted and cut off from their database under load
//! (`failover`, on the fixtures of `harness`). Each test starts a PostgreSQL server of its own
//! (`cluster`).

mod cluster;
mod election;
mod failover;
mod harness;
mod proxy;
