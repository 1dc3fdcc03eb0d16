//! Loading `faq/`: what a good folder gives, and every error an editor can make, reported with
//! its file and line.

use std::path::Path;

use faqbot::content::{self, ContentError, Kind, LoadError};

use crate::helpers::Fixture;

/// A valid guide with the given id and one section with the given passage id.
fn guide(id: &str, passage: &str) -> String {
    format!("---\nid: {id}\ntitle: Guide {id}\nlanguage: en\n---\n\n## Section {passage}\nid: {passage}\n\nSome text about {passage}.\n")
}

/// The errors of a folder that must not load.
fn errors(f: &Fixture) -> Vec<ContentError> {
    match content::load(&f.content) {
        Err(LoadError::Invalid(errors)) => errors,
        Err(other) => panic!("expected content errors, got {other}"),
        Ok(c) => panic!("expected content errors, loaded {} guides", c.guides.len()),
    }
}

/// Asserts there is an error in `file` at `line` whose message contains `needle`, and that its
/// one-line form names the file and the line as an editor's tools expect (`path:line: …`).
fn assert_error(errors: &[ContentError], file: &Path, line: usize, needle: &str) {
    let found = errors
        .iter()
        .find(|e| e.file == file && e.line == line && e.message.contains(needle));
    let Some(e) = found else {
        panic!(
            "no error at {}:{line} containing {needle:?}; got:\n{}",
            file.display(),
            errors.iter().map(|e| format!("{e}\n")).collect::<String>()
        );
    };
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("{}:{line}: ", file.display())),
        "{shown}"
    );
}

#[test]
fn the_fixture_loads_with_its_guides_passages_and_synonyms() {
    let f = Fixture::new();
    f.write(
        "README.md",
        "Notes for editors: not a guide, no front matter.\n",
    );
    f.write(".draft.md", "not a guide either\n");
    f.write("notes.txt", "ignored\n");
    let c = content::load(&f.content).expect("fixture is valid");
    let ids: Vec<&str> = c.guides.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["care-faq", "care"], "sorted by file name");
    assert_eq!(c.guides[0].kind, Kind::Faq);
    assert_eq!(c.guides[1].kind, Kind::Guide);
    assert_eq!(c.guides[1].link.as_deref(), Some("/guides/care"));
    let passages: Vec<&str> = c.passages().map(|(_, p)| p.id.as_str()).collect();
    assert_eq!(
        passages,
        [
            "travel",
            "nausea",
            "neuropathy",
            "kinase",
            "radiotherapy",
            "fatigue",
            "sleep",
            "home"
        ]
    );
    let kinase = &c.guides[1].passages[0];
    assert_eq!(kinase.keywords, ["targeted tablets"]);
    assert_eq!(kinase.questions, ["which pills block growth signals"]);
    assert_eq!(
        kinase.line, 10,
        "the heading's line, counted through the comment"
    );
    assert!(!c.synonyms.is_empty());
    assert_eq!(c.languages(), ["en"]);
}

#[test]
fn missing_front_matter_is_reported_at_line_1() {
    let f = Fixture::empty();
    let path = f.write("a.md", "## Heading\n\ntext\n");
    assert_error(&errors(&f), &path, 1, "missing front matter");
}

#[test]
fn an_unknown_front_matter_field_is_reported_at_its_line() {
    let f = Fixture::empty();
    let path = f.write(
        "a.md",
        "<!-- a note\nover two lines -->\n---\nid: a\ntitle: A\nauthor: me\n---\n## S\n\ntext\n",
    );
    assert_error(&errors(&f), &path, 6, "unknown field `author`");
}

#[test]
fn an_unknown_passage_field_is_reported_at_its_line() {
    let f = Fixture::empty();
    let path = f.write(
        "a.md",
        "---\nid: a\ntitle: A\n---\n\n## S\nid: s\nkeyword: typo for keywords\n\ntext\n",
    );
    assert_error(&errors(&f), &path, 8, "unknown field `keyword`");
}

#[test]
fn an_empty_section_is_reported_at_its_heading() {
    let f = Fixture::empty();
    let path = f.write(
        "a.md",
        "---\nid: a\ntitle: A\n---\n\n## Full\n\ntext\n\n## Empty one\nid: empty\n<!-- todo -->\n\n## Last\n\nmore\n",
    );
    assert_error(&errors(&f), &path, 10, "`Empty one` is empty");
}

#[test]
fn a_duplicate_passage_id_across_files_names_both() {
    let f = Fixture::empty();
    let first = f.write("a.md", &guide("a", "shared"));
    let second = f.write("b.md", &guide("b", "shared"));
    let errs = errors(&f);
    assert_error(&errs, &second, 7, "duplicate passage id `shared`");
    let shown = errs[0].to_string();
    assert!(shown.contains(&format!("{}:7", first.display())), "{shown}");
    assert!(shown.contains(&second.display().to_string()), "{shown}");
}

