//! Telegram HTML: the one place that escapes text, writes markup, keeps messages within
//! Telegram's limits and builds inline keyboards. Nothing else in the bot writes a tag.
//!
//! Text is built as [`Block`]s (paragraphs of plain-text spans with a style) and turned into
//! messages by a [`MessageBuilder`]. Because blocks hold plain text, a long text is split on
//! its visible characters and each part is then escaped and wrapped in its own tags: a split
//! can never fall inside a tag or an entity, and no tag spans two messages.
//!
//! Telegram counts the 4,096-character limit in UTF-16 code units of the text after entity
//! parsing, i.e. of what the reader sees; that is what [`MAX_TEXT_UNITS`] bounds here.

use std::ops::Range;

use super::callback::{is_passage_id, Ask, Callback};
use crate::action::{Button, OutMessage};
use crate::core::{Outcome, Reply};
use crate::settings::ReplyTexts;
use crate::text::utf16_len;

/// Telegram's limit on a message's visible text, in UTF-16 code units.
pub const MAX_TEXT_UNITS: usize = 4096;

/// Telegram's limit on a media caption's visible text, in UTF-16 code units.
pub const MAX_CAPTION_UNITS: usize = 1024;

/// Longest button text, in characters; longer titles are shortened with "…".
pub const MAX_BUTTON_CHARS: usize = 60;

/// Most topic buttons on one page (Telegram allows about 100 buttons per keyboard).
pub const MAX_TOPICS_PER_PAGE: usize = 20;

/// Shown instead of an empty text: Telegram refuses empty messages.
const EMPTY_TEXT: &str = "…";

/// Smallest limit a [`MessageBuilder`] accepts, so any character (up to 2 units) fits.
const MIN_LIMIT: usize = 16;

