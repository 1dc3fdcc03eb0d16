//! A strict validator of Telegram's message formatting, shared by the fake Bot API server and
//! the property tests of the renderer.
//!
//! [`parse`] follows the HTML parser of TDLib (which serves the Bot API): the same supported
//! tags, entities and error texts ("Unsupported start tag \"x\" at byte offset N", …), and
//! lengths counted in UTF-16 code units of the visible text. It is deliberately stricter than
//! Telegram where Telegram silently forgives what is a renderer bug: a bare `&` that does not
//! start an entity (also inside attribute values), an attribute a tag does not support, an `<a>`
//! without `href` (Telegram would link the inner text), a `class` on `<code>` other than
//! `language-…`, and a numeric entity naming no character (`&#0;`). A bare `>` is accepted, as
//! Telegram does. Nesting that Telegram resolves by dropping entities (a link in a link,
//! formatting inside `<code>`) is accepted too.
//!
//! [`validate_markdown_v2`] is a basic check of MarkdownV2's reserved characters and entity
//! balance; [`validate_markdown`] checks legacy Markdown's entity balance.

#![allow(dead_code)]

/// Telegram's limit for a message text, in UTF-16 code units of the visible text.
pub const MAX_TEXT_UTF16: usize = 4096;
/// Telegram's limit for a media caption, in UTF-16 code units of the visible text.
pub const MAX_CAPTION_UTF16: usize = 1024;

/// One formatting entity of the visible text, as the Bot API reports it (`MessageEntity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Bot API entity type: `bold`, `italic`, `underline`, `strikethrough`, `spoiler`,
    /// `text_link`, `custom_emoji`, `code`, `pre`, `blockquote`, `expandable_blockquote`.
    pub kind: &'static str,
    /// Start, in UTF-16 code units of the visible text.
    pub offset: usize,
    /// Length, in UTF-16 code units.
    pub length: usize,
    /// `text_link` target.
    pub url: Option<String>,
    /// `pre` language (from `<pre><code class="language-x">`).
    pub language: Option<String>,
    /// `custom_emoji` id.
    pub custom_emoji_id: Option<String>,
}

impl Entity {
    /// The entity as Bot API JSON (`MessageEntity`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "type": self.kind,
            "offset": self.offset,
            "length": self.length,
        });
        if let Some(url) = &self.url {
            v["url"] = url.clone().into();
        }
        if let Some(language) = &self.language {
            v["language"] = language.clone().into();
        }
        if let Some(id) = &self.custom_emoji_id {
            v["custom_emoji_id"] = id.clone().into();
        }
        v
    }
}

/// The visible text and entities of a formatted message.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Parsed {
    pub text: String,
    pub entities: Vec<Entity>,
}

/// Validates Telegram HTML; returns the visible text (tags removed, entities decoded) or the
/// error Telegram would give after "Bad Request: can't parse entities: ".
pub fn validate(html: &str) -> Result<String, String> {
    parse(html).map(|p| p.text)
}

/// Length in UTF-16 code units, the unit of Telegram's limits and entity offsets.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Escapes text for Telegram HTML (`<`, `>`, `&`, `"`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

struct Open {
    tag: String,
    begin: usize,
    utf16_start: usize,
    argument: Option<String>,
    /// Set on a `pre` by a `<code class="language-x">` directly inside it.
    language: Option<String>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Decodes the HTML entity starting at `bytes[i] == b'&'`: `Ok(Some((char, len)))`, `Ok(None)`
/// when it is not an entity at all, `Err` for a numeric entity naming no character.
fn decode_entity(bytes: &[u8], i: usize) -> Result<Option<(char, usize)>, String> {
    let rest = &bytes[i + 1..];
    let end = match rest.iter().take(12).position(|&b| b == b';') {
        Some(end) => end,
        None => return Ok(None),
    };
    let name = &rest[..end];
    let len = end + 2;
    let c = match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"quot" => '"',
        [b'#', b'x' | b'X', hex @ ..]
            if !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit) =>
        {
            let code =
                u32::from_str_radix(std::str::from_utf8(hex).unwrap_or("0"), 16).unwrap_or(0);
            numeric_char(code, i)?
        }
        [b'#', dec @ ..] if !dec.is_empty() && dec.iter().all(u8::is_ascii_digit) => {
            let code = std::str::from_utf8(dec)
                .unwrap_or("0")
                .parse::<u32>()
                .unwrap_or(0);
            numeric_char(code, i)?
        }
        _ => return Ok(None),
    };
    Ok(Some((c, len)))
}

