//! The renderer's tests, across its parts.

use super::builder::*;
use super::escape::*;
use super::group::*;
use super::keyboard::*;
use super::limits::*;
use super::reply::*;
use crate::action::{Button, ButtonTarget, OutMessage};
use crate::core::{Outcome, Related, Reply, Shown};
use crate::telegram::callback::{Ask, Callback};
use crate::text::utf16_len;

#[test]
fn a_relayed_caption_fits_telegrams_caption_limit() {
    let long = "é".repeat(3000);
    let html = labelled_caption("Coordinator Anna", Some(&long));
    let visible = html.replace("<b>", "").replace("</b>", "");
    assert!(
        utf16_len(&visible) <= MAX_CAPTION_UNITS,
        "{}",
        utf16_len(&visible)
    );
    assert!(visible.starts_with("Coordinator Anna:\n"));
    assert!(visible.ends_with('…'));
    assert_eq!(
        labelled_caption("<Ann & Bo>", Some("x < y")),
        "<b>&lt;Ann &amp; Bo&gt;:</b>\nx &lt; y"
    );
    assert_eq!(labelled_caption("Coordinator", None), "<b>Coordinator</b>");
}

const DISCLAIMER: &str = "This is general information from our guide, not medical advice.";
const HANDOFF: &str =
    "Talk to a coordinator: send /human here, or visit https://example.org/contact?a=1&b=2";

