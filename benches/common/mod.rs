//! What the benches share: engines over the shipped or generated content, each with its index
//! in a temporary folder (never the project's `index/`, which a running bot may be using), and
//! the questions to ask them.

// each bench uses part of this module
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use faqbot::content::{self, Content};
use faqbot::core::Engine;
use faqbot::search::{build_index, open_or_build, SearchIndex};
use faqbot::settings::Settings;
use faqbot_dev::synth;
use tempfile::TempDir;

/// Seed of the generated content: fixed, so every run measures the same text.
pub const SEED: u64 = 20_251_126;

/// The generated content sizes the large benches measure.
pub const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// The sizes to measure: [`SIZES`], or the comma-separated list in `BENCH_SIZES` (for example
/// `BENCH_SIZES=100000`), since generating and indexing the large sizes takes a while.
pub fn sizes() -> Vec<usize> {
    match std::env::var("BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .replace('_', "")
                    .parse()
                    .expect("BENCH_SIZES: numbers")
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

pub fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped content folder.
pub fn shipped_content() -> PathBuf {
    project().join("faq")
}

/// Settings for content in `content` and an index in `index`, otherwise the built-in defaults
/// (so a developer's environment cannot change what is measured).
pub fn settings(content: &Path, index: &Path) -> Settings {
    let env = vec![
        (
            "FAQBOT_CONTENT__DIR".to_string(),
            content.display().to_string(),
        ),
        ("FAQBOT_INDEX__DIR".to_string(), index.display().to_string()),
    ];
    Settings::load_from(Some(&project().join("config.toml")), env).expect("settings load")
}

/// An engine over `content`, with its index built into a new temporary folder.
pub struct Bench {
    pub engine: Engine,
    // dropped after the engine, which maps files inside it
    _index: TempDir,
}

impl Bench {
    pub fn new(content: &Path) -> Bench {
        let dir = tempdir("faqbot-bench-index-");
        let settings = settings(content, dir.path());
        let (index, meta, _) = open_or_build(&settings.content.dir, &settings.index.dir)
            .unwrap_or_else(|e| panic!("build the index of {}: {e}", content.display()));
        let index = SearchIndex::new(index, meta).expect("open the index");
        let engine = Engine::new(index, settings).expect("intent rules compile");
        Bench {
            engine,
            _index: dir,
        }
    }
}

pub fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary folder")
}

/// Generated content of `passages` passages in a new temporary folder.
pub fn generated(passages: usize) -> TempDir {
    let dir = tempdir(&format!("faqbot-bench-synth-{passages}-"));
    synth::write_guides(dir.path(), passages, SEED).expect("write generated guides");
    dir
}

/// The questions for the shipped content: every question of `../shared/eval/dev.jsonl` when
/// that file is beside the project, else of `tests/quality/holdout.jsonl`; with the file used.
pub fn shipped_questions() -> (Vec<String>, PathBuf) {
    let dev = project().join("../shared/eval/dev.jsonl");
    let path = if dev.is_file() {
        dev
    } else {
        project().join("tests/quality/holdout.jsonl")
    };
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let questions = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["q"].as_str().expect("a \"q\" string").to_string()
        })
        .collect();
    (questions, path)
}

/// The fixed questions asked of generated content.
pub fn large_questions() -> Vec<String> {
    synth::QUESTIONS.iter().map(|q| q.to_string()).collect()
}

pub fn load(content: &Path) -> Content {
    content::load(content).unwrap_or_else(|e| panic!("load {}: {e}", content.display()))
}

/// Builds the index of `content` into a new folder, returning how long the build took.
pub fn timed_build(content: &Content) -> Duration {
    let dir = tempdir("faqbot-bench-build-");
    let start = Instant::now();
    build_index(content, dir.path()).expect("build the index");
    start.elapsed()
}
