//! What the learned models read in a message: its words, pairs of words in a row and pieces of
//! words (three to five letters of a word padded with a space on each side), each counted.
//! Pieces let a model know a word it never saw spelt that way ("keytrudda", a plural, a case
//! ending); pairs, the difference between "not working" and "working".
//!
//! The emergency check's model (`triage::model`) and the question model (`ranking`) read the
//! same features of the same normalised text (`triage::normalize`), as their training scripts
//! (`scripts/train_triage.py`, `scripts/train_ranker.py`) compute them; the question model
//! without the pieces, which did not make it rank better and were most of its cost.

use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

/// The n-grams of letters taken from each word, padded with a space on each side.
const PIECES: [usize; 3] = [3, 4, 5];

/// Which kind of feature a weight belongs to: a word, two words in a row, or a piece of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Word,
    Pair,
    Piece,
}

impl Kind {
    /// How the kind is written in a model's file, before the feature.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Kind::Word => "w",
            Kind::Pair => "b",
            Kind::Piece => "c",
        }
    }

    fn from_tag(tag: &str) -> Option<Kind> {
        match tag {
            "w" => Some(Kind::Word),
            "b" => Some(Kind::Pair),
            "c" => Some(Kind::Piece),
            _ => None,
        }
    }
}

/// A model's values by feature: one map per kind, so that a look-up borrows the message's text.
/// A feature is kept as a 64-bit hash of its text, not the text: tens of thousands of them, a
/// third of the tables' memory as `&str` (BENCHMARKS.md). Two of a model's features with one
/// hash are refused when the model is read (a test reads the shipped ones); a word no model
/// has that shares a hash with one it has is as likely as guessing a 64-bit number.
pub(crate) struct Table<T> {
    words: FxHashMap<u64, T>,
    pairs: FxHashMap<u64, T>,
    pieces: FxHashMap<u64, T>,
}

fn key(feature: &str) -> u64 {
    let mut hasher = FxHasher::default();
    feature.hash(&mut hasher);
    hasher.finish()
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            words: FxHashMap::default(),
            pairs: FxHashMap::default(),
            pieces: FxHashMap::default(),
        }
    }
}

impl<T> Table<T> {
    /// The value of a new feature as a model's file names it: its kind's tag, a space, the
    /// feature (`w keytruda`, `b not working`, `c  key`). `None` when the tag is not a kind's,
    /// or the feature (or its hash) is in the table already.
    pub(crate) fn entry(&mut self, name: &str) -> Option<&mut T>
    where
        T: Default,
    {
        let (tag, feature) = name.split_once(' ')?;
        let map = match Kind::from_tag(tag)? {
            Kind::Word => &mut self.words,
            Kind::Pair => &mut self.pairs,
            Kind::Piece => &mut self.pieces,
        };
        match map.entry(key(feature)) {
            Entry::Vacant(slot) => Some(slot.insert(T::default())),
            Entry::Occupied(_) => None,
        }
    }

    pub(crate) fn get(&self, kind: Kind, feature: &str) -> Option<&T> {
        match kind {
            Kind::Word => &self.words,
            Kind::Pair => &self.pairs,
            Kind::Piece => &self.pieces,
        }
        .get(&key(feature))
    }
}

/// Every feature of a normalized message (words separated by single spaces, a space at each
/// end) with its value: 1 + ln(count), the vector scaled to length 1 over every feature of the
/// message, known to a model or not. Without `pieces`, words and pairs only.
pub(crate) fn weighted(normalized: &str, pieces: bool) -> Vec<(Kind, &str, f32)> {
    let counts = features(normalized, pieces);
    let value = |count: u32| 1.0 + (count as f32).ln();
    let length = counts
        .values()
        .map(|&c| value(c) * value(c))
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    counts
        .into_iter()
        .map(|((kind, feature), count)| (kind, feature, value(count) / length))
        .collect()
}

/// Every feature of a normalized message with its count (pieces of words only with `pieces`).
/// A word, a word pair and a word with its spaces are all slices of it.
pub(crate) fn features(normalized: &str, pieces: bool) -> FxHashMap<(Kind, &str), u32> {
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
        if !pieces {
            continue;
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
    fn features_are_words_pairs_and_pieces_of_padded_words() {
        let counts = features(" ab ab cd ", true);
        assert_eq!(counts[&(Kind::Word, "ab")], 2);
        assert_eq!(counts[&(Kind::Pair, "ab ab")], 1);
        assert_eq!(counts[&(Kind::Pair, "ab cd")], 1);
        assert_eq!(counts[&(Kind::Piece, " ab")], 2);
        assert_eq!(counts[&(Kind::Piece, " ab ")], 2);
        assert_eq!(counts[&(Kind::Piece, "cd ")], 1);
        assert!(!counts.contains_key(&(Kind::Piece, "ab a")));
        // two words, two pairs, three pieces of each word
        assert_eq!(counts.len(), 2 + 2 + 3 + 3);
        assert!(features(" ", true).is_empty());
        let no_pieces = features(" ab ab cd ", false);
        assert_eq!(no_pieces.len(), 2 + 2);
        assert!(no_pieces.keys().all(|(kind, _)| *kind != Kind::Piece));
    }

    #[test]
    fn the_weighted_vector_has_length_one() {
        let v = weighted(" ab ab cd ", true);
        let length: f32 = v.iter().map(|(_, _, x)| x * x).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-5, "{length}");
        let ab = v.iter().find(|(k, f, _)| *k == Kind::Word && *f == "ab");
        let cd = v.iter().find(|(k, f, _)| *k == Kind::Word && *f == "cd");
        // twice counts 1 + ln 2 times once
        let (ab, cd) = (ab.map(|t| t.2), cd.map(|t| t.2));
        assert!(matches!((ab, cd), (Some(a), Some(c)) if (a / c - (1.0 + 2f32.ln())).abs() < 1e-5));
        assert!(weighted(" ", true).is_empty());
    }

    #[test]
    fn a_table_reads_tagged_names() {
        let mut t: Table<f32> = Table::default();
        *t.entry("w keytruda").expect("a word") = 1.5;
        *t.entry("c  ke").expect("a piece") = 0.5;
        assert_eq!(t.get(Kind::Word, "keytruda"), Some(&1.5));
        assert_eq!(t.get(Kind::Piece, " ke"), Some(&0.5));
        assert_eq!(t.get(Kind::Pair, "keytruda"), None);
        assert!(t.entry("x keytruda").is_none());
        // a feature named twice is refused, not overwritten
        assert!(t.entry("w keytruda").is_none());
        assert_eq!(t.get(Kind::Word, "keytruda"), Some(&1.5));
        assert!(t.entry("keytruda").is_none());
    }
}
