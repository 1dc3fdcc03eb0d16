//! The content an editor maintains in `faq/`: guides as Markdown files with front matter, one
//! passage per `##` section, and `synonyms.txt`. This module owns reading and validating them;
//! every problem is reported with its file and line so an editor can fix it without code.

mod guide;
mod synonyms;

use std::fmt;
use std::path::{Path, PathBuf};

pub use guide::parse_guide;
pub use synonyms::Synonyms;

use crate::text::Fnv64;

/// Bumped whenever the meaning of content or the index layout changes, so an index built by an
/// older binary is rebuilt even when `faq/` did not change.
const FORMAT_VERSION: &str = "faqbot-content-v1";

/// The name of the synonyms file inside the content directory.
pub const SYNONYMS_FILE: &str = "synonyms.txt";

/// Longest passage id. Ids travel in Telegram callback data (64 bytes at most) with a prefix.
pub const MAX_ID_LEN: usize = 40;

/// How a guide's sections read: ordinary sections, or FAQ entries (heading = the question).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Guide,
    Faq,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Guide => "guide",
            Kind::Faq => "faq",
        }
    }
}

/// One guide file.
#[derive(Debug, Clone)]
pub struct Guide {
    pub id: String,
    pub title: String,
    pub language: String,
    pub kind: Kind,
    pub link: Option<String>,
    pub file: PathBuf,
    /// 1-based line of the `id:` field, for error messages.
    pub id_line: usize,
    pub passages: Vec<Passage>,
}

/// One retrievable answer: a `##` section of a guide, or one FAQ question with its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub id: String,
    /// The heading; for FAQ entries, the question.
    pub title: String,
    /// Paragraphs separated by a blank line; list items as `- ` lines.
    pub body: String,
    pub keywords: Vec<String>,
    /// Alternate phrasings of questions this passage answers.
    pub questions: Vec<String>,
    pub link: Option<String>,
    /// 1-based line of the heading, for error messages.
    pub line: usize,
}

/// Everything in the content directory, validated.
#[derive(Debug, Clone)]
pub struct Content {
    pub guides: Vec<Guide>,
    pub synonyms: Synonyms,
    /// The synonyms file as written, kept with the index for query analysis.
    pub synonyms_text: String,
    /// Hash of the files as read (see [`content_hash`]).
    pub hash: String,
}

impl Content {
    /// All passages, in file-name order then document order, with their guide.
    pub fn passages(&self) -> impl Iterator<Item = (&Guide, &Passage)> {
        self.guides
            .iter()
            .flat_map(|g| g.passages.iter().map(move |p| (g, p)))
    }

    /// The languages the content is written in (ISO 639-1 codes), without duplicates.
    pub fn languages(&self) -> Vec<String> {
        let mut langs: Vec<String> = self.guides.iter().map(|g| g.language.clone()).collect();
        langs.sort();
        langs.dedup();
        langs
    }
}

/// One problem in one content file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Why content could not be loaded: every problem found, so an editor fixes them in one pass.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "content directory {} not found: run from the project folder, or set content.dir (FAQBOT_CONTENT__DIR)",
        .0.display()
    )]
    MissingDir(PathBuf),
    #[error(
        "content directory {} has no guides (*.md files): add at least one guide",
        .0.display()
    )]
    NoGuides(PathBuf),
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", join_errors(.0))]
    Invalid(Vec<ContentError>),
}

fn join_errors(errors: &[ContentError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// The content files of `dir` that the loader reads, sorted by name: guides (`*.md`, except a
/// `README.md` left for editors) and the synonyms file.
fn content_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::MissingDir(dir.to_path_buf()));
    }
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let is_guide = name.ends_with(".md") && !name.starts_with('.') && name != "README.md";
        if (is_guide || name == SYNONYMS_FILE) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A hash of the content files' names and bytes (and the format version): cheap enough to check
/// on every start and every few seconds while running, without parsing anything.
pub fn content_hash(dir: &Path) -> Result<String, LoadError> {
    let mut h = Fnv64::default();
    h.write(FORMAT_VERSION.as_bytes());
    for path in content_files(dir)? {
        let bytes = std::fs::read(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        if let Some(name) = path.file_name() {
            h.write(name.as_encoded_bytes());
        }
        h.write(&(bytes.len() as u64).to_le_bytes());
        h.write(&bytes);
    }
    Ok(format!("{:016x}", h.finish()))
}

/// Reads and validates the whole content directory.
pub fn load(dir: &Path) -> Result<Content, LoadError> {
    let files = content_files(dir)?;
    let hash = content_hash(dir)?;
    let mut errors = Vec::new();
    let mut guides = Vec::new();
    let mut synonyms = Synonyms::default();
    let mut synonyms_text = String::new();
    for path in &files {
        let text = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                    errors.push(ContentError {
                        file: path.clone(),
                        line,
                        message: "not valid UTF-8 text: save the file as UTF-8".into(),
                    });
                    continue;
                }
            },
            Err(source) => {
                return Err(LoadError::Io {
                    path: path.clone(),
                    source,
                })
            }
        };
        let is_synonyms = path.file_name().is_some_and(|n| n == SYNONYMS_FILE);
        let parsed = if is_synonyms {
            synonyms_text = text.clone();
            Synonyms::parse(&text).map(|s| synonyms = s)
        } else {
            parse_guide(&text).map(|mut g| {
                g.file = path.clone();
                guides.push(g)
            })
        };
        if let Err(errs) = parsed {
            errors.extend(errs.into_iter().map(|(line, message)| ContentError {
                file: path.clone(),
                line,
                message,
            }));
        }
    }
    check_unique_ids(&guides, &mut errors);
    if !errors.is_empty() {
        return Err(LoadError::Invalid(errors));
    }
    if guides.is_empty() {
        return Err(LoadError::NoGuides(dir.to_path_buf()));
    }
    Ok(Content {
        guides,
        synonyms,
        synonyms_text,
        hash,
    })
}

/// Guide ids and passage ids must each be unique across all files: they name passages in
/// answers, buttons and links.
fn check_unique_ids(guides: &[Guide], errors: &mut Vec<ContentError>) {
    let mut seen_guides: std::collections::HashMap<&str, &Path> = Default::default();
    let mut seen: std::collections::HashMap<&str, (&Path, usize)> = Default::default();
    for g in guides {
        if let Some(first) = seen_guides.insert(&g.id, &g.file) {
            errors.push(ContentError {
                file: g.file.clone(),
                line: g.id_line,
                message: format!(
                    "duplicate guide id `{}` (also used by {}): give each guide its own id",
                    g.id,
                    first.display()
                ),
            });
        }
        for p in &g.passages {
            if let Some((file, line)) = seen.get(p.id.as_str()) {
                errors.push(ContentError {
                    file: g.file.clone(),
                    line: p.line,
                    message: format!(
                        "duplicate passage id `{}` (first used at {}:{}): give each section its own `id:`",
                        p.id,
                        file.display(),
                        line
                    ),
                });
            } else {
                seen.insert(&p.id, (&g.file, p.line));
            }
        }
    }
}
