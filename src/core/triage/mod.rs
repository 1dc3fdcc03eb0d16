//! The emergency check: does a message describe an oncology red flag happening now?
//!
//! It runs first on every message, in every language, also while a coordinator has the
//! conversation. The clinical model is data, reviewed by clinicians rather than programmers:
//!
//! - `categories.toml`: the red-flag categories (after the UKONS Oncology/Haematology 24 Hour
//!   Triage Tool, with the immunotherapy and CAR-T toxicity red flags), each with the concepts
//!   that raise it and the kind of notice the caregiver gets;
//! - `lang/<code>.toml`: per language, the lay phrasings of every concept (what a frightened
//!   person types on a phone), and of the modifiers that make a message *not* an alarm (a past
//!   event, a hypothetical or general question, an idiom) or that make it acute (now, suddenly,
//!   getting worse).
//!
//! A message is an emergency when a category's concepts are all there and nothing says it is
//! not one; an acute word outweighs any such reason (the safety bias: when unsure, alarm).
//! The message is [`normalize`]d (lower case, no accents, no apostrophes, words separated by
//! single spaces). Each phrasing is a small pattern; one Aho-Corasick scan finds the words the
//! phrasings need ([`phrase::anchors`]), and only the phrasings whose words are there are run
//! (each compiled when needed, the most recently used kept). The few phrasings without such a word are one
//! pattern set, run on every message. Matching thousands of phrasings as one set instead cost
//! milliseconds a message and seconds to compile (BENCHMARKS.md).

mod compiled;
mod model;
mod phrase;
mod spelling;

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, PatternSet};
use serde::Deserialize;

pub use phrase::normalize;

const CATEGORIES: &str = include_str!("categories.toml");

/// The language files, reviewed per language. English first: it decides ties.
const LANGUAGES: [(&str, &str); 11] = [
    ("en", include_str!("lang/en.toml")),
    ("ru", include_str!("lang/ru.toml")),
    ("uk", include_str!("lang/uk.toml")),
    ("kk", include_str!("lang/kk.toml")),
    ("es", include_str!("lang/es.toml")),
    ("pt", include_str!("lang/pt.toml")),
    ("fr", include_str!("lang/fr.toml")),
    ("de", include_str!("lang/de.toml")),
    ("tr", include_str!("lang/tr.toml")),
    ("ar", include_str!("lang/ar.toml")),
    ("zh", include_str!("lang/zh.toml")),
];

/// What the caregiver is told to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// Call the local emergency number.
    Emergency,
    /// A side effect of cancer treatment: the oncology team's 24-hour line, or the emergency
    /// number.
    Treatment,
    /// Suicidal or self-harm thoughts: crisis support.
    Crisis,
}

/// The modifiers: why a message with red-flag words may not be an alarm, or why it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modifier {
    /// Happening now: outweighs every reason below.
    Acute,
    /// A time weeks or more ago ("last year", "two weeks ago").
    Past,
    /// Said in the past tense, or over ("he had", "it was fine", "they treated it"): with
    /// `Past`, a past event.
    Resolved,
    /// "What should we do if …", "in case …".
    Hypothetical,
    /// A general question about a symptom or a side effect ("does CAR-T cause seizures?").
    General,
    /// Someone describes what is happening to a person now: outweighs every reason not to
    /// alarm ("he's coughing blood, is that a side effect?", "he is having fever, what should
    /// we do if it goes up?").
    Report,
    /// A reading taken from a person ("fever 38.8", "sats 89"): outweighs a general question
    /// tacked on ("… how long until we know if it worked?"), not a past event.
    Reading,
    /// "a bit", "mild": only for the categories that say so.
    Mild,
}

const MODIFIERS: [Modifier; 8] = [
    Modifier::Acute,
    Modifier::Past,
    Modifier::Resolved,
    Modifier::Hypothetical,
    Modifier::General,
    Modifier::Report,
    Modifier::Reading,
    Modifier::Mild,
];

impl Modifier {
    fn name(self) -> &'static str {
        match self {
            Modifier::Acute => "acute",
            Modifier::Past => "past",
            Modifier::Resolved => "resolved",
            Modifier::Hypothetical => "hypothetical",
            Modifier::General => "general",
            Modifier::Report => "report",
            Modifier::Reading => "reading",
            Modifier::Mild => "mild",
        }
    }
}

