//! Rule-based intents, checked before any search: emergencies (first, on every message),
//! requests for a person, smalltalk, and questions about one person's treatment. The rules are
//! data (`intents.toml`) compiled into the binary.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex_automata::meta::{self, Regex};
use serde::Deserialize;

const RULES: &str = include_str!("intents.toml");

/// Patterns per intent, then per language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    emergency: BTreeMap<String, Vec<String>>,
    handoff: BTreeMap<String, Vec<String>>,
    greeting: BTreeMap<String, Vec<String>>,
    thanks: BTreeMap<String, Vec<String>>,
    identity: BTreeMap<String, Vec<String>>,
    advice: BTreeMap<String, Vec<String>>,
}

/// Kinds of smalltalk, each with its own reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smalltalk {
    Greeting,
    Thanks,
    Identity,
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct Intents {
    /// (language, pattern) — the language picks the emergency notice's translation.
    emergency: Vec<(String, Regex)>,
    handoff: Regex,
    greeting: Regex,
    thanks: Regex,
    identity: Regex,
    advice: Regex,
}

/// A rule that does not compile. The rules ship with the binary, so tests catch this.
#[derive(Debug, Clone, thiserror::Error)]
#[error("intent rules (src/core/intents.toml): {0}")]
pub struct RuleError(String);

/// `text` lower-cased, as the rules expect: callers mostly pass it so already.
fn lower(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_uppercase) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// One regex for all of `map`'s patterns.
///
/// Compiling the rules was most of `faqbot ask`'s start-up, so they are compiled lean: they are
/// matched against lower-cased text ([`lower`]) and are lower case themselves (a test checks),
/// so no `(?i)`; `\b` and `\w` mean ASCII word characters ([`ascii_words`]); and no literal
/// prefilter is built, which halves the compile time and costs nothing on messages this short.
fn one(map: &BTreeMap<String, Vec<String>>) -> Result<Regex, RuleError> {
    let parts: Vec<String> = map
        .values()
        .flatten()
        .map(|p| format!("(?:{})", ascii_words(p)))
        .collect();
    Regex::builder()
        .configure(meta::Config::new().auto_prefilter(false))
        .build(&parts.join("|"))
        .map_err(|e| RuleError(e.to_string()))
}

