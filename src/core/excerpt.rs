//! Choosing the part of a long passage that answers the question, so a reply stays short enough
//! to read on a phone; the whole passage stays one command away.

use rustc_hash::FxHashMap;

use crate::search::terms_of;

/// A piece of a passage: a paragraph, a list item, or a sentence of a very long paragraph,
/// with the separator that preceded it.
struct Unit<'a> {
    text: &'a str,
    sep: &'static str,
}

fn units(body: &str, max_chars: usize) -> Vec<Unit<'_>> {
    let mut out = Vec::new();
    for (pi, paragraph) in body.split("\n\n").enumerate() {
        for (li, line) in paragraph.split('\n').enumerate() {
            let sep = match (pi, li) {
                (0, 0) => "",
                (_, 0) => "\n\n",
                _ => "\n",
            };
            if line.chars().count() <= max_chars {
                out.push(Unit { text: line, sep });
                continue;
            }
            let mut first = true;
            for sentence in sentences(line) {
                out.push(Unit {
                    text: sentence,
                    sep: if first { sep } else { " " },
                });
                first = false;
            }
        }
    }
    out
}

/// Sentences of a paragraph, split after `.`, `?` or `!` followed by a space.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'?' | b'!') && bytes.get(i + 1) == Some(&b' ') {
            out.push(&text[start..=i]);
            start = i + 2;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The best-matching run of `body` within `max_chars` characters, and whether it was shortened.
/// Runs are scored by the weights of the distinct query terms they contain; ties go to the
/// earlier run, which usually carries the passage's context.
pub fn excerpt(body: &str, weights: &FxHashMap<&str, f32>, max_chars: usize) -> (String, bool) {
    if body.chars().count() <= max_chars {
        return (body.to_string(), false);
    }
    let units = units(body, max_chars);
    let unit_terms: Vec<Vec<String>> = units.iter().map(|u| terms_of(u.text)).collect();
    let lens: Vec<usize> = units
        .iter()
        .map(|u| u.text.chars().count() + u.sep.len())
        .collect();
    let mut best = (f32::MIN, 0usize, 0usize);
    for start in 0..units.len() {
        let mut len = 0;
        let mut end = start;
        while end < units.len() && len + lens[end] <= max_chars {
            len += lens[end];
            end += 1;
        }
        if end == start {
            end = start + 1; // one unit longer than the limit (no sentence breaks): take it whole
        }
        let mut seen: Vec<&str> = Vec::new();
        for terms in &unit_terms[start..end] {
            for t in terms {
                if weights.contains_key(t.as_str()) && !seen.contains(&t.as_str()) {
                    seen.push(t);
                }
            }
        }
        let score: f32 = seen.iter().filter_map(|t| weights.get(t)).sum();
        if score > best.0 {
            best = (score, start, end);
        }
    }
    let (_, start, end) = best;
    let mut text = String::new();
    for (i, u) in units[start..end].iter().enumerate() {
        if i > 0 {
            text.push_str(u.sep);
        }
        text.push_str(u.text);
    }
    (text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bodies_are_whole() {
        let w = FxHashMap::default();
        assert_eq!(excerpt("short", &w, 100), ("short".to_string(), false));
    }

    #[test]
    fn picks_the_paragraph_with_the_question_terms() {
        let body = format!(
            "{}\n\n- Loss of antigen presentation: hidden markers.\n- T-cell exhaustion: immune cells become depleted.\n\n{}",
            "Intro words. ".repeat(20),
            "Closing words. ".repeat(20)
        );
        let exhaust = terms_of("exhaustion");
        let weights: FxHashMap<&str, f32> = exhaust.iter().map(|t| (t.as_str(), 1.0)).collect();
        let (text, trimmed) = excerpt(&body, &weights, 200);
        assert!(trimmed);
        assert!(
            text.contains("T-cell exhaustion: immune cells become depleted."),
            "{text}"
        );
        assert!(text.chars().count() <= 200);
    }

    #[test]
    fn a_huge_paragraph_is_cut_at_sentences() {
        let body = format!(
            "{} The answer is here. {}",
            "Filler text. ".repeat(50),
            "More filler. ".repeat(50)
        );
        let answer = terms_of("answer");
        let weights: FxHashMap<&str, f32> = answer.iter().map(|t| (t.as_str(), 1.0)).collect();
        let (text, trimmed) = excerpt(&body, &weights, 120);
        assert!(trimmed && text.contains("The answer is here."), "{text}");
    }
}
