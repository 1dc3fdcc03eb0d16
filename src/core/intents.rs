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
    Thanks,
    Identity,
}

/// The rules of `intents.toml`: patterns per intent, then per language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    handoff: BTreeMap<String, Vec<String>>,
    greeting: BTreeMap<String, Vec<String>>,
    thanks: BTreeMap<String, Vec<String>>,
    identity: BTreeMap<String, Vec<String>>,
    advice: BTreeMap<String, Vec<String>>,
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct Intents {
    handoff: Regex,
    greeting: Regex,
    thanks: Regex,
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

/// One pattern for an intent: any of its rules, in any language.
fn compile(name: &str, rules: &BTreeMap<String, Vec<String>>) -> Result<Regex, RuleError> {
    let pattern = rules
        .values()
        .flatten()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&pattern).map_err(|e| RuleError(format!("[{name}]: {e}")))
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
        Ok(Intents {
            handoff: compile("handoff", &rules.handoff)?,
            greeting: compile("greeting", &rules.greeting)?,
            thanks: compile("thanks", &rules.thanks)?,
            identity: compile("identity", &rules.identity)?,
            advice: compile("advice", &rules.advice)?,
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
