//! The command line: argument definitions and one function per command. `main` only parses,
//! sets up logging and maps errors to an exit code.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::content;
use crate::core::{Engine, Reply};
use crate::search::{self, Opened, SearchIndex};
use crate::settings::Settings;

/// faqbot: answers caregivers' questions from the guides in faq/, on Telegram or here.
#[derive(Debug, Parser)]
#[command(name = "faqbot", version, about)]
pub struct Cli {
    /// Settings file to read over the built-in defaults (default: ./config.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the search index (index.dir) from the content (content.dir).
    Index,
    /// Check the content for errors without building anything.
    Check,
    /// Run the Telegram bot (long polling or webhook, as configured) until SIGINT or SIGTERM.
    Run,
    /// Answer a question as the bot would. Without a question, answer each line of stdin.
    Ask {
        /// Print JSON (one object per question) instead of the reply text.
        #[arg(long)]
        json: bool,
        /// Also show, on stderr, how the question was read and why each passage scored as it
        /// did: for editors tuning `ask:` lines and synonyms.
        #[arg(long)]
        explain: bool,
        /// The question; several words are joined with spaces.
        question: Vec<String>,
    },
}

/// Loads the settings, naming the file in the error.
pub fn load_settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    Ok(Settings::load(config)?)
}

/// `faqbot index`.
pub fn index(settings: &Settings) -> anyhow::Result<()> {
    let content = content::load(&settings.content.dir)?;
    let (_, meta) = search::build_index(&content, &settings.index.dir)?;
    eprintln!(
        "indexed {} passages from {} guides in {} into {}",
        meta.passages,
        content.guides.len(),
        settings.content.dir.display(),
        settings.index.dir.display()
    );
    Ok(())
}

/// `faqbot run`.
pub fn run(settings: Settings) -> anyhow::Result<()> {
    settings.validate_for_run()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::telegram::run::run(
        settings,
        crate::telegram::run::shutdown_signal(),
    ))
}

/// `faqbot check`.
pub fn check(settings: &Settings) -> anyhow::Result<()> {
    let content = content::load(&settings.content.dir)?;
    eprintln!(
        "{}: {} guides, {} passages, {} synonym terms: no errors",
        settings.content.dir.display(),
        content.guides.len(),
        content.passages().count(),
        content.synonyms.len()
    );
    Ok(())
}

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

/// One line of `ask --json`, as DESIGN.md's contract defines it.
#[derive(Debug, Serialize)]
struct JsonReply<'a> {
    outcome: &'static str,
    reply: String,
    language: &'a str,
    passages: Vec<JsonPassage<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonPassage<'a> {
    id: &'a str,
    title: &'a str,
    score: f32,
    text: &'a str,
}

/// The `ask --json` object for a reply.
pub fn reply_json(reply: &Reply) -> String {
    let json = JsonReply {
        outcome: reply.outcome.as_str(),
        reply: reply.plain_text(),
        language: &reply.language,
        passages: reply
            .passages
            .iter()
            .map(|h| JsonPassage {
                id: &h.id,
                title: &h.title,
                score: (h.score * 1000.0).round() / 1000.0,
                text: &h.body,
            })
            .collect(),
    };
    // serialising plain strings and numbers cannot fail; fall back to an empty object anyway
    serde_json::to_string(&json).unwrap_or_else(|_| "{}".to_string())
}

/// `faqbot ask`.
pub fn ask(
    settings: &Settings,
    json: bool,
    explain: bool,
    question: &[String],
) -> anyhow::Result<()> {
    let engine = open_engine(settings)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut emit = |text: &str| -> anyhow::Result<()> {
        let reply = engine.answer(text);
        if explain {
            eprintln!("{}", explain_text(&engine, text));
        }
        tracing::debug!(
            outcome = reply.outcome.as_str(),
            passage = reply.passage.as_ref().map(|p| p.id.as_str()),
            "answered"
        );
        if json {
            writeln!(out, "{}", reply_json(&reply))?;
        } else {
            writeln!(out, "{}\n", reply.plain_text())?;
        }
        out.flush()?;
        Ok(())
    };
    if !question.is_empty() {
        return emit(&question.join(" "));
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("cannot read questions from stdin")?
            == 0
        {
            break;
        }
        // a line that is not UTF-8 still gets its answer, in order
        let text = String::from_utf8_lossy(&line);
        if let Err(e) = emit(text.trim_end_matches(['\n', '\r'])) {
            // the reader went away (a closed pipe): stop quietly
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return Ok(());
            }
            return Err(e);
        }
    }
    Ok(())
}

/// How a question was analysed and scored, for `ask --explain`.
fn explain_text(engine: &Engine, question: &str) -> String {
    let cleaned = crate::text::clean(question);
    let mut out = String::new();
    match engine
        .index()
        .search(&cleaned, engine.settings().search.max_results)
    {
        Ok(result) => {
            for (typed, fixed) in &result.analyzed.corrections {
                out.push_str(&format!("  corrected {typed:?} -> {fixed:?}\n"));
            }
            for c in &result.analyzed.concepts {
                let alts: Vec<String> = c.alternatives.iter().map(|a| a.terms.join("+")).collect();
                out.push_str(&format!(
                    "  concept {:?} weight {:.2}{}: {}\n",
                    c.words.join(" "),
                    c.weight,
                    if c.known { "" } else { " (unknown)" },
                    alts.join(" | ")
                ));
            }
            for h in &result.hits {
                out.push_str(&format!(
                    "  {:>7.3} coverage {:.2}  {}\n",
                    h.score, h.coverage, h.id
                ));
            }
        }
        Err(e) => out.push_str(&format!("  search failed: {e}\n")),
    }
    out
}