/// Telegram's HTML as strictly as we write it: only the supported tags, balanced, `<a>` with
/// exactly one `href`, no other attributes; only `&lt; &gt; &amp; &quot;`; no bare `<`, `>`,
/// `&` or `"`. Returns the visible text.
fn check_html(html: &str) -> Result<String, String> {
    const TAGS: [&str; 8] = ["b", "i", "u", "s", "a", "code", "pre", "blockquote"];
    let mut open: Vec<&str> = Vec::new();
    let mut visible = String::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed `<`")?;
                let inner = &rest[1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    match open.pop() {
                        Some(o) if o == name => {}
                        o => return Err(format!("</{name}> closes {o:?}")),
                    }
                } else {
                    let (name, attrs) = inner.split_once(' ').unwrap_or((inner, ""));
                    if !TAGS.contains(&name) {
                        return Err(format!("tag <{name}> not allowed"));
                    }
                    if name == "a" {
                        let url = attrs
                            .strip_prefix("href=\"")
                            .and_then(|a| a.strip_suffix('"'))
                            .ok_or(format!("bad <a> attributes: {attrs}"))?;
                        if url.contains('"') {
                            return Err(format!("quote in href: {url}"));
                        }
                        check_html(url).map_err(|e| format!("href: {e}"))?;
                    } else if !attrs.is_empty() {
                        return Err(format!("attributes on <{name}>"));
                    }
                    if open.contains(&name) {
                        return Err(format!("<{name}> inside <{name}>"));
                    }
                    open.push(name);
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let (entity, ch) = [
                    ("&lt;", '<'),
                    ("&gt;", '>'),
                    ("&amp;", '&'),
                    ("&quot;", '"'),
                ]
                .into_iter()
                .find(|(e, _)| rest.starts_with(e))
                .ok_or(format!(
                    "bad entity at {:?}",
                    rest.chars().take(8).collect::<String>()
                ))?;
                visible.push(ch);
                rest = &rest[entity.len()..];
            }
            '>' | '"' => return Err(format!("bare {c:?}")),
            c => {
                visible.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match open.last() {
        Some(o) => Err(format!("<{o}> not closed")),
        None => Ok(visible),
    }
}

/// Asserts every message is valid and within `limit`, buttons included; the visible texts.
fn check_all(messages: &[OutMessage], limit: usize) -> Vec<String> {
    assert!(!messages.is_empty());
    messages
        .iter()
        .map(|m| {
            let visible = check_html(&m.html).unwrap_or_else(|e| panic!("{e}: {}", m.html));
            assert_eq!(html_to_plain(&m.html), visible);
            let units = utf16_len(&visible);
            assert!(units <= limit, "{units} units");
            assert!(!visible.trim().is_empty());
            assert_eq!(visible.trim(), visible, "untrimmed message");
            for b in m.keyboard.iter().flatten() {
                assert!(!b.text.trim().is_empty());
                assert!(b.text.chars().count() <= MAX_BUTTON_CHARS, "{}", b.text);
                if let ButtonTarget::Callback(data) = &b.target {
                    assert!(data.len() <= 64, "{data}");
                    assert!(Callback::decode(data).is_some(), "{data}");
                }
            }
            visible
        })
        .collect()
}

fn no_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn reply(outcome: Outcome, message: &str, passage: Option<Shown>) -> Reply {
    Reply {
        outcome,
        language: "en".into(),
        message: message.into(),
        passage,
        suggestions: Vec::new(),
        offer: String::new(),
        related_intro: "Related topics:".into(),
        related: Vec::new(),
        disclaimer: DISCLAIMER.into(),
        handoff: HANDOFF.into(),
        handoff_url: "https://example.org/contact?a=1&b=2".into(),
        handoff_label: "Contact us".into(),
        passages: Vec::new(),
        confidence: None,
        relevance: None,
        certainty: None,
        personal_advice: false,
        escalate: false,
        alarm: None,
    }
}

fn shown(id: &str, text: &str) -> Shown {
    Shown {
        id: id.into(),
        title: "Bispecific Antibodies".into(),
        text: text.into(),
        read_more: None,
        link: None,
    }
}

fn callbacks(row: &[Button]) -> Vec<Option<Callback>> {
    row.iter()
        .map(|b| match &b.target {
            ButtonTarget::Callback(d) => Callback::decode(d),
            ButtonTarget::Url(_) => None,
        })
        .collect()
}

#[test]
fn escape_replaces_the_four_characters() {
    assert_eq!(escape("<b>"), "&lt;b&gt;");
    assert_eq!(escape("a & b"), "a &amp; b");
    assert_eq!(escape("say \"hi\" it's"), "say &quot;hi&quot; it's");
    assert_eq!(escape("&amp;"), "&amp;amp;");
    assert_eq!(escape("*_[x](y)` 😀"), "*_[x](y)` 😀");
    for s in ["<b>", "a & b", "</i>", "\"", "&lt;"] {
        assert_eq!(check_html(&escape(s)).as_deref(), Ok(s));
    }
}

#[test]
fn html_to_plain_undoes_escape_and_drops_tags() {
    for s in [
        "<b>bold</b> & \"q\"",
        "a < b > c",
        "&amp; &#60;",
        "Можно ли 😀 <i>",
        "",
    ] {
        assert_eq!(html_to_plain(&escape(s)), s);
    }
    assert_eq!(
        html_to_plain(
            "<b>x</b> <a href=\"https://e.org/?a=1&amp;b=2\">link</a> &#128512;&#x1F600;"
        ),
        "x link 😀😀"
    );
    assert_eq!(html_to_plain("&nbsp; & a <3"), "&nbsp; & a <3");
    let block = Block::new()
        .bold("<b> & ")
        .link("it's \"here\"", "https://e.org/a?b=\"c\"&d=<e>")
        .code("x<y");
    assert_eq!(html_to_plain(&block.to_html()), "<b> & it's \"here\"x<y");
}

#[test]
fn the_checker_rejects_what_telegram_would() {
    for bad in [
        "<b>x",
        "x</b>",
        "<b><i>x</b></i>",
        "<script>x</script>",
        "<br>",
        "<b class=\"x\">y</b>",
        "<a>x</a>",
        "<a href='x'>y</a>",
        "a & b",
        "&nbsp;",
        "a > b",
        "say \"hi\"",
        "<b",
    ] {
        assert!(check_html(bad).is_err(), "{bad}");
    }
    assert_eq!(
        check_html("<b>a</b> <a href=\"https://e.org/?a&amp;b\">l &lt;</a>").as_deref(),
        Ok("a l <")
    );
}

#[test]
fn user_text_is_escaped_everywhere() {
    let mut r = reply(
        Outcome::Answer,
        "About “<b>” & </i>:",
        Some(shown("adc", "a & b <script>alert(1)</script> \"q\"")),
    );
    r.related = vec![Related {
        id: "car-t".into(),
        title: "<b>CAR-T</b> & more".into(),
    }];
    let messages = render_reply(&r, 1, None);
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(messages.len(), 1);
    assert!(messages[0]
        .html
        .starts_with("<i>About “&lt;b&gt;” &amp; &lt;/i&gt;:</i>"));
    assert!(visible[0].contains("a & b <script>alert(1)</script> \"q\""));
    // button texts are plain: Telegram does not parse them
    assert_eq!(messages[0].keyboard[1][0].text, "<b>CAR-T</b> & more");
}

#[test]
fn an_answer_shows_intro_passage_bullets_link_then_disclaimer() {
    let mut p = shown(
        "resistance",
        "Reasons include:\n- Loss of antigen\n  - T-cell exhaustion\n\nSecond paragraph.",
    );
    p.read_more = Some("Send /read resistance to read the whole section.".into());
    p.link = Some("https://example.org/guide?x=1&y=2".into());
    let r = reply(Outcome::Answer, "Here is what our guide says:", Some(p));
    let messages = render_reply(&r, 42, Some(7));
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!((m.chat_id, m.thread_id), (42, Some(7)));
    assert_eq!(
        m.html,
        "<i>Here is what our guide says:</i>\n\n\
         Reasons include:\n• Loss of antigen\n• T-cell exhaustion\n\n\
         Second paragraph.\n\n\
         Send /read resistance to read the whole section.\n\n\
         <a href=\"https://example.org/guide?x=1&amp;y=2\">https://example.org/guide?x=1&amp;y=2</a>\n\n\
         <i>This is general information from our guide, not medical advice.</i>\n\
         Talk to a coordinator: send /human here, or visit https://example.org/contact?a=1&amp;b=2"
    );
    assert!(visible[0].ends_with(&format!("{DISCLAIMER}\n{HANDOFF}")));
    assert!(!m.html.contains('!'));
}

#[test]
fn keyboard_under_an_answer() {
    let mut r = reply(Outcome::Answer, "Intro", Some(shown("faq-car-t", "Text.")));
    let long_title = "A very long related title that goes on and on well past sixty characters";
    r.related = vec![
        Related {
            id: "adc".into(),
            title: "Antibody-Drug Conjugates (ADCs)".into(),
        },
        Related {
            id: "Bad_Id".into(),
            title: "Not sendable".into(),
        },
        Related {
            id: "long".into(),
            title: long_title.into(),
        },
        Related {
            id: "untitled".into(),
            title: "  ".into(),
        },
    ];
    let messages = render_reply(&r, 1, None);
    check_all(&messages, MAX_TEXT_UNITS);
    let kb = &messages.last().unwrap().keyboard;
    assert_eq!(kb.len(), 5);
    assert_eq!(
        callbacks(&kb[0]),
        vec![
            Some(Callback::Feedback {
                helpful: true,
                passage: "faq-car-t".into()
            }),
            Some(Callback::Feedback {
                helpful: false,
                passage: "faq-car-t".into()
            }),
        ]
    );
    assert_eq!(
        (kb[0][0].text.as_str(), kb[0][1].text.as_str()),
        ("Helpful", "Not helpful")
    );
    assert_eq!(kb[1][0].text, "Antibody-Drug Conjugates (ADCs)");
    assert_eq!(callbacks(&kb[1]), vec![Some(Callback::Read("adc".into()))]);
    assert_eq!(kb[2][0].text.chars().count(), MAX_BUTTON_CHARS);
    assert!(kb[2][0].text.ends_with('…'));
    assert!(long_title.starts_with(kb[2][0].text.trim_end_matches('…')));
    assert_eq!(kb[3][0].text, "untitled");
    assert_eq!(
        kb[4][0],
        Button::url("Contact us", "https://example.org/contact?a=1&b=2")
    );
    assert_eq!(kb[4][1].text, "Talk to a coordinator");
    assert_eq!(
        callbacks(&kb[4]),
        vec![None, Some(Callback::Human(Ask::Asked))]
    );

    let labels = Labels {
        helpful: "Yes".into(),
        not_helpful: "No".into(),
        coordinator: "A person".into(),
    };
    let kb = reply_keyboard(&r, &labels);
    assert_eq!(kb[0][0].text, "Yes");
    assert_eq!(kb[4][1].text, "A person");
}

#[test]
fn other_outcomes_get_only_the_way_to_a_person() {
    for outcome in [
        Outcome::NoMatch,
        Outcome::Emergency,
        Outcome::Handoff,
        Outcome::Smalltalk,
        Outcome::Language,
    ] {
        let mut r = reply(
            outcome,
            "I could not find that.\n\nA coordinator can help.",
            None,
        );
        r.related = vec![Related {
            id: "adc".into(),
            title: "ADC".into(),
        }];
        let messages = render_reply(&r, 1, None);
        let visible = check_all(&messages, MAX_TEXT_UNITS);
        assert!(messages[0]
            .html
            .starts_with("I could not find that.\n\nA coordinator"));
        assert!(visible[0].ends_with(HANDOFF));
        let kb = &messages[0].keyboard;
        assert_eq!(kb.len(), 1, "{outcome:?}");
        assert_eq!(
            callbacks(&kb[0]),
            vec![None, Some(Callback::Human(Ask::Asked))]
        );
    }
    // an answer without a passage has no feedback row either
    assert_eq!(
        reply_keyboard(&reply(Outcome::Answer, "x", None), &Labels::default()).len(),
        1
    );
}

#[test]
fn suggestions_are_listed_and_offered_as_buttons_with_a_coordinator() {
    let mut r = reply(
        Outcome::Suggest,
        "I’m not sure which of these you mean. Tap the one closest to your question:",
        None,
    );
    r.offer = "If none of them is what you asked, a coordinator can help.".into();
    let long =
        "What Should Patients Know About Continuing Cancer Treatment When Cure Is Not Possible?";
    r.suggestions = vec![
        Related {
            id: "faq-when-to-stop".into(),
            title: "Is there a point where <immunotherapy> no longer makes sense?".into(),
        },
        Related {
            id: "related-continuing-treatment".into(),
            title: long.into(),
        },
        Related {
            id: "Not_Sendable".into(),
            title: "Left out of the buttons".into(),
        },
    ];
    let messages = render_reply(&r, 5, None);
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(messages.len(), 1);
    let text = &visible[0];
    assert!(
        text.starts_with("I’m not sure which of these you mean."),
        "{text}"
    );
    assert!(
        text.contains("• Is there a point where <immunotherapy> no longer makes sense?"),
        "{text}"
    );
    assert!(
        text.contains(&format!("• {long}")),
        "titles whole in the text: {text}"
    );
    assert!(text.contains("a coordinator can help"), "{text}");
    assert!(
        text.ends_with(&format!("{DISCLAIMER}\n{HANDOFF}")),
        "{text}"
    );
    assert!(messages[0].html.contains("&lt;immunotherapy&gt;"));
    let kb = &messages[0].keyboard;
    assert_eq!(
        kb.len(),
        3,
        "two sendable suggestions and the way to a person"
    );
    assert_eq!(
        callbacks(&kb[0]),
        vec![Some(Callback::Choose("faq-when-to-stop".into()))]
    );
    assert_eq!(
        callbacks(&kb[1]),
        vec![Some(Callback::Choose(
            "related-continuing-treatment".into()
        ))]
    );
    assert!(kb[1][0].text.ends_with('…'));
    assert_eq!(
        callbacks(&kb[2]),
        vec![None, Some(Callback::Human(Ask::Asked))]
    );
}

#[test]
fn handoff_row_leaves_out_bad_urls_and_tells_same_labels_apart() {
    let row = handoff_row("Contact", "javascript:alert(1)", "Talk to a coordinator");
    assert_eq!(callbacks(&row), vec![Some(Callback::Human(Ask::Asked))]);
    assert_eq!(handoff_row("Contact", "", "x").len(), 1);
    assert_eq!(handoff_row("Contact", "https://a b", "x").len(), 1);
    let row = handoff_row(
        "Talk to a coordinator",
        "https://e.org",
        "Talk to a coordinator",
    );
    assert_eq!(row[0].text, "Talk to a coordinator (website)");
    assert_eq!(row[1].text, "Talk to a coordinator");
    let row = handoff_row("", "https://e.org/c", "");
    assert_eq!(row[0].text, "https://e.org/c");
    assert!(!row[1].text.is_empty());
}

/// Sentences of ordinary prose, `n` characters or a little more.
fn prose(n: usize) -> String {
    let words = [
        "caregivers",
        "often",
        "ask",
        "whether",
        "another",
        "treatment",
        "may",
        "help",
        "&",
        "<b>",
    ];
    let mut out = String::new();
    let mut i = 0;
    while out.len() < n {
        out.push_str(words[i % words.len()]);
        i += 1;
        out.push_str(if i % 13 == 0 { ". " } else { " " });
        if i % 90 == 0 {
            out.push_str("\n\n");
        }
    }
    out.trim().to_string()
}

#[test]
fn a_long_reply_splits_into_valid_messages_with_the_tail_last() {
    let text = prose(5_000);
    let r = reply(
        Outcome::Answer,
        "Here is what our guide says:",
        Some(shown("adc", &text)),
    );
    let messages = render_reply(&r, 1, None);
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert!(messages.len() >= 2);
    let last = visible.last().unwrap();
    assert!(last.ends_with(&format!("{DISCLAIMER}\n{HANDOFF}")));
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.keyboard.is_empty(), i + 1 < messages.len());
        assert_eq!(
            m.html.matches(DISCLAIMER).count(),
            usize::from(i + 1 == messages.len())
        );
    }
    // nothing lost, nothing repeated, order kept; splits fall between paragraphs here
    let all = visible.join(" ");
    let expected = format!("Here is what our guide says: {text} {DISCLAIMER} {HANDOFF}");
    assert_eq!(no_space(&all), no_space(&expected));
    for v in &visible[..visible.len() - 1] {
        assert!(
            text.contains(v.as_str()) || v.starts_with("Here is"),
            "cut inside a paragraph"
        );
    }
}

