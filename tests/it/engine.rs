//! The outcome rules of `Engine::answer` on the shipped content, and what every reply carries.

use faqbot::core::{Notice, Outcome, Reply};

use crate::helpers::{assert_footer, Fixture, Shipped};

fn assert_outcome(reply: &Reply, outcome: Outcome, input: &str) {
    assert_eq!(
        reply.outcome,
        outcome,
        "{input:?} got {:?}:\n{}",
        reply.outcome,
        reply.plain_text()
    );
}

#[test]
fn a_guide_question_is_answered_with_its_passage() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    let reply = bot.answer("what are ADCs");
    assert_outcome(&reply, Outcome::Answer, "what are ADCs");
    let shown = reply.passage.as_ref().expect("a passage");
    assert_eq!(shown.id, "adc");
    assert_eq!(
        reply.passages[0].id, "adc",
        "the shown passage is the best hit"
    );
    assert_eq!(
        reply.message,
        texts.answer_intro.replace("{title}", &shown.title)
    );
    assert!(reply.plain_text().contains(&shown.text));
    assert!(!reply.personal_advice && !reply.escalate);
    assert_eq!(reply.language, "en");
    // at most max_results, in the question model's order (not the search's scores), and the
    // shown passage is not offered again as related
    assert!(reply.passages.len() <= bot.engine.settings().search.max_results);
    assert!(
        reply.related.iter().all(|r| r.id != "adc"),
        "{:?}",
        reply.related
    );
}

#[test]
fn an_unrelated_question_is_an_honest_no_match() {
    let bot = Shipped::new();
    let q = "how do i cook rice";
    let reply = bot.answer(q);
    assert_outcome(&reply, Outcome::NoMatch, q);
    assert!(reply.passage.is_none() && reply.related.is_empty());
    assert_eq!(reply.message, bot.engine.settings().reply.no_match);
    assert!(!reply.escalate);
}

#[test]
fn red_flags_in_english_are_emergencies_that_escalate() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    for q in [
        "my husband can\u{2019}t breathe",
        "She has CHEST PAIN right now",
        "i want to kill myself",
        // safety first: a red flag inside an ordinary question, a command or a request
        "what are ADCs? my dad passed out",
        "/read adc he is unconscious",
        "talk to human, she is having a seizure",
    ] {
        let reply = bot.answer(q);
        assert_outcome(&reply, Outcome::Emergency, q);
        assert!(reply.escalate, "{q}");
        assert_eq!(reply.language, "en", "{q}");
        assert_eq!(reply.message, english_notice(texts, &reply), "{q}");
        assert!(reply.passage.is_none() && reply.passages.is_empty(), "{q}");
    }
}

#[test]
fn red_flags_in_other_languages_get_the_notice_in_that_language_and_in_english() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    for (q, lang) in [
        ("mi madre tiene dolor en el pecho", "es"),
        ("mon père a perdu connaissance", "fr"),
        ("папа не может дышать", "ru"),
        ("أمي لا تستطيع التنفس", "ar"),
        ("我妈妈昏迷了", "zh"),
        ("sie ist bewusstlos", "de"),
    ] {
        let reply = bot.answer(q);
        assert_outcome(&reply, Outcome::Emergency, q);
        assert!(reply.escalate, "{q}");
        assert_eq!(reply.language, lang, "{q}");
        let notices = texts
            .emergency_translations
            .get(lang)
            .unwrap_or_else(|| panic!("config has the emergency notices in {lang}"));
        assert!(
            reply.message.starts_with(notices.emergency.as_str()),
            "{q}: {}",
            reply.message
        );
        assert!(reply.message.ends_with(&texts.emergency), "{q}");
    }
}

/// The English notice an emergency reply must carry, by the kind of alarm.
fn english_notice<'a>(texts: &'a faqbot::settings::ReplyTexts, reply: &Reply) -> &'a str {
    let alarm = reply.alarm.as_ref().expect("an emergency names its alarm");
    match alarm.notice {
        Notice::Emergency => &texts.emergency,
        Notice::Treatment => &texts.emergency_treatment,
        Notice::Crisis => &texts.emergency_crisis,
    }
}

#[test]
fn each_kind_of_red_flag_gets_its_own_notice_and_names_its_category() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    for (q, category, notice) in [
        (
            "he has a temperature of 38.4, last chemo was 6 days ago",
            "fever_after_treatment",
            &texts.emergency_treatment,
        ),
        (
            "my husband says he wants to end it all",
            "suicidal",
            &texts.emergency_crisis,
        ),
        ("she collapsed in the kitchen", "collapse", &texts.emergency),
    ] {
        let reply = bot.answer(q);
        assert_outcome(&reply, Outcome::Emergency, q);
        let alarm = reply.alarm.as_ref().expect("an alarm");
        assert_eq!(alarm.category, category, "{q}");
        assert!(!alarm.label.is_empty());
        assert_eq!(&reply.message, notice, "{q}");
    }
}

