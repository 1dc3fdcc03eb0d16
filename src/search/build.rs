//! Building `index/` from the content (one writer, one commit) and opening it again, with a
//! rebuild when the content changed or the index is missing or damaged.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::directory::error::LockError;
use tantivy::{Index, IndexWriter, TantivyDocument, TantivyError};

use super::{analyzer, schema, Fields, ANALYZER};
use crate::content::{self, Content, LoadError};

/// What the index remembers about the content it was built from, in its commit payload, so it
/// is written atomically with the documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IndexMeta {
    pub content_hash: String,
    /// The synonyms file's text: query analysis needs the rules of the content that was indexed.
    pub synonyms: String,
    pub languages: Vec<String>,
    pub passages: usize,
}

/// Why the index could not be built or opened.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Content(#[from] LoadError),
    #[error(
        "index {} is being written by another faqbot process (tantivy allows one writer): wait for it to finish, or stop it",
        .0.display()
    )]
    Busy(PathBuf),
    #[error(
        "index.dir {} is not empty and is not a faqbot index: point index.dir (FAQBOT_INDEX__DIR) at an empty or new folder",
        .0.display()
    )]
    NotAnIndex(PathBuf),
    #[error("index {}: {source}", .dir.display())]
    Tantivy {
        dir: PathBuf,
        #[source]
        source: TantivyError,
    },
    #[error("index {}: {source}", .dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How [`open_or_build`] got its index.
#[derive(Debug)]
pub enum Opened {
    /// The index matched the content.
    Current,
    /// The content changed (or there was no usable index): rebuilt.
    Rebuilt,
    /// The content has errors; the previous index keeps serving.
    Stale(LoadError),
}

fn tantivy_err(dir: &Path) -> impl FnOnce(TantivyError) -> IndexError + '_ {
    move |source| match source {
        TantivyError::LockFailure(LockError::LockBusy, _) => IndexError::Busy(dir.to_path_buf()),
        source => IndexError::Tantivy {
            dir: dir.to_path_buf(),
            source,
        },
    }
}

/// Opens an existing index and registers the analyzer (registrations are not persisted).
pub fn open_index(dir: &Path) -> Result<(Index, IndexMeta), IndexError> {
    let index = Index::open_in_dir(dir).map_err(tantivy_err(dir))?;
    index.tokenizers().register(ANALYZER, analyzer());
    let metas = index.load_metas().map_err(tantivy_err(dir))?;
    let meta = metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<IndexMeta>(p).ok())
        .unwrap_or_default();
    Ok((index, meta))
}

/// Writes the content into the index at `dir` (created if needed), replacing what was there,
/// in one commit. A damaged index is deleted first; a folder that is not an index is refused.
pub fn build_index(content: &Content, dir: &Path) -> Result<(Index, IndexMeta), IndexError> {
    let io = |source| IndexError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let index = match open_index(dir) {
        Ok((index, _)) if index.schema() == schema() => index,
        Err(IndexError::Busy(d)) => return Err(IndexError::Busy(d)),
        _ => {
            clear_index_dir(dir)?;
            let index = Index::create_in_dir(dir, schema()).map_err(tantivy_err(dir))?;
            index.tokenizers().register(ANALYZER, analyzer());
            index
        }
    };
    let fields = Fields::new(&index.schema()).map_err(tantivy_err(dir))?;
    let mut writer: IndexWriter = index
        .writer_with_num_threads(1, 50_000_000)
        .map_err(tantivy_err(dir))?;
    writer.delete_all_documents().map_err(tantivy_err(dir))?;
    let mut count = 0usize;
    for (position, (guide, passage)) in content.passages().enumerate() {
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.id, &passage.id);
        doc.add_text(fields.guide_id, &guide.id);
        doc.add_text(fields.guide_title, &guide.title);
        doc.add_text(fields.kind, guide.kind.as_str());
        doc.add_text(fields.language, &guide.language);
        if let Some(link) = passage.link.as_ref().or(guide.link.as_ref()) {
            doc.add_text(fields.link, link);
        }
        doc.add_u64(fields.position, position as u64);
        doc.add_text(fields.title, &passage.title);
        doc.add_text(fields.all, &passage.title);
        for q in &passage.questions {
            doc.add_text(fields.questions, q);
            doc.add_text(fields.all, q);
        }
        for k in &passage.keywords {
            doc.add_text(fields.keywords, k);
            doc.add_text(fields.all, k);
        }
        doc.add_text(fields.body, &passage.body);
        doc.add_text(fields.all, &passage.body);
        writer.add_document(doc).map_err(tantivy_err(dir))?;
        count += 1;
    }
    let meta = IndexMeta {
        content_hash: content.hash.clone(),
        synonyms: content.synonyms_text.clone(),
        languages: content.languages(),
        passages: count,
    };
    let payload = serde_json::to_string(&meta).map_err(|e| io(std::io::Error::other(e)))?;
    let mut prepared = writer.prepare_commit().map_err(tantivy_err(dir))?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(tantivy_err(dir))?;
    writer.wait_merging_threads().map_err(tantivy_err(dir))?;
    Ok((index, meta))
}

/// Removes a damaged index, but only files tantivy writes: `index.dir` might be set to a folder
/// that holds other things.
fn clear_index_dir(dir: &Path) -> Result<(), IndexError> {
    let io = |source| IndexError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let is_tantivy = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        name == "meta.json"
            || name == ".managed.json"
            || name.starts_with(".tantivy-")
            || matches!(
                ext,
                "idx" | "pos" | "term" | "fieldnorm" | "store" | "fast" | "del"
            )
    };
    if entries
        .iter()
        .any(|p| !is_tantivy(p) && p.file_name().is_some_and(|n| n != ".gitkeep"))
    {
        return Err(IndexError::NotAnIndex(dir.to_path_buf()));
    }
    for p in entries.iter().filter(|p| is_tantivy(p)) {
        std::fs::remove_file(p).map_err(io)?;
    }
    Ok(())
}

/// Whether the index's segment files can be opened (`meta.json` alone can survive their loss).
fn readable(index: &Index) -> bool {
    index
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .try_into()
        .is_ok()
}

/// Opens the index for `content_dir`, rebuilding it when the content changed, and keeping the
/// previous index (with [`Opened::Stale`]) when the new content has errors.
pub fn open_or_build(
    content_dir: &Path,
    index_dir: &Path,
) -> Result<(Index, IndexMeta, Opened), IndexError> {
    let hash = content::content_hash(content_dir)?;
    let existing = open_index(index_dir);
    if let Ok((index, meta)) = &existing {
        if meta.content_hash == hash && index.schema() == schema() && readable(index) {
            return Ok((index.clone(), meta.clone(), Opened::Current));
        }
    }
    match content::load(content_dir) {
        Ok(content) => match build_index(&content, index_dir) {
            Ok((index, meta)) => Ok((index, meta, Opened::Rebuilt)),
            // another process is rebuilding right now: serve what is committed
            Err(IndexError::Busy(dir)) => match existing {
                Ok((index, meta)) if meta.passages > 0 => Ok((index, meta, Opened::Current)),
                _ => Err(IndexError::Busy(dir)),
            },
            Err(e) => Err(e),
        },
        Err(err) => match existing {
            Ok((index, meta)) if meta.passages > 0 && index.schema() == schema() => {
                Ok((index, meta, Opened::Stale(err)))
            }
            _ => Err(err.into()),
        },
    }
}
