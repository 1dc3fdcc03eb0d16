//! Data compiled into the binary ahead of time: `src/search/english_words.txt` (one word a line,
//! most frequent first) becomes a table sorted by word, so looking a word up costs a short
//! binary search, where building a hash map of the 30,000 words took a third of `faqbot ask`'s
//! start-up.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const WORDS: &str = "src/search/english_words.txt";

include!("src/search/english_bucket.rs");

/// How many buckets `bucket` has.
const BUCKETS: usize = 26 * 27;

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    english_words(&out);
}

fn english_words(out_dir: &Path) {
    println!("cargo::rerun-if-changed={WORDS}");
    println!("cargo::rerun-if-changed=src/search/english_bucket.rs");
    let text = fs::read_to_string(WORDS).unwrap_or_else(|e| panic!("cannot read {WORDS}: {e}"));
    let mut ranked: Vec<(&str, u32)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .zip(0u32..)
        .collect();
    if let Some((w, _)) = ranked
        .iter()
        .find(|(w, _)| !w.bytes().all(|b| b.is_ascii_lowercase()))
    {
        panic!("{WORDS}: {w:?} is not a word of a-z only");
    }
    ranked.sort_unstable();
    if let Some(w) = ranked.windows(2).find(|w| w[0].0 == w[1].0) {
        panic!("{WORDS} lists {:?} twice", w[0].0);
    }
    // the words back to back, and for each its start and length in that text and its rank:
    // plain numbers, which need no relocation when the binary is loaded
    let mut joined = String::new();
    let mut entries = String::new();
    // starts[b]: how many words fall in the buckets before b (sorted words come bucket by
    // bucket)
    let mut starts = vec![0u16; BUCKETS + 1];
    for (word, _) in &ranked {
        let b = bucket(word.as_bytes()).expect("words of a-z only");
        starts[b + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
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
         static ENTRIES: [(u32, u16, u16); {n}] = [{entries}];\n\
         /// Bucket b's entries are ENTRIES[STARTS[b]..STARTS[b + 1]].\n\
         static STARTS: [u16; {buckets}] = {starts:?};\n",
        n = ranked.len(),
        buckets = BUCKETS + 1,
    );
    write(&out_dir.join("english_words.rs"), out.as_bytes());
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
