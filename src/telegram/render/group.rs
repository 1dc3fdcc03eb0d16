//! What coordinators see that is not a reply: the caption of a relayed photo or file, the
//! name of an escalation's forum topic, and short notices about an escalation.

use super::escape::escape;
use super::limits::{MAX_CAPTION_UNITS, MAX_TOPIC_CHARS};
use super::split::truncate_units;
use crate::action::OutMessage;
use crate::store::Escalation;
use crate::text::utf16_len;

/// The caption of a relayed photo or file: who sent it, in bold, then their own caption, cut
/// so that the whole stays within Telegram's caption limit (a longer one is refused, and the
/// relay with it).
pub fn labelled_caption(label: &str, caption: Option<&str>) -> String {
    let label = truncate_units(label.trim(), 100);
    match caption.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            // the label, ":" and the line break come first
            let room = MAX_CAPTION_UNITS.saturating_sub(utf16_len(&label) + 2);
            format!(
                "<b>{}:</b>\n{}",
                escape(&label),
                escape(&truncate_units(c, room))
            )
        }
        None => format!("<b>{}</b>", escape(&label)),
    }
}

/// The name of an escalation's forum topic: who, why and its number, "URGENT" first when it
/// is. Plain text (Telegram does not parse topic names), within Telegram's length limit.
pub fn topic_name(e: &Escalation) -> String {
    let mut name = format!(
        "{} · {} · #{}",
        e.name,
        e.reason.as_str().replace('_', " "),
        e.id
    );
    if e.urgent {
        name = format!("URGENT · {name}");
    }
    name.chars().take(MAX_TOPIC_CHARS).collect()
}

/// The name of a topic recreated for an escalation the store can no longer tell about.
pub fn unknown_topic_name(id: i64) -> String {
    format!("Request #{id}")
}

/// A short notice to the coordinators about escalation `id` (in its topic, or under its card):
/// the configured `text`, escaped, with `{id}` filled in.
pub fn escalation_notice(group: i64, id: i64, text: &str) -> OutMessage {
    let mut m = OutMessage::new(group, escape(&text.replace("{id}", &id.to_string())));
    m.escalation = Some(id);
    m
}