fn numeric_char(code: u32, at: usize) -> Result<char, String> {
    match char::from_u32(code) {
        Some(c) if code != 0 => Ok(c),
        _ => Err(format!(
            "Numeric entity at byte offset {at} does not name a valid character"
        )),
    }
}

/// Parses Telegram HTML into visible text and entities. Errors are Telegram's texts (without
/// the "Bad Request: can't parse entities: " prefix), plus the strict additions listed in the
/// module documentation.
pub fn parse(html: &str) -> Result<Parsed, String> {
    let bytes = html.as_bytes();
    let n = bytes.len();
    let at = |i: usize| -> u8 { bytes.get(i).copied().unwrap_or(0) };
    let mut text = String::with_capacity(n);
    let mut utf16 = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities: Vec<Entity> = Vec::new();
    let mut i = 0usize;

    while i < n {
        let c = bytes[i];
        if c == b'&' {
            match decode_entity(bytes, i)? {
                Some((ch, len)) => {
                    text.push(ch);
                    utf16 += ch.len_utf16();
                    i += len;
                    continue;
                }
                None => {
                    return Err(format!(
                        "Character '&' at byte offset {i} must be escaped as \"&amp;\""
                    ))
                }
            }
        }
        if c != b'<' {
            // Copy one whole UTF-8 character.
            let ch = html[i..].chars().next().unwrap_or('\u{FFFD}');
            text.push(ch);
            utf16 += ch.len_utf16();
            i += ch.len_utf8();
            continue;
        }

        let begin = i;
        i += 1;
        if at(i) != b'/' {
            // A start tag.
            while i < n && !is_space(bytes[i]) && bytes[i] != b'>' {
                i += 1;
            }
            if i >= n {
                return Err(format!("Unclosed start tag at byte offset {begin}"));
            }
            let tag = html[begin + 1..i].to_lowercase();
            if !TAGS.contains(&tag.as_str()) {
                return Err(format!(
                    "Unsupported start tag \"{tag}\" at byte offset {begin}"
                ));
            }
            let mut argument: Option<String> = None;
            let mut has_class = None::<String>;
            while at(i) != b'>' {
                while i < n && is_space(bytes[i]) {
                    i += 1;
                }
                if i >= n {
                    return Err(format!("Unclosed start tag at byte offset {begin}"));
                }
                if bytes[i] == b'>' {
                    break;
                }
                let name_begin = i;
                while i < n && !is_space(bytes[i]) && bytes[i] != b'=' && bytes[i] != b'>' {
                    i += 1;
                }
                let attr = html[name_begin..i].to_lowercase();
                if attr.is_empty() {
                    return Err(format!(
                        "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
                    ));
                }
                while i < n && is_space(bytes[i]) {
                    i += 1;
                }
                if at(i) != b'=' {
                    if tag == "blockquote" && attr == "expandable" {
                        argument = Some("expandable".into());
                        continue;
                    }
                    if i >= n {
                        return Err(format!("Unclosed start tag at byte offset {begin}"));
                    }
                    return Err(format!(
                        "Expected equal sign in declaration of an attribute of the tag \"{tag}\" at byte offset {begin}"
                    ));
                }
                i += 1;
                while i < n && is_space(bytes[i]) {
                    i += 1;
                }
                if i >= n {
                    return Err(format!("Unclosed start tag at byte offset {begin}"));
                }
                let value = if bytes[i] != b'"' && bytes[i] != b'\'' {
                    // A name token: letters, digits, periods and hyphens, case-insensitive.
                    let token_begin = i;
                    while i < n
                        && (bytes[i].is_ascii_alphanumeric()
                            || bytes[i] == b'.'
                            || bytes[i] == b'-')
                    {
                        i += 1;
                    }
                    if i >= n || (!is_space(bytes[i]) && bytes[i] != b'>') {
                        return Err(format!(
                            "Unexpected end of name token at byte offset {token_begin}"
                        ));
                    }
                    html[token_begin..i].to_lowercase()
                } else {
                    let quote = bytes[i];
                    let string_begin = i;
                    i += 1;
                    let mut value = String::new();
                    while i < n && bytes[i] != quote {
                        if bytes[i] == b'&' {
                            match decode_entity(bytes, i)? {
                                Some((ch, len)) => {
                                    value.push(ch);
                                    i += len;
                                    continue;
                                }
                                None => {
                                    return Err(format!(
                                    "Character '&' at byte offset {i} must be escaped as \"&amp;\""
                                ))
                                }
                            }
                        }
                        if bytes[i] == b'<' {
                            return Err(format!(
                                "Character '<' at byte offset {i} must be escaped as \"&lt;\""
                            ));
                        }
                        let ch = html[i..].chars().next().unwrap_or('\u{FFFD}');
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                    if i >= n {
                        return Err(format!("Unclosed start tag at byte offset {string_begin}"));
                    }
                    i += 1;
                    value
                };
                match (tag.as_str(), attr.as_str()) {
                    ("a", "href") => argument = Some(value),
                    ("code", "class") => {
                        match value.strip_prefix("language-") {
                            Some(lang) if !lang.is_empty() => argument = Some(lang.to_string()),
                            _ => {
                                return Err(format!(
                                    "Unsupported class \"{value}\" of the tag \"code\" at byte offset {begin}"
                                ))
                            }
                        }
                    }
                    ("span", "class") => has_class = Some(value),
                    ("tg-emoji", "emoji-id") => argument = Some(value),
                    ("blockquote", "expandable") => argument = Some("expandable".into()),
                    _ => {
                        return Err(format!(
                            "Unsupported attribute \"{attr}\" in the tag \"{tag}\" at byte offset {begin}"
                        ))
                    }
                }
            }
            i += 1; // '>'
            match tag.as_str() {
                "span" if has_class.as_deref() != Some("tg-spoiler") => {
                    return Err(format!(
                        "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
                    ));
                }
                "a" if argument.as_deref().is_none_or(str::is_empty) => {
                    return Err(format!(
                        "Tag \"a\" must have a non-empty attribute \"href\" at byte offset {begin}"
                    ));
                }
                "tg-emoji"
                    if !argument
                        .as_deref()
                        .is_some_and(|id| id.parse::<i64>().is_ok_and(|id| id != 0)) =>
                {
                    return Err("Invalid custom emoji identifier specified".into());
                }
                _ => {}
            }
            stack.push(Open {
                tag,
                begin,
                utf16_start: utf16,
                argument,
                language: None,
            });
        } else {
            // An end tag.
            if stack.is_empty() {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            }
            i += 1;
            let name_begin = i;
            while i < n && !is_space(bytes[i]) && bytes[i] != b'>' {
                i += 1;
            }
            let end_tag = html[name_begin..i].to_lowercase();
            while i < n && is_space(bytes[i]) {
                i += 1;
            }
            if at(i) != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            i += 1;
            let open = stack.pop().expect("checked non-empty");
            if !end_tag.is_empty() && end_tag != open.tag {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{end_tag}>\"",
                    open.tag
                ));
            }
            let length = utf16 - open.utf16_start;
            let mut entity = Entity {
                kind: "",
                offset: open.utf16_start,
                length,
                url: None,
                language: None,
                custom_emoji_id: None,
            };
            entity.kind = match open.tag.as_str() {
                "b" | "strong" => "bold",
                "i" | "em" => "italic",
                "u" | "ins" => "underline",
                "s" | "strike" | "del" => "strikethrough",
                "span" | "tg-spoiler" => "spoiler",
                "a" => {
                    entity.url = open.argument.clone();
                    "text_link"
                }
                "tg-emoji" => {
                    entity.custom_emoji_id = open.argument.clone();
                    "custom_emoji"
                }
                "code" => {
                    // Inside <pre> the code tag only names the pre block's language.
                    if let Some(parent) = stack.last_mut().filter(|p| p.tag == "pre") {
                        if open.argument.is_some() {
                            parent.language = open.argument.clone();
                        }
                        continue;
                    }
                    "code"
                }
                "pre" => {
                    entity.language = open.language.clone();
                    "pre"
                }
                "blockquote" if open.argument.is_some() => "expandable_blockquote",
                "blockquote" => "blockquote",
                other => unreachable!("unsupported tag {other} was accepted"),
            };
            if length > 0 {
                entities.push(entity);
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        ));
    }
    entities.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.length.cmp(&a.length)));
    Ok(Parsed { text, entities })
}

