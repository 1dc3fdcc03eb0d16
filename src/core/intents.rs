//! Rule-based intents, checked before any search: requests for a person, smalltalk, and
//! questions about one person's treatment. The rules are data (`intents.toml`) shipped with the
//! binary and compiled into one regular expression per intent at start. (Emergencies have a
//! model of their own: [`super::triage`].)

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

const RULES: &str = include_str!("intents.toml");

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

/// The rules of `intents.toml`: patterns per intent, then per language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    handoff: BTreeMap<String, Vec<String>>,
    greeting: BTreeMap<String, Vec<String>>,
    thanks: BTreeMap<String, Vec<String>>,
    farewell: BTreeMap<String, Vec<String>>,
    identity: BTreeMap<String, Vec<String>>,
    advice: BTreeMap<String, Vec<String>>,
    /// Phrase lists the smalltalk rules name as `@{name}`.
    words: BTreeMap<String, Vec<String>>,
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct Intents {
    handoff: Regex,
    greeting: Regex,
    thanks: Regex,
    farewell: Regex,
    identity: Regex,
    advice: Regex,
}

/// Rules that do not compile. They ship with the binary, so tests catch this.
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

/// One pattern for an intent: any of its rules, in any language, with their `@{name}`s
/// written out.
fn compile(
    name: &str,
    rules: &BTreeMap<String, Vec<String>>,
    words: &BTreeMap<String, Vec<String>>,
) -> Result<Regex, RuleError> {
    let patterns = rules
        .values()
        .flatten()
        .map(|p| expand_words(p, words).map(|p| format!("(?:{p})")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RuleError(format!("[{name}]: {e}")))?;
    Regex::new(&patterns.join("|")).map_err(|e| RuleError(format!("[{name}]: {e}")))
}

/// `pattern` with each `@{name}` replaced by the phrases listed under `name` in the rules'
/// `[words]` table, as one group `(?:a|b|…)`: so that the smalltalk rules, which must match a
/// whole message made only of such phrases, can be read as sentences rather than as one long
/// expression. A phrase may use `@{…}` itself (up to 8 levels). An unknown name, or `@{`
/// without its `}`, is an error naming it.
fn expand_words(pattern: &str, words: &BTreeMap<String, Vec<String>>) -> Result<String, String> {
    let mut out = pattern.to_string();
    // one pass replaces every name written at one level of nesting
    for _ in 0..8 {
        if !out.contains("@{") {
            return Ok(out);
        }
        let mut next = String::with_capacity(out.len() * 4);
        let mut rest = out.as_str();
        while let Some(start) = rest.find("@{") {
            let end = rest[start..]
                .find('}')
                .map(|i| start + i)
                .ok_or_else(|| format!("`@{{` without `}}` in {pattern:?}"))?;
            let name = &rest[start + 2..end];
            let phrases = words
                .get(name)
                .ok_or_else(|| format!("@{{{name}}} in {pattern:?}: no such list in [words]"))?;
            next.push_str(&rest[..start]);
            next.push_str(&format!("(?:{})", phrases.join("|")));
            rest = &rest[end + 1..];
        }
        next.push_str(rest);
        out = next;
    }
    if out.contains("@{") {
        Err(format!(
            "{pattern:?}: [words] nested more than 8 levels deep"
        ))
    } else {
        Ok(out)
    }
}

/// The rules read once for the whole process: they ship with the binary and never change.
static SHARED: OnceLock<Result<Intents, RuleError>> = OnceLock::new();

impl Intents {
    /// The process's rules, compiled by the first caller.
    pub fn shared() -> Result<&'static Intents, RuleError> {
        SHARED
            .get_or_init(Intents::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Compiles the rules shipped with the binary.
    pub fn new() -> Result<Intents, RuleError> {
        let rules: Rules = toml::from_str(RULES).map_err(|e| RuleError(e.to_string()))?;
        let w = &rules.words;
        Ok(Intents {
            handoff: compile("handoff", &rules.handoff, w)?,
            greeting: compile("greeting", &rules.greeting, w)?,
            thanks: compile("thanks", &rules.thanks, w)?,
            farewell: compile("farewell", &rules.farewell, w)?,
            identity: compile("identity", &rules.identity, w)?,
            advice: compile("advice", &rules.advice, w)?,
        })
    }

    pub fn handoff(&self, text: &str) -> bool {
        self.handoff.is_match(&lower(text))
    }

    pub fn smalltalk(&self, text: &str) -> Option<Smalltalk> {
        let text = lower(text);
        let text = text.trim();
        if self.greeting.is_match(text) {
            Some(Smalltalk::Greeting)
        } else if self.farewell.is_match(text) {
            Some(Smalltalk::Farewell)
        } else if self.thanks.is_match(text) {
            Some(Smalltalk::Thanks)
        } else if self.identity.is_match(text) {
            Some(Smalltalk::Identity)
        } else {
            None
        }
    }

    pub fn advice(&self, text: &str) -> bool {
        self.advice.is_match(&lower(text))
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
        let escapes = Regex::new(r"\\[pP]\{[^}]*\}|\\.").expect("regex");
        for map in [
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
            ("is this a real person answering?", Smalltalk::Identity),
            // thanks for patience and time, typed short
            (
                "thank you so much for your help with all this",
                Smalltalk::Thanks,
            ),
            ("thank you for being so patient with me", Smalltalk::Thanks),
            ("thanks for listening", Smalltalk::Thanks),
            ("thank you for your time today 🙏", Smalltalk::Thanks),
            ("really appreciate you taking the time", Smalltalk::Thanks),
            ("thank u sm", Smalltalk::Thanks),
            ("many many thanks ❤️", Smalltalk::Thanks),
            // the formal letter, praise of the team, and thanks in the families' languages
            (
                "dear team, i wish to express my sincere gratitude for your kind assistance. with warm regards.",
                Smalltalk::Thanks,
            ),
            ("you guys are amazing, great bot 👍", Smalltalk::Thanks),
            ("merci beaucoup pour votre aide", Smalltalk::Thanks),
            ("дякую за допомогу!", Smalltalk::Thanks),
            ("merhaba, çok teşekkürler", Smalltalk::Thanks),
            ("сәлеметсіз бе!", Smalltalk::Greeting),
            ("is this a real person i'm talking to?", Smalltalk::Identity),
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
            "thanks for explaining, what about til?",
        ] {
            assert_eq!(i.smalltalk(text), None, "{text}");
        }
        for text in [
            "put me through to your team",
            "pls have someone whatsapp me",
            "can your coordinator email me today",
            "can I speak to one of your coordinators",
            "is anyone there?",
            "we need to speak with a real person about dad",
            // being passed on; someone of the team getting in touch with the person or with
            // someone of theirs; a person rather than the bot; the ways to reach one
            "transfer me to a person",
            "pass my question on to one of your coordinators",
            "escalate this to a person please",
            "can a case manager get in touch with me",
            "please have someone call my husband",
            "is there someone from your team i can write to directly by email?",
            "is there an email address where i can write to a coordinator directly?",
            "dear team, kindly arrange for a member of your coordination staff to telephone me at their earliest convenience.",
            "хочу поговорить с живым человеком, с координатором",
            "can your staff contact my daughter, she speaks english",
            "i'd like a real person, not a bot",
            "i don't want a bot, i want a person",
            "i want to talk directly with a person",
            "how can i reach a human",
            "is there a phone number i can call",
            "get me a human",
        ] {
            assert!(i.handoff(text), "{text}");
        }
        for text in [
            "can the mdt review my dad's scans",
            "is anyone there who has tried til therapy",
            "who should we talk to about car-t eligibility",
            "should our home oncologist stay involved",
            "does the family take part in the online consultation",
            "can i join the video call with the experts",
        ] {
            assert!(!i.handoff(text), "{text}");
        }
    }
}