#[test]
fn a_duplicate_guide_id_names_both_files() {
    let f = Fixture::empty();
    let first = f.write("a.md", &guide("same", "one"));
    let second = f.write("b.md", &guide("same", "two"));
    let errs = errors(&f);
    assert_error(&errs, &second, 2, "duplicate guide id `same`");
    assert!(errs[0].to_string().contains(&first.display().to_string()));
}

#[test]
fn a_duplicate_guide_id_is_reported_at_its_id_line() {
    let f = Fixture::empty();
    f.write("a.md", &guide("same", "one"));
    let second = f.write(
        "b.md",
        "---\ntitle: B\nlanguage: en\nid: same\n---\n\n## Two\n\ntext\n",
    );
    assert_error(&errors(&f), &second, 4, "duplicate guide id `same`");
}

#[test]
fn an_invalid_id_is_reported_at_its_line() {
    let f = Fixture::empty();
    let path = f.write(
        "a.md",
        "---\nid: a\ntitle: A\n---\n\n## S\nid: Not_Valid\n\ntext\n",
    );
    assert_error(&errors(&f), &path, 7, "id `Not_Valid` is not valid");
    let long = "x".repeat(content::MAX_ID_LEN + 1);
    let f = Fixture::empty();
    let path = f.write("a.md", &guide("a", &long));
    assert_error(&errors(&f), &path, 8, "is not valid");
}

#[test]
fn a_bad_synonyms_line_is_reported_at_its_line() {
    let f = Fixture::empty();
    f.write("a.md", &guide("a", "s"));
    let path = f.write(
        "synonyms.txt",
        "# comment\nkeytruda, pembrolizumab\nlonely\nchemo => chemotherapy\n, x\n",
    );
    let errs = errors(&f);
    assert_error(&errs, &path, 3, "not a synonym rule");
    assert_error(&errs, &path, 5, "not a synonym rule");
    assert_eq!(errs.len(), 2, "{errs:?}");
}

#[test]
fn a_file_that_is_not_utf8_is_named() {
    let f = Fixture::empty();
    f.write("a.md", &guide("a", "s"));
    let path = f.write_bytes(
        "b.md",
        b"---\nid: b\ntitle: B\n---\n\n## Caf\xe9\n\nLatin-1 text\n",
    );
    let errs = errors(&f);
    let e = errs
        .iter()
        .find(|e| e.file == path)
        .unwrap_or_else(|| panic!("no error for {}: {errs:?}", path.display()));
    assert!(e.message.contains("UTF-8"), "{e}");
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_reported_at_the_bad_line() {
    let f = Fixture::empty();
    let path = f.write_bytes(
        "b.md",
        b"---\nid: b\ntitle: B\n---\n\n## Caf\xe9\n\nLatin-1 text\n",
    );
    assert_error(&errors(&f), &path, 6, "UTF-8");
}

#[test]
fn all_errors_of_all_files_come_in_one_pass() {
    let f = Fixture::empty();
    let a = f.write(
        "a.md",
        "---\nid: a\ntitle: A\ncolour: red\n---\n## S\nfoo: bar\n\ntext\n",
    );
    let b = f.write("b.md", "## no front matter\n\ntext\n");
    let syn = f.write("synonyms.txt", "lonely\n");
    let errs = errors(&f);
    assert_error(&errs, &a, 4, "colour");
    assert_error(&errs, &a, 7, "foo");
    assert_error(&errs, &b, 1, "front matter");
    assert_error(&errs, &syn, 1, "synonym");
    // the message of the whole error has one line per problem
    let all = LoadError::Invalid(errs.clone()).to_string();
    assert_eq!(all.lines().count(), errs.len(), "{all}");
}

#[test]
fn a_missing_content_folder_names_the_folder_and_the_fix() {
    let f = Fixture::empty();
    let missing = f.root().join("no-such-folder");
    let err = content::load(&missing).expect_err("missing folder");
    assert!(
        matches!(&err, LoadError::MissingDir(p) if p == &missing),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains(&missing.display().to_string()), "{shown}");
    assert!(shown.contains("FAQBOT_CONTENT__DIR"), "{shown}");
    assert!(shown.contains("content.dir"), "{shown}");
    assert_eq!(shown.lines().count(), 1, "{shown}");
    // a file where the folder should be is the same mistake
    let file = f.write("not-a-dir.md", "x");
    assert!(matches!(
        content::load(&file),
        Err(LoadError::MissingDir(_))
    ));
}

#[test]
fn a_folder_with_only_synonyms_has_no_guides() {
    let f = Fixture::empty();
    f.write("synonyms.txt", "chemo, chemotherapy\n");
    f.write("README.md", "# editors' notes\n");
    let err = content::load(&f.content).expect_err("no guides");
    assert!(
        matches!(&err, LoadError::NoGuides(p) if p == &f.content),
        "{err:?}"
    );
    assert!(err.to_string().contains(&f.content.display().to_string()));
}