/// Escapes text for Telegram HTML: `&`, `<`, `>` and `"` become entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The visible text of Telegram HTML: tags dropped, entities decoded. Used to resend a message
/// as plain text when Telegram refuses its HTML; for our own HTML it is exactly what the reader
/// would have seen, so it stays within the same limit.
pub fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match tag_len(rest) {
                Some(n) => rest = &rest[n..],
                None => {
                    // not a tag (unbalanced `<`): keep it as text
                    out.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            match entity(rest) {
                Some((c, n)) => {
                    out.push(c);
                    rest = &rest[n..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of the tag at the start of `s` (which starts with `<`), quotes in attributes allowed.
fn tag_len(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in s.bytes().enumerate().skip(1) {
        match (quote, b) {
            (None, b'>') => return Some(i + 1),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            _ => {}
        }
    }
    None
}

/// The entity at the start of `s` (which starts with `&`): the four Telegram names and
/// numeric references.
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.bytes().take(12).position(|b| b == b';')?;
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

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
struct Piece {
    block: usize,
    /// Byte range of the block's visible text.
    range: Range<usize>,
    units: usize,
}

/// Visible length of a message made of `page`: its pieces joined by blank lines.
fn page_units(page: &[Piece]) -> usize {
    page.iter().map(|p| p.units).sum::<usize>() + 2 * page.len().saturating_sub(1)
}

/// Places the blocks' text into pages of at most `limit` units: a block that fits in the page
/// being filled joins it, one that fits in a page starts a new one, a longer one is split.
fn pack(
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

/// Where a too-long text is cut, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Line,
    Sentence,
    Word,
    Char,
}

impl Level {
    fn finer(self) -> Level {
        match self {
            Level::Line => Level::Sentence,
            Level::Sentence => Level::Word,
            Level::Word | Level::Char => Level::Char,
        }
    }
}

/// Byte ranges of `text`, in order, each at most `max` UTF-16 units, trimmed of whitespace at
/// the edges and not empty: the text cut at the coarsest boundaries that make it fit.
fn split_text(text: &str, max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    split_range(text, 0..text.len(), max, Level::Line, &mut out);
    out
}

fn split_range(
    text: &str,
    range: Range<usize>,
    max: usize,
    level: Level,
    out: &mut Vec<Range<usize>>,
) {
    let range = trim(text, range);
    if range.is_empty() {
        return;
    }
    if utf16_len(&text[range.clone()]) <= max {
        out.push(range);
        return;
    }
    if level == Level::Char {
        split_chars(text, range, max, out);
        return;
    }
    // greedy: add segments to the current part while it fits (whitespace at a cut is trimmed
    // away, so a segment's trailing whitespace does not count against the part it ends)
    let mut current: Option<(Range<usize>, usize)> = None;
    for seg in segments(text, range, level) {
        let seg_units = utf16_len(&text[seg.clone()]);
        let trailing = utf16_len(&text[trim(text, seg.clone()).end..seg.end]);
        if let Some((cur, cur_units)) = &mut current {
            if *cur_units + seg_units - trailing <= max {
                cur.end = seg.end;
                *cur_units += seg_units;
                continue;
            }
            push_trimmed(text, cur.clone(), out);
            current = None;
        }
        let trimmed = trim(text, seg.clone());
        if trimmed.is_empty() {
            continue;
        }
        let seg = trimmed.start..seg.end;
        let units = utf16_len(&text[seg.clone()]);
        if units - trailing <= max {
            current = Some((seg, units));
        } else {
            split_range(text, seg, max, level.finer(), out);
        }
    }
    if let Some((cur, _)) = current {
        push_trimmed(text, cur, out);
    }
}

/// `range` split after each boundary of `level`; separators stay at the end of their segment.
fn segments(text: &str, range: Range<usize>, level: Level) -> Vec<Range<usize>> {
    let base = range.start;
    let s = &text[range];
    let mut out = Vec::new();
    let mut start = 0;
    let mut sentence_ended = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let next_is_space = chars.peek().is_some_and(|&(_, n)| n.is_whitespace());
        let cut = match level {
            Level::Line => c == '\n',
            Level::Word => c.is_whitespace() && !next_is_space,
            Level::Sentence => {
                if c.is_whitespace() {
                    sentence_ended && !next_is_space
                } else if matches!(c, '。' | '！' | '？') {
                    true
                } else {
                    sentence_ended = matches!(c, '.' | '!' | '?' | '…')
                        || (sentence_ended
                            && matches!(c, ')' | ']' | '"' | '\'' | '”' | '’' | '»'));
                    false
                }
            }
            Level::Char => false,
        };
        if cut {
            out.push(base + start..base + end);
            start = end;
            sentence_ended = false;
        }
    }
    if start < s.len() {
        out.push(base + start..base + s.len());
    }
    out
}

/// Cuts a run without usable boundaries into parts of at most `max` units, keeping characters
/// whole and, where it can, emoji sequences and accents with their base character.
fn split_chars(text: &str, range: Range<usize>, max: usize, out: &mut Vec<Range<usize>>) {
    let mut start = range.start;
    let mut units = 0;
    for (i, c) in text[range.clone()].char_indices() {
        let i = range.start + i;
        let u = c.len_utf16();
        if units + u > max {
            let cut = cluster_cut(text, start, i);
            push_trimmed(text, start..cut, out);
            units = utf16_len(&text[cut..i]);
            start = cut;
        }
        units += u;
    }
    push_trimmed(text, start..range.end, out);
}

/// A cut at or before `at` (and after `start`) that does not separate a character from what
/// attaches to it (combining marks, variation selectors, skin tones, zero-width joiners); `at`
/// itself when no such cut is near.
fn cluster_cut(text: &str, start: usize, at: usize) -> usize {
    let mut cut = at;
    for _ in 0..16 {
        let next = text[cut..].chars().next();
        let Some(prev) = text[..cut].chars().next_back() else {
            break;
        };
        if !(next.is_some_and(attaches) || prev == '\u{200D}') {
            return cut;
        }
        let back = cut - prev.len_utf8();
        if back <= start {
            break;
        }
        cut = back;
    }
    at
}

/// Characters that belong to the character before them.
fn attaches(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200D}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let s = &text[range.clone()];
    let start = range.start + (s.len() - s.trim_start().len());
    let end = range.start + s.trim_end().len();
    start..end.max(start)
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let range = trim(text, range);
    if !range.is_empty() {
        out.push(range);
    }
}

/// Text as it may go into a message: line breaks unified, other control characters dropped.
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// Whether Telegram accepts `url` in a link or a URL button.
fn is_link_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme = ["https://", "http://", "tg://"]
        .into_iter()
        .find(|s| lower.starts_with(s));
    scheme.is_some_and(|s| url.len() > s.len())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

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

/// `text` cut to at most `max` UTF-16 units, ending with "…" when cut.
fn truncate_units(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_string();
    }
    let mut units = 1; // the "…"
    let mut end = 0;
    for (i, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            break;
        }
        end = i + c.len_utf8();
    }
    cut_with_ellipsis(text, end)
}

/// `text` cut before byte `end` (moved back so a character keeps what attaches to it), with
/// trailing whitespace dropped and "…" added.
fn cut_with_ellipsis(text: &str, end: usize) -> String {
    let end = cluster_cut(text, 0, end);
    let mut out = text[..end].trim_end().to_string();
    out.push('…');
    out
}

/// Button text: one line, at most [`MAX_BUTTON_CHARS`] characters, never empty (`fallback`
/// when `text` shows nothing).
fn button_text(text: &str, fallback: &str) -> String {
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
fn bullets(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    use crate::action::ButtonTarget;
    use crate::core::{Related, Shown};

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
        let long = "What Should Patients Know About Continuing Cancer Treatment When Cure Is Not Possible?";
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
}
