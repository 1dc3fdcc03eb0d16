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
    let chars: Vec<char> = text
        .chars()
        .take(crate::text::MAX_INPUT_CHARS)
        .flat_map(char::to_lowercase)
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'ı' => 'i',
            'ё' => 'е',
            _ => c,
        })
        .collect();
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
    // each pattern is checked alone too, so a mistake names its phrasing
    regex_syntax::Parser::new()
        .parse(&pattern)
        .map_err(|e| e.to_string())?;
    Ok(pattern)
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
                    out.push_str(&format!(".{{0,{GAP_CHARS}}}"));
                }
            }
            '*' => out.push_str("[^ ]*"),
            '(' | ')' | '|' | '?' => out.push(c),
            '[' => {
                // a character class, passed through (digits: "3[89]")
                out.push('[');
                for c in chars.by_ref() {
                    out.push(c);
                    if c == ']' {
                        break;
                    }
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
            c if c.is_alphanumeric() => {
                let folded: String = c
                    .to_lowercase()
                    .nfd()
                    .filter(|c| !is_combining_mark(*c))
                    .map(|c| match c {
                        'ı' => 'i',
                        'ё' => 'е',
                        _ => c,
                    })
                    .collect();
                out.push_str(&regex_syntax::escape(&folded));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn re(phrase: &str) -> regex::Regex {
        let mut macros = BTreeMap::new();
        macros.insert("person".to_string(), "(he|she|dad)".to_string());
        regex::Regex::new(&compile(phrase, &macros, true).expect("compiles")).expect("regex")
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
        assert!(re("can't").is_match(&normalize("cant")));
    }

    #[test]
    fn mistakes_are_reported() {
        let none = BTreeMap::new();
        assert!(compile("{nothing}", &none, true).is_err());
        assert!(compile("(unclosed", &none, true).is_err());
    }
}
