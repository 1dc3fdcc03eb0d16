//! Rule-based intents, checked before any search: emergencies (first, on every message),
//! requests for a person, smalltalk, and questions about one person's treatment. The rules are
//! data (`intents.toml`) compiled into the binary.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex_automata::dfa::{dense, Automaton};
use regex_automata::Input;

/// Bytes aligned as a DFA must be to be read in place.
#[repr(C, align(4))]
struct Aligned<B: ?Sized>(B);

// EMERGENCY, HANDOFF, GREETING, THANKS, FAREWELL, IDENTITY and ADVICE: the rules as DFAs, by build.rs
include!(concat!(env!("OUT_DIR"), "/intents.rs"));

/// Kinds of smalltalk, each with its own reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smalltalk {
    Greeting,
    /// Thanks and praise ("that was really useful").
    Thanks,
    Farewell,
    /// "Are you a bot?", "am I talking to a real person?"
    Identity,
}

type Dfa = dense::DFA<&'static [u32]>;

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct Intents {
    /// (language, rules) — the language picks the emergency notice's translation.
    emergency: Vec<(&'static str, Dfa)>,
    handoff: Dfa,
    greeting: Dfa,
    thanks: Dfa,
    farewell: Dfa,
    identity: Dfa,
    advice: Dfa,
}

/// Compiled rules that cannot be read. They are built into the binary, so tests catch this.
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

/// Reads a DFA in place, without checking it: checking reads all 7 MB of them, which made it
/// the larger part of `faqbot ask`'s start-up. The tests check every one (`checked`).
fn load(bytes: &'static Aligned<[u8]>) -> Result<Dfa, RuleError> {
    // SAFETY: `from_bytes_unchecked` needs bytes that `DFA::to_bytes_*` wrote in this
    // target's byte order with this version of regex-automata. They are: build.rs wrote them
    // in this build, with the version Cargo.lock pins for both, in CARGO_CFG_TARGET_ENDIAN's
    // order, and `Aligned` gives them the alignment a DFA needs. The test
    // `every_dfa_passes_the_full_check` runs the checking reader over each.
    unsafe { dense::DFA::from_bytes_unchecked(&bytes.0) }
        .map(|(dfa, _)| dfa)
        .map_err(|e| RuleError(e.to_string()))
}

/// Whether any of the DFA's rules matches somewhere in `text`. The DFAs have no quit bytes
/// (their word boundaries are ASCII), so a search cannot fail; a test checks that on text in
/// many scripts.
fn is_match(dfa: &Dfa, text: &str) -> bool {
    dfa.try_search_fwd(&Input::new(text).earliest(true))
        .is_ok_and(|m| m.is_some())
}

/// The rules read once for the whole process: they ship with the binary and never change.
static SHARED: OnceLock<Result<Intents, RuleError>> = OnceLock::new();

impl Intents {
    /// The process's rules, read by the first caller.
    pub fn shared() -> Result<&'static Intents, RuleError> {
        SHARED
            .get_or_init(Intents::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads the rules compiled into the binary.
    pub fn new() -> Result<Intents, RuleError> {
        let emergency = EMERGENCY
            .iter()
            .map(|&(lang, bytes)| load(bytes).map(|dfa| (lang, dfa)))
            .collect::<Result<_, _>>()?;
        Ok(Intents {
            emergency,
            handoff: load(HANDOFF)?,
            greeting: load(GREETING)?,
            thanks: load(THANKS)?,
            farewell: load(FAREWELL)?,
            identity: load(IDENTITY)?,
            advice: load(ADVICE)?,
        })
    }

    /// The language of the first emergency rule that matches, if any. English rules are tried
    /// first: most messages are in English, and brand-new writers mix languages.
    pub fn emergency(&self, text: &str) -> Option<&str> {
        let text = &*lower(text);
        let english = self.emergency.iter().filter(|(l, _)| *l == "en");
        let others = self.emergency.iter().filter(|(l, _)| *l != "en");
        english
            .chain(others)
            .find(|(_, dfa)| is_match(dfa, text))
            .map(|&(lang, _)| lang)
    }

    pub fn handoff(&self, text: &str) -> bool {
        is_match(&self.handoff, &lower(text))
    }

    pub fn smalltalk(&self, text: &str) -> Option<Smalltalk> {
        let text = lower(text);
        let text = text.trim();
        if is_match(&self.greeting, text) {
            Some(Smalltalk::Greeting)
        } else if is_match(&self.farewell, text) {
            Some(Smalltalk::Farewell)
        } else if is_match(&self.thanks, text) {
            Some(Smalltalk::Thanks)
        } else if is_match(&self.identity, text) {
            Some(Smalltalk::Identity)
        } else {
            None
        }
    }

    pub fn advice(&self, text: &str) -> bool {
        is_match(&self.advice, &lower(text))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    include!("intent_patterns.rs");

    const RULES: &str = include_str!("intents.toml");

    /// Patterns per intent, then per language.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rules {
        emergency: BTreeMap<String, Vec<String>>,
        handoff: BTreeMap<String, Vec<String>>,
        greeting: BTreeMap<String, Vec<String>>,
        thanks: BTreeMap<String, Vec<String>>,
        farewell: BTreeMap<String, Vec<String>>,
        identity: BTreeMap<String, Vec<String>>,
        advice: BTreeMap<String, Vec<String>>,
        words: BTreeMap<String, Vec<String>>,
    }

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
            &rules.farewell,
            &rules.identity,
            &rules.advice,
            &rules.words,
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

    #[test]
    fn smalltalk_in_its_common_forms_and_nothing_more() {
        let i = intents();
        for (text, kind) in [
            ("thanks a lot, that was really useful 🙏", Smalltalk::Thanks),
            (
                "thank you, honestly this helped more than the hospital did",
                Smalltalk::Thanks,
            ),
            ("you've been a great help", Smalltalk::Thanks),
            ("great answer thank u", Smalltalk::Thanks),
            ("Much appreciated, god bless 🙏🏻", Smalltalk::Thanks),
            ("this is very clear, thank you so much!!", Smalltalk::Thanks),
            ("that makes sense :)", Smalltalk::Thanks),
            ("👍", Smalltalk::Thanks),
            ("bye for now", Smalltalk::Farewell),
            ("ok thanks, goodnight", Smalltalk::Farewell),
            ("ok bye 👍", Smalltalk::Farewell),
            ("that's all for now, take care", Smalltalk::Farewell),
            ("salam, hello", Smalltalk::Greeting),
            ("hi there, I have a question", Smalltalk::Greeting),
            (
                "am I talking to a person or a machine?",
                Smalltalk::Identity,
            ),
            ("am I chatting with a machine", Smalltalk::Identity),
            ("is this AI or a human", Smalltalk::Identity),
            ("hello, are you a bot?", Smalltalk::Identity),
            ("is anyone there?", Smalltalk::Identity),
            ("who am i talking to", Smalltalk::Identity),
        ] {
            assert_eq!(i.smalltalk(text), Some(kind), "{text}");
        }
        // a question with the pleasantries is a question
        for text in [
            "thanks, and what about car-t?",
            "that was helpful but what about trials",
            "bye the way, is til approved",
            "thank you for the info about car-t, what about til?",
            "keytruda helped a lot but now it stopped working",
            "is this treatment a real option",
            "are you sure car-t works for solid tumors",
            "hello, my father has lung cancer",
        ] {
            assert_eq!(i.smalltalk(text), None, "{text}");
        }
        for text in [
            "put me through to your team",
            "pls have someone whatsapp me",
            "can your coordinator email me today",
        ] {
            assert!(i.handoff(text), "{text}");
        }
        assert!(!i.handoff("can the mdt review my dad's scans"));
    }

    /// The DFAs that `load` reads without checking pass the full check.
    #[test]
    fn every_dfa_passes_the_full_check() {
        let all = EMERGENCY
            .iter()
            .map(|&(_, bytes)| bytes)
            .chain([HANDOFF, GREETING, THANKS, FAREWELL, IDENTITY, ADVICE]);
        for bytes in all {
            dense::DFA::from_bytes(&bytes.0).expect("a valid DFA");
        }
    }

    /// The DFAs built by `build.rs` answer as the regex crate does for the same rules, on
    /// messages for every rule group and in many scripts, and no search fails.
    #[test]
    fn dfas_agree_with_the_regex_crate() {
        let rules: Rules = toml::from_str(RULES).expect("rules parse");
        let i = intents();
        let regex = |patterns: Vec<&String>| {
            regex::Regex::new(&alternation(patterns)).expect("the rules compile")
        };
        let mut groups: Vec<(String, &Dfa, regex::Regex)> = Vec::new();
        assert_eq!(i.emergency.len(), rules.emergency.len());
        for (lang, dfa) in &i.emergency {
            let patterns = rules.emergency[*lang].iter().collect();
            groups.push((format!("emergency {lang}"), dfa, regex(patterns)));
        }
        let expanded = |map: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
            map.iter()
                .map(|(lang, patterns)| {
                    let patterns = patterns
                        .iter()
                        .map(|p| expand_words(p, &rules.words).expect("known words"))
                        .collect();
                    (lang.clone(), patterns)
                })
                .collect()
        };
        for (name, dfa, map) in [
            ("handoff", &i.handoff, &rules.handoff),
            ("greeting", &i.greeting, &rules.greeting),
            ("thanks", &i.thanks, &rules.thanks),
            ("farewell", &i.farewell, &rules.farewell),
            ("identity", &i.identity, &rules.identity),
            ("advice", &i.advice, &rules.advice),
        ] {
            let map = expanded(map);
            groups.push((
                name.to_string(),
                dfa,
                regex(map.values().flatten().collect()),
            ));
        }
        let long = format!("{} but now he can't breathe", "so tired ".repeat(1200));
        let corpus = [
            "my husband can't breathe",
            "he is not breathing",
            "chest pain since an hour",
            "stroke, his face is drooping",
            "a stroke years ago, now what",
            "fever 39.5 during chemo",
            "temperature after immunotherapy and shivering",
            "i want to kill myself",
            "self-harm",
            "overdosed on pills",
            "mi padre no puede respirar",
            "elle a une douleur à la poitrine",
            "er ist bewusstlos",
            "мама без сознания",
            "أبي فاقد الوعي",
            "我爸爸呼吸困难",
            "我爸爸heart attack",
            "talk to human",
            "/coordinator",
            "can i speak with a coordinator?",
            "call me back",
            "hello",
            "hi there how are you 👋",
            "привет",
            "ok thank you so much 🙏",
            "thanks!!",
            "are you a bot?",
            "who are you",
            "how much opdivo should she take",
            "should my mum stop chemo",
            "is it safe to mix them",
            "interactions with grapefruit",
            "what is car-t cell therapy",
            "does supportive care mean giving up",
            "keytruda stopped working, what now?",
            "\u{202e}שלום עולם",
            "emoji only 🎗️🎗️",
            "quotes \"and\" [brackets] field:value",
            "",
            "   ",
            "breathe", // a word of a rule, alone
            "strokes of luck",
            long.as_str(),
        ];
        for text in corpus {
            let text = text.to_lowercase();
            for (name, dfa, re) in &groups {
                let found = dfa
                    .try_search_fwd(&Input::new(&text).earliest(true))
                    .expect("a DFA search never fails");
                assert_eq!(found.is_some(), re.is_match(&text), "{name} on {text:?}");
            }
        }
    }
}
