//! The phrasing syntax of the triage files, and the text it is matched against.
//!
//! A message is [`normalize`]d to lower-case words without accents or apostrophes, separated by
//! single spaces, with a space at each end: `" he cant breathe "`. A phrasing is written as a
//! person would type it and compiled ([`compile`]) to a pattern over that text:
//!
//! | written      | means                                                        |
//! |--------------|--------------------------------------------------------------|
//! | `cant breathe` | these words in a row (apostrophes and accents do not matter) |
//! | `breath*`    | a word starting so (`breath`, `breathing`, `breathless`)      |
//! | `cant .. breathe` | up to six words in between ("can't really breathe")      |
//! | `(his|her) chest`, `(very )?confused` | alternatives, an optional part       |
//! | `{person}`   | a macro of the language file (written in the same syntax)     |
//!
//! Phrasings match whole words unless the language writes without spaces (Chinese), where
//! `..` stands for up to eight characters.

use std::collections::BTreeMap;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `text` as the phrasings expect it: lower case, accents and other combining marks dropped
/// (`é` → `e`, `й` → `и`, Arabic vowel signs), apostrophes dropped inside words (`can't` →
/// `cant`), `38,5` → `38.5`, every other run of non-letters one space, a space at each end.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let chars: Vec<char> = folded(text.chars().take(crate::text::MAX_INPUT_CHARS)).collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        if c.is_alphanumeric() {
            out.push(c);
        } else if is_apostrophe(c) && prev.is_some_and(char::is_alphanumeric) {
            // "can't", "кров'ю": one word
        } else if matches!(c, '.' | ',')
            && prev.is_some_and(|p| p.is_ascii_digit())
            && next.is_some_and(|n| n.is_ascii_digit())
        {
            out.push('.');
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{b4}' | '\u{2bc}'
    )
}

/// Letters as the phrasings see them: lower case, without accents and other combining marks,
/// dotless i and ё as i and е.
fn folded(chars: impl Iterator<Item = char>) -> impl Iterator<Item = char> {
    chars
        .flat_map(char::to_lowercase)
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'ı' => 'i',
            'ё' => 'е',
            _ => c,
        })
}

/// One letter of a phrasing as [`normalize`] leaves it in a message.
fn fold(c: char) -> String {
    folded(std::iter::once(c)).collect()
}

/// Up to how many words (or, without spaces, characters) `..` skips.
const GAP_WORDS: usize = 6;
const GAP_CHARS: usize = 8;

/// Compiles one phrasing to a regular expression over [`normalize`]d text.
pub fn compile(
    phrase: &str,
    macros: &BTreeMap<String, String>,
    spaces: bool,
) -> Result<String, String> {
    let body = expand(phrase, macros, spaces, 0)?;
    let pattern = if spaces {
        format!(" (?:{body}) ")
    } else {
        format!("(?:{body})")
    };
    Ok(pattern)
}

/// Whether a compiled phrasing is a valid pattern by itself: asked only when a language's
/// patterns do not compile together, to name the phrasing at fault.
pub fn check(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn expand(
    phrase: &str,
    macros: &BTreeMap<String, String>,
    spaces: bool,
    depth: usize,
) -> Result<String, String> {
    if depth > 4 {
        return Err("macros nest too deep".into());
    }
    // the phrasing normalized as a message would be, but keeping the syntax's own characters
    let mut out = String::new();
    let mut chars = phrase.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let body = macros
                    .get(&name)
                    .ok_or_else(|| format!("no macro {{{name}}}"))?;
                out.push_str(&format!("(?:{})", expand(body, macros, spaces, depth + 1)?));
            }
            '.' if chars.peek() == Some(&'.') => {
                chars.next();
                if spaces {
                    // " .. " → any words in between: the spaces around are the phrase's own
                    out.push_str(&format!("(?:[^ ]+ ){{0,{GAP_WORDS}}}"));
                    while chars.peek() == Some(&' ') {
                        chars.next();
                    }
                    if out.ends_with(' ') {
                        // "a .. b": the space before `..` stays, the one after is in the gap
                    }
                } else {
                    // bytes: a Chinese character is three
                    out.push_str(&format!("(?s:.){{0,{}}}", GAP_CHARS * 3));
                }
            }
            '*' => out.push_str("[^ ]*"),
            '(' | ')' | '|' | '?' => out.push(c),
            '[' => {
                // a character class: passed through (digits: "3[89]"), or, with letters beyond
                // ASCII ("[қк]"), written as alternatives, since the patterns match bytes
                let class: String = chars.by_ref().take_while(|&c| c != ']').collect();
                if class.is_ascii() {
                    out.push_str(&format!("[{class}]"));
                } else if class.starts_with('^') || class.contains('-') {
                    return Err(format!("[{class}]: a class of non-ASCII letters is a list"));
                } else {
                    let alternatives: Vec<String> = class
                        .chars()
                        .map(|c| regex_syntax::escape(&fold(c)))
                        .collect();
                    out.push_str(&format!("(?:{})", alternatives.join("|")));
                }
            }
            '\\' => {
                // an escape, passed through (`\d`)
                out.push('\\');
                if let Some(c) = chars.next() {
                    out.push(c);
                }
            }
            ' ' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if is_apostrophe(c) => {}
            c if c.is_alphanumeric() => out.push_str(&regex_syntax::escape(&fold(c))),
            '.' => out.push_str("\\."),
            // any other punctuation separates words, as in a message
            _ => {
                if spaces && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
        }
    }
    Ok(out.trim_matches(' ').to_string())
}

