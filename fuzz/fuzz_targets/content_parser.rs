#![no_main]
//! The guide and synonyms parsers on arbitrary bytes: never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| faqbot_dev::fuzzing::content_parser(data));