#[test]
fn a_language_without_answers_still_gets_the_emergency_numbers() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    // Italian: no emergency rules, no answers; the reply still says what to call
    let reply = bot.answer("Buongiorno, vorrei sapere quali sono le opzioni dopo l'immunoterapia");
    assert_outcome(&reply, Outcome::Language, "italian");
    assert!(
        reply.message.contains(&texts.emergency_line),
        "{}",
        reply.message
    );
    assert!(reply.plain_text().ends_with(&reply.handoff));
}

#[test]
fn asking_for_a_person_is_a_handoff_that_escalates() {
    let bot = Shipped::new();
    for q in ["talk to human", "Can I speak with a coordinator?", "/human"] {
        let reply = bot.answer(q);
        assert_outcome(&reply, Outcome::Handoff, q);
        assert!(reply.escalate, "{q}");
        assert_eq!(reply.message, bot.engine.settings().reply.handoff_request);
        assert!(reply.passages.is_empty(), "{q}");
    }
}

#[test]
fn greetings_thanks_and_questions_about_the_bot_are_smalltalk() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    for (q, text) in [
        ("hello", &texts.greeting),
        ("Good morning!", &texts.greeting),
        ("thanks!", &texts.thanks),
        ("ok thank you so much \u{1f64f}", &texts.thanks),
        ("are you a bot?", &texts.identity),
    ] {
        let reply = bot.answer(q);
        assert_outcome(&reply, Outcome::Smalltalk, q);
        assert_eq!(&reply.message, text, "{q}");
        assert!(!reply.escalate && reply.passages.is_empty(), "{q}");
    }
    // a greeting with a question is a question
    assert_outcome(
        &bot.answer("hello, what are ADCs?"),
        Outcome::Answer,
        "hello, what are ADCs?",
    );
}

#[test]
fn a_language_the_content_does_not_cover_is_said_so() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    let q = "¿Puede funcionar Opdivo si Keytruda ya falló?";
    let reply = bot.answer(q);
    assert_outcome(&reply, Outcome::Language, q);
    assert_eq!(reply.language, "es");
    assert!(reply
        .message
        .starts_with(&texts.language_translations["es"]));
    assert!(reply.message.contains(&texts.language));
    assert!(reply.passage.is_none() && reply.passages.is_empty());
    // an English question full of brand names is still English
    let q = "keytruda failed, can opdivo work";
    assert_outcome(&bot.answer(q), Outcome::Answer, q);
}

#[test]
fn personal_treatment_questions_get_the_advice_introduction() {
    let bot = Shipped::new();
    let texts = &bot.engine.settings().reply;
    let q = "should my husband try opdivo now that keytruda failed";
    let reply = bot.answer(q);
    assert_outcome(&reply, Outcome::Answer, q);
    assert!(reply.personal_advice);
    let shown = reply.passage.as_ref().expect("general guide text");
    assert_eq!(
        reply.message,
        texts.advice_intro.replace("{title}", &shown.title)
    );
    // a general question does not get it
    let reply = bot.answer("what is TIL therapy");
    assert_outcome(&reply, Outcome::Answer, "what is TIL therapy");
    assert!(!reply.personal_advice);
    let title = &reply.passage.as_ref().expect("a passage").title;
    assert_eq!(reply.message, texts.answer_intro.replace("{title}", title));
    // nor do suggestions: the notice comes before them as well
    let q = "should my husband stop treatment or what other options do we have";
    let reply = bot.answer(q);
    assert_outcome(&reply, Outcome::Suggest, q);
    assert!(reply.personal_advice);
    assert_eq!(reply.message, texts.advice_suggest);
    assert!(!reply.suggestions.is_empty());
}

#[test]
fn every_outcome_ends_with_the_disclaimer_and_the_handoff_line() {
    let bot = Shipped::new();
    let settings = bot.engine.settings().clone();
    let mut seen = Vec::new();
    for q in [
        "what are ADCs",
        "how much opdivo should she take",
        "/read car-t",
        "how do i cook rice",
        "/read nosuch",
        "",
        "my husband can't breathe",
        "我爸爸呼吸困难",
        "talk to human",
        "hello",
        "thanks!",
        "are you a bot?",
        "¿Puede funcionar Opdivo si Keytruda ya falló?",
    ] {
        let reply = bot.answer(q);
        assert_footer(&reply, &settings, q);
        assert!(reply.plain_text().contains(&settings.handoff.url), "{q}");
        seen.push(reply.outcome);
    }
    for outcome in [
        Outcome::Answer,
        Outcome::NoMatch,
        Outcome::Emergency,
        Outcome::Handoff,
        Outcome::Smalltalk,
        Outcome::Language,
    ] {
        assert!(
            seen.contains(&outcome),
            "{outcome:?} not exercised: {seen:?}"
        );
    }
}