/// One red-flag category of `categories.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    id: String,
    /// What coordinators read ("possible sepsis after chemotherapy").
    label: String,
    notice: Notice,
    /// Each rule is a list of concepts that must all be present; any rule raises the category.
    when: Vec<Vec<String>>,
    /// Reasons not to alarm that this category disregards (e.g. a fever after chemotherapy is
    /// an alarm even when the chemotherapy was "two weeks ago").
    #[serde(default)]
    ignore: Vec<Modifier>,
    /// Whether "a bit", "mild" make it not an alarm.
    #[serde(default)]
    mild_is_not_alarm: bool,
    /// Modifiers that must be there too (the broad tier needs someone describing a person now).
    #[serde(default)]
    requires: Vec<Modifier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesFile {
    category: Vec<CategoryFile>,
    learned: Learned,
}

/// What an alarm of the learned model ([`model`]) is called and tells the caregiver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Learned {
    id: String,
    label: String,
    notice: Notice,
}

/// A language's file: its macros, the phrasings of each concept and of each modifier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageFile {
    /// Whether words are separated by spaces (false for Chinese).
    #[serde(default = "yes")]
    spaces: bool,
    #[serde(default)]
    macros: BTreeMap<String, String>,
    #[serde(default)]
    concepts: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    modifiers: BTreeMap<Modifier, Vec<String>>,
    /// Figurative or harmless uses of red-flag words ("this waiting is killing me", "not
    /// responding to treatment"), taken out of the message before anything else is matched.
    #[serde(default)]
    idioms: Vec<String>,
}

fn yes() -> bool {
    true
}

/// One phrasing: its pattern (compiled when needed, [`compiled`]) and what it stands for.
struct Phrasing {
    pattern: String,
    what: Pattern,
}

/// One phrasing's pattern, compiled alone.
fn compile_one(pattern: &str) -> Option<Regex> {
    compile_set(
        &[pattern.to_string()],
        MatchKind::LeftmostFirst,
        WhichCaptures::None,
    )
    .ok()
}

/// What a phrasing stands for.
#[derive(Debug, Clone)]
struct Pattern {
    language: &'static str,
    /// A concept's index, or a modifier.
    target: Target,
    /// The phrasing as written in its file, for `--explain`.
    phrase: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Concept(usize),
    Modifier(Modifier),
}

struct Category {
    id: String,
    label: String,
    notice: Notice,
    rules: Vec<Vec<usize>>,
    ignore: Vec<Modifier>,
    mild_is_not_alarm: bool,
    requires: Vec<Modifier>,
}

/// The red-flag rules, compiled.
pub struct Triage {
    /// Misspelt English red-flag words, corrected first.
    spelling: spelling::Spelling,
    /// Every language's idioms, as one pattern.
    idioms: Regex,
    /// Every phrasing of every language.
    phrasings: Vec<Phrasing>,
    /// The anchored phrasings compiled lately.
    compiled: compiled::Compiled,
    /// The words phrasings need, and for each the phrasings that need it.
    anchors: AhoCorasick,
    anchored: Vec<Vec<usize>>,
    /// The phrasings that need no particular word, as one set, and their indices.
    always: Regex,
    always_ids: Vec<usize>,
    concepts: Vec<String>,
    categories: Vec<Category>,
    /// The second opinion on messages no category's phrasings raise.
    model: model::Model,
    learned: Learned,
}

/// The rules could not be read: a mistake in `src/core/triage/`, which the tests catch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("triage rules (src/core/triage/{file}): {message}")]
pub struct TriageError {
    file: String,
    message: String,
}

fn error(file: &str, message: impl Into<String>) -> TriageError {
    TriageError {
        file: file.to_string(),
        message: message.into(),
    }
}

/// An emergency found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// The category's id (`fever_after_treatment`).
    pub category: String,
    /// What coordinators read.
    pub label: String,
    pub notice: Notice,
    /// The language the red flag was written in (ISO 639-1).
    pub language: &'static str,
}

/// Why the check decided as it did, for `faqbot ask --explain`.
#[derive(Debug, Clone, Default)]
pub struct Explanation {
    /// (kind, name, language, phrasing) of every phrasing that matched, idioms first.
    pub matched: Vec<(&'static str, String, &'static str, String)>,
    /// The categories whose concepts were all there, with what decided each.
    pub categories: Vec<(String, String)>,
    pub alarm: Option<Alarm>,
}

static SHARED: OnceLock<Result<Triage, TriageError>> = OnceLock::new();

