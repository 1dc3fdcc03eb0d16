//! Turns `src/search/english_words.txt` (one word a line, most frequent first) into a table
//! sorted by word, compiled into the binary: looking a word up then costs a binary search and
//! nothing at start-up, where building a hash map of the 30,000 words took a third of
//! `faqbot ask`'s start-up.

use std::env;
use std::fs;
use std::path::Path;

const WORDS: &str = "src/search/english_words.txt";

fn main() {
    println!("cargo::rerun-if-changed={WORDS}");
    let text = fs::read_to_string(WORDS).unwrap_or_else(|e| panic!("cannot read {WORDS}: {e}"));
    let mut ranked: Vec<(&str, u32)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .zip(0u32..)
        .collect();
    ranked.sort_unstable();
    if let Some(w) = ranked.windows(2).find(|w| w[0].0 == w[1].0) {
        panic!("{WORDS} lists {:?} twice", w[0].0);
    }
    // the words back to back, and for each its start and length in that text and its rank:
    // plain numbers, which need no relocation when the binary is loaded
    let mut joined = String::new();
    let mut entries = String::new();
    for (word, rank) in &ranked {
        let len = u16::try_from(word.len()).expect("words of fewer than 65,536 bytes");
        let rank = u16::try_from(*rank).expect("fewer than 65,536 words");
        entries.push_str(&format!("({}, {len}, {rank}),", joined.len()));
        joined.push_str(word);
    }
    let out = format!(
        "/// The words sorted, back to back.\n\
         static TEXT: &str = {joined:?};\n\
         /// (start in TEXT, length, frequency rank) of each word, in TEXT's order.\n\
         static ENTRIES: [(u32, u16, u16); {n}] = [{entries}];\n",
        n = ranked.len()
    );
    let dest =
        Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("english_words.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