#[test]
fn a_long_passage_is_trimmed_to_the_relevant_part_with_a_way_to_read_all() {
    let f = Fixture::new();
    // the answer confidence is calibrated on the shipped guide; on the small fixture a match in
    // one long body is a suggestion, and this test is about how an answer is shortened
    let mut env = f.env();
    env.push(("FAQBOT_SEARCH__ANSWER_CONFIDENCE".into(), "0.3".into()));
    env.push(("FAQBOT_SEARCH__SUGGEST_CONFIDENCE".into(), "0.3".into()));
    let engine = crate::helpers::engine_with(
        faqbot::settings::Settings::load_from(None, env).expect("settings"),
    );
    let cfg = &engine.settings();
    let q = "where can we borrow a wheelchair";
    let reply = engine.answer(q);
    assert_outcome(&reply, Outcome::Answer, q);
    let shown = reply.passage.as_ref().expect("a passage");
    assert_eq!(shown.id, "home");
    let whole = engine
        .index()
        .passage("home")
        .expect("lookup")
        .expect("home exists")
        .body;
    assert!(
        whole.chars().count() > cfg.search.excerpt_chars,
        "fixture too short"
    );
    assert!(
        shown.text.chars().count() <= cfg.search.excerpt_chars,
        "{}",
        shown.text
    );
    assert!(
        shown.text.contains("a wheelchair can be borrowed"),
        "{}",
        shown.text
    );
    assert!(
        whole.contains(&shown.text),
        "the excerpt is the passage's own text"
    );
    let more = shown.read_more.as_deref().expect("a read-more line");
    assert_eq!(
        more,
        cfg.reply
            .read_more
            .replace("{title}", &shown.title)
            .replace("{id}", "home")
    );
    assert!(more.contains("/read home"));
    let text = reply.plain_text();
    assert!(text.contains(more));
    assert_footer(&reply, cfg, q);

    // a short passage is shown whole, without the line
    let reply = engine.answer("what is zentrofix");
    let shown = reply.passage.as_ref().expect("a passage");
    assert!(shown.read_more.is_none(), "{shown:?}");
}

#[test]
fn an_answer_links_to_the_guide_page() {
    let f = Fixture::new();
    let engine = f.engine();
    let reply = engine.answer("what is zentrofix");
    let shown = reply.passage.as_ref().expect("a passage");
    // the guide's `link: /guides/care`, joined to content.site_url
    let expected = format!(
        "{}/guides/care",
        engine.settings().content.site_url.trim_end_matches('/')
    );
    assert_eq!(shown.link.as_deref(), Some(expected.as_str()));
    assert!(reply.plain_text().contains(&expected));
}

#[test]
fn a_lone_misspelt_brand_name_is_not_a_foreign_language() {
    let bot = Shipped::new();
    for q in ["keytrda", "opdivoo", "enhertuu"] {
        let reply = bot.answer(q);
        // a drug name alone is searched (how sure the engine is of one passage varies)
        assert!(
            matches!(reply.outcome, Outcome::Answer | Outcome::Suggest),
            "{q}: {:?}",
            reply.outcome
        );
        assert!(!reply.passages.is_empty(), "{q}");
        assert_eq!(reply.language, "en", "{q}");
    }
}

#[test]
fn reply_languages_are_two_letter_codes() {
    let bot = Shipped::new();
    for q in [
        "Kan immunterapi fortsatt hjelpe etter at cellegift har sluttet å virke?",
        "Môže imunoterapia stále pomôcť, keď chemoterapia prestala účinkovať?",
        "Ar imunoterapija dar gali padėti, kai chemoterapija nebeveikia?",
        "La immunoteràpia encara pot ajudar quan la quimioteràpia ha deixat de funcionar?",
    ] {
        let reply = bot.answer(q);
        assert_outcome(&reply, Outcome::Language, q);
        assert_eq!(reply.language.len(), 2, "{q}: {:?}", reply.language);
        assert!(
            reply.language.bytes().all(|b| b.is_ascii_lowercase()),
            "{q}"
        );
    }
}
