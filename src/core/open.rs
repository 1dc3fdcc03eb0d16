//! Opening the engine: the index opened (and rebuilt when the content changed) and the engine
//! built over it. One function, used by `faqbot ask` and by the bot at start and on reload.

use anyhow::Context;

use super::Engine;
use crate::search::{self, Opened, SearchIndex};
use crate::settings::Settings;

/// Opens the index, rebuilding it when the content changed; content errors are reported and
/// the previous index keeps serving.
pub fn open_engine(settings: &Settings) -> anyhow::Result<Engine> {
    let (index, meta, opened) = search::open_or_build(&settings.content.dir, &settings.index.dir)?;
    match opened {
        Opened::Current => tracing::debug!(passages = meta.passages, "index is current"),
        Opened::Rebuilt => tracing::info!(
            passages = meta.passages,
            "index rebuilt from changed content"
        ),
        Opened::Stale(errors) => {
            tracing::warn!("content has errors; answering from the previous index until they are fixed:\n{errors}")
        }
    }
    let index = SearchIndex::new(index, meta)
        .with_context(|| format!("cannot read the index in {}", settings.index.dir.display()))?;
    Ok(Engine::new(index, settings.clone())?)
}
