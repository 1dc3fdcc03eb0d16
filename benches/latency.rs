//! Reply-time percentiles, which criterion does not report: every question is timed on its
//! own, round-robin over the question list so that noise from other processes spreads over
//! all of them, and the median and 99th percentile of all those timings are printed per
//! content size as a markdown table, with the content's parse, index build and index open
//! times.
//!
//! Each reply is timed twice: by the wall clock (what a caregiver waits, including time the
//! thread spent descheduled while other processes ran) and by the thread's CPU clock (the work
//! the reply took, which other processes on a busy machine do not inflate).
//!
//! `cargo bench --bench latency` (sizes: `BENCH_SIZES=1000,100000`; timings per question:
//! `BENCH_ROUNDS=200`; `BENCH_SIZES=0` measures the shipped content only)

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use faqbot::core::Engine;
use faqbot::search::{open_or_build, SearchIndex};

struct Row {
    content: String,
    passages: usize,
    questions: usize,
    timings: usize,
    median: Duration,
    p99: Duration,
    max: Duration,
    cpu_median: Duration,
    cpu_p99: Duration,
    slowest_question: (Duration, String),
    parse: Duration,
    build: Duration,
    open: Duration,
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The value below which `q` of the sorted samples lie (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn measure(label: &str, content_dir: &Path, questions: &[String], rounds: usize) -> Row {
    let start = Instant::now();
    let content = common::load(content_dir);
    let parse = start.elapsed();
    let passages = content.passages().count();
    let build = common::timed_build(&content);
    drop(content);

    let index_dir = common::tempdir("faqbot-bench-index-");
    let settings = common::settings(content_dir, index_dir.path());
    let (index, meta, _) =
        open_or_build(&settings.content.dir, &settings.index.dir).expect("build the index");
    let start = Instant::now();
    let index = SearchIndex::new(index, meta).expect("open the index");
    let open = start.elapsed();
    let engine = Engine::new(index, settings).expect("intent rules compile");

    // warm the caches and the page cache before timing
    for q in questions.iter().cycle().take(questions.len() * 3) {
        black_box(engine.answer(q));
    }
    let mut per_question: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); questions.len()];
    let mut cpu: Vec<Duration> = Vec::with_capacity(rounds * questions.len());
    for _ in 0..rounds {
        for (q, samples) in questions.iter().zip(per_question.iter_mut()) {
            let cpu_start = thread_cpu();
            let start = Instant::now();
            black_box(engine.answer(black_box(q)));
            samples.push(start.elapsed());
            cpu.push(thread_cpu().saturating_sub(cpu_start));
        }
    }
    cpu.sort();
    let mut slowest_question = (Duration::ZERO, String::new());
    for (q, samples) in questions.iter().zip(per_question.iter_mut()) {
        samples.sort();
        let median = percentile(samples, 0.5);
        if median > slowest_question.0 {
            slowest_question = (median, q.clone());
        }
    }
    let mut all: Vec<Duration> = per_question.into_iter().flatten().collect();
    all.sort();
    let row = Row {
        content: label.to_string(),
        passages,
        questions: questions.len(),
        timings: all.len(),
        median: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        max: *all.last().unwrap_or(&Duration::ZERO),
        cpu_median: percentile(&cpu, 0.5),
        cpu_p99: percentile(&cpu, 0.99),
        slowest_question,
        parse,
        build,
        open,
    };
    eprintln!(
        "{label}: {passages} passages, median {:?}, p99 {:?} (CPU {:?}, {:?}), build {:?}",
        row.median, row.p99, row.cpu_median, row.cpu_p99, row.build
    );
    row
}

fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .map(|r| r.parse().expect("BENCH_ROUNDS: a number"))
        .unwrap_or(100);
    let mut rows = Vec::new();

    let (questions, source) = common::shipped_questions();
    let source = source
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    rows.push(measure(
        &format!("shipped faq/ ({source})"),
        &common::shipped_content(),
        &questions,
        rounds * 2,
    ));

    let questions = common::large_questions();
    for passages in common::sizes().into_iter().filter(|&n| n > 0) {
        let dir = common::generated(passages);
        rows.push(measure(
            &format!("generated {passages}"),
            dir.path(),
            &questions,
            rounds,
        ));
    }

    println!();
    println!("| content | passages | questions × rounds | reply median | reply p99 | reply max | CPU median | CPU p99 | slowest question (median) | parse | index build | index open |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} × {} | {} | {} | {} | {} | {} | {} \"{}\" | {} | {} | {} |",
            r.content,
            r.passages,
            r.questions,
            r.timings / r.questions.max(1),
            us(r.median),
            us(r.p99),
            us(r.max),
            us(r.cpu_median),
            us(r.cpu_p99),
            us(r.slowest_question.0),
            r.slowest_question.1,
            secs(r.parse),
            secs(r.build),
            secs(r.open),
        );
    }
}
