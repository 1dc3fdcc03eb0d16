//! Which of the search's candidates a question is about, learned from how people ask.
//!
//! The search ranks passages by the words they share with the question. Between sibling
//! passages on one subject (another immunotherapy, resistance, newer therapies; the remote
//! review, travel preparation, the coordination team) those words are much the same, and the
//! search's first passage was often a sibling of the right one: measured on questions written
//! by people who never saw the guide, 76-82% of first passages were right. What tells siblings
//! apart is how people ask for each ("worth switching to opdivo" is one passage, "why did it
//! stop working" another), which a model of the question's words can learn and word overlap
//! cannot. This one is a logistic model over the passages (one weight per word or pair of
//! words and passage) trained by `scripts/train_ranker.py` on the guide's own `ask:` lines,
//! titles, keywords and sentences and on labelled question sets; its weights are data, in
//! `model.tsv`.
//!
//! The candidates are reordered by `ln(score / best score) + LAMBDA · ln(probability)`: the
//! search still decides what is relevant at all, the model which of the relevant it is. Each
//! set predicted by a model trained without it, the first passage was right 90-97% of the time
//! instead of 76-90% (README, "Answer quality").
//!
//! The certainty that the first passage is the one is a logistic model of the logarithm of
//! its probability and of its lead over the second in the new order, fitted on the same
//! held-out predictions; it decides between giving the answer and offering the first passages.
//! Whether the question is about the guide at all stays the search's confidence
//! ([`super::confidence`]): a model that has only seen questions about the guide finds a
//! passage for every question.
//!
//! A passage the model does not know (the content changed after it was trained) gets the
//! probability of a passage about which it knows nothing, one over the passages it knows, so
//! the search's order decides for it, and when it comes first the engine judges the question by
//! the search's confidence alone (`Engine::verdict`). `faqbot check` names such passages.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::features::{self, Table};
use crate::search::Hit;

const WEIGHTS: &str = include_str!("model.tsv");

/// Added to probabilities before their logarithm, as the training script does.
const FLOOR: f32 = 1e-4;
/// Ranking scores are positive; this keeps the logarithm finite.
const MIN_SCORE: f32 = 1e-3;
/// The lead of a passage found alone, as the training script counts it.
const LONE_LEAD: f32 = 10.0;
/// The model's class for questions about no passage (off-topic questions): not a passage id,
/// which are lower-case letters, digits and hyphens.
const NONE: &str = "(none)";

/// The learned weights.
pub struct QuestionModel {
    lambda: f32,
    certainty_bias: f32,
    certainty_probability: f32,
    certainty_lead: f32,
    relevance_bias: f32,
    relevance_confidence: f32,
    relevance_none: f32,
    /// The passages the model knows, by index, and the class of questions about none.
    passages: Vec<Box<str>>,
    index: FxHashMap<Box<str>, usize>,
    bias: Vec<f32>,
    /// For each feature, where in `weights` its weights are: one per passage it tells about
    /// (most weights are zero and not kept).
    features: Table<(u32, u32)>,
    /// The weights of every feature, a feature's together: (passage, weight).
    weights: Vec<(u16, f32)>,
}

/// The candidates in the order the bot gives them, with what the model made of them.
#[derive(Debug, Clone, Default)]
pub struct Ranked {
    pub hits: Vec<Hit>,
    /// Each hit's probability, in the same order.
    pub probabilities: Vec<f32>,
    /// How sure the model is that the first hit is the passage asked for, 0..1 (0 with no hit).
    pub certainty: f32,
    /// The model's probability that the question is about no passage of the guide.
    pub none: f32,
}

static SHARED: OnceLock<Result<QuestionModel, String>> = OnceLock::new();

