//! The answer engine, free of Telegram: a message in, a [`Reply`] out. The CLI, the bot and
//! most tests call the same [`Engine::answer`].

mod confidence;
mod excerpt;
mod features;
mod intents;
mod language;
mod open;
mod ranking;
mod triage;

use std::sync::{Arc, RwLock};

use serde::Serialize;

pub use confidence::confidence;
pub use intents::{Intents, RuleError, Smalltalk};
pub use language::uncovered_language;
pub use open::open_engine;
pub use ranking::{QuestionModel, Ranked};
pub use triage::{Alarm, Explanation, Notice, Triage, TriageError};

use crate::search::{Hit, SearchIndex, SearchResult};
use crate::settings::Settings;
use crate::text;

/// Most passages a `suggest` reply offers.
pub const MAX_SUGGESTIONS: usize = 3;

/// How many of the search's passages the question model reorders: the right passage is among
/// the search's first ten for nearly every answerable question, and deeper ones only cost time.
const CANDIDATES: usize = 10;

/// What kind of reply the engine chose (the `outcome` of the `ask --json` contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answer,
    /// Related passages, but none answers confidently: offered to choose from.
    Suggest,
    NoMatch,
    Emergency,
    Handoff,
    Smalltalk,
    Language,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answer => "answer",
            Outcome::Suggest => "suggest",
            Outcome::NoMatch => "no_match",
            Outcome::Emergency => "emergency",
            Outcome::Handoff => "handoff",
            Outcome::Smalltalk => "smalltalk",
            Outcome::Language => "language",
        }
    }
}

/// The passage an answer shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub id: String,
    pub title: String,
    /// The passage, or its most relevant part.
    pub text: String,
    /// Set when `text` is a part: how to read the whole.
    pub read_more: Option<String>,
    /// A page to read more, as a full URL.
    pub link: Option<String>,
}

/// A passage offered by id and title: a related topic under an answer, or a suggestion.
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    pub id: String,
    pub title: String,
}

/// Everything the bot will say to one message, before rendering (plain text for the CLI,
/// HTML for Telegram).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub outcome: Outcome,
    /// ISO 639-1 code of the message's language, as far as it could be told.
    pub language: String,
    /// The bot's own opening line (an introduction, a notice, or the whole message).
    pub message: String,
    pub passage: Option<Shown>,
    /// `suggest`: the passages offered to choose from, best first.
    pub suggestions: Vec<Related>,
    /// `suggest`: the line after them offering a coordinator instead.
    pub offer: String,
    pub related_intro: String,
    pub related: Vec<Related>,
    pub disclaimer: String,
    /// The line that says how to reach a coordinator.
    pub handoff: String,
    pub handoff_url: String,
    pub handoff_label: String,
    /// The passages the search found, best first (empty when no search ran); for `suggest`,
    /// the ones offered.
    pub passages: Vec<Hit>,
    /// How sure the search is that the question is about a passage of the guide, 0..1 (see
    /// [`confidence`]); `None` when no search ran.
    pub confidence: Option<f32>,
    /// How likely the question is about something the guide answers, from the search's
    /// confidence and the question model (see [`QuestionModel::relevance`]); `None` when no
    /// search ran.
    pub relevance: Option<f32>,
    /// How sure the question model is that the first passage is the one asked for, 0..1 (see
    /// [`QuestionModel`]); `None` when no search ran.
    pub certainty: Option<f32>,
    /// The message asked about one person's treatment.
    pub personal_advice: bool,
    /// The conversation should go to a coordinator now (emergency or an explicit request).
    pub escalate: bool,
    /// What the emergency check found, for an `emergency` reply.
    pub alarm: Option<Alarm>,
}

impl Reply {
    /// The reply as a caregiver reads it, in plain text. Always ends with the disclaimer and
    /// the way to a coordinator.
    pub fn plain_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.message.is_empty() {
            parts.push(self.message.clone());
        }
        if let Some(p) = &self.passage {
            parts.push(p.text.clone());
            if let Some(more) = &p.read_more {
                parts.push(more.clone());
            }
            if let Some(link) = &p.link {
                parts.push(link.clone());
            }
        }
        if !self.suggestions.is_empty() {
            parts.push(read_list(&self.suggestions));
        }
        if !self.offer.is_empty() {
            parts.push(self.offer.clone());
        }
        if !self.related.is_empty() {
            parts.push(format!(
                "{}\n{}",
                self.related_intro,
                read_list(&self.related)
            ));
        }
        parts.push(format!("{}\n{}", self.disclaimer, self.handoff));
        parts.join("\n\n")
    }
}

