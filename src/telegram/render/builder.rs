//! Messages built from [`Block`]s: paragraphs of plain-text spans with a style, escaped and
//! wrapped in tags only when a message is built, so a split never falls inside a tag.

use std::ops::Range;

use super::escape::{clean, escape, is_link_url};
use super::limits::{EMPTY_TEXT, MAX_TEXT_UNITS, MIN_LIMIT};
use super::split::{split_text, trim};
use crate::action::{Button, OutMessage};
use crate::text::utf16_len;

/// How a span of text is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    Plain,
    Bold,
    Italic,
    /// Monospace, e.g. a command or an id.
    Code,
    /// A link to this URL (http, https or tg); any other URL is shown as plain text.
    Link(String),
}

/// A paragraph: spans of plain text, each with a style. Text is escaped only when rendered.
/// Messages are split between blocks first; a block longer than a message is split at lines,
/// then sentences, then words, then characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    spans: Vec<(Style, String)>,
    quote: bool,
}

impl Block {
    pub fn new() -> Block {
        Block::default()
    }

    /// Appends `text` in `style`. Control characters other than newlines and tabs are dropped.
    pub fn push(mut self, style: Style, text: &str) -> Block {
        let style = match style {
            Style::Link(url) if !is_link_url(&url) => Style::Plain,
            style => style,
        };
        let text = clean(text);
        if !text.is_empty() {
            self.spans.push((style, text));
        }
        self
    }

    pub fn text(self, text: &str) -> Block {
        self.push(Style::Plain, text)
    }

    pub fn bold(self, text: &str) -> Block {
        self.push(Style::Bold, text)
    }

    pub fn italic(self, text: &str) -> Block {
        self.push(Style::Italic, text)
    }

    pub fn code(self, text: &str) -> Block {
        self.push(Style::Code, text)
    }

    /// A link showing `text` (the URL itself when `text` is empty).
    pub fn link(self, text: &str, url: &str) -> Block {
        let shown = if text.trim().is_empty() { url } else { text };
        self.push(Style::Link(url.to_string()), shown)
    }

    /// Shows the block as a quotation (`<blockquote>`), e.g. a relayed message.
    pub fn quoted(mut self) -> Block {
        self.quote = true;
        self
    }

    /// The visible length in UTF-16 code units, as Telegram counts it.
    pub fn visible_len(&self) -> usize {
        self.spans.iter().map(|(_, t)| utf16_len(t)).sum()
    }

    /// Whether the block shows nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        self.spans.iter().all(|(_, t)| t.trim().is_empty())
    }

    /// The block as Telegram HTML.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        if self.quote {
            out.push_str("<blockquote>");
        }
        for (style, text) in &self.spans {
            let text = escape(text);
            match style {
                Style::Plain => out.push_str(&text),
                Style::Bold => out.push_str(&format!("<b>{text}</b>")),
                Style::Italic => out.push_str(&format!("<i>{text}</i>")),
                Style::Code => out.push_str(&format!("<code>{text}</code>")),
                Style::Link(url) => {
                    out.push_str(&format!("<a href=\"{}\">{text}</a>", escape(url)));
                }
            }
        }
        if self.quote {
            out.push_str("</blockquote>");
        }
        out
    }

    /// The visible text.
    fn visible(&self) -> String {
        self.spans.iter().map(|(_, t)| t.as_str()).collect()
    }

    /// The part of the block at `range`, a byte range of [`Block::visible`] on char boundaries.
    fn slice(&self, range: Range<usize>) -> Block {
        let mut spans = Vec::new();
        let mut at = 0;
        for (style, text) in &self.spans {
            let (start, end) = (at, at + text.len());
            at = end;
            let (from, to) = (range.start.max(start), range.end.min(end));
            if from < to {
                spans.push((style.clone(), text[from - start..to - start].to_string()));
            }
        }
        Block {
            spans,
            quote: self.quote,
        }
    }
}

/// Plain text as blocks, one per paragraph (paragraphs are separated by blank lines), all in
/// `style`. Line breaks inside a paragraph are kept.
pub fn paragraphs(text: &str, style: Style) -> Vec<Block> {
    let text = text.replace("\r\n", "\n");
    let mut blocks = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n').chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !lines.is_empty() {
                blocks.push(Block::new().push(style.clone(), &lines.join("\n")));
                lines.clear();
            }
        } else {
            lines.push(line.trim_end());
        }
    }
    blocks
}

/// Builds messages from blocks: as few as fit, each within Telegram's limit, the tail (e.g. the
/// disclaimer and the way to a coordinator) whole in the last one, the keyboard on the last one.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    chat_id: i64,
    thread_id: Option<i32>,
    reply_to: Option<i32>,
    body: Vec<Block>,
    tail: Vec<Block>,
    keyboard: Vec<Vec<Button>>,
    limit: usize,
}

impl MessageBuilder {
    pub fn new(chat_id: i64, thread_id: Option<i32>) -> MessageBuilder {
        MessageBuilder {
            chat_id,
            thread_id,
            reply_to: None,
            body: Vec::new(),
            tail: Vec::new(),
            keyboard: Vec::new(),
            limit: MAX_TEXT_UNITS,
        }
    }

