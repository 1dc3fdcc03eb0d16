//! A quality gate on question sets written apart from the search tuning: our own held-out
//! questions (`tests/quality/holdout.jsonl`) and the two blind sets (`eval/questions_A.jsonl`
//! and `eval/questions_B.jsonl`, each written by someone who had only the list of topics; both
//! were since tuned on and calibrated the answer confidence, so their figures are not a measure
//! of generalisation, only a guard against regressions), and the blind sets nobody tuned on
//! (`eval/questions_C.jsonl`, `eval/questions_F.jsonl`, `eval/questions_K.jsonl`). A change that makes answers worse for
//! caregivers fails here, not in a later evaluation. The thresholds sit a little under the
//! figures in the README.

use faqbot::core::Outcome;

use crate::helpers::Shipped;

struct Item {
    q: String,
    kind: String,
    expect_any: Vec<String>,
}

fn items(file: &str) -> Vec<Item> {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            Item {
                q: v["q"].as_str().expect("q").to_string(),
                kind: v["type"].as_str().expect("type").to_string(),
                expect_any: v["expect_any"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(norm)).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Lower case, typographic quotes and dashes unified, whitespace collapsed, as the evaluation
/// harness compares.
fn norm(s: &str) -> String {
    s.to_lowercase()
        .replace(['\u{201c}', '\u{201d}'], "\"")
        .replace(['\u{2018}', '\u{2019}'], "'")
        .replace(['\u{2014}', '\u{2013}'], "-")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the harness reports for the answerable questions of a set.
#[derive(Debug)]
struct Figures {
    hit1: f64,
    hit3: f64,
    /// Right passage given as the answer, or offered among the first three.
    helped: f64,
    /// Right among the answers given.
    precision: f64,
    misses: Vec<String>,
}

impl Figures {
    fn explain(&self) -> String {
        format!(
            "hit@1 {:.3}, hit@3 {:.3}, helped {:.3}, precision {:.3}; not first: {:?}",
            self.hit1, self.hit3, self.helped, self.precision, self.misses
        )
    }
}

fn figures(shipped: &Shipped, items: &[Item]) -> Figures {
    let answerable: Vec<&Item> = items.iter().filter(|i| i.kind == "answerable").collect();
    let (mut first, mut top3, mut helped, mut given, mut right) = (0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for item in &answerable {
        let reply = shipped.answer(&item.q);
        let rank = reply.passages.iter().take(5).position(|p| {
            let body = norm(&p.body);
            item.expect_any.iter().any(|e| body.contains(e))
        });
        first += usize::from(rank == Some(0));
        top3 += usize::from(rank.is_some_and(|r| r < 3));
        match reply.outcome {
            Outcome::Answer => {
                given += 1;
                right += usize::from(rank == Some(0));
                helped += usize::from(rank == Some(0));
            }
            Outcome::Suggest => helped += usize::from(rank.is_some_and(|r| r < 3)),
            _ => {}
        }
        if rank != Some(0) {
            misses.push(item.q.clone());
        }
    }
    let n = answerable.len() as f64;
    Figures {
        hit1: first as f64 / n,
        hit3: top3 as f64 / n,
        helped: helped as f64 / n,
        precision: right as f64 / given.max(1) as f64,
        misses,
    }
}

#[test]
fn held_out_questions_find_the_right_passage() {
    let shipped = Shipped::new();
    let items = items("tests/quality/holdout.jsonl");
    assert!(
        items.iter().filter(|i| i.kind == "answerable").count() >= 50,
        "the held-out set shrank"
    );
    let f = figures(&shipped, &items);
    let why = f.explain();
    assert!(f.hit1 >= 0.88, "{why}");
    assert!(f.hit3 >= 0.96, "{why}");
    assert!(f.helped >= 0.90, "{why}");
    assert!(f.precision >= 0.90, "{why}");
}

#[test]
fn the_first_blind_set_keeps_its_figures() {
    let shipped = Shipped::new();
    let items = items("eval/questions_A.jsonl");
    let f = figures(&shipped, &items);
    let why = f.explain();
    assert!(f.hit1 >= 0.86, "{why}");
    assert!(f.helped >= 0.90, "{why}");
    assert!(f.precision >= 0.92, "{why}");
    // nothing off the subject gets a passage, and smalltalk is recognised
    other_kinds(&shipped, &items, 0.9);
}

#[test]
fn the_second_blind_set_keeps_its_figures() {
    let shipped = Shipped::new();
    let items = items("eval/questions_B.jsonl");
    let f = figures(&shipped, &items);
    let why = f.explain();
    assert!(f.hit1 >= 0.86, "{why}");
    assert!(f.helped >= 0.90, "{why}");
    assert!(f.precision >= 0.90, "{why}");
    other_kinds(&shipped, &items, 0.9);
}

/// The sets never trained or tuned on (C; F, written after the question model; K, written after
/// its retraining on I and J): their figures measure unseen questions, so a change that lowers
/// them is a regression even when every other set improves. Only the answerable questions are
/// gated: F and K each have an outcome that is wrong today (a request for a person, a greeting),
/// which the README reports.
#[test]
fn the_held_out_blind_sets_keep_their_figures() {
    let shipped = Shipped::new();
    for (file, hit1, helped) in [
        ("eval/questions_C.jsonl", 0.95, 0.95),
        ("eval/questions_F.jsonl", 0.94, 0.93),
        ("eval/questions_K.jsonl", 0.94, 0.94),
    ] {
        let f = figures(&shipped, &items(file));
        let why = format!("{file}: {}", f.explain());
        assert!(f.hit1 >= hit1, "{why}");
        assert!(f.helped >= helped, "{why}");
        assert!(f.precision >= 0.95, "{why}");
    }
}

#[test]
fn held_out_other_kinds_get_their_outcome() {
    let shipped = Shipped::new();
    other_kinds(&shipped, &items("tests/quality/holdout.jsonl"), 1.0);
}

/// Off-topic questions always get no passage; emergencies, requests for a person and foreign
/// languages their outcome; greetings and thanks at least `smalltalk` of the time.
fn other_kinds(shipped: &Shipped, items: &[Item], smalltalk: f64) {
    let (mut greetings, mut recognised) = (0, 0);
    for item in items.iter().filter(|i| i.kind != "answerable") {
        let reply = shipped.answer(&item.q);
        let ok = match item.kind.as_str() {
            "emergency" => reply.outcome == Outcome::Emergency,
            "off_topic" => {
                matches!(reply.outcome, Outcome::NoMatch | Outcome::Handoff)
                    && reply.passage.is_none()
                    && reply.suggestions.is_empty()
            }
            "greeting" => {
                greetings += 1;
                recognised += usize::from(reply.outcome == Outcome::Smalltalk);
                true
            }
            "handoff_request" => reply.outcome == Outcome::Handoff,
            "non_english" => matches!(reply.outcome, Outcome::Language | Outcome::Answer),
            other => panic!("unknown kind {other}"),
        };
        assert!(ok, "{:?} got {:?}", item.q, reply.outcome);
    }
    if greetings > 0 {
        let share = recognised as f64 / greetings as f64;
        assert!(share >= smalltalk, "smalltalk {recognised}/{greetings}");
    }
}
