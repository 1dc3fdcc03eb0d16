//! Cutting text that is too long: at the coarsest boundary that makes it fit (line, sentence,
//! word, character), never between a character and what attaches to it, and with "…" where a
//! text is shortened rather than split.

use std::ops::Range;

use crate::text::utf16_len;

/// Where a too-long text is cut, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
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
pub(super) fn split_text(text: &str, max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    split_range(text, 0..text.len(), max, Level::Line, &mut out);
    out
}

pub(super) fn split_range(
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
pub(super) fn segments(text: &str, range: Range<usize>, level: Level) -> Vec<Range<usize>> {
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
pub(super) fn split_chars(
    text: &str,
    range: Range<usize>,
    max: usize,
    out: &mut Vec<Range<usize>>,
) {
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
pub(super) fn cluster_cut(text: &str, start: usize, at: usize) -> usize {
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
pub(super) fn attaches(c: char) -> bool {
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

pub(super) fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let s = &text[range.clone()];
    let start = range.start + (s.len() - s.trim_start().len());
    let end = range.start + s.trim_end().len();
    start..end.max(start)
}

pub(super) fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let range = trim(text, range);
    if !range.is_empty() {
        out.push(range);
    }
}

/// `text` cut to at most `max` UTF-16 units, ending with "…" when cut.
pub(super) fn truncate_units(text: &str, max: usize) -> String {
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
pub(super) fn cut_with_ellipsis(text: &str, end: usize) -> String {
    let end = cluster_cut(text, 0, end);
    let mut out = text[..end].trim_end().to_string();
    out.push('…');
    out
}