    /// Adds a paragraph.
    pub fn block(mut self, block: Block) -> MessageBuilder {
        self.body.push(block);
        self
    }

    /// Adds paragraphs.
    pub fn blocks(mut self, blocks: impl IntoIterator<Item = Block>) -> MessageBuilder {
        self.body.extend(blocks);
        self
    }

    /// Adds a paragraph that ends the text: the tail paragraphs are never cut and always sit
    /// together in the last message (unless they alone exceed the limit, when they are split
    /// like the rest rather than lost).
    pub fn tail(mut self, block: Block) -> MessageBuilder {
        self.tail.push(block);
        self
    }

    /// The inline keyboard, attached to the last message.
    pub fn keyboard(mut self, rows: Vec<Vec<Button>>) -> MessageBuilder {
        self.keyboard = rows;
        self
    }

    /// Makes the first message a reply to this message.
    pub fn reply_to(mut self, message_id: i32) -> MessageBuilder {
        self.reply_to = Some(message_id);
        self
    }

    /// A lower limit in UTF-16 units (e.g. 1,024 for a caption); capped at [`MAX_TEXT_UNITS`].
    pub fn limit(mut self, units: usize) -> MessageBuilder {
        self.limit = units.clamp(MIN_LIMIT, MAX_TEXT_UNITS);
        self
    }

    /// The messages, in order; never empty (an empty text becomes "…").
    pub fn build(self) -> Vec<OutMessage> {
        let MessageBuilder {
            chat_id,
            thread_id,
            reply_to,
            body,
            tail,
            keyboard,
            limit,
        } = self;
        let n_body = body.len();
        let all: Vec<Block> = body.into_iter().chain(tail).collect();
        let texts: Vec<String> = all.iter().map(Block::visible).collect();

        let mut tail: Vec<Piece> = (n_body..all.len())
            .filter_map(|i| {
                let range = trim(&texts[i], 0..texts[i].len());
                let units = utf16_len(&texts[i][range.clone()]);
                (units > 0).then_some(Piece {
                    block: i,
                    range,
                    units,
                })
            })
            .collect();
        let mut pages = Vec::new();
        if page_units(&tail) <= limit {
            pack(&texts, 0..n_body, limit, &mut pages);
            if !tail.is_empty() {
                match pages.last_mut() {
                    Some(last) if page_units(last) + 2 + page_units(&tail) <= limit => {
                        last.append(&mut tail);
                    }
                    _ => pages.push(tail),
                }
            }
        } else {
            pack(&texts, 0..all.len(), limit, &mut pages);
        }

        let message = |html: String| OutMessage {
            thread_id,
            ..OutMessage::new(chat_id, html)
        };
        let mut messages: Vec<OutMessage> = pages
            .iter()
            .map(|page| {
                let html: Vec<String> = page
                    .iter()
                    .map(|p| all[p.block].slice(p.range.clone()).to_html())
                    .collect();
                message(html.join("\n\n"))
            })
            .collect();
        if messages.is_empty() {
            messages.push(message(EMPTY_TEXT.to_string()));
        }
        if let Some(first) = messages.first_mut() {
            first.reply_to = reply_to;
        }
        if let Some(last) = messages.last_mut() {
            last.keyboard = keyboard;
        }
        messages
    }
}

/// A part of one block placed in a message.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    block: usize,
    /// Byte range of the block's visible text.
    range: Range<usize>,
    units: usize,
}

/// Visible length of a message made of `page`: its pieces joined by blank lines.
pub(super) fn page_units(page: &[Piece]) -> usize {
    page.iter().map(|p| p.units).sum::<usize>() + 2 * page.len().saturating_sub(1)
}

/// Places the blocks' text into pages of at most `limit` units: a block that fits in the page
/// being filled joins it, one that fits in a page starts a new one, a longer one is split.
pub(super) fn pack(
    texts: &[String],
    blocks: impl Iterator<Item = usize>,
    limit: usize,
    pages: &mut Vec<Vec<Piece>>,
) {
    for block in blocks {
        let text = &texts[block];
        for range in split_text(text, limit) {
            let units = utf16_len(&text[range.clone()]);
            if let Some(page) = pages.last_mut() {
                let used = page_units(page);
                match page.last_mut() {
                    // two parts of one block that fit together stay one paragraph
                    Some(prev) if prev.block == block => {
                        let merged = prev.range.start..range.end;
                        let merged_units = utf16_len(&text[merged.clone()]);
                        if used - prev.units + merged_units <= limit {
                            prev.range = merged;
                            prev.units = merged_units;
                            continue;
                        }
                    }
                    _ if used + 2 + units <= limit => {
                        page.push(Piece {
                            block,
                            range,
                            units,
                        });
                        continue;
                    }
                    _ => {}
                }
            }
            pages.push(vec![Piece {
                block,
                range,
                units,
            }]);
        }
    }
}
