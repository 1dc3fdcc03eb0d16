//! Integration tests: one binary that drives the library the way the CLI and the bot do (content
//! in a temporary folder, a real index, the real [`faqbot::core::Engine`]), runs the real
//! `faqbot` executable in temporary folders with a clean environment, and runs the bot against a
//! strict fake Telegram Bot API server on 127.0.0.1 (`fake_api`).
//!
//! `helpers` builds the fixtures; each other module owns one area.

mod bad_input;
mod bot;
mod cli;
mod content;
mod crash;
mod engine;
mod escalation;
mod fake_api;
mod fake_api_selftest;
mod faults;
mod fuzz_regressions;
mod helpers;
mod index;
mod load;
mod ops;
mod privacy;
mod props;
mod quality;
mod replicas;
mod report;
mod review;
mod review_browser;
mod search;
mod store_copy;
mod synth;
mod tg_html;
