//! Parser for one guide file: `---` front matter, then `##` sections, each with an optional
//! metadata block (`id:`, `keywords:`, `ask:`, `link:`) and a body. HTML comments are editor notes.

use super::{Guide, Kind, Passage, MAX_ID_LEN};

type Errors = Vec<(usize, String)>;

const GUIDE_KEYS: &str = "id, title, language, kind, link";
const PASSAGE_KEYS: &str = "id, keywords, ask, link";

/// Parses a guide. `file` in the result is left empty for the caller to fill. Errors carry
/// 1-based line numbers and say how to fix the problem.
pub fn parse_guide(text: &str) -> Result<Guide, Errors> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lines = strip_comments(text);
    let mut errors = Errors::new();
    let mut guide = Guide {
        id: String::new(),
        title: String::new(),
        language: "en".into(),
        kind: Kind::Guide,
        link: None,
        file: Default::default(),
        id_line: 1,
        passages: Vec::new(),
    };

    let mut i = front_matter(&lines, &mut guide, &mut errors);
    let mut current: Option<Passage> = None;
    let mut body: Vec<&str> = Vec::new();
    while i < lines.len() {
        let line = lines[i].trim_end();
        let lineno = i + 1;
        i += 1;
        if let Some(heading) = line.strip_prefix("## ") {
            finish(current.take(), &body, &mut guide, &mut errors);
            body.clear();
            let heading = heading.trim();
            if heading.is_empty() {
                errors.push((
                    lineno,
                    "empty `##` heading: write the section title after `## `".into(),
                ));
            }
            let mut passage = Passage {
                id: String::new(),
                title: heading.to_string(),
                body: String::new(),
                keywords: Vec::new(),
                questions: Vec::new(),
                link: None,
                line: lineno,
            };
            i = passage_meta(&lines, i, &mut passage, &mut errors);
            current = Some(passage);
        } else if line.starts_with('#') && line.trim_start_matches('#').starts_with(' ') {
            errors.push((
                lineno,
                "only `##` headings are allowed: use `## ` for a section (the guide title belongs in the front matter)".into(),
            ));
        } else if current.is_some() {
            body.push(line);
        } else if !line.trim().is_empty() {
            errors.push((
                lineno,
                "text before the first `##` section: start each passage with a `## Heading` line"
                    .into(),
            ));
        }
    }
    finish(current.take(), &body, &mut guide, &mut errors);

    if guide.passages.is_empty() && errors.is_empty() {
        errors.push((0, "the guide has no `##` sections: add at least one".into()));
    }
    if errors.is_empty() {
        Ok(guide)
    } else {
        Err(errors)
    }
}

/// The file's lines with `<!-- … -->` comments blanked out; line numbers stay the same.
fn strip_comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_comment = false;
    for raw in text.lines() {
        let mut line = String::new();
        let mut rest = raw;
        loop {
            if in_comment {
                match rest.find("-->") {
                    Some(end) => {
                        rest = &rest[end + 3..];
                        in_comment = false;
                    }
                    None => break,
                }
            } else {
                match rest.find("<!--") {
                    Some(start) => {
                        line.push_str(&rest[..start]);
                        rest = &rest[start + 4..];
                        in_comment = true;
                    }
                    None => {
                        line.push_str(rest);
                        break;
                    }
                }
            }
        }
        out.push(line);
    }
    out
}