const MDV2_RESERVED: &str = "_*[]()~`>#+-=|{}.!";

/// A basic check of MarkdownV2: reserved characters outside entities must be escaped with `\`,
/// and entities must be closed. Returns the visible text or Telegram's error text (without the
/// "Bad Request: can't parse entities: " prefix).
pub fn validate_markdown_v2(md: &str) -> Result<String, String> {
    let chars: Vec<(usize, char)> = md.char_indices().collect();
    let mut out = String::new();
    // (entity name, byte offset of its start)
    let mut stack: Vec<(&'static str, usize)> = Vec::new();
    let mut k = 0usize;
    let at_line_start = |k: usize| k == 0 || chars[k - 1].1 == '\n';
    while k < chars.len() {
        let (pos, c) = chars[k];
        if c == '\\' {
            if let Some(&(_, next)) = chars.get(k + 1) {
                if (1..=126).contains(&(next as u32)) {
                    out.push(next);
                    k += 2;
                    continue;
                }
            }
            out.push(c);
            k += 1;
            continue;
        }
        match c {
            '`' => {
                let fence = chars.get(k + 1).map(|x| x.1) == Some('`')
                    && chars.get(k + 2).map(|x| x.1) == Some('`');
                let (name, open_len) = if fence { ("Pre", 3) } else { ("Code", 1) };
                let mut j = k + open_len;
                let mut found = false;
                while j < chars.len() {
                    let cj = chars[j].1;
                    if cj == '\\' && j + 1 < chars.len() {
                        out.push(chars[j + 1].1);
                        j += 2;
                        continue;
                    }
                    if cj == '`' {
                        if !fence {
                            found = true;
                            j += 1;
                            break;
                        }
                        if chars.get(j + 1).map(|x| x.1) == Some('`')
                            && chars.get(j + 2).map(|x| x.1) == Some('`')
                        {
                            found = true;
                            j += 3;
                            break;
                        }
                        return Err(
                            "Character '`' is reserved and must be escaped with the preceding '\\'"
                                .to_string(),
                        );
                    }
                    out.push(cj);
                    j += 1;
                }
                if !found {
                    return Err(format!(
                        "Can't find end of {name} entity at byte offset {pos}"
                    ));
                }
                k = j;
                continue;
            }
            '*' | '~' => {
                let name = if c == '*' { "Bold" } else { "Strikethrough" };
                toggle(&mut stack, name, pos)?;
                k += 1;
                continue;
            }
            '_' => {
                if chars.get(k + 1).map(|x| x.1) == Some('_') {
                    toggle(&mut stack, "Underline", pos)?;
                    k += 2;
                } else {
                    toggle(&mut stack, "Italic", pos)?;
                    k += 1;
                }
                continue;
            }
            '|' if chars.get(k + 1).map(|x| x.1) == Some('|') => {
                toggle(&mut stack, "Spoiler", pos)?;
                k += 2;
                continue;
            }
            '!' if chars.get(k + 1).map(|x| x.1) == Some('[') => {
                stack.push(("CustomEmoji", pos));
                k += 2;
                continue;
            }
            '[' => {
                stack.push(("TextUrl", pos));
                k += 1;
                continue;
            }
            ']' if stack
                .last()
                .is_some_and(|(n, _)| *n == "TextUrl" || *n == "CustomEmoji") =>
            {
                let (name, start) = stack.pop().expect("checked");
                if chars.get(k + 1).map(|x| x.1) != Some('(') {
                    if name == "TextUrl" {
                        // "[text]" without a URL is plain text in Telegram.
                        k += 1;
                        continue;
                    }
                    return Err(format!(
                        "Can't find end of {name} entity at byte offset {start}"
                    ));
                }
                let mut j = k + 2;
                let mut found = false;
                while j < chars.len() {
                    let cj = chars[j].1;
                    if cj == '\\' && j + 1 < chars.len() {
                        j += 2;
                        continue;
                    }
                    if cj == ')' {
                        found = true;
                        break;
                    }
                    j += 1;
                }
                if !found {
                    return Err(format!(
                        "Can't find end of a URL at byte offset {}",
                        chars[k].0
                    ));
                }
                k = j + 1;
                continue;
            }
            '>' if at_line_start(k) => {
                k += 1;
                continue;
            }
            _ => {}
        }
        if MDV2_RESERVED.contains(c) {
            return Err(format!(
                "Character '{c}' is reserved and must be escaped with the preceding '\\'"
            ));
        }
        out.push(c);
        k += 1;
    }
    if let Some((name, start)) = stack.last() {
        return Err(format!(
            "Can't find end of {name} entity at byte offset {start}"
        ));
    }
    Ok(out)
}

fn toggle(
    stack: &mut Vec<(&'static str, usize)>,
    name: &'static str,
    pos: usize,
) -> Result<(), String> {
    if stack.last().is_some_and(|(n, _)| *n == name) {
        stack.pop();
        return Ok(());
    }
    if let Some((_, start)) = stack.iter().find(|(n, _)| *n == name) {
        return Err(format!(
            "Can't find end of {name} entity at byte offset {start}"
        ));
    }
    stack.push((name, pos));
    Ok(())
}

/// Legacy Markdown: `*bold*`, `_italic_`, `` `code` ``, ```` ```pre``` ```` and `[text](url)`
/// must be closed. Returns the visible text or Telegram's error text.
pub fn validate_markdown(md: &str) -> Result<String, String> {
    let bytes = md.as_bytes();
    let mut out = String::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        let end_marker: &[u8] = match c {
            b'*' => b"*",
            b'_' => b"_",
            b'`' if bytes[i..].starts_with(b"```") => b"```",
            b'`' => b"`",
            b'[' => b"]",
            b'\\' if i + 1 < bytes.len() && b"*_`[".contains(&bytes[i + 1]) => {
                out.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            _ => {
                let ch = md[i..].chars().next().unwrap_or('\u{FFFD}');
                out.push(ch);
                i += ch.len_utf8();
                continue;
            }
        };
        let start = i;
        let inner_begin = i + end_marker.len();
        let rel = bytes[inner_begin..]
            .windows(end_marker.len())
            .position(|w| w == end_marker)
            .ok_or_else(|| {
                format!("Can't find end of the entity starting at byte offset {start}")
            })?;
        out.push_str(&md[inner_begin..inner_begin + rel]);
        i = inner_begin + rel + end_marker.len();
        if c == b'[' && bytes.get(i) == Some(&b'(') {
            let close = bytes[i..].iter().position(|&b| b == b')').ok_or_else(|| {
                format!("Can't find end of the entity starting at byte offset {start}")
            })?;
            i += close + 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_its_own_visible_text() {
        assert_eq!(
            validate("hello, world > all").unwrap(),
            "hello, world > all"
        );
        assert_eq!(validate("").unwrap(), "");
    }

    #[test]
    fn supported_tags_are_accepted_and_removed() {
        let html = "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>\
            <strike>k</strike><del>d</del><span class=\"tg-spoiler\">p</span><tg-spoiler>q</tg-spoiler>\
            <a href=\"https://example.org/?a=1&amp;b=2\">link</a><tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>\
            <code>c</code><pre>p</pre><pre><code class=\"language-rust\">fn</code></pre>\
            <blockquote>q</blockquote><blockquote expandable>x</blockquote>";
        assert_eq!(validate(html).unwrap(), "bsieunskdpqlink👍cpfnqx");
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            validate("&lt;a&gt; &amp; &quot;q&quot; &#65;&#x42;&#X43;").unwrap(),
            "<a> & \"q\" ABC"
        );
    }

    #[test]
    fn entity_offsets_count_utf16() {
        let p = parse("😀 <b>bold</b> <a href=\"https://x.org\">l</a>").unwrap();
        assert_eq!(p.text, "😀 bold l");
        assert_eq!(p.entities.len(), 2);
        assert_eq!(
            (
                p.entities[0].kind,
                p.entities[0].offset,
                p.entities[0].length
            ),
            ("bold", 3, 4)
        );
        assert_eq!(p.entities[1].kind, "text_link");
        assert_eq!(p.entities[1].url.as_deref(), Some("https://x.org"));
        assert_eq!(p.entities[1].offset, 8);
    }

    #[test]
    fn pre_takes_the_language_of_its_code() {
        let p = parse("<pre><code class=\"language-python\">x = 1</code></pre>").unwrap();
        assert_eq!(p.entities.len(), 1);
        assert_eq!(p.entities[0].kind, "pre");
        assert_eq!(p.entities[0].language.as_deref(), Some("python"));
    }

    #[test]
    fn expandable_blockquote_is_its_own_entity() {
        let p = parse("<blockquote expandable>quote</blockquote>").unwrap();
        assert_eq!(p.entities[0].kind, "expandable_blockquote");
    }

    #[test]
    fn tags_are_case_insensitive() {
        assert_eq!(validate("<B>x</b>").unwrap(), "x");
    }

    #[test]
    fn bare_less_than_is_an_unsupported_tag() {
        let e = validate("a < b").unwrap_err();
        assert!(e.contains("Unsupported start tag \"\""), "{e}");
        let e = validate("1<2 x").unwrap_err();
        assert!(
            e.starts_with("Unsupported start tag \"2\" at byte offset 1"),
            "{e}"
        );
        let e = validate("1<2").unwrap_err();
        assert!(e.starts_with("Unclosed start tag at byte offset 1"), "{e}");
        let e = validate("ends with <").unwrap_err();
        assert!(e.starts_with("Unclosed start tag"), "{e}");
    }

    #[test]
    fn bare_ampersand_is_rejected() {
        let e = validate("Tom & Jerry").unwrap_err();
        assert!(e.contains("'&' at byte offset 4"), "{e}");
        assert!(validate("AT&T;").is_err());
        assert!(
            validate("&nbsp;").is_err(),
            "only lt, gt, amp, quot are named entities"
        );
        assert!(validate("&#0;").is_err());
        assert!(validate("&#xD800;").is_err());
        assert!(validate("&lt").is_err(), "entities need their semicolon");
    }

    #[test]
    fn unknown_tags_are_rejected() {
        for html in [
            "<br>",
            "<br/>",
            "<p>x</p>",
            "<div>x</div>",
            "<script>x</script>",
            "<b/>",
        ] {
            let e = validate(html).unwrap_err();
            assert!(e.starts_with("Unsupported start tag"), "{html}: {e}");
        }
    }

    #[test]
    fn unclosed_and_misnested_tags_are_rejected() {
        let e = validate("<b>bold").unwrap_err();
        assert_eq!(e, "Can't find end tag corresponding to start tag \"b\"");
        let e = validate("<b><i>x</b></i>").unwrap_err();
        assert!(
            e.starts_with("Unmatched end tag at byte offset 7, expected \"</i>\""),
            "{e}"
        );
        let e = validate("x</b>").unwrap_err();
        assert_eq!(e, "Unexpected end tag at byte offset 1");
        let e = validate("<b>x</b").unwrap_err();
        assert!(e.starts_with("Unclosed end tag"), "{e}");
        let e = validate("<a href=\"x").unwrap_err();
        assert!(e.starts_with("Unclosed start tag"), "{e}");
    }

    #[test]
    fn attributes_are_strict() {
        assert!(validate("<a>x</a>").unwrap_err().contains("href"));
        assert!(validate("<a href=\"\">x</a>").is_err());
        assert!(validate("<a href=\"u\" title=\"t\">x</a>")
            .unwrap_err()
            .contains("Unsupported attribute"));
        assert!(validate("<b class=\"x\">x</b>").is_err());
        assert!(validate("<span>x</span>")
            .unwrap_err()
            .contains("tg-spoiler"));
        assert!(validate("<span class=\"other\">x</span>").is_err());
        assert!(validate("<tg-emoji>x</tg-emoji>").is_err());
        assert!(validate("<code class=\"rust\">x</code>").is_err());
        assert!(validate("<a href=\"https://x.org/?a=1&b=2\">x</a>").is_err());
        assert!(
            validate("<a href=https://x.org>x</a>").is_err(),
            "a name token can't hold ':'"
        );
        assert_eq!(validate("<a href='https://x.org'>x</a>").unwrap(), "x");
    }

    #[test]
    fn utf16_len_counts_surrogate_pairs() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("é"), 1);
        assert_eq!(utf16_len(""), 0);
    }

    #[test]
    fn escape_round_trips_through_validate() {
        let raw = "if a < b && c > d then \"x\" <b>not bold</b> &amp;";
        assert_eq!(validate(&escape(raw)).unwrap(), raw);
    }

    #[test]
    fn markdown_v2_requires_escaped_reserved_characters() {
        assert_eq!(
            validate_markdown_v2("*bold* _it_ __u__ ~s~ ||sp|| `c.d`").unwrap(),
            "bold it u s sp c.d"
        );
        assert_eq!(
            validate_markdown_v2("1\\.5 \\- ok\\!").unwrap(),
            "1.5 - ok!"
        );
        assert_eq!(
            validate_markdown_v2("[link](https://x.org/a_b)").unwrap(),
            "link"
        );
        let e = validate_markdown_v2("Hello.").unwrap_err();
        assert!(e.contains("Character '.' is reserved"), "{e}");
        assert!(validate_markdown_v2("a-b").is_err());
        assert!(validate_markdown_v2("(x)").is_err());
        assert!(validate_markdown_v2("*open")
            .unwrap_err()
            .contains("Can't find end of Bold"));
        assert!(validate_markdown_v2("```\ncode").is_err());
        assert_eq!(validate_markdown_v2("> quoted").unwrap(), " quoted");
    }

    #[test]
    fn legacy_markdown_requires_closed_entities() {
        assert_eq!(
            validate_markdown("*b* _i_ `c` [l](http://x)").unwrap(),
            "b i c l"
        );
        assert!(validate_markdown("snake_case").is_err());
    }
}
