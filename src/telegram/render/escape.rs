//! Escaping text for Telegram HTML, and reading the visible text back out of it; what text and
//! URLs may go into a message at all.

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

/// The same message without markup, escaped again: what is resent when Telegram refuses a
/// message's HTML, so the text still reaches the person.
pub fn without_markup(html: &str) -> String {
    escape(&html_to_plain(html))
}

/// Length of the tag at the start of `s` (which starts with `<`), quotes in attributes allowed.
pub(super) fn tag_len(s: &str) -> Option<usize> {
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
pub(super) fn entity(s: &str) -> Option<(char, usize)> {
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

/// Text as it may go into a message: line breaks unified, other control characters dropped.
pub(super) fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// Whether Telegram accepts `url` in a link or a URL button.
pub(super) fn is_link_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme = ["https://", "http://", "tg://"]
        .into_iter()
        .find(|s| lower.starts_with(s));
    scheme.is_some_and(|s| url.len() > s.len())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}