/// Reads the front matter; returns the index of the first line after it.
fn front_matter(lines: &[String], guide: &mut Guide, errors: &mut Errors) -> usize {
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let Some(start) = first.filter(|&s| lines[s].trim() == "---") else {
        errors.push((
            1,
            "missing front matter: start the file with a `---` line, then `id:`, `title:`, `language:`, then `---`".into(),
        ));
        return lines.len();
    };
    let mut i = start + 1;
    let mut closed = false;
    while i < lines.len() {
        let line = lines[i].trim();
        let lineno = i + 1;
        i += 1;
        if line == "---" {
            closed = true;
            break;
        }
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = split_field(line) else {
            errors.push((
                lineno,
                format!("expected `key: value` in the front matter (keys: {GUIDE_KEYS})"),
            ));
            continue;
        };
        match key {
            "id" => {
                guide.id = check_id(value, lineno, errors);
                guide.id_line = lineno;
            }
            "title" => guide.title = value.to_string(),
            "language" => {
                if value.len() == 2 && value.chars().all(|c| c.is_ascii_lowercase()) {
                    guide.language = value.to_string();
                } else {
                    errors.push((
                        lineno,
                        format!(
                            "language `{value}` is not a two-letter ISO 639-1 code such as `en`"
                        ),
                    ));
                }
            }
            "kind" => match value {
                "guide" => guide.kind = Kind::Guide,
                "faq" => guide.kind = Kind::Faq,
                _ => errors.push((
                    lineno,
                    format!("kind `{value}` is unknown: use `guide` or `faq`"),
                )),
            },
            "link" => guide.link = Some(value.to_string()).filter(|v| !v.is_empty()),
            _ => errors.push((
                lineno,
                format!("unknown field `{key}` in the front matter (known: {GUIDE_KEYS})"),
            )),
        }
    }
    if !closed {
        errors.push((
            start + 1,
            "front matter is not closed: add a `---` line after it".into(),
        ));
    }
    if guide.id.is_empty() && errors.is_empty() {
        errors.push((
            start + 1,
            "the front matter has no `id:`: add e.g. `id: my-guide`".into(),
        ));
    }
    if guide.title.is_empty() && errors.is_empty() {
        errors.push((
            start + 1,
            "the front matter has no `title:`: add the guide's title".into(),
        ));
    }
    i
}

/// Reads the metadata block right under a heading; returns the index of the first body line.
fn passage_meta(
    lines: &[String],
    mut i: usize,
    passage: &mut Passage,
    errors: &mut Errors,
) -> usize {
    while i < lines.len() {
        let line = lines[i].trim();
        let Some((key, value)) = split_field(line) else {
            break;
        };
        let lineno = i + 1;
        match key {
            "id" => passage.id = check_id(value, lineno, errors),
            "keywords" => passage.keywords.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(String::from),
            ),
            "ask" if !value.is_empty() => passage.questions.push(value.to_string()),
            "ask" => errors.push((lineno, "empty `ask:` line: write a question after it or remove it".into())),
            "link" => passage.link = Some(value.to_string()).filter(|v| !v.is_empty()),
            _ => errors.push((
                lineno,
                format!("unknown field `{key}` under a heading (known: {PASSAGE_KEYS}); leave a blank line before the text"),
            )),
        }
        i += 1;
    }
    i
}

/// `key: value` where key is a lower-case word, as metadata lines are written. Body text such
/// as "Important: …" (capitalised) is not a field.
fn split_field(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let is_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    is_key.then(|| (key, value.trim()))
}

fn check_id(value: &str, lineno: usize, errors: &mut Errors) -> String {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        errors.push((
            lineno,
            format!("id `{value}` is not valid: use 1 to {MAX_ID_LEN} lower-case letters, digits and hyphens"),
        ));
    }
    value.to_string()
}

/// Lower-case hyphenated id from a heading, for sections written without `id:`.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for w in crate::text::words(title) {
        let w: String = w.chars().filter(char::is_ascii_alphanumeric).collect();
        if w.is_empty() {
            continue;
        }
        if out.len() + w.len() + 1 > MAX_ID_LEN {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w);
    }
    out
}

