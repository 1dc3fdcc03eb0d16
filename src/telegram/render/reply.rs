//! Reply layout: a caregiver's reply as messages, a configured sentence as one message, and a
//! page of the topic list.

use super::builder::{paragraphs, Block, MessageBuilder, Style};
use super::escape::{clean, escape};
use super::keyboard::{button_text, callback_button, reply_keyboard, Labels};
use super::limits::{EMPTY_TEXT, MAX_TEXT_UNITS, MAX_TOPICS_PER_PAGE};
use super::split::truncate_units;
use crate::action::{Button, OutMessage};
use crate::core::Reply;
use crate::telegram::callback::{is_passage_id, Callback};

/// A reply as Telegram messages, with the default [`Labels`]. See [`render_reply_with`].
pub fn render_reply(reply: &Reply, chat_id: i64, thread_id: Option<i32>) -> Vec<OutMessage> {
    render_reply_with(reply, chat_id, thread_id, &Labels::default())
}

/// A reply as Telegram messages: the opening line (in italics when it introduces a passage),
/// the passage (list items as bullets), the read-more line and the link, or for suggestions
/// their titles as bullets and the offer of a coordinator, then the disclaimer (in italics) and
/// the way to a coordinator, whole, at the end of the last message, which also carries the
/// [`reply_keyboard`].
pub fn render_reply_with(
    reply: &Reply,
    chat_id: i64,
    thread_id: Option<i32>,
    labels: &Labels,
) -> Vec<OutMessage> {
    let intro = if reply.passage.is_some() {
        Style::Italic
    } else {
        Style::Plain
    };
    let mut builder =
        MessageBuilder::new(chat_id, thread_id).blocks(paragraphs(&reply.message, intro));
    if let Some(p) = &reply.passage {
        builder = builder.blocks(paragraphs(&bullets(&p.text), Style::Plain));
        if let Some(more) = &p.read_more {
            builder = builder.blocks(paragraphs(more, Style::Plain));
        }
        if let Some(link) = &p.link {
            builder = builder.block(Block::new().link(link, link));
        }
    }
    if !reply.suggestions.is_empty() {
        let titles: Vec<String> = reply
            .suggestions
            .iter()
            .map(|s| format!("• {}", s.title))
            .collect();
        builder = builder.block(Block::new().bold(&titles.join("\n")));
    }
    if !reply.offer.trim().is_empty() {
        builder = builder.blocks(paragraphs(&reply.offer, Style::Plain));
    }
    let mut tail = Block::new().italic(reply.disclaimer.trim());
    if !reply.handoff.trim().is_empty() {
        if !tail.is_blank() {
            tail = tail.text("\n");
        }
        tail = tail.text(reply.handoff.trim());
    }
    builder
        .tail(tail)
        .keyboard(reply_keyboard(reply, labels))
        .build()
}

/// List items written `- item` shown as `• item`.
pub(super) fn bullets(text: &str) -> String {
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            match body.strip_prefix("- ") {
                Some(item) => format!("• {}", item.trim_start()),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One message of plain text (escaped here), e.g. a configured sentence. Longer than a message
/// it is shortened with "…"; use a [`MessageBuilder`] to split instead.
pub fn plain_message(
    chat_id: i64,
    thread_id: Option<i32>,
    text: &str,
    keyboard: Vec<Vec<Button>>,
) -> OutMessage {
    let text = clean(text);
    let text = truncate_units(text.trim(), MAX_TEXT_UNITS);
    let html = if text.is_empty() {
        EMPTY_TEXT.to_string()
    } else {
        escape(&text)
    };
    OutMessage {
        thread_id,
        keyboard,
        ..OutMessage::new(chat_id, html)
    }
}

/// One page of the topic list: `heading` as the text, a button per passage ([`Callback::Read`])
/// and, when there are more pages, `previous` / `next` buttons ([`Callback::Topics`]). Pages
/// count from 0; a page past the end shows the last one. Passages whose id cannot be sent in
/// a button are left out.
pub fn topics_page(
    titles: &[(String, String)],
    page: u32,
    per_page: usize,
    chat_id: i64,
    heading: &str,
    previous: &str,
    next: &str,
) -> OutMessage {
    let per_page = per_page.clamp(1, MAX_TOPICS_PER_PAGE);
    let topics: Vec<&(String, String)> =
        titles.iter().filter(|(id, _)| is_passage_id(id)).collect();
    let pages = topics.len().div_ceil(per_page).max(1);
    let page = usize::try_from(page).unwrap_or(usize::MAX).min(pages - 1);
    let mut rows: Vec<Vec<Button>> = topics
        .iter()
        .skip(page * per_page)
        .take(per_page)
        .map(|(id, title)| {
            let text = button_text(title, id);
            vec![callback_button(&text, &Callback::Read(id.clone()))]
        })
        .collect();
    let to = |p: usize| Callback::Topics(u32::try_from(p).unwrap_or(u32::MAX));
    let mut nav = Vec::new();
    if page > 0 {
        nav.push(callback_button(previous, &to(page - 1)));
    }
    if page + 1 < pages {
        nav.push(callback_button(next, &to(page + 1)));
    }
    if !nav.is_empty() {
        rows.push(nav);
    }
    plain_message(chat_id, None, heading, rows)
}