/// `pattern` with its `\b` and `\w` outside brackets made ASCII (`(?-u:\b)`,
/// `(?-u:\w)`): the Unicode tables made the rules slow to compile, and the rules are English
/// ones (the others use no word boundaries); an English word next to Chinese or Arabic text
/// still has its boundary, which Unicode's rule would deny.
fn ascii_words(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('b' | 'w')) if !in_class => {
                    out.push_str("(?-u:\\");
                    out.push(e);
                    out.push(')');
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The rules compiled once for the whole process: they ship with the binary and never change.
static SHARED: OnceLock<Result<Intents, RuleError>> = OnceLock::new();

impl Intents {
    /// The process's compiled rules: compiled by the first caller (or by [`Intents::prepare`]'s
    /// thread, then waited for).
    pub fn shared() -> Result<&'static Intents, RuleError> {
        SHARED
            .get_or_init(Intents::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Starts compiling the rules on another thread, so that a command can open its index
    /// meanwhile: compiling them is the larger part of `faqbot ask`'s start-up.
    pub fn prepare() {
        std::thread::spawn(|| {
            let _ = Intents::shared();
        });
    }

    pub fn new() -> Result<Intents, RuleError> {
        let rules: Rules = toml::from_str(RULES).map_err(|e| RuleError(e.to_string()))?;
        let emergency = rules
            .emergency
            .iter()
            .map(|(lang, patterns)| {
                let single = BTreeMap::from([(lang.clone(), patterns.clone())]);
                one(&single).map(|re| (lang.clone(), re))
            })
            .collect::<Result<_, _>>()?;
        Ok(Intents {
            emergency,
            handoff: one(&rules.handoff)?,
            greeting: one(&rules.greeting)?,
            thanks: one(&rules.thanks)?,
            identity: one(&rules.identity)?,
            advice: one(&rules.advice)?,
        })
    }

    /// The language of the first emergency rule that matches, if any. English rules are tried
    /// first: most messages are in English, and brand-new writers mix languages.
    pub fn emergency(&self, text: &str) -> Option<&str> {
        let text = &*lower(text);
        let english = self.emergency.iter().filter(|(l, _)| l == "en");
        let others = self.emergency.iter().filter(|(l, _)| l != "en");
        english
            .chain(others)
            .find(|(_, re)| re.is_match(text))
            .map(|(lang, _)| lang.as_str())
    }

    pub fn handoff(&self, text: &str) -> bool {
        self.handoff.is_match(&*lower(text))
    }

    pub fn smalltalk(&self, text: &str) -> Option<Smalltalk> {
        let text = lower(text);
        let text = text.trim();
        if self.greeting.is_match(text) {
            Some(Smalltalk::Greeting)
        } else if self.thanks.is_match(text) {
            Some(Smalltalk::Thanks)
        } else if self.identity.is_match(text) {
            Some(Smalltalk::Identity)
        } else {
            None
        }
    }

    pub fn advice(&self, text: &str) -> bool {
        self.advice.is_match(&*lower(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intents() -> Intents {
        Intents::new().expect("rules compile")
    }

    /// Every pattern is lower case (outside escapes such as `\\W` or `\\p{Lu}`): the text is
    /// lower-cased before matching, so an upper-case letter could never match.
    #[test]
    fn patterns_are_lower_case() {
        let rules: Rules = toml::from_str(RULES).expect("rules parse");
        let escapes = regex::Regex::new(r"\\[pP]\{[^}]*\}|\\.").expect("regex");
        for map in [
            &rules.emergency,
            &rules.handoff,
            &rules.greeting,
            &rules.thanks,
            &rules.identity,
            &rules.advice,
        ] {
            for pattern in map.values().flatten() {
                let letters = escapes.replace_all(pattern, "");
                assert!(
                    letters.chars().all(|c| c.to_lowercase().eq([c])),
                    "upper case in {pattern}"
                );
            }
        }
    }

    #[test]
    fn word_escapes_become_ascii_outside_brackets() {
        assert_eq!(
            ascii_words(r"\bchest (pain|\w+)\b [\w\s]\\b"),
            r"(?-u:\b)chest (pain|(?-u:\w)+)(?-u:\b) [\w\s]\\b"
        );
        // an English red flag right after Chinese text still has its word boundary
        assert_eq!(intents().emergency("我爸爸heart attack"), Some("en"));
    }

    #[test]
    fn red_flags_in_six_languages() {
        let i = intents();
        for (text, lang) in [
            ("my husband can't breathe", "en"),
            ("she has chest pain since an hour", "en"),
            ("dad passed out and won't wake up", "en"),
            ("he is having a seizure", "en"),
            ("bleeding heavily from the nose", "en"),
            ("fever of 39 after chemo yesterday", "en"),
            ("i want to kill myself", "en"),
            ("my mother says she doesn't want to live anymore", "en"),
            ("mi padre no puede respirar", "es"),
            ("elle a une douleur à la poitrine", "fr"),
            ("мама без сознания", "ru"),
            ("أبي فاقد الوعي", "ar"),
            ("我爸爸呼吸困难", "zh"),
            ("我不想活了", "zh"),
            ("er ist bewusstlos", "de"),
        ] {
            assert_eq!(i.emergency(text), Some(lang), "{text}");
        }
    }

    #[test]
    fn ordinary_questions_are_not_emergencies() {
        let i = intents();
        for text in [
            "what is car-t cell therapy",
            "does supportive care mean giving up",
            "can immunotherapy work again after it failed",
            "fatigue pain insomnia after many lines of therapy",
            "what are the side effects of bispecific antibodies",
            "how long does an mdt review take",
            "is it worth a second opinion",
        ] {
            assert_eq!(i.emergency(text), None, "{text}");
        }
    }

    #[test]
    fn handoff_smalltalk_and_advice() {
        let i = intents();
        assert!(i.handoff("talk to human"));
        assert!(i.handoff("can i speak with a coordinator?"));
        assert!(i.handoff("I want to talk to a real person please"));
        assert!(!i.handoff("what can caregivers do during this stage"));
        assert!(!i.handoff("are transportation coordinators part of the mdt"));
        assert_eq!(i.smalltalk("hello"), Some(Smalltalk::Greeting));
        assert_eq!(i.smalltalk("Good morning!"), Some(Smalltalk::Greeting));
        assert_eq!(i.smalltalk("thanks!"), Some(Smalltalk::Thanks));
        assert_eq!(
            i.smalltalk("ok thank you so much 🙏"),
            Some(Smalltalk::Thanks)
        );
        assert_eq!(i.smalltalk("are you a bot?"), Some(Smalltalk::Identity));
        assert_eq!(i.smalltalk("hello, what are ADCs?"), None);
        assert!(i.advice("how much opdivo should she take"));
        assert!(i.advice("should he stop chemotherapy?"));
        assert!(i.advice("can i give paracetamol with keytruda"));
        assert!(!i.advice("what is TIL therapy?"));
    }
}
