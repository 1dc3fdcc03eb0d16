//! Inline keyboards: button texts within Telegram's limits, the handoff row, and the buttons
//! under a reply.

use super::escape::{clean, is_link_url};
use super::limits::{EMPTY_TEXT, MAX_BUTTON_CHARS};
use super::split::cut_with_ellipsis;
use crate::action::Button;
use crate::core::{Outcome, Reply};
use crate::settings::ReplyTexts;
use crate::telegram::callback::{is_passage_id, Ask, Callback};

/// Button text: one line, at most [`MAX_BUTTON_CHARS`] characters, never empty (`fallback`
/// when `text` shows nothing).
pub(super) fn button_text(text: &str, fallback: &str) -> String {
    let one_line = |s: &str| clean(s).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut text = one_line(text);
    if text.is_empty() {
        text = one_line(fallback);
    }
    if text.is_empty() {
        return EMPTY_TEXT.to_string();
    }
    match text.char_indices().nth(MAX_BUTTON_CHARS - 1) {
        Some((end, _)) if text.chars().count() > MAX_BUTTON_CHARS => cut_with_ellipsis(&text, end),
        _ => text,
    }
}

/// A button that sends `callback` back to the bot. The text is plain (Telegram does not parse
/// button texts), shortened to [`MAX_BUTTON_CHARS`].
pub fn callback_button(text: &str, callback: &Callback) -> Button {
    Button::callback(button_text(text, EMPTY_TEXT), callback.encode())
}

/// A button that opens `url`; `None` when Telegram would refuse the URL (the whole message
/// would be refused with it).
pub fn url_button(text: &str, url: &str) -> Option<Button> {
    is_link_url(url).then(|| Button::url(button_text(text, url), url))
}

/// The button labels under an answer: the configured `reply.button_*` texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub helpful: String,
    pub not_helpful: String,
    /// The in-bot escalation button.
    pub coordinator: String,
}

impl Default for Labels {
    /// The defaults of `config.toml`.
    fn default() -> Labels {
        Labels {
            helpful: "Helpful".into(),
            not_helpful: "Not helpful".into(),
            coordinator: "Talk to a coordinator".into(),
        }
    }
}

impl Labels {
    pub fn from_texts(texts: &ReplyTexts) -> Labels {
        Labels {
            helpful: texts.button_helpful.clone(),
            not_helpful: texts.button_not_helpful.clone(),
            coordinator: texts.button_coordinator.clone(),
        }
    }
}

/// The way to a person, as the last keyboard row: a URL button (`handoff_label` →
/// `handoff_url`, left out when the URL is not one Telegram accepts) and the in-bot escalation
/// button ([`Callback::Human`]).
pub fn handoff_row(handoff_label: &str, handoff_url: &str, coordinator: &str) -> Vec<Button> {
    let in_bot = button_text(coordinator, "Talk to a coordinator");
    let mut label = button_text(handoff_label, handoff_url);
    if label.eq_ignore_ascii_case(&in_bot) {
        // the default label names the same thing; tell the two apart
        label = button_text(&format!("{label} (website)"), handoff_url);
    }
    let mut row: Vec<Button> = url_button(&label, handoff_url).into_iter().collect();
    row.push(callback_button(&in_bot, &Callback::Human(Ask::Asked)));
    row
}

/// The keyboard under a reply: for an answer, Helpful / Not helpful and one row per related
/// passage; for suggestions, one row per passage offered ([`Callback::Choose`]); for every
/// reply, the [`handoff_row`] last.
pub fn reply_keyboard(reply: &Reply, labels: &Labels) -> Vec<Vec<Button>> {
    let mut rows = Vec::new();
    if reply.outcome == Outcome::Suggest {
        for s in reply.suggestions.iter().filter(|s| is_passage_id(&s.id)) {
            let text = button_text(&s.title, &s.id);
            rows.push(vec![callback_button(
                &text,
                &Callback::Choose(s.id.clone()),
            )]);
        }
    }
    if let (Outcome::Answer, Some(p)) = (reply.outcome, &reply.passage) {
        if is_passage_id(&p.id) {
            let feedback = |helpful| Callback::Feedback {
                helpful,
                passage: p.id.clone(),
            };
            rows.push(vec![
                callback_button(&labels.helpful, &feedback(true)),
                callback_button(&labels.not_helpful, &feedback(false)),
            ]);
        }
        for r in reply.related.iter().filter(|r| is_passage_id(&r.id)) {
            let text = button_text(&r.title, &r.id);
            rows.push(vec![callback_button(&text, &Callback::Read(r.id.clone()))]);
        }
    }
    rows.push(handoff_row(
        &reply.handoff_label,
        &reply.handoff_url,
        &labels.coordinator,
    ));
    rows
}