/// The words one of which a message must contain for `phrase` to match it, found without
/// running its pattern: the rarest-looking required element (a word, or a group whose every
/// alternative gives such words, a macro's too). A stem keeps its `*`; a part of a word (glued
/// to a group or a macro) starts with `~`. `None` when the phrasing has no such words (it is
/// then tried on every message).
pub fn anchors(phrase: &str, macros: &BTreeMap<String, String>) -> Option<Vec<String>> {
    best_anchors(phrase, macros, 0)
}

fn best_anchors(
    phrase: &str,
    macros: &BTreeMap<String, String>,
    depth: usize,
) -> Option<Vec<String>> {
    if depth > 8 {
        return None;
    }
    if split_top(phrase, '|').len() > 1 {
        // alternatives at the top: each must give its words
        return alternatives_anchors(phrase, macros, depth + 1);
    }
    let mut best: Option<Vec<String>> = None;
    for element in top_level(phrase) {
        let candidate = match element {
            Element::Word(w) => Some(vec![w]),
            Element::Part(w) => Some(vec![format!("~{w}")]),
            Element::Group(body) => alternatives_anchors(&body, macros, depth + 1),
            Element::PartGroup(body) => alternatives_anchors(&body, macros, depth + 1).map(parts),
            Element::Other => None,
        };
        // the rarest-looking set: fewest words, whole words before parts, then the longest
        // shortest word
        if let Some(c) = candidate.filter(|c| c.iter().all(|w| long_enough(w))) {
            let score = |s: &Vec<String>| {
                let shortest = s
                    .iter()
                    .map(|w| {
                        w.trim_start_matches('~')
                            .trim_end_matches('*')
                            .chars()
                            .count()
                    })
                    .min()
                    .unwrap_or(0);
                let whole = s.iter().all(|w| !w.starts_with('~'));
                (std::cmp::Reverse(s.len()), whole, shortest)
            };
            if best.as_ref().is_none_or(|b| score(&c) > score(b)) {
                best = Some(c);
            }
        }
    }
    best
}

/// The words of a group's body (or a macro's): the union of each alternative's own, if every
/// alternative has some (`his|her chest` has none: "his" is too short).
fn alternatives_anchors(
    body: &str,
    macros: &BTreeMap<String, String>,
    depth: usize,
) -> Option<Vec<String>> {
    if depth > 8 {
        return None;
    }
    if let Some(name) = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')) {
        return best_anchors(macros.get(name)?, macros, depth + 1);
    }
    let mut words = Vec::new();
    for alternative in split_top(body, '|') {
        words.extend(best_anchors(&alternative, macros, depth + 1)?);
    }
    words.sort();
    words.dedup();
    (!words.is_empty()).then_some(words)
}

/// Words as parts of words: looked for anywhere, not only between spaces.
fn parts(words: Vec<String>) -> Vec<String> {
    words
        .into_iter()
        .map(|w| {
            if w.starts_with('~') {
                w
            } else {
                format!("~{w}")
            }
        })
        .collect()
}

/// Whether a word is worth looking for: three letters, or two Chinese characters.
fn long_enough(word: &str) -> bool {
    let w = word.trim_start_matches('~').trim_end_matches('*');
    w.chars().count() >= 3 || (w.chars().count() >= 2 && w.chars().all(|c| c >= '\u{2E80}'))
}

