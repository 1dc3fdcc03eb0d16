//! Every input in `fuzz/regressions/<target>/` (the seeds, and any crash a fuzzer found, kept
//! once fixed) replayed through the same entry points the fuzz targets use.

use std::path::Path;

use faqbot_dev::fuzzing::{self, Harness};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let data: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    assert!(!data.is_empty(), "no regression inputs for {target}");
    data
}

#[test]
fn content_parser_regressions() {
    for input in inputs("content_parser") {
        fuzzing::content_parser(&input);
    }
}

#[test]
fn core_reply_and_update_handling_regressions() {
    let harness = Harness::new();
    for input in inputs("core_reply") {
        harness.core_reply(&input);
    }
    for input in inputs("update_handling") {
        harness.update_handling(&input);
    }
}