#[test]
fn a_long_paragraph_is_cut_at_lines_then_sentences_then_words() {
    let split = |text: &str| {
        let messages = MessageBuilder::new(1, None)
            .block(Block::new().text(text))
            .build();
        let visible = check_all(&messages, MAX_TEXT_UNITS);
        assert!(visible.len() >= 2);
        assert_eq!(no_space(&visible.concat()), no_space(text));
        visible
    };
    let lines: String = (0..400)
        .map(|i| format!("• list item number {i}\n"))
        .collect();
    for v in split(&lines) {
        assert!(
            v.starts_with("• list") && v.chars().last().unwrap().is_ascii_digit(),
            "{v}"
        );
    }
    let sentences: String = (0..300)
        .map(|i| format!("Sentence {i} is here. "))
        .collect();
    for v in split(&sentences) {
        assert!(v.starts_with("Sentence") && v.ends_with("here."), "{v}");
    }
    let words = ["alpha", "beta", "gamma", "&", "<i>"];
    let text: Vec<&str> = (0..1_500).map(|i| words[i % words.len()]).collect();
    for v in split(&text.join(" ")) {
        assert!(v.split(' ').all(|w| words.contains(&w)), "a word was cut");
    }
}

#[test]
fn a_paragraph_without_spaces_is_cut_by_characters() {
    let text = "x".repeat(10_000);
    let r = reply(Outcome::Answer, "", Some(shown("adc", &text)));
    let messages = render_reply(&r, 1, None);
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(messages.len(), 3);
    assert_eq!(utf16_len(&visible[0]), MAX_TEXT_UNITS);
    assert_eq!(
        no_space(&visible.concat()),
        no_space(&format!("{text}{DISCLAIMER}{HANDOFF}"))
    );
    assert!(visible[2].ends_with(HANDOFF));
}

