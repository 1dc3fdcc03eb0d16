//! Replicas on one PostgreSQL database: the leader election, and `faqbot run` child processes
//! killed, restarted and cut off from their database under load.

mod cluster;
mod election;
