//! Data compiled into the binary ahead of time, so that start-up builds none of it:
//!
//! - `src/search/english_words.txt` (one word a line, most frequent first) becomes a table
//!   sorted by word: looking a word up costs a short binary search, where building a hash map
//!   of the 30,000 words took a third of `faqbot ask`'s start-up;
//! - the intent rules of `src/core/intents.toml` become DFAs: compiling them into regexes took
//!   most of the rest, and matching with a lazy DFA spent more again building its states for
//!   each new message.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use regex_automata::dfa::{dense, StartKind};

const WORDS: &str = "src/search/english_words.txt";
const RULES: &str = "src/core/intents.toml";

include!("src/search/english_bucket.rs");
include!("src/core/intent_patterns.rs");

/// How many buckets `bucket` has.
const BUCKETS: usize = 26 * 27;

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    english_words(&out);
    intent_rules(&out);
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

/// One DFA per group of rules (the emergency rules per language, every other intent across its
/// languages), written to `OUT_DIR` in the target's byte order, and `intents.rs` naming them.
fn intent_rules(out_dir: &Path) {
    println!("cargo::rerun-if-changed={RULES}");
    println!("cargo::rerun-if-changed=src/core/intent_patterns.rs");
    let text = fs::read_to_string(RULES).unwrap_or_else(|e| panic!("cannot read {RULES}: {e}"));
    let rules: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{RULES} is not valid TOML: {e}"));
    let languages = |intent: &str| -> Vec<(String, Vec<String>)> {
        let table = rules
            .get(intent)
            .and_then(toml::Value::as_table)
            .unwrap_or_else(|| panic!("{RULES} has no [{intent}] table"));
        table
            .iter()
            .map(|(lang, patterns)| {
                let patterns = patterns
                    .as_array()
                    .and_then(|a| a.iter().map(|p| p.as_str().map(String::from)).collect())
                    .unwrap_or_else(|| panic!("{RULES}: {intent}.{lang} is not a list of strings"));
                (lang.clone(), patterns)
            })
            .collect()
    };
    let big_endian = env::var("CARGO_CFG_TARGET_ENDIAN").is_ok_and(|e| e == "big");
    // The smalltalk rules match whole messages made of many overlapping phrases: minimised,
    // their DFAs are a quarter of the size (a few MB instead of 15), for a longer build.
    let dfa_with = |name: &str, pattern: &str, minimize: bool| -> String {
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .start_kind(StartKind::Unanchored)
                    .minimize(minimize),
            )
            .build(pattern)
            .unwrap_or_else(|e| panic!("{RULES}: the {name} rules do not compile: {e}"));
        let (bytes, pad) = if big_endian {
            dfa.to_bytes_big_endian()
        } else {
            dfa.to_bytes_little_endian()
        };
        let path = out_dir.join(format!("intent-{name}.dfa"));
        write(&path, &bytes[pad..]);
        format!(
            "&Aligned(*include_bytes!({:?}))",
            path.display().to_string()
        )
    };
    let dfa = |name: &str, pattern: &str| dfa_with(name, pattern, false);
    let mut code = String::from("/// (language, DFA) of each language's emergency rules.\nstatic EMERGENCY: &[(&str, &Aligned<[u8]>)] = &[\n");
    for (lang, patterns) in languages("emergency") {
        let dfa = dfa(&format!("emergency-{lang}"), &alternation(&patterns));
        code.push_str(&format!("    ({lang:?}, {dfa}),\n"));
    }
    code.push_str("];\n");
    let words: std::collections::BTreeMap<String, Vec<String>> =
        languages("words").into_iter().collect();
    for intent in [
        "handoff", "greeting", "thanks", "farewell", "identity", "advice",
    ] {
        let patterns: Vec<String> = languages(intent)
            .iter()
            .flat_map(|(_, p)| p)
            .map(|p| expand_words(p, &words).unwrap_or_else(|e| panic!("{RULES}: {e}")))
            .collect();
        let pattern = alternation(&patterns);
        code.push_str(&format!(
            "/// The {intent} rules.\nstatic {}: &Aligned<[u8]> = {};\n",
            intent.to_uppercase(),
            dfa_with(intent, &pattern, true)
        ));
    }
    write(&out_dir.join("intents.rs"), code.as_bytes());
}