#[test]
fn emoji_near_the_limit_are_never_cut_or_over_counted() {
    // 4,095 units of "a" then one emoji (2 units): 4,097 units, must become two messages
    let text = format!("{}😀", "a".repeat(4_095));
    let messages = MessageBuilder::new(1, None)
        .block(Block::new().text(&text))
        .build();
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(visible, vec!["a".repeat(4_095), "😀".to_string()]);

    // only emoji, as words and as one run
    for text in ["😀😀😀 ".repeat(1_500), "🙏".repeat(3_000)] {
        let r = reply(Outcome::Answer, "Intro", Some(shown("adc", &text)));
        let messages = render_reply(&r, 1, None);
        let visible = check_all(&messages, MAX_TEXT_UNITS);
        let emoji: usize = visible
            .iter()
            .map(|v| v.chars().filter(|c| c.len_utf16() == 2).count())
            .sum();
        assert_eq!(emoji, text.chars().filter(|c| c.len_utf16() == 2).count());
        assert!(visible.last().unwrap().ends_with(HANDOFF));
    }

    // a family emoji (8 units, joined by ZWJ) stays whole across a cut
    let family = "👨\u{200D}👩\u{200D}👧";
    let text = format!("a{}", family.repeat(1_000));
    let messages = MessageBuilder::new(1, None)
        .block(Block::new().text(&text))
        .build();
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert!(visible.len() >= 2);
    for v in &visible {
        assert!(v.ends_with(family), "family cut at the end");
        assert!(
            v.starts_with('a') || v.starts_with(family),
            "family cut at the start"
        );
    }
    assert_eq!(visible.concat(), text);
}