fn logistic(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl QuestionModel {
    /// The model shipped with the binary, read once.
    pub fn shared() -> Result<&'static QuestionModel, String> {
        SHARED
            .get_or_init(|| QuestionModel::parse(WEIGHTS))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn parse(text: &str) -> Result<QuestionModel, String> {
        let mut model = QuestionModel {
            lambda: f32::NAN,
            certainty_bias: f32::NAN,
            certainty_probability: f32::NAN,
            certainty_lead: f32::NAN,
            relevance_bias: f32::NAN,
            relevance_confidence: f32::NAN,
            relevance_none: f32::NAN,
            passages: Vec::new(),
            index: FxHashMap::default(),
            bias: Vec::new(),
            features: Table::default(),
            weights: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let bad = || format!("ranking/model.tsv line {}: {line:?}", n + 1);
            let (name, rest) = line.split_once('\t').ok_or_else(bad)?;
            let value = || rest.parse::<f32>().map_err(|_| bad());
            match name {
                "lambda" => model.lambda = value()?,
                "certainty bias" => model.certainty_bias = value()?,
                "certainty log_probability" => model.certainty_probability = value()?,
                "certainty lead" => model.certainty_lead = value()?,
                "relevance bias" => model.relevance_bias = value()?,
                "relevance confidence" => model.relevance_confidence = value()?,
                "relevance none" => model.relevance_none = value()?,
                _ => match name.strip_prefix("bias ") {
                    // a passage, numbered in the order of these lines
                    Some(passage) => {
                        let i = model.passage_index(passage).ok_or_else(bad)?;
                        model.bias[i] = value()?;
                    }
                    // a feature: `passage:weight` for each passage it tells about
                    None => {
                        let from = u32::try_from(model.weights.len()).map_err(|_| bad())?;
                        for pair in rest.split(' ') {
                            let (i, w) = pair.split_once(':').ok_or_else(bad)?;
                            let i: u16 = i.parse().map_err(|_| bad())?;
                            let w: f32 = w.parse().map_err(|_| bad())?;
                            if usize::from(i) >= model.passages.len() {
                                return Err(bad());
                            }
                            model.weights.push((i, w));
                        }
                        let to = u32::try_from(model.weights.len()).map_err(|_| bad())?;
                        *model.features.entry(name).ok_or_else(bad)? = (from, to);
                    }
                },
            }
        }
        let parameters = [
            model.lambda,
            model.certainty_bias,
            model.certainty_probability,
            model.certainty_lead,
            model.relevance_bias,
            model.relevance_confidence,
            model.relevance_none,
        ];
        if parameters.iter().any(|p| p.is_nan()) {
            return Err(
                "ranking/model.tsv: lambda or a certainty or relevance weight is missing".into(),
            );
        }
        if model.passages.is_empty() {
            return Err("ranking/model.tsv: no passages".into());
        }
        // pushed one by one, the array has up to twice the room it needs, for the bot's life
        model.weights.shrink_to_fit();
        Ok(model)
    }

    /// The index of a passage, added when new; `None` past what an index can hold.
    fn passage_index(&mut self, id: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(id) {
            return Some(i);
        }
        let i = self.passages.len();
        if i > usize::from(u16::MAX) {
            return None;
        }
        self.passages.push(Box::from(id));
        self.index.insert(Box::from(id), i);
        self.bias.push(0.0);
        Some(i)
    }

    /// Whether the model was trained with this passage.
    pub fn knows(&self, passage: &str) -> bool {
        passage != NONE && self.index.contains_key(passage)
    }

    /// How likely a question is about something the guide answers, 0..1: a logistic model of
    /// the search's confidence (as a logit) and the logarithm of the model's probability that
    /// it is about no passage. Each tells off-topic questions apart where the other cannot: a
    /// question about travel insurance shares telling words with the travel passage, and the
    /// model knows how off-topic questions are worded; a question in words the model never
    /// saw is left to the search.
    pub fn relevance(&self, confidence: f32, none: f32) -> f32 {
        let c = confidence.clamp(FLOOR, 1.0 - FLOOR);
        let z = self.relevance_bias
            + self.relevance_confidence * (c / (1.0 - c)).ln()
            + self.relevance_none * (none + FLOOR).ln();
        logistic(z)
    }

    /// The probability of each passage the model knows, by index, for a message
    /// [`super::triage::normalize`]d.
    fn probabilities(&self, normalized: &str) -> Vec<f32> {
        let mut z = self.bias.clone();
        // words and pairs: pieces of words ranked no better (scripts/train_ranker.py)
        for (kind, feature, value) in features::weighted(normalized, false) {
            if let Some(&(from, to)) = self.features.get(kind, feature) {
                for &(i, w) in &self.weights[from as usize..to as usize] {
                    z[usize::from(i)] += w * value;
                }
            }
        }
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in &mut z {
            *v = (*v - max).exp();
            sum += *v;
        }
        z.iter_mut().for_each(|v| *v /= sum);
        z
    }

    /// The probability the model gives one passage; for one it does not know, that of a
    /// passage it knows nothing about.
    fn probability_of(&self, probabilities: &[f32], passage: &str) -> f32 {
        match self.index.get(passage) {
            Some(&i) => probabilities[i],
            None => 1.0 / (self.passages.len() - usize::from(self.index.contains_key(NONE))) as f32,
        }
    }

    /// The search's `hits` for a message [`super::triage::normalize`]d, in the bot's order.
    pub fn rank(&self, normalized: &str, hits: Vec<Hit>) -> Ranked {
        if hits.is_empty() {
            return Ranked::default();
        }
        let probabilities = self.probabilities(normalized);
        let none = self.index.get(NONE).map_or(0.0, |&i| probabilities[i]);
        let top = hits.iter().map(|h| h.score).fold(MIN_SCORE, f32::max);
        let mut ranked: Vec<(f32, f32, Hit)> = hits
            .into_iter()
            .map(|h| {
                let p = self.probability_of(&probabilities, &h.id);
                let value = (h.score.max(MIN_SCORE) / top).ln() + self.lambda * (p + FLOOR).ln();
                (value, p, h)
            })
            .collect();
        // stable: equal values keep the search's order
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let first = ranked[0].0;
        let lead = ranked.get(1).map_or(LONE_LEAD, |r| first - r.0);
        let z = self.certainty_bias
            + self.certainty_probability * (ranked[0].1 + FLOOR).ln()
            + self.certainty_lead * lead.ln_1p();
        let (probabilities, hits) = ranked.into_iter().map(|(_, p, h)| (p, h)).unzip();
        Ranked {
            hits,
            probabilities,
            certainty: logistic(z),
            none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::triage::normalize;
    use super::*;

    fn hit(id: &str, score: f32) -> Hit {
        Hit::scored(id, score, 1.0)
    }

    fn model() -> &'static QuestionModel {
        QuestionModel::shared().expect("ranking/model.tsv")
    }

    fn order(question: &str, hits: Vec<Hit>) -> Vec<String> {
        let ranked = model().rank(&normalize(question), hits);
        ranked.hits.into_iter().map(|h| h.id).collect()
    }

    #[test]
    fn the_probabilities_are_the_training_scripts() {
        let check = include_str!("model_check.tsv");
        let mut n = 0;
        for line in check.lines().filter(|l| !l.starts_with('#')) {
            let mut fields = line.splitn(3, '\t');
            let (Some(expected), Some(passage), Some(text)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("probability, passage, text: {line:?}");
            };
            let expected: f32 = expected.parse().expect("a probability");
            let probabilities = model().probabilities(&normalize(text));
            let got = model().probability_of(&probabilities, passage);
            assert!(
                (got - expected).abs() < 1e-3,
                "{text:?}: script {expected}, ranking {got}"
            );
            let best = probabilities.iter().copied().fold(0.0, f32::max);
            assert!(
                (best - got).abs() < 1e-6,
                "{text:?}: {passage} is not first"
            );
            n += 1;
        }
        assert!(n >= 40, "{n} sentences checked");
    }

    #[test]
    fn siblings_that_score_alike_are_told_apart_by_how_people_ask() {
        let siblings = || {
            vec![
                hit("resistance", 10.0),
                hit("faq-another-immunotherapy", 10.0),
                hit("faq-when-to-stop", 10.0),
            ]
        };
        let first = |q: &str| order(q, siblings()).remove(0);
        assert_eq!(
            first("keytruda failed, is it worth switching him to opdivo"),
            "faq-another-immunotherapy"
        );
        assert_eq!(
            first("why did her cancer stop responding to the immunotherapy"),
            "resistance"
        );
        assert_eq!(
            first("he is exhausted by the side effects, when do we say enough and stop"),
            "faq-when-to-stop"
        );
    }

    #[test]
    fn the_search_still_decides_what_is_relevant() {
        // a passage the model likes, but which the search found to share almost nothing with
        // the question, stays below one that matches well
        let hits = vec![hit("car-t", 20.0), hit("faq-another-immunotherapy", 0.01)];
        assert_eq!(
            order("keytruda failed, can we switch to opdivo", hits)[0],
            "car-t"
        );
    }

    #[test]
    fn passages_the_model_does_not_know_keep_the_searchs_order() {
        assert!(!model().knows("added-after-training"));
        assert!(model().knows("car-t"));
        let hits = vec![hit("added-after-training", 9.0), hit("also-new", 8.0)];
        let ranked = model().rank(&normalize("what about car t for my father"), hits);
        let ids: Vec<&str> = ranked.hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["added-after-training", "also-new"]);
        // one over the passages it knows, not counting the class of off-topic questions
        let neutral = 1.0 / (model().passages.len() - 1) as f32;
        assert!(ranked.probabilities.iter().all(|&p| p == neutral));
    }

    #[test]
    fn the_certainty_is_a_probability_and_grows_with_the_lead() {
        let q = normalize("keytruda failed, is it worth switching him to opdivo");
        let clear = model().rank(&q, vec![hit("faq-another-immunotherapy", 10.0)]);
        let close = model().rank(
            &q,
            vec![
                hit("faq-another-immunotherapy", 10.0),
                hit("resistance", 10.0),
            ],
        );
        for c in [clear.certainty, close.certainty] {
            assert!((0.0..=1.0).contains(&c), "{c}");
        }
        assert!(clear.certainty > close.certainty);
        let nothing = model().rank(&q, Vec::new());
        assert_eq!(nothing.certainty, 0.0);
        assert!(nothing.hits.is_empty());
        // any text, however odd, gives probabilities that sum to one
        for text in ["", " ", "🙏🙏", &"x".repeat(5000), "我爸爸化疗后"] {
            let p = model().probabilities(&normalize(text));
            let sum: f32 = p.iter().sum();
            assert!((sum - 1.0).abs() < 1e-3, "{text:?}: {sum}");
        }
    }

    #[test]
    fn off_topic_questions_are_less_relevant_than_the_guides_at_the_same_confidence() {
        let m = model();
        let none = |q: &str| {
            m.rank(&normalize(q), vec![hit("cross-border-preparation", 5.0)])
                .none
        };
        let off = none("what is the weather like in beijing in march");
        let on = none("what documents do we need to bring to the hospital in china");
        assert!(off > on, "about no passage: off-topic {off}, on-topic {on}");
        assert!(m.relevance(0.6, off) < m.relevance(0.6, on));
        // and both measures move it the same way everywhere
        assert!(m.relevance(0.9, 0.1) > m.relevance(0.5, 0.1));
        assert!(m.relevance(0.5, 0.01) > m.relevance(0.5, 0.5));
        for (c, n) in [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0), (0.5, 0.5)] {
            assert!((0.0..=1.0).contains(&m.relevance(c, n)), "{c} {n}");
        }
        assert!(!m.knows(NONE), "no passage is called {NONE}");
    }

    #[test]
    fn a_bad_line_names_itself() {
        let ok = "lambda\t0.3\ncertainty bias\t1\ncertainty log_probability\t1\ncertainty lead\t1\nrelevance bias\t0\nrelevance confidence\t1\nrelevance none\t-1\nbias a\t0\n";
        assert!(QuestionModel::parse(ok).is_ok());
        let with =
            |line: &str| QuestionModel::parse(Box::leak(format!("{ok}{line}").into_boxed_str()));
        assert!(with("w y\t0:1.5 0:-2\n").is_ok());
        let e = with("x y\t0:1\n").err();
        assert_eq!(
            e.as_deref(),
            Some("ranking/model.tsv line 9: \"x y\\t0:1\"")
        );
        for line in [
            "w y\t0:one\n",
            "w y\t1:1\n",
            "w y\t0\n",
            "w y\n",
            "lambda\tx\n",
        ] {
            let e = with(line).err();
            assert!(
                e.as_ref().is_some_and(|e| e.contains("line 9")),
                "{line:?}: {e:?}"
            );
        }
        assert!(QuestionModel::parse("bias a\t0\n").is_err());
        assert!(QuestionModel::parse(
            "lambda\t0.3\ncertainty bias\t1\ncertainty log_probability\t1\ncertainty lead\t1\n"
        )
        .is_err());
    }
}
