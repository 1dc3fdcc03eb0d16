//! Integration tests: one binary that drives the library the way the CLI and the bot do (content
//! in a temporary folder, a real index, the real [`faqbot::core::Engine`]) and runs the real
//! `faqbot` executable in temporary folders with a clean environment.
//!
//! `helpers` builds the fixtures; each other module owns one area.

mod bad_input;
mod cli;
mod content;
mod engine;
mod helpers;
mod index;
mod quality;
mod search;