#[test]
fn the_tail_is_never_cut_and_moves_whole_to_a_new_message() {
    let tail = Block::new().italic("Disclaimer.").text("\nHandoff line.");
    let tail_units = tail.visible_len();
    // body leaves too little room for the tail: the tail goes alone into a new message
    let body = "b".repeat(MAX_TEXT_UNITS - tail_units - 1);
    let messages = MessageBuilder::new(1, None)
        .block(Block::new().text(&body))
        .tail(tail.clone())
        .keyboard(vec![vec![callback_button(
            "x",
            &Callback::Human(Ask::Asked),
        )]])
        .build();
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(
        visible,
        vec![body, "Disclaimer.\nHandoff line.".to_string()]
    );
    assert!(messages[0].keyboard.is_empty() && !messages[1].keyboard.is_empty());
    assert_eq!(messages[1].html, "<i>Disclaimer.</i>\nHandoff line.");

    // with exactly enough room it shares the message
    let body = "b".repeat(MAX_TEXT_UNITS - tail_units - 2);
    let messages = MessageBuilder::new(1, None)
        .block(Block::new().text(&body))
        .tail(tail)
        .build();
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(visible.len(), 1);
    assert_eq!(utf16_len(&visible[0]), MAX_TEXT_UNITS);

    // a tail longer than a message is split rather than lost
    let huge = "Long disclaimer sentence. ".repeat(300);
    let messages = MessageBuilder::new(1, None)
        .block(Block::new().text("Body."))
        .tail(Block::new().italic(&huge))
        .build();
    let visible = check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(
        no_space(&visible.concat()),
        no_space(&format!("Body.{huge}"))
    );
}

