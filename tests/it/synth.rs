//! The benchmark content generator (`faqbot_dev::synth`): deterministic, and content that
//! faqbot loads, so the benches measure what they say.

use std::collections::HashSet;
use std::path::Path;

use faqbot_dev::synth::{write_guides, MAX_WORDS, MIN_WORDS, SHIPPED_SYNONYMS};

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let p = e.expect("entry").path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn same_seed_same_bytes_other_seed_other_text() {
    let root = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        root.path().join("a"),
        root.path().join("b"),
        root.path().join("c"),
    );
    write_guides(&a, 450, 7).expect("write a");
    write_guides(&b, 450, 7).expect("write b");
    write_guides(&c, 450, 8).expect("write c");
    let (fa, fb, fc) = (read_all(&a), read_all(&b), read_all(&c));
    assert_eq!(fa.len(), 4, "three guide files and synonyms.txt");
    assert!(fa == fb, "same seed must give byte-identical files");
    assert!(fa != fc, "another seed must give other text");
}

#[test]
fn output_is_valid_content_with_unique_ids_and_plausible_passages() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_guides(dir.path(), 1000, 42).expect("write");
    let content = faqbot::content::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(content.guides.len(), 5);
    assert_eq!(content.passages().count(), 1000);
    assert_eq!(content.synonyms_text, SHIPPED_SYNONYMS);
    let mut ids = HashSet::new();
    let mut vocabulary = HashSet::new();
    for (_, p) in content.passages() {
        assert!(ids.insert(p.id.clone()), "duplicate id {}", p.id);
        let n = p.body.split_whitespace().filter(|w| *w != "-").count();
        assert!(
            (MIN_WORDS..=MAX_WORDS).contains(&n),
            "{} has {n} words",
            p.id
        );
        assert!(!p.questions.is_empty());
        vocabulary.extend(faqbot::text::words(&p.body));
    }
    // made-up names keep the vocabulary growing with the corpus
    assert!(
        vocabulary.len() > 500,
        "{} distinct words",
        vocabulary.len()
    );
}