/// One element of a phrasing at the top level.
enum Element {
    /// A plain word (letters or digits, folded), or a stem ending in `*`.
    Word(String),
    /// A group that must match: its body (alternatives separated by `|`), or a macro's.
    Group(String),
    /// A plain word glued to a group or a macro ("(و|ف)?حمى", "h(a|ae)matom"): a part of a
    /// word in the message, looked for as such.
    Part(String),
    /// A group glued to a word or another group ("{pre}(اسهال|سهال){s}"): its alternatives are
    /// parts of a word.
    PartGroup(String),
    /// Anything else: a gap, an optional group, a class, an escape.
    Other,
}

fn top_level(phrase: &str) -> Vec<Element> {
    let chars: Vec<char> = phrase.trim().chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // the element before ends where this one starts: both are parts of one word
    let mut glued = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '(' {
            let mut depth = 0;
            let start = i;
            while i < chars.len() {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let body: String = chars[start + 1..i.min(chars.len())].iter().collect();
            i += 1;
            // optional or repeated: not required
            if matches!(chars.get(i), Some('?' | '*')) {
                // an optional part glued to what follows ("(و|ف)?حمى"): what follows is not a
                // whole word either, unless the part ends with its own space ("(very )?sick")
                i += 1;
                glued = !body.ends_with(' ')
                    && chars
                        .get(i)
                        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '(' | '['));
                out.push(Element::Other);
            } else if chars.get(i) == Some(&'{') {
                // a repetition ("{2}") is not required; a macro glued after ("{s}") makes the
                // group a part of a word
                let repetition = chars[i + 1..]
                    .iter()
                    .take_while(|&&c| c != '}')
                    .all(|c| c.is_ascii_digit() || *c == ',');
                out.push(if repetition {
                    Element::Other
                } else {
                    Element::PartGroup(body)
                });
            } else if glued
                || chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '[')
            {
                // glued to a suffix ("(a|b)c"): no whole word to look for
                glued = chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '[');
                out.push(Element::PartGroup(body));
            } else {
                out.push(Element::Group(body));
            }
        } else if c == '{' {
            let name: String = chars[i + 1..].iter().take_while(|&&c| c != '}').collect();
            let macro_glued = glued;
            i += name.chars().count() + 2;
            // what follows a macro without a space is a part of the same word
            glued = chars
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || matches!(c, '(' | '[' | '{'));
            out.push(if macro_glued || glued {
                Element::PartGroup(format!("{{{name}}}"))
            } else {
                Element::Group(format!("{{{name}}}"))
            });
        } else if c.is_alphanumeric() || is_apostrophe(c) {
            let mut word = String::new();
            // whether something other than letters follows the word's literal start (a class,
            // an escape, an optional letter): then only that start is required
            let mut tail = false;
            while i < chars.len()
                && !matches!(chars[i], ' ' | '(' | ')' | '|' | '{')
                && !(chars[i] == '.' && chars.get(i + 1) == Some(&'.'))
            {
                let c = chars[i];
                if tail {
                } else if c.is_alphanumeric() {
                    word.push_str(&fold(c));
                } else if is_apostrophe(c) {
                } else if c == '*' && (i + 1 == chars.len() || chars[i + 1] == ' ') {
                    word.push('*');
                } else if c == '?' {
                    // "legs?": the letter before is optional
                    word.pop();
                    tail = true;
                } else {
                    tail = true;
                }
                i += 1;
            }
            // a word glued to a group after it ("ес(і|и)нен", "حرار(ة|ه)") or with a class in
            // it ("3[89]") is looked for by its start; one glued to what comes before it, as a
            // part of a word
            let glued_after = matches!(chars.get(i), Some('(' | '{'));
            if (tail || glued_after) && !word.ends_with('*') {
                word.push('*');
            }
            out.push(if word.trim_end_matches('*').is_empty() {
                Element::Other
            } else if glued {
                Element::Part(word)
            } else {
                Element::Word(word)
            });
            glued = glued_after;
            continue;
        } else {
            glued = false;
            i += 1;
        }
    }
    out
}