/// Every way of cutting, with tags, entities and emoji, at small limits.
#[test]
fn splitting_keeps_all_text_valid_and_in_order() {
    let alphabet: Vec<&str> = vec![
        "a",
        "b",
        "é",
        "&",
        "<",
        ">",
        "\"",
        " ",
        " ",
        " ",
        "\n",
        "\n\n",
        ". ",
        "! ",
        "😀",
        "🙏🏽",
        "中",
        "。",
        "x\u{0301}",
        "-",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).unwrap()
    };
    for _ in 0..300 {
        let limit = 20 + next(80);
        let mut builder = MessageBuilder::new(1, None).limit(limit);
        let mut expected = String::new();
        for b in 0..1 + next(4) {
            let len = next(limit * 3);
            let mut text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let block = match b % 3 {
                0 => Block::new().text(&text),
                1 => {
                    let half: String = text.chars().take(len / 2).collect();
                    Block::new().bold(&half).italic(&text[half.len()..])
                }
                _ => {
                    text.insert(0, 'L');
                    Block::new().link(&text, "https://e.org/?q=<&>").quoted()
                }
            };
            expected.push_str(&text);
            builder = builder.block(block);
        }
        let tail = "Tail. Talk to us.";
        let messages = builder.tail(Block::new().italic(tail)).build();
        let visible = check_all(&messages, limit);
        assert_eq!(
            no_space(&visible.concat()),
            no_space(&format!("{expected}{tail}"))
        );
        assert!(visible.last().unwrap().ends_with(tail));
    }
}

