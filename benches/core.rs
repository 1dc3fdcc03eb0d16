//! Criterion benches of the core on the shipped content: the reply to one question (cycling
//! through every question of the eval set), the search with and without the question model,
//! the emergency check alone, parsing `faq/`, and building its index.
//!
//! `cargo bench --bench core`

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use faqbot::search::build_index;

fn reply(c: &mut Criterion) {
    let bench = common::Bench::new(&common::shipped_content());
    let (questions, source) = common::shipped_questions();
    eprintln!(
        "core/reply: cycling {} questions of {}",
        questions.len(),
        source.display()
    );
    let name = format!(
        "core/reply/{}",
        source.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut next = 0usize;
    c.bench_function(&name, |b| {
        b.iter(|| {
            let q = &questions[next % questions.len()];
            next += 1;
            black_box(bench.engine.answer(black_box(q)))
        })
    });
}

/// What the question model adds to a reply, as three benches over the same questions: the
/// search for five passages (what a reply searched for before the model), for ten, and for
/// ten reordered by the model (`Engine::rank`, what a reply searches now).
fn ranking(c: &mut Criterion) {
    let bench = common::Bench::new(&common::shipped_content());
    let (questions, _) = common::shipped_questions();
    let index = bench.engine.index();
    for (name, depth) in [("core/search/5", 5), ("core/search/10", 10)] {
        let mut next = 0usize;
        c.bench_function(name, |b| {
            b.iter(|| {
                let q = &questions[next % questions.len()];
                next += 1;
                black_box(index.search(black_box(q), depth).ok())
            })
        });
    }
    let mut next = 0usize;
    c.bench_function("core/search/10+model", |b| {
        b.iter(|| {
            let q = &questions[next % questions.len()];
            next += 1;
            black_box(bench.engine.rank(black_box(q)).ok())
        })
    });
}

/// The emergency check alone, on messages of every kind: red flags in several languages, near
/// misses, ordinary questions, a long message.
fn triage(c: &mut Criterion) {
    let triage = faqbot::core::Triage::shared().expect("the triage rules compile");
    let long = format!(
        "{} and now he cant breathe",
        "we saw the consultant today ".repeat(40)
    );
    let messages = [
        "keytruda stopped working, what now?",
        "she finished her chemo cycle a week ago and now has a temperature of 38.3",
        "does car-t cause seizures?",
        "two weeks ago he had chest pain and they checked, it was fine",
        "this waiting is killing me",
        "mi padre no puede respirar",
        "папу рвёт кровью",
        "我妈妈昏迷了，叫不醒",
        "what are the side effects of bispecific antibodies",
        long.as_str(),
    ];
    let mut next = 0usize;
    c.bench_function("core/triage/mixed", |b| {
        b.iter(|| {
            let m = messages[next % messages.len()];
            next += 1;
            black_box(triage.check(black_box(m)))
        })
    });
}

fn parse(c: &mut Criterion) {
    let dir = common::shipped_content();
    c.bench_function("content/parse/shipped", |b| {
        b.iter(|| black_box(common::load(&dir)))
    });
}

fn build(c: &mut Criterion) {
    let content = common::load(&common::shipped_content());
    let mut group = c.benchmark_group("index/build");
    // each build commits to disk: tens of milliseconds
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.sample_size(20);
    group.measurement_time(std::time::Duration::from_secs(10));
    group.bench_function("shipped", |b| {
        b.iter_batched(
            || common::tempdir("faqbot-bench-build-"),
            |dir| {
                build_index(&content, dir.path()).expect("build the index");
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, reply, ranking, triage, parse, build);
criterion_main!(benches);
