//! Typing mistakes in red-flag words ("unconcious", "vomitting", "siezure", "breathng"): a
//! frightened person on a phone misspells the very words the check looks for. A word of the
//! message that is neither a word of the English phrasings nor a common English word is taken
//! for the phrasings' word it is one or two edits away from (same first letter), before
//! anything is matched. Real words are never changed, so "brest" stays, but "breathng" becomes
//! "breathing".

use std::collections::HashSet;

use crate::search::english_rank;
use crate::text::edit_distance;

/// The shortest word that is corrected: shorter ones are too easily another word.
const MIN_LEN: usize = 5;

/// The words of the English phrasings, by first letter and length.
pub struct Spelling {
    words: HashSet<String>,
    /// Words written as stems (`convuls*`): any word they begin is known.
    stems: Vec<String>,
    by_start: Vec<Vec<String>>,
}

impl Spelling {
    /// The literal words of `phrasings` (written in the phrasing syntax: the letters between
    /// its operators; macro names in braces are not words).
    pub fn new<'a>(phrasings: impl IntoIterator<Item = &'a str>) -> Spelling {
        let mut words = HashSet::new();
        let mut stems = Vec::new();
        for p in phrasings {
            let mut in_macro = false;
            let mut word = String::new();
            for c in p.chars().chain([' ']) {
                match c {
                    '{' => in_macro = true,
                    '}' => in_macro = false,
                    'a'..='z' if !in_macro => {
                        word.push(c);
                        continue;
                    }
                    '*' if word.len() >= 3 => stems.push(word.clone()),
                    _ => {}
                }
                // a stem (`breath*`) is a word too: "breathng" is one edit from "breathing"
                // only if that is listed, but it is also near "breath"'s longer forms
                if word.len() >= MIN_LEN {
                    words.insert(std::mem::take(&mut word));
                } else {
                    word.clear();
                }
            }
        }
        let mut by_start = vec![Vec::new(); 26];
        for w in &words {
            if let Some(i) = w.bytes().next().map(|b| usize::from(b - b'a')) {
                by_start[i].push(w.clone());
            }
        }
        for list in &mut by_start {
            list.sort();
        }
        stems.sort();
        stems.dedup();
        Spelling {
            words,
            stems,
            by_start,
        }
    }

    /// `normalized` with its misspelt red-flag words corrected, if it may be English (half its
    /// words common English ones, or too short to tell): another language's words are not
    /// English misspellings.
    pub fn correct(&self, normalized: &str) -> Option<String> {
        let mut changed = false;
        let words: Vec<&str> = normalized.split(' ').collect();
        let lettered = words.iter().filter(|w| !w.is_empty()).count();
        let english = words.iter().filter(|w| english_rank(w).is_some()).count();
        // a word or two cannot tell a language
        if lettered >= 3 && english * 2 < lettered {
            return None;
        }
        let mut out = String::with_capacity(normalized.len() + 8);
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match self.fix(w) {
                Some(fixed) => {
                    out.push_str(fixed);
                    changed = true;
                }
                None => out.push_str(w),
            }
        }
        changed.then_some(out)
    }

    fn fix(&self, word: &str) -> Option<&str> {
        if word.len() < MIN_LEN
            || !word.bytes().all(|b| b.is_ascii_lowercase())
            || self.words.contains(word)
            || english_rank(word).is_some()
            || self.stems.iter().any(|s| word.starts_with(s.as_str()))
        {
            return None;
        }
        let max = if word.len() >= 8 { 2 } else { 1 };
        let first = usize::from(word.as_bytes()[0] - b'a');
        self.by_start[first]
            .iter()
            .filter(|c| c.len().abs_diff(word.len()) <= max)
            .filter_map(|c| edit_distance(word, c, max).map(|d| (d, c)))
            .min_by_key(|&(d, c)| (d, c.len()))
            .map(|(_, c)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_red_flag_words_are_corrected_and_real_words_are_not() {
        let s = Spelling::new([
            "unconscious",
            "(vomiting|seizure)",
            "{person} breathing",
            "bleed*",
        ]);
        assert_eq!(
            s.correct(" he is unconcious ").as_deref(),
            Some(" he is unconscious ")
        );
        assert_eq!(
            s.correct(" vomitting and a siezure ").as_deref(),
            Some(" vomiting and a seizure ")
        );
        assert_eq!(s.correct(" breathng ").as_deref(), Some(" breathing "));
        // real words, short words and words far from any are left alone
        assert_eq!(s.correct(" breeding season "), None);
        assert_eq!(s.correct(" person "), None);
        assert_eq!(s.correct(" xyzzyq "), None);
        // a stem's longer forms are known words
        let s = Spelling::new(["convuls*", "confusing"]);
        assert_eq!(s.correct(" he is convulsing "), None);
        // nor is another language's text corrected
        let s = Spelling::new(["respiring"]);
        assert_eq!(s.correct(" no puede respirar "), None);
    }
}
