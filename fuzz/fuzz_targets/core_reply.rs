#![no_main]
//! The core's reply to arbitrary text, rendered for Telegram: within limits, with the
//! disclaimer in the last message.
use std::sync::OnceLock;

use faqbot_dev::fuzzing::Harness;
use libfuzzer_sys::fuzz_target;

static HARNESS: OnceLock<Harness> = OnceLock::new();

fuzz_target!(|data: &[u8]| HARNESS.get_or_init(Harness::new).core_reply(data));
