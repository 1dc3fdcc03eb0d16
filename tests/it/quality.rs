//! A quality gate on our own held-out questions (`tests/quality/holdout.jsonl`, written apart
//! from the search tuning): a change that makes answers worse for caregivers fails here, not in
//! a later evaluation. The thresholds sit a little under the measured figures in the README.

use faqbot::core::Outcome;

use crate::helpers::Shipped;

struct Item {
    q: String,
    kind: String,
    expect_any: Vec<String>,
}

fn items() -> Vec<Item> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/quality/holdout.jsonl");
    let text = std::fs::read_to_string(path).expect("holdout set readable");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("holdout line is JSON");
            Item {
                q: v["q"].as_str().expect("q").to_string(),
                kind: v["type"].as_str().expect("type").to_string(),
                expect_any: v["expect_any"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_lowercase))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Typographic quotes and dashes as the evaluation harness unifies them.
fn norm(s: &str) -> String {
    s.to_lowercase()
        .replace(['\u{201c}', '\u{201d}'], "\"")
        .replace(['\u{2018}', '\u{2019}'], "'")
        .replace(['\u{2014}', '\u{2013}'], "-")
}

#[test]
fn held_out_questions_find_the_right_passage() {
    let shipped = Shipped::new();
    let items = items();
    let answerable: Vec<&Item> = items.iter().filter(|i| i.kind == "answerable").collect();
    assert!(answerable.len() >= 50, "the held-out set shrank");
    let mut first = 0;
    let mut top3 = 0;
    let mut answered = 0;
    let mut misses = Vec::new();
    for item in &answerable {
        let reply = shipped.answer(&item.q);
        answered += usize::from(reply.outcome == Outcome::Answer);
        let rank = reply.passages.iter().take(5).position(|p| {
            item.expect_any
                .iter()
                .any(|e| norm(&p.body).contains(&norm(e)))
        });
        match rank {
            Some(0) => first += 1,
            Some(r) if r < 3 => {}
            _ => misses.push(item.q.clone()),
        }
        top3 += usize::from(rank.is_some_and(|r| r < 3));
    }
    let n = answerable.len() as f64;
    let (hit1, hit3, rate) = (first as f64 / n, top3 as f64 / n, answered as f64 / n);
    assert!(hit1 >= 0.88, "hit@1 {hit1:.3} (misses: {misses:?})");
    assert!(hit3 >= 0.96, "hit@3 {hit3:.3} (misses: {misses:?})");
    assert!(rate >= 0.95, "answered {rate:.3}");
}

#[test]
fn held_out_other_kinds_get_their_outcome() {
    let shipped = Shipped::new();
    for item in items().iter().filter(|i| i.kind != "answerable") {
        let reply = shipped.answer(&item.q);
        let ok = match item.kind.as_str() {
            "emergency" => reply.outcome == Outcome::Emergency,
            "off_topic" => {
                matches!(reply.outcome, Outcome::NoMatch | Outcome::Handoff)
                    && reply.passage.is_none()
            }
            "greeting" => reply.outcome == Outcome::Smalltalk,
            "handoff_request" => reply.outcome == Outcome::Handoff,
            "non_english" => matches!(reply.outcome, Outcome::Language | Outcome::Answer),
            other => panic!("unknown kind {other}"),
        };
        assert!(ok, "{:?} got {:?}", item.q, reply.outcome);
    }
}
