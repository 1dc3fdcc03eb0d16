//! `open_or_build`: the index follows the content, keeps serving through content errors, heals
//! itself when damaged, and never deletes a folder that is not its own.

use faqbot::content::LoadError;
use faqbot::core::{Engine, Outcome};
use faqbot::search::{open_or_build, IndexError, Opened, SearchIndex};

use crate::helpers::{Fixture, GUIDE};

fn open(f: &Fixture) -> (SearchIndex, Opened) {
    let (index, meta, opened) =
        open_or_build(&f.content, &f.index).unwrap_or_else(|e| panic!("open_or_build: {e}"));
    (
        SearchIndex::new(index, meta).expect("read the index"),
        opened,
    )
}

fn engine(f: &Fixture, index: SearchIndex) -> Engine {
    Engine::new(index, f.settings()).expect("engine")
}

/// The passage the engine finds first for `q` (given as the answer or offered first).
fn shown(engine: &Engine, q: &str) -> Option<String> {
    engine.answer(q).passages.first().map(|p| p.id.clone())
}

#[test]
fn the_index_is_built_once_then_reused_then_rebuilt_when_content_changes() {
    let f = Fixture::new();
    let (index, opened) = open(&f);
    assert!(
        matches!(opened, Opened::Rebuilt),
        "first open builds: {opened:?}"
    );
    assert_eq!(index.num_passages(), 8);
    assert_eq!(index.meta().passages, 8);
    assert_eq!(index.meta().languages, ["en"]);
    drop(index);

    let (_, opened) = open(&f);
    assert!(
        matches!(opened, Opened::Current),
        "unchanged content: {opened:?}"
    );

    // an editor adds a section: the next open rebuilds and the new text is searchable
    f.write(
        "care.md",
        &format!(
            "{GUIDE}\n## Hair Loss\nid: hair\nask: will her hair grow back\n\nHair usually grows back within months; a wig or a scarf can help meanwhile.\n"
        ),
    );
    let (index, opened) = open(&f);
    assert!(
        matches!(opened, Opened::Rebuilt),
        "changed content: {opened:?}"
    );
    assert_eq!(index.num_passages(), 9);
    let engine = engine(&f, index);
    assert_eq!(
        shown(&engine, "can she wear a wig").as_deref(),
        Some("hair")
    );

    let (_, opened) = open(&f);
    assert!(matches!(opened, Opened::Current), "{opened:?}");
}

#[test]
fn a_changed_synonyms_file_is_a_change_too() {
    let f = Fixture::new();
    let (index, _) = open(&f);
    assert_ne!(
        engine(&f, index).answer("what is blorbix").outcome,
        Outcome::Answer
    );
    f.write(
        "synonyms.txt",
        &format!("{}blorbix => kinase inhibitor\n", crate::helpers::SYNONYMS),
    );
    let (index, opened) = open(&f);
    assert!(matches!(opened, Opened::Rebuilt), "{opened:?}");
    let engine = engine(&f, index);
    assert_eq!(shown(&engine, "what is blorbix").as_deref(), Some("kinase"));
}

#[test]
fn broken_content_keeps_the_previous_index_serving() {
    let f = Fixture::new();
    let (index, _) = open(&f);
    drop(index);
    // the editor breaks the guide: a section left empty, and the kinase text gone
    let broken = f.write(
        "care.md",
        "---\nid: care\ntitle: Living with treatment\n---\n\n## Half written\nid: half\n",
    );
    let (index, meta, opened) = open_or_build(&f.content, &f.index).expect("stale index serves");
    let Opened::Stale(err) = opened else {
        panic!("expected Stale, got {opened:?}");
    };
    assert!(matches!(err, LoadError::Invalid(_)), "{err:?}");
    let shown_err = err.to_string();
    assert!(
        shown_err.contains(&format!("{}:6:", broken.display())),
        "{shown_err}"
    );
    assert_eq!(meta.passages, 8, "the old index's meta");
    let engine = engine(&f, SearchIndex::new(index, meta).expect("read"));
    assert_eq!(
        shown(&engine, "what is zentrofix").as_deref(),
        Some("kinase")
    );

    // while it stays broken every open is stale, and nothing is lost
    let (_, _, opened) = open_or_build(&f.content, &f.index).expect("still serving");
    assert!(matches!(opened, Opened::Stale(_)), "{opened:?}");
    // put back as it was: the index already holds exactly this content
    f.write("care.md", GUIDE);
    let (_, opened) = open(&f);
    assert!(matches!(opened, Opened::Current), "{opened:?}");
}

#[test]
fn broken_content_without_a_previous_index_is_an_error() {
    let f = Fixture::empty();
    let path = f.write("a.md", "no front matter\n");
    let err = open_or_build(&f.content, &f.index).expect_err("nothing to serve");
    assert!(
        matches!(err, IndexError::Content(LoadError::Invalid(_))),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("{}:1:", path.display())),
        "{err}"
    );
}

#[test]
fn a_corrupt_index_is_rebuilt() {
    let f = Fixture::new();
    drop(open(&f));
    std::fs::write(f.index.join("meta.json"), b"{ this is not json \xff").expect("corrupt");
    let (index, opened) = open(&f);
    assert!(matches!(opened, Opened::Rebuilt), "{opened:?}");
    assert_eq!(index.num_passages(), 8);
    let engine = engine(&f, index);
    assert_eq!(
        shown(&engine, "what is zentrofix").as_deref(),
        Some("kinase")
    );
    let (_, opened) = open(&f);
    assert!(matches!(opened, Opened::Current), "{opened:?}");
}

#[test]
fn an_index_with_its_segment_files_gone_is_rebuilt() {
    let f = Fixture::new();
    drop(open(&f));
    for entry in std::fs::read_dir(&f.index).expect("index dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "idx" || e == "store") {
            std::fs::remove_file(path).expect("remove");
        }
    }
    // meta.json still matches the content, but the index cannot be read: it must be rebuilt
    let (index, _) = open(&f);
    let engine = engine(&f, index);
    assert_eq!(
        shown(&engine, "what is zentrofix").as_deref(),
        Some("kinase")
    );
}

#[test]
fn a_folder_that_is_not_an_index_is_refused_and_left_alone() {
    let f = Fixture::new();
    std::fs::create_dir(&f.index).expect("create");
    let notes = f.index.join("notes.txt");
    std::fs::write(&notes, "someone's notes").expect("write");
    let err = open_or_build(&f.content, &f.index).expect_err("refused");
    assert!(
        matches!(&err, IndexError::NotAnIndex(p) if p == &f.index),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains(&f.index.display().to_string()), "{shown}");
    assert!(shown.contains("FAQBOT_INDEX__DIR"), "{shown}");
    assert_eq!(
        std::fs::read_to_string(&notes).expect("still there"),
        "someone's notes"
    );
}

#[test]
fn an_empty_folder_or_one_with_only_gitkeep_is_used() {
    let f = Fixture::new();
    std::fs::create_dir(&f.index).expect("create");
    std::fs::write(f.index.join(".gitkeep"), "").expect("write");
    let (index, opened) = open(&f);
    assert!(matches!(opened, Opened::Rebuilt), "{opened:?}");
    assert_eq!(index.num_passages(), 8);
    assert!(f.index.join(".gitkeep").exists());
}

#[test]
fn a_readme_beside_the_guides_does_not_change_the_index() {
    let f = Fixture::new();
    drop(open(&f));
    f.write("README.md", "How to edit these files.\n");
    let (_, opened) = open(&f);
    assert!(matches!(opened, Opened::Current), "{opened:?}");
}
