//! Common English words (see `english_words.txt`'s header) with their frequency rank: real
//! words are never "corrected" into guide terms, and one the guide does not use counts against
//! a match. The table is sorted and cut into buckets by the first two letters by `build.rs`,
//! so a look-up is a short binary search and start-up builds nothing.

include!(concat!(env!("OUT_DIR"), "/english_words.rs"));
include!("english_bucket.rs");

/// `word`'s frequency rank among common English words (0 = the most frequent), if it is one.
/// Words are lower case.
pub fn rank(word: &str) -> Option<usize> {
    let b = bucket(word.as_bytes())?;
    let (from, to) = (usize::from(STARTS[b]), usize::from(STARTS[b + 1]));
    ENTRIES[from..to]
        .binary_search_by(|&(start, len, _)| {
            let start = start as usize;
            TEXT[start..start + usize::from(len)].cmp(word)
        })
        .ok()
        .map(|i| usize::from(ENTRIES[from + i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_word_has_its_rank() {
        let listed = include_str!("english_words.txt")
            .lines()
            .filter(|l| !l.starts_with('#'));
        let mut n = 0;
        for (expected, w) in listed.enumerate() {
            assert_eq!(rank(w), Some(expected), "{w}");
            n += 1;
        }
        assert_eq!(n, 30_000);
        assert_eq!(rank("the"), Some(0));
    }

    #[test]
    fn other_strings_are_not_english() {
        for w in [
            "",
            "keytruda",
            "pembrolizumab",
            "thee3",
            "The",
            "zzzzzz",
            "aaaaaaa",
        ] {
            assert_eq!(rank(w), None, "{w:?}");
        }
    }
}