/// Closes a passage: joins its body lines into paragraphs and list items, and checks it.
fn finish(passage: Option<Passage>, body: &[&str], guide: &mut Guide, errors: &mut Errors) {
    let Some(mut p) = passage else { return };
    let mut blocks: Vec<String> = Vec::new();
    let mut paragraph = String::new();
    let flush = |paragraph: &mut String, blocks: &mut Vec<String>| {
        if !paragraph.is_empty() {
            blocks.push(std::mem::take(paragraph));
        }
    };
    for line in body {
        let line = line.trim();
        if line.is_empty() {
            flush(&mut paragraph, &mut blocks);
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            flush(&mut paragraph, &mut blocks);
            blocks.push(format!("- {}", item.trim()));
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(line);
        }
    }
    flush(&mut paragraph, &mut blocks);
    // list items stay on consecutive lines; other blocks are separated by a blank line
    let mut text = String::new();
    for (n, block) in blocks.iter().enumerate() {
        if n > 0 {
            let both_items = block.starts_with("- ") && blocks[n - 1].starts_with("- ");
            text.push_str(if both_items { "\n" } else { "\n\n" });
        }
        text.push_str(block);
    }
    if text.is_empty() {
        errors.push((
            p.line,
            format!(
                "section `{}` is empty: write its text under the heading, or remove it",
                p.title
            ),
        ));
    }
    if p.id.is_empty() {
        p.id = slug(&p.title);
        if p.id.is_empty() {
            errors.push((
                p.line,
                "cannot make an id from this heading: add an `id:` line under it".into(),
            ));
        }
    }
    p.body = text;
    guide.passages.push(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: g\ntitle: A guide\nlanguage: en\nkind: faq\n---\n<!-- note\nspanning -->\n\n## Can CAR-T help?\nid: car-t\nkeywords: car t, cell therapy\nask: car t after chemo\nask: is cart an option\n\nSometimes.\nIt depends.\n\n- one\n- two\n\nImportant: ask.\n\n## Second Section\n\nText <!-- hidden --> here.\n";

    #[test]
    fn parses_front_matter_sections_and_metadata() {
        let g = parse_guide(GOOD).expect("valid guide");
        assert_eq!(
            (g.id.as_str(), g.title.as_str(), g.kind),
            ("g", "A guide", Kind::Faq)
        );
        assert_eq!(g.passages.len(), 2);
        let p = &g.passages[0];
        assert_eq!(p.id, "car-t");
        assert_eq!(p.title, "Can CAR-T help?");
        assert_eq!(p.keywords, vec!["car t", "cell therapy"]);
        assert_eq!(p.questions, vec!["car t after chemo", "is cart an option"]);
        assert_eq!(
            p.body,
            "Sometimes. It depends.\n\n- one\n- two\n\nImportant: ask."
        );
        assert_eq!(p.line, 10);
        assert_eq!(g.passages[1].id, "second-section");
        assert_eq!(g.passages[1].body, "Text  here.");
    }

    fn errors(text: &str) -> Vec<(usize, String)> {
        parse_guide(text).expect_err("should be rejected")
    }

    fn has(errs: &[(usize, String)], line: usize, needle: &str) -> bool {
        errs.iter().any(|(l, m)| *l == line && m.contains(needle))
    }

    #[test]
    fn reports_each_error_with_its_line() {
        assert!(has(&errors("## x\n\ntext\n"), 1, "missing front matter"));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n\n## x\n\ntext\n"),
            1,
            "not closed"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\ncolour: red\n---\n## x\n\ny\n"),
            4,
            "unknown field `colour`"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n---\n## x\nfoo: bar\n\ny\n"),
            6,
            "unknown field `foo`"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n---\n## Empty\n\n## y\n\nz\n"),
            5,
            "is empty"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n---\nstray\n## y\n\nz\n"),
            5,
            "text before the first"
        ));
        assert!(has(
            &errors("---\nid: Bad Id\ntitle: t\n---\n## y\n\nz\n"),
            2,
            "not valid"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\nkind: blog\n---\n## y\n\nz\n"),
            4,
            "kind `blog`"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\nlanguage: english\n---\n## y\n\nz\n"),
            4,
            "ISO 639-1"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n---\n# Title\n## y\n\nz\n"),
            5,
            "only `##`"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n---\n"),
            0,
            "no `##` sections"
        ));
        assert!(has(
            &errors("---\ntitle: t\n---\n## y\n\nz\n"),
            1,
            "no `id:`"
        ));
        assert!(has(
            &errors("---\nid: g\ntitle: t\n---\n## y\nask:\n\nz\n"),
            6,
            "empty `ask:`"
        ));
    }

    #[test]
    fn capitalised_label_is_body_text_not_a_field() {
        let g =
            parse_guide("---\nid: g\ntitle: t\n---\n## y\nImportant: read this.\n").expect("valid");
        assert_eq!(g.passages[0].body, "Important: read this.");
    }

    #[test]
    fn slug_is_short_ascii() {
        assert_eq!(
            slug("What Are ADCs — and CAR-T?"),
            "what-are-adcs-and-car-t"
        );
        assert!(slug(&"word ".repeat(40)).len() <= MAX_ID_LEN);
    }
}