/// `text` split at `sep` outside parentheses.
fn split_top(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == sep && depth == 0 {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A phrasing compiled as the check compiles it, matching `&str` for the tests' sake.
    struct Re(regex::bytes::Regex);

    impl Re {
        fn is_match(&self, text: &str) -> bool {
            self.0.is_match(text.as_bytes())
        }
    }

    fn re(phrase: &str) -> Re {
        let mut macros = BTreeMap::new();
        macros.insert("person".to_string(), "(he|she|dad)".to_string());
        let pattern = compile(phrase, &macros, true).expect("compiles");
        Re(regex::bytes::RegexBuilder::new(&pattern)
            .unicode(false)
            .build()
            .expect("regex"))
    }

    #[test]
    fn normalizing_drops_accents_apostrophes_and_punctuation() {
        assert_eq!(normalize("He CAN'T breathe!!"), " he cant breathe ");
        assert_eq!(normalize("Temp 38,5°C"), " temp 38.5 c ");
        assert_eq!(normalize("Тато блює кров'ю"), " тато блює кровю ");
        assert_eq!(normalize("minha mãe está"), " minha mae esta ");
        assert_eq!(normalize("Babam nefes alamıyor"), " babam nefes alamiyor ");
        assert_eq!(normalize("我妈妈昏迷了，叫不醒"), " 我妈妈昏迷了 叫不醒 ");
        assert_eq!(normalize(""), " ");
    }

    #[test]
    fn phrasings_match_whole_words() {
        let r = re("cant breathe");
        assert!(r.is_match(&normalize("he can't breathe")));
        assert!(!r.is_match(&normalize("he cant breathew")));
        assert!(re("breath*").is_match(&normalize("breathless")));
        assert!(!re("breath*").is_match(&normalize("abreath")));
    }

    #[test]
    fn gaps_alternatives_and_macros() {
        let r = re("cant .. breathe");
        assert!(r.is_match(" cant breathe "));
        assert!(r.is_match(" cant really properly breathe "));
        assert!(!r.is_match(" cant one two three four five six seven breathe "));
        let r = re("{person} (is )?confused");
        assert!(r.is_match(" dad confused "));
        assert!(r.is_match(" she is confused "));
        assert!(!r.is_match(" im confused "));
        assert!(re("temp* 3[89]").is_match(&normalize("temperature 38")));
        assert!(re("temp* 3[89].[0-9]").is_match(&normalize("temperature 38,3")));
        assert!(!re("temp* 3[89]").is_match(&normalize("temperature 38.3")));
    }

    #[test]
    fn phrasings_are_folded_as_messages_are() {
        assert!(re("mãe não consegue respirar").is_match(&normalize("mae nao consegue respirar")));
        assert!(re("[қк]ан").is_match(&normalize("қан")));
        assert!(re("[қк]ан").is_match(&normalize("кан")));
        assert!(re("can't").is_match(&normalize("cant")));
    }

    #[test]
    fn anchors_are_the_words_a_match_needs() {
        let mut macros = BTreeMap::new();
        macros.insert("person".to_string(), "(he|she|my (mum|dad))".to_string());
        let a = |p: &str| anchors(p, &macros);
        assert_eq!(a("cant .. breathe"), Some(vec!["breathe".to_string()]));
        assert_eq!(a("(his|her) chest"), Some(vec!["chest".to_string()]));
        assert_eq!(a("breath*"), Some(vec!["breath*".to_string()]));
        assert_eq!(
            a("(fever|high temp*)"),
            Some(vec!["fever".to_string(), "high".to_string()])
        );
        assert_eq!(
            a("{person} is"),
            None,
            "his and he are too short to look for"
        );
        assert_eq!(a("(very )?confused"), Some(vec!["confused".to_string()]));
        assert_eq!(a("3[89].[0-9]"), None);
        assert_eq!(
            a("fever|shivers"),
            Some(vec!["fever".to_string(), "shivers".to_string()])
        );
        assert_eq!(a("mãe não"), Some(vec!["mae".to_string()]));
        assert_eq!(a("体温..(3[89]|4[012])"), Some(vec!["体温".to_string()]));
        // parts of a word glued to a group are not whole words
        assert_eq!(a("ес(і|и|i)нен тан*"), Some(vec!["тан*".to_string()]));
        assert_eq!(a("(қ|к)ан кус"), Some(vec!["кус".to_string()]));
        // nor is a word glued to an optional part before it ("والحمى")
        assert_eq!(a("(و|ف)?حمى شديده"), Some(vec!["شديده".to_string()]));
        assert_eq!(
            a("(bi)?(yestafreg|yistafrigh) dam*"),
            Some(vec!["dam*".to_string()])
        );
        assert_eq!(a("(و|ف)?حمى"), Some(vec!["~حمى".to_string()]));
        assert_eq!(a("h(a|ae)matom*"), Some(vec!["~matom*".to_string()]));
    }

    #[test]
    fn mistakes_are_reported() {
        let none = BTreeMap::new();
        assert!(compile("{nothing}", &none, true).is_err());
        let unclosed = compile("(unclosed", &none, true).expect("written out");
        assert!(check(&unclosed).is_err());
    }
}
