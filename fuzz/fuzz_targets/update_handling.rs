#![no_main]
//! Arbitrary bytes as a Bot API update, through the real handler tree and store.
use std::sync::OnceLock;

use faqbot_dev::fuzzing::Harness;
use libfuzzer_sys::fuzz_target;

static HARNESS: OnceLock<Harness> = OnceLock::new();

fuzz_target!(|data: &[u8]| HARNESS.get_or_init(Harness::new).update_handling(data));