#[test]
fn builder_handles_empty_input_styles_and_reply_to() {
    let messages = MessageBuilder::new(5, Some(3))
        .block(Block::new().text("  \n "))
        .build();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].html, "…");
    let messages = MessageBuilder::new(5, None)
        .reply_to(99)
        .blocks(paragraphs("One\n\n\n  Two\nlines  \n\n", Style::Plain))
        .block(
            Block::new()
                .bold("B")
                .italic("I")
                .code("/read x")
                .link("", "tg://user?id=1")
                .quoted(),
        )
        .block(Block::new().link("site", "ftp://not-allowed"))
        .build();
    check_all(&messages, MAX_TEXT_UNITS);
    assert_eq!(
        messages[0].html,
        "One\n\nTwo\nlines\n\n<blockquote><b>B</b><i>I</i><code>/read x</code>\
         <a href=\"tg://user?id=1\">tg://user?id=1</a></blockquote>\n\nsite"
    );
    assert_eq!(messages[0].reply_to, Some(99));
    // control characters (NUL included) never reach Telegram
    let m = plain_message(1, None, "a\0b\r\nc\u{7}", Vec::new());
    assert_eq!(m.html, "ab\nc");
}

#[test]
fn plain_message_escapes_and_stays_within_the_limit() {
    let m = plain_message(1, Some(2), "Use <b> & \"quotes\"", Vec::new());
    assert_eq!(m.html, "Use &lt;b&gt; &amp; &quot;quotes&quot;");
    assert_eq!(m.thread_id, Some(2));
    let long = "😀".repeat(3_000);
    let m = plain_message(
        1,
        None,
        &long,
        vec![vec![callback_button("Help", &Callback::Human(Ask::Asked))]],
    );
    let visible = check_all(std::slice::from_ref(&m), MAX_TEXT_UNITS);
    assert!(visible[0].ends_with('…'));
    assert_eq!(utf16_len(&visible[0]), MAX_TEXT_UNITS - 1);
    assert_eq!(m.keyboard.len(), 1);
    assert_eq!(plain_message(1, None, " \n", Vec::new()).html, "…");
}