/// Passages as plain-text lines, each with the command that shows it.
fn read_list(passages: &[Related]) -> String {
    passages
        .iter()
        .map(|r| format!("- {} (/read {})", r.title, r.id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The engine the bot currently answers with. Content changes swap in a new one; messages being
/// answered keep the one they started with.
#[derive(Clone)]
pub struct SharedEngine(Arc<RwLock<Arc<Engine>>>);

impl SharedEngine {
    pub fn new(engine: Engine) -> SharedEngine {
        SharedEngine(Arc::new(RwLock::new(Arc::new(engine))))
    }

    /// The current engine.
    pub fn get(&self) -> Arc<Engine> {
        // a panic while swapping cannot leave a half-written Arc behind: the value is usable
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Swaps in a new engine.
    pub fn replace(&self, engine: Engine) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(engine);
    }
}

/// Answers messages from an open index, with the configured texts and thresholds.
pub struct Engine {
    index: SearchIndex,
    settings: Settings,
    intents: &'static Intents,
    triage: &'static Triage,
    ranking: &'static QuestionModel,
}

/// The rules shipped with the binary do not compile: a mistake the tests catch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Intents(#[from] RuleError),
    #[error(transparent)]
    Triage(#[from] TriageError),
    #[error("{0}")]
    Ranking(String),
}

impl Engine {
    pub fn new(index: SearchIndex, settings: Settings) -> Result<Engine, EngineError> {
        Ok(Engine {
            index,
            settings,
            intents: Intents::shared()?,
            triage: Triage::shared()?,
            ranking: QuestionModel::shared().map_err(EngineError::Ranking)?,
        })
    }

    /// The emergency check, for `ask --explain` and the tests.
    pub fn triage(&self) -> &Triage {
        self.triage
    }

    /// The question model, for `faqbot check` and `ask --explain`.
    pub fn ranking(&self) -> &QuestionModel {
        self.ranking
    }

    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Swaps in a newly built index; messages already being answered finish on the old one.
    pub fn with_index(self, index: SearchIndex) -> Engine {
        Engine { index, ..self }
    }

    fn reply(&self, outcome: Outcome, language: &str, message: String) -> Reply {
        let h = &self.settings.handoff;
        Reply {
            outcome,
            language: language.to_string(),
            message,
            passage: None,
            suggestions: Vec::new(),
            offer: String::new(),
            related_intro: self.settings.reply.related.clone(),
            related: Vec::new(),
            disclaimer: self.settings.reply.disclaimer.clone(),
            handoff: self
                .settings
                .reply
                .handoff
                .replace("{label}", &h.label)
                .replace("{url}", &h.url),
            handoff_url: h.url.clone(),
            handoff_label: h.label.clone(),
            passages: Vec::new(),
            confidence: None,
            relevance: None,
            certainty: None,
            personal_advice: false,
            escalate: false,
            alarm: None,
        }
    }

    /// The emergency reply, when the message describes an emergency: the check that runs on
    /// every message, also while a coordinator has the conversation.
    pub fn emergency(&self, raw: &str) -> Option<Reply> {
        self.triage
            .check(raw)
            .map(|alarm| self.emergency_reply(alarm))
    }

    /// What to do now, in the language the red flag was written in and in English.
    fn emergency_reply(&self, alarm: Alarm) -> Reply {
        let texts = &self.settings.reply;
        let english = match alarm.notice {
            Notice::Emergency => &texts.emergency,
            Notice::Treatment => &texts.emergency_treatment,
            Notice::Crisis => &texts.emergency_crisis,
        };
        let translated =
            texts
                .emergency_translations
                .get(alarm.language)
                .map(|t| match alarm.notice {
                    Notice::Emergency => &t.emergency,
                    Notice::Treatment => &t.treatment,
                    Notice::Crisis => &t.crisis,
                });
        let message = match translated {
            Some(notice) if alarm.language != "en" => format!("{notice}\n\n{english}"),
            _ => english.clone(),
        };
        let mut reply = self.reply(Outcome::Emergency, alarm.language, message);
        reply.escalate = true;
        reply.alarm = Some(alarm);
        reply
    }

    /// The reply to one message. Never fails: a search error becomes an honest no-match.
    pub fn answer(&self, raw: &str) -> Reply {
        let texts = &self.settings.reply;
        // first, on every message and in every language
        if let Some(reply) = self.emergency(raw) {
            return reply;
        }
        let cleaned = text::clean(raw);
        let lower = cleaned.to_lowercase();
        if !cleaned.chars().any(char::is_alphanumeric) {
            // "🙏" or "👍" alone is thanks; other text without a letter or digit asks nothing
            return match self.intents.smalltalk(&lower) {
                Some(kind) => self.smalltalk(kind),
                None => self.reply(Outcome::NoMatch, "en", texts.empty.clone()),
            };
        }
        if let Some(id) = lower
            .strip_prefix("/read")
            .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        {
            return self.read(id.trim());
        }
        if self.intents.handoff(&lower) {
            let mut reply = self.reply(Outcome::Handoff, "en", texts.handoff_request.clone());
            reply.escalate = true;
            return reply;
        }
        if let Some(kind) = self.intents.smalltalk(&lower) {
            return self.smalltalk(kind);
        }
        let covered = &self.index.meta().languages;
        if let Some(lang) = uncovered_language(&cleaned, covered, |w| self.index.is_english_word(w))
        {
            // no emergency rules matched, but the language may have none: the numbers anyway
            let message = texts.language_translations.get(&lang).map_or_else(
                || format!("{}\n\n{}", texts.language, texts.emergency_line),
                |t| format!("{t}\n\n{}\n\n{}", texts.language, texts.emergency_line),
            );
            return self.reply(Outcome::Language, &lang, message);
        }
        self.search(&cleaned, &lower)
    }

    fn smalltalk(&self, kind: Smalltalk) -> Reply {
        let texts = &self.settings.reply;
        let message = match kind {
            Smalltalk::Greeting => &texts.greeting,
            Smalltalk::Thanks => &texts.thanks,
            Smalltalk::Farewell => &texts.farewell,
            Smalltalk::Identity => &texts.identity,
        };
        self.reply(Outcome::Smalltalk, "en", message.clone())
    }

    /// The search's candidates for a message, in the bot's order, and the search's confidence
    /// that the message is about the guide at all (of its own first candidate).
    pub fn rank(
        &self,
        cleaned: &str,
    ) -> Result<(SearchResult, f32, Ranked), tantivy::TantivyError> {
        let wanted = self.settings.search.max_results;
        let mut result = self.index.search(cleaned, wanted.max(CANDIDATES))?;
        let confidence = confidence(&result.hits);
        let hits = std::mem::take(&mut result.hits);
        let mut ranked = self.ranking.rank(&triage::normalize(cleaned), hits);
        ranked.hits.truncate(wanted);
        ranked.probabilities.truncate(wanted);
        Ok((result, confidence, ranked))
    }

    /// What to reply to a search: how relevant it is, and whether to answer, offer or say
    /// nothing was found. A first passage the question model was not trained on (the content
    /// changed after it was) is judged by the search alone: relevance is the search's
    /// confidence, and it is answered at `search.answer_confidence`.
    pub fn verdict(&self, confidence: f32, ranked: &Ranked) -> (f32, Outcome) {
        let cfg = &self.settings.search;
        let Some(first) = ranked.hits.first() else {
            return (0.0, Outcome::NoMatch);
        };
        let (relevance, answer) = if self.ranking.knows(&first.id) {
            (
                self.ranking.relevance(confidence, ranked.none),
                ranked.certainty >= cfg.answer_certainty,
            )
        } else {
            (confidence, confidence >= cfg.answer_confidence)
        };
        let outcome = if relevance < cfg.suggest_confidence {
            Outcome::NoMatch
        } else if answer {
            Outcome::Answer
        } else {
            Outcome::Suggest
        };
        (relevance, outcome)
    }

    fn search(&self, cleaned: &str, lower: &str) -> Reply {
        let texts = &self.settings.reply;
        let cfg = &self.settings.search;
        let (result, confidence, ranked) = match self.rank(cleaned) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                return self.reply(Outcome::NoMatch, "en", texts.no_match.clone());
            }
        };
        let personal_advice = self.intents.advice(lower);
        let certainty = ranked.certainty;
        let (relevance, outcome) = self.verdict(confidence, &ranked);
        let hits = ranked.hits;
        let mut reply = match (hits.first(), outcome) {
            (Some(_), Outcome::NoMatch) => {
                let mut reply = self.reply(Outcome::NoMatch, "en", texts.no_match.clone());
                reply.passages = hits;
                reply
            }
            (Some(best), Outcome::Answer) => {
                let mut reply = self.answer_with(best, &hits, &result, personal_advice);
                reply.passages = hits;
                reply
            }
            (Some(best), _) => {
                let intro = if personal_advice {
                    &texts.advice_suggest
                } else {
                    &texts.suggest
                };
                let mut reply = self.reply(Outcome::Suggest, "en", intro.clone());
                reply.offer = texts.suggest_offer.clone();
                let floor = best.score * cfg.suggest_ratio;
                let offered: Vec<Hit> = hits
                    .into_iter()
                    .take(MAX_SUGGESTIONS)
                    .filter(|h| h.score >= floor)
                    .collect();
                reply.suggestions = offered
                    .iter()
                    .map(|h| Related {
                        id: h.id.clone(),
                        title: h.title.clone(),
                    })
                    .collect();
                reply.passages = offered;
                reply
            }
            (None, _) => self.reply(Outcome::NoMatch, "en", texts.no_match.clone()),
        };
        reply.confidence = Some(confidence);
        reply.relevance = Some(relevance);
        reply.certainty = Some(certainty);
        reply.personal_advice = personal_advice;
        reply
    }

    /// The reply that gives `best` as the answer, with the related passages under it.
    fn answer_with(
        &self,
        best: &Hit,
        hits: &[Hit],
        result: &SearchResult,
        personal_advice: bool,
    ) -> Reply {
        let texts = &self.settings.reply;
        let cfg = &self.settings.search;
        let intro = if personal_advice {
            &texts.advice_intro
        } else {
            &texts.answer_intro
        };
        let mut reply = self.reply(Outcome::Answer, "en", intro.replace("{title}", &best.title));
        let weights = result.analyzed.term_weights();
        let (text, trimmed) = excerpt::excerpt(&best.body, &weights, cfg.excerpt_chars);
        reply.passage = Some(Shown {
            id: best.id.clone(),
            title: best.title.clone(),
            text,
            read_more: trimmed.then(|| {
                texts
                    .read_more
                    .replace("{title}", &best.title)
                    .replace("{id}", &best.id)
            }),
            link: best
                .link
                .as_deref()
                .and_then(|l| self.settings.content_link(l)),
        });
        reply.related = hits[1..]
            .iter()
            .filter(|h| h.score >= best.score * cfg.related_ratio && h.coverage >= cfg.min_coverage)
            .take(3)
            .map(|h| Related {
                id: h.id.clone(),
                title: h.title.clone(),
            })
            .collect();
        reply
    }

    /// `/read <id>`: a whole passage.
    fn read(&self, id: &str) -> Reply {
        let texts = &self.settings.reply;
        match self.index.passage(id) {
            Ok(Some(hit)) => {
                let mut reply = self.reply(Outcome::Answer, "en", hit.title.clone());
                reply.passage = Some(Shown {
                    id: hit.id.clone(),
                    title: hit.title.clone(),
                    text: hit.body.clone(),
                    read_more: None,
                    link: hit
                        .link
                        .as_deref()
                        .and_then(|l| self.settings.content_link(l)),
                });
                reply.passages = vec![hit];
                reply
            }
            Ok(None) => self.reply(Outcome::NoMatch, "en", texts.not_found.clone()),
            Err(e) => {
                tracing::error!(error = %e, "passage lookup failed");
                self.reply(Outcome::NoMatch, "en", texts.not_found.clone())
            }
        }
    }
}