/// The patterns as one matcher over bytes. No literal prefilter: extracting the literals of
/// thousands of alternations took seconds at start-up, and most messages are short. No
/// Unicode classes: `[^ ]` is one byte class instead of all of Unicode's, and letters beyond
/// ASCII still match as their UTF-8 bytes.
fn compile_set(
    patterns: &[String],
    kind: MatchKind,
    captures: WhichCaptures,
) -> Result<Regex, String> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(kind)
                .auto_prefilter(false)
                // the phrasings need whether, not where: without capture slots, which for
                // thousands of patterns would be a cache of gigabytes
                .which_captures(captures)
                .nfa_size_limit(Some(64 << 20))
                .hybrid_cache_capacity(8 << 20),
        )
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build_many(patterns)
        .map_err(|e| e.to_string())
}

impl Triage {
    /// The rules shipped with the binary, compiled once for the process.
    pub fn shared() -> Result<&'static Triage, TriageError> {
        SHARED
            .get_or_init(Triage::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Compiles the rules shipped with the binary.
    pub fn new() -> Result<Triage, TriageError> {
        let file: CategoriesFile =
            toml::from_str(CATEGORIES).map_err(|e| error("categories.toml", e.to_string()))?;
        let mut concepts: Vec<String> = Vec::new();
        let mut index = |name: &str| match concepts.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                concepts.push(name.to_string());
                concepts.len() - 1
            }
        };
        let categories: Vec<Category> = file
            .category
            .iter()
            .cloned()
            .map(|c| Category {
                rules: c
                    .when
                    .iter()
                    .map(|rule| rule.iter().map(|name| index(name)).collect())
                    .collect(),
                id: c.id,
                label: c.label,
                notice: c.notice,
                ignore: c.ignore,
                mild_is_not_alarm: c.mild_is_not_alarm,
                requires: c.requires,
            })
            .collect();
        let mut phrasings: Vec<Phrasing> = Vec::new();
        let mut anchor_words: Vec<String> = Vec::new();
        let mut anchor_index: HashMap<String, usize> = HashMap::new();
        let mut anchored: Vec<Vec<usize>> = Vec::new();
        let mut always_ids = Vec::new();
        let mut idioms = Vec::new();
        let mut english: Vec<String> = Vec::new();
        let mut phrased = vec![false; concepts.len()];
        for (language, text) in LANGUAGES {
            let name = format!("lang/{language}.toml");
            let lang: LanguageFile =
                toml::from_str(text).map_err(|e| error(&name, e.to_string()))?;
            if language == "en" {
                english.extend(lang.macros.values().cloned());
                english.extend(lang.concepts.values().flatten().cloned());
                english.extend(lang.modifiers.values().flatten().cloned());
                english.extend(lang.idioms.iter().cloned());
            }
            let mut add = |target: Target, phrases: &[String]| -> Result<(), TriageError> {
                for p in phrases {
                    let pattern = phrase::compile(p, &lang.macros, lang.spaces)
                        .map_err(|e| error(&name, format!("{p:?}: {e}")))?;
                    let id = phrasings.len();
                    match phrase::anchors(p, &lang.macros) {
                        Some(words) => {
                            for w in words {
                                // a whole word, or a word's start; without spaces, anywhere
                                // a whole word, or a word's start; a part of a word (or any
                                // word without spaces) anywhere
                                let part = w.strip_prefix('~');
                                let needle = match (lang.spaces && part.is_none(), part) {
                                    (true, _) => match w.strip_suffix('*') {
                                        Some(stem) => format!(" {stem}"),
                                        None => format!(" {w} "),
                                    },
                                    (false, part) => {
                                        let w = part.unwrap_or(&w);
                                        w.strip_suffix('*').unwrap_or(w).to_string()
                                    }
                                };
                                let next = anchor_words.len();
                                let i = *anchor_index.entry(needle.clone()).or_insert(next);
                                if i == next {
                                    anchor_words.push(needle);
                                    anchored.push(Vec::new());
                                }
                                anchored[i].push(id);
                            }
                        }
                        None => always_ids.push(id),
                    }
                    phrasings.push(Phrasing {
                        pattern,
                        what: Pattern {
                            language,
                            target,
                            phrase: p.clone(),
                        },
                    });
                }
                Ok(())
            };
            for (concept, phrases) in &lang.concepts {
                let i = concepts.iter().position(|c| c == concept).ok_or_else(|| {
                    error(&name, format!("concept {concept:?} is in no category"))
                })?;
                phrased[i] = true;
                add(Target::Concept(i), phrases)?;
            }
            for (modifier, phrases) in &lang.modifiers {
                add(Target::Modifier(*modifier), phrases)?;
            }
            for p in &lang.idioms {
                idioms.push(
                    phrase::compile(p, &lang.macros, lang.spaces)
                        .map_err(|e| error(&name, format!("{p:?}: {e}")))?,
                );
            }
        }
        if let Some(i) = phrased.iter().position(|p| !p) {
            return Err(error(
                "categories.toml",
                format!("concept {:?} has no phrasing in any language", concepts[i]),
            ));
        }
        let always: Vec<String> = always_ids
            .iter()
            .map(|&i: &usize| phrasings[i].pattern.clone())
            .collect();
        let always = compile_set(&always, MatchKind::All, WhichCaptures::None)
            .map_err(|e| error("lang/", e))?;
        let anchors = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(&anchor_words)
            .map_err(|e| error("lang/", e.to_string()))?;
        let idioms = compile_set(
            &[idioms.join("|")],
            MatchKind::LeftmostFirst,
            WhichCaptures::Implicit,
        )
        .map_err(|e| error("lang/", e))?;
        Ok(Triage {
            spelling: spelling::Spelling::new(english.iter().map(String::as_str)),
            idioms,
            phrasings,
            compiled: compiled::Compiled::new(compiled::CAPACITY),
            anchors,
            anchored,
            always,
            always_ids,
            concepts,
            categories,
            model: model::Model::shipped().map_err(|e| error("model.tsv", e))?,
            learned: file.learned,
        })
    }

    /// The emergency `text` describes, if any.
    pub fn check(&self, text: &str) -> Option<Alarm> {
        self.decide(text, None)
    }

    /// [`Triage::check`] with the reasons.
    pub fn explain(&self, text: &str) -> Explanation {
        let mut explanation = Explanation::default();
        explanation.alarm = self.decide(text, Some(&mut explanation));
        explanation
    }

    fn decide(&self, text: &str, mut explain: Option<&mut Explanation>) -> Option<Alarm> {
        let normalized = normalize(text);
        let (alarm, figurative) = self.by_phrasings(&normalized, explain.as_deref_mut());
        if alarm.is_some() || figurative {
            return alarm;
        }
        // a few words ("you are very helpful") are too little to read a situation from; the
        // emergencies the model recognises beyond the phrasings are described at length
        if !model::long_enough(&normalized) {
            return None;
        }
        let probability = self.model.probability(&normalized);
        let alarm = self.model.alarms(probability).then(|| Alarm {
            category: self.learned.id.clone(),
            label: self.learned.label.clone(),
            notice: self.learned.notice,
            language: crate::core::language::among(text, &LANGUAGES.map(|(code, _)| code)),
        });
        if let Some(e) = explain {
            let strongest = self
                .model
                .strongest(&normalized, 6)
                .into_iter()
                .map(|(f, w)| format!("{f} {w:+.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            let decided = if alarm.is_some() { "alarm" } else { "no alarm" };
            e.categories.push((
                self.learned.id.clone(),
                format!("{decided}: probability {probability:.2} (strongest: {strongest})"),
            ));
        }
        alarm
    }

    /// The alarm the phrasings raise, if any, and whether an idiom was taken out of the message
    /// (its red-flag words are figurative, which the model cannot tell).
    fn by_phrasings(
        &self,
        normalized: &str,
        mut explain: Option<&mut Explanation>,
    ) -> (Option<Alarm>, bool) {
        let mut normalized = normalized.to_string();
        if let Some(corrected) = self.spelling.correct(&normalized) {
            if let Some(e) = explain.as_deref_mut() {
                e.matched.push((
                    "spelling",
                    corrected.trim().to_string(),
                    "en",
                    String::new(),
                ));
            }
            normalized = corrected;
        }
        let mut literal = String::with_capacity(normalized.len());
        let mut last = 0;
        for m in self.idioms.find_iter(normalized.as_bytes()) {
            // idioms start and end at a space or a whole letter: boundaries of characters
            literal.push_str(normalized.get(last..m.start()).unwrap_or_default());
            literal.push(' ');
            last = m.end();
            if let Some(e) = explain.as_deref_mut() {
                let idiom = normalized
                    .get(m.range())
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                e.matched
                    .push(("idiom", idiom, "", "taken out".to_string()));
            }
        }
        literal.push_str(normalized.get(last..).unwrap_or_default());
        let figurative = last > 0;
        let haystack = literal.as_bytes();
        let mut candidates: Vec<usize> = self
            .anchors
            .find_overlapping_iter(haystack)
            .flat_map(|m| self.anchored[m.pattern().as_usize()].iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut matched: Vec<&Pattern> = candidates
            .into_iter()
            .map(|i| (i, &self.phrasings[i]))
            .filter(|(i, p)| {
                self.compiled
                    .is_match(*i, &p.pattern, haystack, compile_one)
            })
            .map(|(_, p)| &p.what)
            .collect();
        let mut found = PatternSet::new(self.always.pattern_len());
        self.always
            .which_overlapping_matches(&Input::new(haystack), &mut found);
        matched.extend(
            found
                .iter()
                .map(|i| &self.phrasings[self.always_ids[i.as_usize()]].what),
        );
        if matched.is_empty() {
            return (None, figurative);
        }
        let mut present = vec![false; self.concepts.len()];
        let mut modifiers = [false; MODIFIERS.len()];
        // phrasings matched per language, to tell which language the red flag is in
        let mut by_language: Vec<(&'static str, usize)> = Vec::new();
        for p in matched {
            match p.target {
                Target::Concept(c) => {
                    present[c] = true;
                    match by_language.iter_mut().find(|(l, _)| *l == p.language) {
                        Some((_, n)) => *n += 1,
                        None => by_language.push((p.language, 1)),
                    }
                }
                Target::Modifier(m) => modifiers[m as usize] = true,
            }
            if let Some(e) = explain.as_deref_mut() {
                let (kind, name) = match p.target {
                    Target::Concept(c) => ("concept", self.concepts[c].clone()),
                    Target::Modifier(m) => ("modifier", m.name().to_string()),
                };
                e.matched.push((kind, name, p.language, p.phrase.clone()));
            }
        }
        let has = |m: Modifier| modifiers[m as usize];
        // the first language with the most phrasings; English first on a tie
        let language = by_language
            .iter()
            .fold(
                None,
                |best: Option<(&'static str, usize)>, &(l, n)| match best {
                    Some((_, m)) if m >= n => best,
                    _ => Some((l, n)),
                },
            )
            .map_or("en", |(l, _)| l);
        for category in &self.categories {
            let raised = category
                .rules
                .iter()
                .any(|rule| rule.iter().all(|&c| present[c]))
                && category.requires.iter().all(|&m| has(m));
            if !raised {
                continue;
            }
            let counts = |m: Modifier| has(m) && !category.ignore.contains(&m);
            let reason = if has(Modifier::Acute) {
                None
            } else if counts(Modifier::Hypothetical) {
                Some("a hypothetical question")
            } else if has(Modifier::Report) {
                // someone says what is happening now: not a past event, not a general question
                None
            } else if counts(Modifier::Past) && has(Modifier::Resolved) {
                Some("a past event")
            } else if counts(Modifier::General) && !has(Modifier::Reading) {
                Some("a general question")
            } else if category.mild_is_not_alarm && counts(Modifier::Mild) {
                Some("mild")
            } else {
                None
            };
            if let Some(e) = explain.as_deref_mut() {
                let decided = reason.map_or_else(
                    || "alarm".to_string(),
                    |r| format!("not an alarm: {r}, and nothing acute"),
                );
                e.categories.push((category.id.clone(), decided));
            }
            if reason.is_none() {
                let alarm = Alarm {
                    category: category.id.clone(),
                    label: category.label.clone(),
                    notice: category.notice,
                    language,
                };
                return (Some(alarm), figurative);
            }
        }
        (None, figurative)
    }

    /// Every phrasing whose pattern does not compile by itself, with its language: none ship
    /// (a test asks), since phrasings are compiled when first needed.
    pub fn broken_phrasings(&self) -> Vec<(&'static str, String, String)> {
        self.phrasings
            .iter()
            .filter_map(|p| {
                phrase::check(&p.pattern)
                    .err()
                    .map(|e| (p.what.language, p.what.phrase.clone(), e))
            })
            .collect()
    }

    /// The categories' ids and labels, in order.
    pub fn categories(&self) -> impl Iterator<Item = (&str, &str)> {
        self.categories
            .iter()
            .map(|c| (c.id.as_str(), c.label.as_str()))
    }
}

#[cfg(test)]
mod tests;