fn titles(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("topic-{i}"), format!("Topic {i}")))
        .collect()
}

fn topic_ids(m: &OutMessage) -> Vec<String> {
    m.keyboard
        .iter()
        .flat_map(|row| callbacks(row))
        .filter_map(|c| match c {
            Some(Callback::Read(id)) => Some(id),
            _ => None,
        })
        .collect()
}

fn nav(m: &OutMessage) -> Vec<Option<Callback>> {
    match m.keyboard.last() {
        Some(row) if row.iter().all(|b| !b.text.starts_with("Topic")) => callbacks(row),
        _ => Vec::new(),
    }
}

#[test]
fn topics_are_paged_with_previous_and_next() {
    let all = titles(20);
    let page = |p| topics_page(&all, p, 8, 9, "Topics in our guides:", "Previous", "Next");

    let first = page(0);
    check_all(std::slice::from_ref(&first), MAX_TEXT_UNITS);
    assert_eq!(first.html, "Topics in our guides:");
    assert_eq!(first.chat_id, 9);
    assert_eq!(
        topic_ids(&first),
        (0..8).map(|i| format!("topic-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(first.keyboard[0][0].text, "Topic 0");
    assert_eq!(nav(&first), vec![Some(Callback::Topics(1))]);
    assert_eq!(first.keyboard.last().unwrap()[0].text, "Next");

    let middle = page(1);
    assert_eq!(topic_ids(&middle)[0], "topic-8");
    assert_eq!(
        nav(&middle),
        vec![Some(Callback::Topics(0)), Some(Callback::Topics(2))]
    );
    assert_eq!(middle.keyboard.last().unwrap()[0].text, "Previous");

    let last = page(2);
    assert_eq!(
        topic_ids(&last),
        (16..20).map(|i| format!("topic-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(nav(&last), vec![Some(Callback::Topics(1))]);

    assert_eq!(page(3), last);
    assert_eq!(page(u32::MAX), last);

    let few = topics_page(&titles(3), 0, 8, 9, "T", "P", "N");
    assert_eq!(topic_ids(&few).len(), 3);
    assert!(nav(&few).is_empty());
    let none = topics_page(&[], 5, 8, 9, "T", "P", "N");
    assert!(none.keyboard.is_empty());
    assert_eq!(none.html, "T");
    // a page size of 0 is taken as 1, bad ids are left out
    let mut odd = titles(2);
    odd.insert(0, ("Bad Id".into(), "Bad".into()));
    let one = topics_page(&odd, 1, 0, 9, "T", "P", "N");
    assert_eq!(topic_ids(&one), vec!["topic-1"]);
    assert_eq!(nav(&one), vec![Some(Callback::Topics(0))]);
}

#[test]
fn topic_names_and_notices_are_rendered_here() {
    let mut e = crate::store::Escalation {
        id: 7,
        chat_id: 1,
        user_id: 2,
        name: "Ann".into(),
        username: None,
        language: "en".into(),
        reason: crate::store::Reason::NoMatch,
        urgent: true,
        open: true,
        created_at: 0,
        claimed_by: None,
        first_reply_at: None,
        closed_at: None,
        closed_by: None,
        thread_id: None,
        card_message_id: None,
        topic_failed: false,
        caregiver_blocked: false,
    };
    assert_eq!(topic_name(&e), "URGENT · Ann · no match · #7");
    e.name = "A".repeat(300);
    assert_eq!(topic_name(&e).chars().count(), 120);
    assert_eq!(unknown_topic_name(9), "Request #9");
    let notice = escalation_notice(-100, 7, "The caregiver of #{id} blocked <the bot>");
    assert_eq!(notice.html, "The caregiver of #7 blocked &lt;the bot&gt;");
    assert_eq!((notice.chat_id, notice.escalation), (-100, Some(7)));
}
