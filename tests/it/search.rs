//! Search behaviour on the small fixture of `helpers` (made-up brand names, one long section):
//! synonyms, typos, field weights, stemming, `ask:` lines, honest no-matches and `/read`.

use faqbot::core::{Outcome, Reply};
use faqbot::search::SearchIndex;

use crate::helpers::{assert_footer, Fixture};

/// The id of the passage an answer shows, failing with the whole reply otherwise.
fn answered(reply: &Reply, question: &str) -> String {
    assert_eq!(
        reply.outcome,
        Outcome::Answer,
        "{question:?} should be answered:\n{}",
        reply.plain_text()
    );
    reply
        .passage
        .as_ref()
        .map(|p| p.id.clone())
        .expect("an answer shows a passage")
}

fn search_ids(index: &SearchIndex, question: &str) -> Vec<String> {
    index
        .search(question, 5)
        .expect("search runs")
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn a_brand_name_finds_the_passage_that_only_names_its_class() {
    let f = Fixture::new();
    let engine = f.engine();
    // "zentrofix" is only in synonyms.txt; the passage says "kinase inhibitors"
    for q in ["what is zentrofix", "Zentrofixib"] {
        let reply = engine.answer(q);
        assert_eq!(answered(&reply, q), "kinase", "{q}");
        assert!(!reply.plain_text().to_lowercase().contains("zentrofix"));
    }
}

#[test]
fn a_multi_word_synonym_matches_as_a_phrase() {
    let f = Fixture::new();
    let engine = f.engine();
    let q = "pins and needles in her hands";
    assert_eq!(answered(&engine.answer(q), q), "neuropathy");
    let result = engine.index().search(q, 5).expect("search");
    assert!(
        result
            .analyzed
            .concepts
            .iter()
            .any(|c| c.words == ["pins", "and", "needles"]),
        "the phrase is one concept: {:?}",
        result.analyzed.concepts
    );
    // the words alone are not in the guide: without the rule nothing would match
    let result = engine.index().search("pins needles", 5).expect("search");
    assert!(
        result.hits.is_empty() || result.hits[0].coverage < 0.4,
        "{:?}",
        result.hits
    );
}

#[test]
fn a_one_letter_typo_in_a_long_word_is_corrected() {
    let f = Fixture::new();
    let engine = f.engine();
    let q = "what is radiotherpy";
    assert_eq!(answered(&engine.answer(q), q), "radiotherapy");
    let result = engine.index().search(q, 5).expect("search");
    assert!(
        result
            .analyzed
            .corrections
            .iter()
            .any(|(typed, _)| typed == "radiotherpy"),
        "{:?}",
        result.analyzed.corrections
    );
}

#[test]
fn a_one_letter_typo_in_a_brand_name_still_applies_its_synonyms() {
    let f = Fixture::new();
    let engine = f.engine();
    let q = "what is zentrofx";
    assert_eq!(answered(&engine.answer(q), q), "kinase");
    let result = engine.index().search(q, 5).expect("search");
    assert!(
        result
            .analyzed
            .corrections
            .contains(&("zentrofx".to_string(), "zentrofix".to_string())),
        "{:?}",
        result.analyzed.corrections
    );
}

#[test]
fn a_word_in_a_heading_beats_the_same_word_in_a_body() {
    let f = Fixture::new();
    let engine = f.engine();
    // "Managing Fatigue" (heading) against "Sleep and Rest" (body mentions fatigue)
    let ids = search_ids(engine.index(), "fatigue");
    assert_eq!(ids.first().map(String::as_str), Some("fatigue"), "{ids:?}");
    assert!(ids.contains(&"sleep".to_string()), "{ids:?}");
    assert_eq!(answered(&engine.answer("fatigue"), "fatigue"), "fatigue");
}

#[test]
fn a_word_in_an_ask_line_beats_the_same_word_in_a_body() {
    let f = Fixture::new();
    let engine = f.engine();
    // `travel` has "vaccinations" in an `ask:` line; `nausea` has it in its body
    let ids = search_ids(engine.index(), "vaccinations");
    assert_eq!(ids.first().map(String::as_str), Some("travel"), "{ids:?}");
    assert!(ids.contains(&"nausea".to_string()), "{ids:?}");
}

#[test]
fn plural_and_singular_find_each_other() {
    let f = Fixture::new();
    let engine = f.engine();
    // the passages say "antiemetics" and "tablets"
    for (q, id) in [("antiemetic", "nausea"), ("tablet", "kinase")] {
        let result = engine.index().search(q, 5).expect("search");
        assert!(
            result.analyzed.corrections.is_empty(),
            "{q}: found by stemming, not by typo correction: {:?}",
            result.analyzed.corrections
        );
        assert_eq!(
            result.hits.first().map(|h| h.id.as_str()),
            Some(id),
            "{q}: {:?}",
            result.hits
        );
    }
    // in a whole question too: "beam" against the body's "beams"
    let q = "what is a beam";
    assert_eq!(answered(&engine.answer(q), q), "radiotherapy");
}

#[test]
fn ask_lines_are_searchable() {
    let f = Fixture::new();
    let engine = f.engine();
    // "flying" occurs only in an `ask:` line of `travel`, "drained" only in one of `fatigue`
    let q = "can she go flying";
    assert_eq!(answered(&engine.answer(q), q), "travel");
    let q = "drained";
    assert_eq!(answered(&engine.answer(q), q), "fatigue");
}

#[test]
fn an_off_topic_question_gets_an_honest_no_match() {
    let f = Fixture::new();
    let engine = f.engine();
    let settings = engine.settings().clone();
    for q in [
        "how do i cook rice",
        "what will the weather be like in Paris tomorrow",
    ] {
        let reply = engine.answer(q);
        assert_eq!(
            reply.outcome,
            Outcome::NoMatch,
            "{q}: {}",
            reply.plain_text()
        );
        assert!(reply.passage.is_none(), "{q}: {:?}", reply.passage);
        assert!(reply.related.is_empty(), "{q}: {:?}", reply.related);
        let text = reply.plain_text();
        assert!(text.starts_with(&settings.reply.no_match), "{q}: {text}");
        // no passage text slipped into the reply
        for body_start in [
            "Kinase inhibitors",
            "Radiotherapy is",
            "Rest, short",
            "Antiemetics",
        ] {
            assert!(!text.contains(body_start), "{q}: {text}");
        }
        assert_footer(&reply, &settings, q);
    }
}

#[test]
fn read_returns_the_whole_passage() {
    let f = Fixture::new();
    let engine = f.engine();
    let reply = engine.answer("/read home");
    assert_eq!(reply.outcome, Outcome::Answer);
    let shown = reply.passage.as_ref().expect("a passage");
    assert_eq!(shown.id, "home");
    assert!(shown.read_more.is_none());
    let body = faqbot::content::parse_guide(crate::helpers::GUIDE).expect("fixture parses");
    let home = body.passages.iter().find(|p| p.id == "home").expect("home");
    assert_eq!(shown.text, home.body);
    assert!(reply.plain_text().contains("a wheelchair can be borrowed"));
    assert_footer(&reply, engine.settings(), "/read home");
}

#[test]
fn read_of_an_unknown_id_says_so() {
    let f = Fixture::new();
    let engine = f.engine();
    for q in ["/read nosuch", "/read", "/read ../../etc/passwd"] {
        let reply = engine.answer(q);
        assert_eq!(reply.outcome, Outcome::NoMatch, "{q}");
        assert!(reply.passage.is_none(), "{q}");
        assert!(
            reply
                .plain_text()
                .starts_with(&engine.settings().reply.not_found),
            "{q}: {}",
            reply.plain_text()
        );
        assert_footer(&reply, engine.settings(), q);
    }
}
