//! The emergency check's second opinion: a logistic model of a message's words, word pairs and
//! word pieces, learned from emergencies and near misses written by people who never saw the
//! phrasings.
//!
//! The phrasings recognise red flags in the words clinicians and our reviewers foresaw; people
//! in a hurry also write them in words nobody foresaw ("her lips look dusky", "talking
//! gibberish", a brand name misspelt in a language with cases). Measured on question sets
//! written after the phrasings were (README, "Emergency check quality"), the phrasings alone
//! recognised 83–88% of those emergencies, and the phrasings or this model together many more,
//! at a small cost in false alarms. So the check alarms when a category's phrasings do, or
//! when this model's probability reaches its threshold; the model never takes an alarm away.
//!
//! The weights are data, written by `scripts/train_triage.py` into `model.tsv`, which also
//! says how the features are computed; this file must compute them the same way, and a test
//! compares its probabilities with the script's on `model_check.tsv`. Retrain when the
//! question sets grow.

use crate::core::features::{self, Table};

const WEIGHTS: &str = include_str!("model.tsv");

/// The learned weights.
pub struct Model {
    threshold: f32,
    bias: f32,
    weights: Table<f32>,
}

impl Model {
    /// The model shipped with the binary.
    pub fn shipped() -> Result<Model, String> {
        Model::parse(WEIGHTS)
    }

    fn parse(text: &str) -> Result<Model, String> {
        let mut threshold = None;
        let mut bias = None;
        let mut model = Model {
            threshold: 0.0,
            bias: 0.0,
            weights: Table::default(),
        };
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let bad = || format!("model.tsv line {}: {line:?}", n + 1);
            let (name, value) = line.rsplit_once('\t').ok_or_else(bad)?;
            let value: f32 = value.parse().map_err(|_| bad())?;
            match name {
                "threshold" => threshold = Some(value),
                "bias" => bias = Some(value),
                _ => *model.weights.entry(name).ok_or_else(bad)? = value,
            }
        }
        model.threshold = threshold.ok_or("model.tsv: no threshold")?;
        model.bias = bias.ok_or("model.tsv: no bias")?;
        Ok(model)
    }

    /// Whether a probability is high enough to alarm.
    pub fn alarms(&self, probability: f32) -> bool {
        probability >= self.threshold
    }

    /// The probability that a message, [`super::normalize`]d, describes an emergency now.
    pub fn probability(&self, normalized: &str) -> f32 {
        let (z, _) = self.score(normalized, false);
        1.0 / (1.0 + (-z).exp())
    }

    /// The features that pushed the probability up most, strongest first, for `--explain`.
    pub fn strongest(&self, normalized: &str, n: usize) -> Vec<(String, f32)> {
        let (_, mut parts) = self.score(normalized, true);
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts.truncate(n);
        parts
    }

    /// The logit, and with `parts` each weighted feature's share of it.
    fn score(&self, normalized: &str, parts: bool) -> (f32, Vec<(String, f32)>) {
        let mut z = self.bias;
        let mut shares = Vec::new();
        for (kind, feature, value) in features::weighted(normalized, true) {
            if let Some(w) = self.weights.get(kind, feature) {
                let share = w * value;
                z += share;
                if parts {
                    shares.push((format!("{} {feature:?}", kind.tag()), share));
                }
            }
        }
        (z, shares)
    }
}

/// Whether a normalized message says enough for the model: eight words (in a language written
/// without spaces, two characters count as a word). In a shorter message the pieces of its few
/// words weigh too much ("pins and needles in her hands" read as an emergency for its "and");
/// the emergencies the phrasings miss are told at length.
pub fn long_enough(normalized: &str) -> bool {
    let words: usize = normalized
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.chars().all(|c| c >= '\u{2E80}') {
                w.chars().count().div_ceil(2)
            } else {
                1
            }
        })
        .sum();
    words >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probabilities_are_the_training_scripts() {
        let model = Model::shipped().expect("model.tsv");
        let check = include_str!("model_check.tsv");
        let mut n = 0;
        for line in check.lines().filter(|l| !l.starts_with('#')) {
            let (expected, text) = line.split_once('\t').expect("probability, tab, text");
            let expected: f32 = expected.parse().expect("a probability");
            let got = model.probability(&super::super::normalize(text));
            assert!(
                (got - expected).abs() < 1e-3,
                "{text:?}: script {expected}, model.rs {got}"
            );
            n += 1;
        }
        assert!(n >= 40, "{n} sentences checked");
    }

    #[test]
    fn it_reads_situations_and_lets_questions_be() {
        let model = Model::shipped().expect("model.tsv");
        let p = |text: &str| model.probability(&super::super::normalize(text));
        for emergency in [
            "granddad is making gurgling noises and we cant rouse him properly",
            "she went all floppy on the sofa and her eyes rolled back for a minute",
            "папа после химии, температура 39 и его трясёт",
        ] {
            assert!(model.alarms(p(emergency)), "{emergency}: {}", p(emergency));
        }
        for question in [
            "what are the side effects of keytruda",
            "can we fly to china for a second opinion next month",
            "thank you, that answered my question",
        ] {
            assert!(!model.alarms(p(question)), "{question}: {}", p(question));
        }
    }

    #[test]
    fn a_few_words_are_not_enough() {
        assert!(!long_enough(" you are very helpful "));
        assert!(!long_enough(" pins and needles in her hands "));
        assert!(long_enough(
            " she is hot and shaking badly since this morning "
        ));
        assert!(!long_enough(" 我爸爸发烧 "));
        assert!(long_enough(
            " 我妈从早上到现在一直吐 连水都喝不进去 化疗是前天做的 "
        ));
        assert!(long_enough(
            " 我爸爸化疗后第七天发烧到三十九度还一直发抖叫不醒怎么办 "
        ));
    }

    #[test]
    fn a_bad_line_names_itself() {
        let e = Model::parse("threshold\t0.5\nbias\t0\nx y\t1\n").err();
        assert_eq!(e.as_deref(), Some("model.tsv line 3: \"x y\\t1\""));
        assert!(Model::parse("bias\t0\n").is_err());
    }
}
