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

use rustc_hash::FxHashMap;

const WEIGHTS: &str = include_str!("model.tsv");

/// The n-grams of letters taken from each word, padded with a space on each side.
const PIECES: [usize; 3] = [3, 4, 5];

/// Which kind of feature a weight belongs to: a word, two words in a row, or a piece of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Word,
    Pair,
    Piece,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Word => "w",
            Kind::Pair => "b",
            Kind::Piece => "c",
        }
    }
}

/// The learned weights.
pub struct Model {
    threshold: f32,
    bias: f32,
    /// One map per kind of feature, so that a look-up borrows the message's text.
    words: FxHashMap<Box<str>, f32>,
    pairs: FxHashMap<Box<str>, f32>,
    pieces: FxHashMap<Box<str>, f32>,
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
            words: FxHashMap::default(),
            pairs: FxHashMap::default(),
            pieces: FxHashMap::default(),
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
                _ => {
                    let (tag, feature) = name.split_once(' ').ok_or_else(bad)?;
                    let map = match tag {
                        "w" => &mut model.words,
                        "b" => &mut model.pairs,
                        "c" => &mut model.pieces,
                        _ => return Err(bad()),
                    };
                    map.insert(Box::from(feature), value);
                }
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
        let counts = features(normalized);
        // each feature counts 1 + ln(count), and the vector is scaled to length 1 over every
        // feature of the message, known to the model or not
        let value = |count: u32| 1.0 + (count as f32).ln();
        let length = counts
            .values()
            .map(|&c| value(c) * value(c))
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        let mut z = self.bias;
        let mut shares = Vec::new();
        for (&(kind, feature), &count) in &counts {
            let map = match kind {
                Kind::Word => &self.words,
                Kind::Pair => &self.pairs,
                Kind::Piece => &self.pieces,
            };
            if let Some(w) = map.get(feature) {
                let share = w * value(count) / length;
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

/// Every feature of a normalized message (words separated by single spaces, a space at each
/// end) with its count. A word, a word pair and a word with its spaces are all slices of it.
fn features(normalized: &str) -> FxHashMap<(Kind, &str), u32> {
    let mut counts: FxHashMap<(Kind, &str), u32> = FxHashMap::default();
    // the spaces in the text, each word between two of them
    let spaces: Vec<usize> = normalized
        .char_indices()
        .filter(|&(_, c)| c == ' ')
        .map(|(i, _)| i)
        .collect();
    let mut add = |kind, feature| *counts.entry((kind, feature)).or_insert(0) += 1;
    for (i, pair) in spaces.windows(2).enumerate() {
        let (before, after) = (pair[0], pair[1]);
        if after == before + 1 {
            continue;
        }
        add(Kind::Word, &normalized[before + 1..after]);
        if let Some(&next) = spaces.get(i + 2) {
            add(Kind::Pair, &normalized[before + 1..next]);
        }
        let padded = &normalized[before..=after];
        let bounds: Vec<usize> = padded
            .char_indices()
            .map(|(i, _)| i)
            .chain([padded.len()])
            .collect();
        for n in PIECES {
            for w in bounds.windows(n + 1) {
                add(Kind::Piece, &padded[w[0]..w[n]]);
            }
        }
    }
    counts
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
    fn features_are_words_pairs_and_pieces_of_padded_words() {
        let counts = features(" ab ab cd ");
        assert_eq!(counts[&(Kind::Word, "ab")], 2);
        assert_eq!(counts[&(Kind::Pair, "ab ab")], 1);
        assert_eq!(counts[&(Kind::Pair, "ab cd")], 1);
        assert_eq!(counts[&(Kind::Piece, " ab")], 2);
        assert_eq!(counts[&(Kind::Piece, " ab ")], 2);
        assert_eq!(counts[&(Kind::Piece, "cd ")], 1);
        assert!(!counts.contains_key(&(Kind::Piece, "ab a")));
        // two words, two pairs, three pieces of each word
        assert_eq!(counts.len(), 2 + 2 + 3 + 3);
        assert!(features(" ").is_empty());
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
