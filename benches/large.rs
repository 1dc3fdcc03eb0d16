//! Criterion benches on generated content of 1,000, 10,000 and 100,000 passages (see
//! `faqbot_dev::synth`): the reply to one question (cycling a fixed list of 50), building the
//! index, and parsing the content. Each size's content is generated once into a temporary
//! folder. The builds of the large sizes take seconds each, so those groups sample few times.
//!
//! `cargo bench --bench large` (some sizes: `BENCH_SIZES=1000,10000 cargo bench --bench large`)

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode};
use faqbot::search::build_index;

fn large(c: &mut Criterion) {
    let questions = common::large_questions();
    for passages in common::sizes() {
        let content_dir = common::generated(passages);
        let content = common::load(content_dir.path());

        {
            let bench = common::Bench::new(content_dir.path());
            let mut group = c.benchmark_group("large/reply");
            // about 1 ms per reply at the largest size: 100 samples need more than the default
            group.measurement_time(Duration::from_secs(10));
            let mut next = 0usize;
            group.bench_function(BenchmarkId::from_parameter(passages), |b| {
                b.iter(|| {
                    let q = &questions[next % questions.len()];
                    next += 1;
                    black_box(bench.engine.answer(black_box(q)))
                })
            });
            group.finish();
        }

        let mut group = c.benchmark_group("large/build");
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        // one build per sample (about 0.1 s per 1,000 passages): more would not fit the time
        group.warm_up_time(Duration::from_millis(1));
        group.measurement_time(Duration::from_secs(passages as u64 / 1_000 + 1));
        group.bench_function(BenchmarkId::from_parameter(passages), |b| {
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

        let mut group = c.benchmark_group("large/parse");
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(passages as u64 / 10_000 + 5));
        group.bench_function(BenchmarkId::from_parameter(passages), |b| {
            b.iter(|| black_box(common::load(content_dir.path())))
        });
        group.finish();
    }
}

criterion_group!(benches, large);
criterion_main!(benches);
