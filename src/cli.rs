//! The command line: argument definitions and one function per command. `main` only parses,
//! sets up logging and maps errors to an exit code.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

pub mod report;

pub use report::ReportFormat;

use crate::content;
use crate::core::{Engine, Reply};
use crate::search::{self, Opened, SearchIndex};
use crate::settings::Settings;
use crate::store::{Escalation, Role, SqliteStore, Store, TranscriptEntry};

/// faqbot: answers caregivers' questions from the guides in faq/, on Telegram or here.
#[derive(Debug, Parser)]
#[command(name = "faqbot", version, about)]
pub struct Cli {
    /// Settings file to read over the built-in defaults (default: ./config.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log lines as text for people or JSON for log collectors (on stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Write generated guides into a folder, for benchmarks: plausible caregiver-guide text in
    /// the content format, not medical content. The same --passages and --seed always write the
    /// same files.
    Generate {
        /// How many passages to write (in files of 200).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        passages: u64,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The folder to write into: created when missing, and must not hold guides already.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Review the chats escalated to coordinators (reads the store at store.path).
    Escalations {
        #[command(subcommand)]
        command: EscalationsCommand,
    },
    /// For editors: what caregivers asked that the guide could not answer (no match) or answered
    /// only with suggestions, near-duplicates grouped; the suggestions chosen; the passages
    /// marked Not helpful and the questions that led there; outcomes per day. Reads the store
    /// at store.path; questions' text only as long as store.retention_days keeps it.
    Report {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// First day of the period (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE", conflicts_with = "days")]
        since: Option<String>,
        /// Last day of the period (YYYY-MM-DD, UTC; default: up to now).
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// The period: this many days up to --until (or now).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
    },
}

/// `faqbot escalations …`: for coordinators and their leads.
#[derive(Debug, Subcommand)]
pub enum EscalationsCommand {
    /// A table of escalations, newest first, with time to first reply and duration (or age).
    List {
        #[command(flatten)]
        status: StatusFilter,
    },
    /// One escalation's details and its chat's whole transcript (as far as retention keeps it).
    Show {
        /// The escalation's number, as in `list`.
        id: i64,
    },
    /// One CSV row or JSON object per escalation, newest first, for reporting.
    ///
    /// Times are RFC 3339 UTC; duration_seconds is empty (null) for open escalations. In CSV,
    /// text starting with = + - or @ gets a leading ' so spreadsheets do not run it as a
    /// formula.
    Export {
        /// Output format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[command(flatten)]
        status: StatusFilter,
    },
}

/// Which escalations to include (all when neither flag is given).
#[derive(Debug, Clone, Copy, Args)]
pub struct StatusFilter {
    /// Only open escalations.
    #[arg(long, conflicts_with = "closed")]
    pub open: bool,
    /// Only closed escalations.
    #[arg(long)]
    pub closed: bool,
}

impl StatusFilter {
    /// The filter as [`Store::list_escalations`] takes it.
    fn as_option(self) -> Option<bool> {
        match (self.open, self.closed) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// `faqbot escalations export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
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

/// `faqbot generate`.
pub fn generate(passages: u64, seed: u64, out: &Path) -> anyhow::Result<()> {
    // mixing generated guides into a folder that has guides (say, faq/) would corrupt both
    let has_guides = match std::fs::read_dir(out) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "md")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", out.display())),
    };
    if has_guides {
        anyhow::bail!(
            "{} already holds guides (*.md): pass an empty or new folder to --out",
            out.display()
        );
    }
    let passages = usize::try_from(passages).context("--passages is too large")?;
    crate::synth::write_guides(out, passages, seed)
        .with_context(|| format!("cannot write generated guides into {}", out.display()))?;
    eprintln!(
        "wrote {passages} generated passages (seed {seed}) into {}",
        out.display()
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
    /// How sure the engine is that the first passage answers the question (absent when no
    /// search ran): what `search.answer_confidence` and `suggest_confidence` are compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<f32>,
}

#[derive(Debug, Serialize)]
struct JsonPassage<'a> {
    id: &'a str,
    title: &'a str,
    score: f32,
    /// The weighted share of the question's meaningful words the passage contains.
    coverage: f32,
    text: &'a str,
}

/// `x` rounded to three decimals, for output people read.
fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
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
                score: round3(h.score),
                coverage: round3(h.coverage),
                text: &h.body,
            })
            .collect(),
        confidence: reply.confidence.map(round3),
    };
    // serialising plain strings and numbers cannot fail; fall back to an empty object anyway
    serde_json::to_string(&json).unwrap_or_else(|_| "{}".to_string())
}

/// At most this many threads answer the lines of `faqbot ask`'s standard input.
const MAX_ASK_WORKERS: usize = 4;

/// `faqbot ask`: the question on the command line, or else each line of standard input, the
/// answers in the order of the lines.
pub fn ask(
    settings: &Settings,
    json: bool,
    explain: bool,
    question: &[String],
) -> anyhow::Result<()> {
    let engine = open_engine(settings)?;
    let render = |text: &str| -> Answered {
        let reply = engine.answer(text);
        tracing::debug!(
            outcome = reply.outcome.as_str(),
            passage = reply.passage.as_ref().map(|p| p.id.as_str()),
            "answered"
        );
        Answered {
            stdout: if json {
                reply_json(&reply)
            } else {
                format!("{}\n", reply.plain_text())
            },
            stderr: explain.then(|| explain_text(&engine, text)),
        }
    };
    if question.is_empty() {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_ASK_WORKERS);
        // the answering threads write; Stdout is line-buffered, so lines are gathered first
        let out = std::io::BufWriter::new(std::io::stdout());
        return answer_lines(std::io::stdin().lock(), out, workers, render);
    }
    let mut out = std::io::stdout().lock();
    let written = write_answer(&mut out, &render(&question.join(" "))).and_then(|()| out.flush());
    quiet_when_closed(written)
}

/// A write error, except a closed pipe: the reader went away, so stop quietly.
fn quiet_when_closed(written: std::io::Result<()>) -> anyhow::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// One answer of `faqbot ask`: its line for standard output and, with `--explain`, its
/// explanation for standard error.
struct Answered {
    stdout: String,
    stderr: Option<String>,
}

fn write_answer(out: &mut impl Write, answered: &Answered) -> std::io::Result<()> {
    if let Some(explanation) = &answered.stderr {
        eprintln!("{explanation}");
    }
    writeln!(out, "{}", answered.stdout)
}

/// Answers each line of `input` on `workers` threads and writes the answers to `out` in the
/// order of the lines. An answer is written as soon as it and those before it are ready, and
/// `out` is flushed once every line read so far is answered: a tool that asks one line at a
/// time gets each answer at once, and a batch is written in large pieces. A line that is not
/// UTF-8 is answered as read, with replacement characters.
fn answer_lines<W: Write + Send>(
    mut input: impl BufRead,
    out: W,
    workers: usize,
    render: impl Fn(&str) -> Answered + Sync,
) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{mpsc, Arc, Mutex, PoisonError};

    let (line_tx, line_rx) = mpsc::channel::<(u64, String)>();
    // shared by the workers only, so that reading stops once they all have
    let line_rx = Arc::new(Mutex::new(line_rx));
    // how many lines have been handed out, counted before each is sent
    let read = AtomicU64::new(0);
    let ordered = Mutex::new(InOrder {
        out,
        next: 0,
        early: std::collections::BTreeMap::new(),
        failed: None,
    });
    let read_result: std::io::Result<()> = std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let line_rx = Arc::clone(&line_rx);
            let (render, read, ordered) = (&render, &read, &ordered);
            scope.spawn(move || loop {
                let next = line_rx
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .recv();
                let Ok((n, line)) = next else { break };
                let answered = render(&line);
                let mut ordered = ordered.lock().unwrap_or_else(PoisonError::into_inner);
                // a closed pipe: stop, and reading stops when the last worker has
                if ordered.failed.is_some() || !ordered.add(n, answered, read) {
                    break;
                }
            });
        }
        drop(line_rx);
        // dropped when reading ends, which tells the workers there is no more
        let line_tx = line_tx;
        let mut line = Vec::new();
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']).to_string();
            let n = read.fetch_add(1, Ordering::SeqCst);
            if line_tx.send((n, text)).is_err() {
                return Ok(()); // the workers have stopped
            }
        }
    });
    let mut ordered = ordered.into_inner().unwrap_or_else(PoisonError::into_inner);
    let written = match ordered.failed.take() {
        Some(e) => Err(e),
        None => ordered.out.flush(),
    };
    read_result.context("cannot read questions from stdin")?;
    quiet_when_closed(written)
}

/// The answers of [`answer_lines`] on their way out, in order.
struct InOrder<W> {
    out: W,
    /// The number of the next line to write.
    next: u64,
    /// Answers to later lines, until those before them are written.
    early: std::collections::BTreeMap<u64, Answered>,
    /// The first write error, after which nothing more is written.
    failed: Option<std::io::Error>,
}

impl<W: Write> InOrder<W> {
    /// Takes line `n`'s answer and writes whatever is now in order, flushing when every line
    /// read so far is written. False after a write error.
    fn add(&mut self, n: u64, answered: Answered, read: &std::sync::atomic::AtomicU64) -> bool {
        self.early.insert(n, answered);
        let mut written = Ok(());
        while let Some(answered) = self.early.remove(&self.next) {
            written = write_answer(&mut self.out, &answered);
            if written.is_err() {
                break;
            }
            self.next += 1;
        }
        if written.is_ok() && self.next == read.load(std::sync::atomic::Ordering::SeqCst) {
            written = self.out.flush();
        }
        match written {
            Ok(()) => true,
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }
}

/// How a question was analysed and scored, for `ask --explain`.
fn explain_text(engine: &Engine, question: &str) -> String {
    let cleaned = crate::text::clean(question);
    let mut out = String::new();
    let triage = engine.triage().explain(question);
    for (kind, name, language, phrase) in &triage.matched {
        out.push_str(&format!(
            "  emergency check: {kind} {name} [{language}] {phrase:?}\n"
        ));
    }
    for (category, decided) in &triage.categories {
        out.push_str(&format!("  emergency check: {category}: {decided}\n"));
    }
    match &triage.alarm {
        Some(alarm) => out.push_str(&format!(
            "  emergency check: EMERGENCY {} ({}), notice {:?}, language {}\n",
            alarm.category, alarm.label, alarm.notice, alarm.language
        )),
        None => out.push_str("  emergency check: no emergency\n"),
    }
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
            let cfg = &engine.settings().search;
            let confidence = crate::core::confidence(&result.hits);
            let verdict = if confidence >= cfg.answer_confidence {
                "answer"
            } else if confidence >= cfg.suggest_confidence {
                "suggest"
            } else {
                "no_match"
            };
            out.push_str(&format!(
                "  confidence {confidence:.3} (answer at {:.2}, suggest at {:.2}): {verdict}\n",
                cfg.answer_confidence, cfg.suggest_confidence
            ));
        }
        Err(e) => out.push_str(&format!("  search failed: {e}\n")),
    }
    out
}

// ---- faqbot escalations ----

/// `faqbot escalations list|show|export`.
pub fn escalations(settings: &Settings, command: EscalationsCommand) -> anyhow::Result<()> {
    let store = open_existing_store(&settings.store.path)?;
    let now = now_ms();
    let out = match command {
        EscalationsCommand::List { status } => {
            let filter = status.as_option();
            let list = store.list_escalations(filter)?;
            if list.is_empty() {
                let which = match filter {
                    Some(true) => "open ",
                    Some(false) => "closed ",
                    None => "",
                };
                format!("no {which}escalations\n")
            } else {
                escalation_table(&list, now)
            }
        }
        EscalationsCommand::Show { id } => {
            let Some(e) = store.escalation(id)? else {
                anyhow::bail!(
                    "no escalation {id} in the store {}",
                    settings.store.path.display()
                );
            };
            let transcript = store.transcript(e.chat_id, usize::MAX)?;
            escalation_details(&e, &transcript, now)
        }
        EscalationsCommand::Export { format, status } => {
            let list = store.list_escalations(status.as_option())?;
            match format {
                ExportFormat::Csv => export_csv(&list),
                ExportFormat::Json => export_json(&list)?,
            }
        }
    };
    write_stdout(&out)
}

/// `faqbot report`.
pub fn report(
    settings: &Settings,
    format: ReportFormat,
    since: Option<&str>,
    until: Option<&str>,
    days: u32,
) -> anyhow::Result<()> {
    let now = now_ms();
    let period = report::Period::new(since, until, days, now)?;
    let store = open_existing_store(&settings.store.path)?;
    let report = report::build(&store, period, settings.store.retention_days, now)?;
    let out = match format {
        ReportFormat::Text => report.text(),
        ReportFormat::Csv => report.csv(),
        ReportFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(&report).context("cannot encode the report")?;
            json.push('\n');
            json
        }
    };
    write_stdout(&out)
}

/// Writes a command's output; a reader that went away (`| head`) is not a failure.
fn write_stdout(out: &str) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match lock.write_all(out.as_bytes()).and_then(|()| lock.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot write to stdout")?),
    }
}

/// Opens the store for a command that only makes sense on an existing one: opening creates a
/// missing file, which would hide a wrong `store.path` behind an empty list.
fn open_existing_store(path: &Path) -> anyhow::Result<SqliteStore> {
    match std::fs::metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "no store at {}: the bot has not run with this store.path (set it in the config or \
             FAQBOT_STORE__PATH)",
            path.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the store {}", path.display()))
        }
    }
    Ok(SqliteStore::open(path)?)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The table `escalations list` prints.
fn escalation_table(list: &[Escalation], now: i64) -> String {
    let header = [
        "ID",
        "STATUS",
        "REASON",
        "URGENT",
        "WHO",
        "CREATED (UTC)",
        "FIRST REPLY",
        "DURATION/AGE",
    ];
    let rows: Vec<[String; 8]> = list
        .iter()
        .map(|e| {
            let status = match (e.open, e.caregiver_blocked) {
                (true, true) => "open, blocked",
                (true, false) => "open",
                (false, _) => "closed",
            };
            [
                e.id.to_string(),
                status.to_string(),
                e.reason.as_str().to_string(),
                if e.urgent { "yes" } else { "" }.to_string(),
                one_line(&who(e), 32),
                utc_minutes(e.created_at),
                e.first_reply_at
                    .map_or_else(|| "-".to_string(), |at| human_duration(at - e.created_at)),
                human_duration(e.closed_at.unwrap_or(now) - e.created_at),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// "Name (@username)".
fn who(e: &Escalation) -> String {
    match &e.username {
        Some(u) => format!("{} (@{u})", e.name),
        None => e.name.clone(),
    }
}

/// `escalations show`: the details, then the transcript with the escalation's opening and
/// closing marked where they happened.
fn escalation_details(e: &Escalation, transcript: &[TranscriptEntry], now: i64) -> String {
    let mut out = String::new();
    let mut field = |label: &str, value: &str| {
        out.push_str(&format!(
            "  {:<15}{}\n",
            format!("{label}:"),
            one_line(value, 200)
        ));
    };
    let flags = match (e.open, e.urgent) {
        (true, true) => "open, urgent",
        (true, false) => "open",
        (false, true) => "closed, urgent",
        (false, false) => "closed",
    };
    field("caregiver", &who(e));
    field("user / chat", &format!("{} / {}", e.user_id, e.chat_id));
    field("language", &e.language);
    field("reason", e.reason.as_str());
    field("created", &utc_seconds(e.created_at));
    field("claimed by", e.claimed_by.as_deref().unwrap_or("-"));
    field(
        "first reply",
        &e.first_reply_at.map_or_else(
            || "-".to_string(),
            |at| {
                format!(
                    "{} ({} after)",
                    utc_seconds(at),
                    human_duration(at - e.created_at)
                )
            },
        ),
    );
    match (e.closed_at, &e.closed_by) {
        (Some(at), by) => {
            let by = by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            field("closed", &format!("{}{by}", utc_seconds(at)));
            field("duration", &human_duration(at - e.created_at));
        }
        (None, _) => field("age", &human_duration(now - e.created_at)),
    }
    let place = match (e.thread_id, e.card_message_id) {
        (Some(t), _) => format!("topic {t}"),
        (None, Some(m)) => format!("card message {m}"),
        (None, None) if e.topic_failed => "card (the group has no topics), not sent yet".into(),
        (None, None) => "not posted yet".into(),
    };
    field("in the group", &place);
    if e.caregiver_blocked {
        field("blocked", "the caregiver blocked the bot");
    }
    let mut text = format!("Escalation {} ({flags})\n{out}", e.id);

    text.push_str(&format!(
        "\nTranscript of chat {} (oldest first, {} lines):\n",
        e.chat_id,
        transcript.len()
    ));
    // Marks go after the lines with the same time: the message that led to the escalation was
    // recorded with the escalation's own timestamp.
    let mut marks: Vec<(i64, String)> = vec![(e.created_at, format!("escalation {} opened", e.id))];
    if let Some(at) = e.closed_at {
        let by = e
            .closed_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        marks.push((at, format!("escalation {} closed{by}", e.id)));
    }
    let mut marks = marks.into_iter().peekable();
    let push_mark = |text: &mut String, at: i64, what: &str| {
        text.push_str(&format!(
            "  {}  -- {} --\n",
            utc_seconds(at),
            one_line(what, 200)
        ));
    };
    for entry in transcript {
        while let Some((at, what)) = marks.next_if(|(at, _)| *at < entry.at) {
            push_mark(&mut text, at, &what);
        }
        let role = match entry.role {
            Role::Caregiver => "caregiver",
            Role::Bot => "bot",
            Role::Coordinator => "coordinator",
            Role::Note => "note",
        };
        let mut body = printable(&entry.text, true);
        if let Some(p) = &entry.passage_id {
            body.push_str(&format!(" [passage {}]", one_line(p, 100)));
        }
        // Continuation lines start under the first line's text.
        let prefix = format!("  {}  {role:<12} ", utc_seconds(entry.at));
        let indent = " ".repeat(prefix.chars().count());
        for (i, line) in body.split('\n').enumerate() {
            text.push_str(if i == 0 { &prefix } else { &indent });
            text.push_str(line);
            text.push('\n');
        }
    }
    for (at, what) in marks {
        push_mark(&mut text, at, &what);
    }
    text
}

/// Text safe to print on a terminal: control characters (which could move the cursor or
/// change colours) and bidirectional overrides (which could reorder what is shown) become
/// `?`; newlines are kept only when `keep_newlines`, tabs become spaces.
fn printable(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' if keep_newlines => '\n',
            '\t' | '\n' | '\r' => ' ',
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '?',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// [`printable`] on one line, cut to `max` characters with an ellipsis.
fn one_line(s: &str, max: usize) -> String {
    let clean = printable(s, false);
    if clean.chars().count() <= max {
        return clean;
    }
    let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One escalation in an export. The field order is the CSV column order.
#[derive(Debug, Serialize)]
struct ExportRow<'a> {
    id: i64,
    chat_id: i64,
    name: &'a str,
    username: Option<&'a str>,
    language: &'a str,
    reason: &'static str,
    urgent: bool,
    status: &'static str,
    created_at: String,
    first_reply_at: Option<String>,
    closed_at: Option<String>,
    closed_by: Option<&'a str>,
    claimed_by: Option<&'a str>,
    seconds_to_first_reply: Option<i64>,
    duration_seconds: Option<i64>,
}

/// The CSV header: [`ExportRow`]'s fields in order (a unit test keeps them in step).
const CSV_COLUMNS: [&str; 15] = [
    "id",
    "chat_id",
    "name",
    "username",
    "language",
    "reason",
    "urgent",
    "status",
    "created_at",
    "first_reply_at",
    "closed_at",
    "closed_by",
    "claimed_by",
    "seconds_to_first_reply",
    "duration_seconds",
];

impl<'a> ExportRow<'a> {
    fn new(e: &'a Escalation) -> ExportRow<'a> {
        let seconds = |to: i64| (to - e.created_at).max(0) / 1000;
        ExportRow {
            id: e.id,
            chat_id: e.chat_id,
            name: &e.name,
            username: e.username.as_deref(),
            language: &e.language,
            reason: e.reason.as_str(),
            urgent: e.urgent,
            status: if e.open { "open" } else { "closed" },
            created_at: rfc3339(e.created_at),
            first_reply_at: e.first_reply_at.map(rfc3339),
            closed_at: e.closed_at.map(rfc3339),
            closed_by: e.closed_by.as_deref(),
            claimed_by: e.claimed_by.as_deref(),
            seconds_to_first_reply: e.first_reply_at.map(seconds),
            duration_seconds: e.closed_at.map(seconds),
        }
    }

    /// The row's CSV cells, in [`CSV_COLUMNS`] order; empty for a missing value.
    fn csv_cells(&self) -> [String; 15] {
        let opt = |v: Option<&str>| v.map(csv_text).unwrap_or_default();
        let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        [
            self.id.to_string(),
            self.chat_id.to_string(),
            csv_text(self.name),
            opt(self.username),
            csv_text(self.language),
            self.reason.to_string(),
            self.urgent.to_string(),
            self.status.to_string(),
            self.created_at.clone(),
            self.first_reply_at.clone().unwrap_or_default(),
            self.closed_at.clone().unwrap_or_default(),
            opt(self.closed_by),
            opt(self.claimed_by),
            num(self.seconds_to_first_reply),
            num(self.duration_seconds),
        ]
    }
}

/// `export --format csv`: a header line, then one line per escalation.
pub(crate) fn export_csv(list: &[Escalation]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for e in list {
        let cells = ExportRow::new(e).csv_cells();
        let quoted: Vec<Cow<'_, str>> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

/// `export --format json`: an array of objects.
fn export_json(list: &[Escalation]) -> anyhow::Result<String> {
    let rows: Vec<ExportRow<'_>> = list.iter().map(ExportRow::new).collect();
    let mut out = serde_json::to_string_pretty(&rows).context("cannot encode the export")?;
    out.push('\n');
    Ok(out)
}

/// A CSV cell as RFC 4180 wants it: quoted, with quotes doubled, when it contains a comma, a
/// quote or a line break; as is otherwise.
pub(crate) fn csv_field(cell: &str) -> Cow<'_, str> {
    if cell.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", cell.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Free text for a CSV cell (before [`csv_field`]). Names come from Telegram profiles, which
/// anyone can set to `=HYPERLINK(…)`: a leading ' keeps a spreadsheet from running it.
pub(crate) fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Unix milliseconds as RFC 3339 UTC to the second: `2024-02-29T13:05:09Z`.
pub(crate) fn rfc3339(ms: i64) -> String {
    let (date, (h, m, s)) = split_time(ms);
    format!("{date}T{h:02}:{m:02}:{s:02}Z")
}

/// `2024-02-29 13:05:09 UTC`, for people.
fn utc_seconds(ms: i64) -> String {
    let (date, (h, m, s)) = split_time(ms);
    format!("{date} {h:02}:{m:02}:{s:02} UTC")
}

/// `2024-02-29 13:05`, for the table (whose header says UTC).
fn utc_minutes(ms: i64) -> String {
    let (date, (h, m, _)) = split_time(ms);
    format!("{date} {h:02}:{m:02}")
}

/// The UTC date (`YYYY-MM-DD`) and time of day of unix milliseconds.
fn split_time(ms: i64) -> (String, (i64, i64, i64)) {
    let secs = ms.div_euclid(1000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        (of_day / 3600, of_day % 3600 / 60, of_day % 60),
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): eras of 400 years, years starting in March so the leap day comes last.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A span of milliseconds for people, to the precision that matters at that size:
/// `45s`, `12m`, `3h 05m`, `2d 04h`. Negative spans (clock changes) count as zero.
fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h {:02}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Reason;

    /// A render for [`answer_lines`] that takes longer on some lines, so that answers finish
    /// out of order on several threads.
    fn slow_on_even_lines(line: &str) -> Answered {
        if line.parse::<u32>().is_ok_and(|n| n % 2 == 0) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Answered {
            stdout: format!("answer to {line}"),
            stderr: None,
        }
    }

    #[test]
    fn answers_come_out_in_the_order_of_the_lines() {
        let input: String = (0..200).map(|n| format!("{n}\n")).collect();
        let mut out = Vec::new();
        answer_lines(input.as_bytes(), &mut out, 4, slow_on_even_lines).expect("answered");
        let expected: String = (0..200).map(|n| format!("answer to {n}\n")).collect();
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }

    #[test]
    fn a_last_line_without_newline_and_invalid_utf8_are_answered() {
        let mut out = Vec::new();
        answer_lines(&b"caf\xe9\r\n\nlast"[..], &mut out, 2, slow_on_even_lines).expect("answered");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "answer to caf\u{fffd}\nanswer to \nanswer to last\n"
        );
    }

    /// Accepts `room` lines, then fails as a pipe whose reader has gone.
    struct ClosingPipe {
        room: usize,
        lines: usize,
    }

    impl Write for ClosingPipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.lines == self.room {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.lines += buf.iter().filter(|&&b| b == b'\n').count();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stops_the_batch_quietly() {
        let input: String = (0..10_000).map(|n| format!("{n}\n")).collect();
        let mut out = ClosingPipe { room: 5, lines: 0 };
        answer_lines(input.as_bytes(), &mut out, 2, slow_on_even_lines).expect("no error");
        assert_eq!(out.lines, 5);
    }

    /// Reads two lines, then fails.
    struct FailingInput(&'static [u8]);

    impl std::io::Read for FailingInput {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            unreachable!("read through BufRead")
        }
    }

    impl BufRead for FailingInput {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            if self.0.is_empty() {
                Err(std::io::Error::other("disk on fire"))
            } else {
                Ok(self.0)
            }
        }

        fn consume(&mut self, n: usize) {
            self.0 = &self.0[n..];
        }
    }

    #[test]
    fn a_read_error_is_reported_after_the_lines_before_it_are_answered() {
        let mut out = Vec::new();
        let err = answer_lines(FailingInput(b"1\n2\n"), &mut out, 2, slow_on_even_lines)
            .expect_err("the read error");
        assert_eq!(
            format!("{err:#}"),
            "cannot read questions from stdin: disk on fire"
        );
        assert_eq!(String::from_utf8_lossy(&out), "answer to 1\nanswer to 2\n");
    }

    fn escalation() -> Escalation {
        Escalation {
            id: 3,
            chat_id: 42,
            user_id: 42,
            name: "Ann, \"Mum\"".into(),
            username: Some("ann".into()),
            language: "en".into(),
            reason: Reason::NoMatch,
            urgent: true,
            open: false,
            created_at: 1_709_211_909_000,
            claimed_by: Some("=cmd|' /C calc'!A0".into()),
            first_reply_at: Some(1_709_212_029_500),
            closed_at: Some(1_709_219_109_000),
            closed_by: Some("Bob\nSmith".into()),
            thread_id: Some(5),
            card_message_id: None,
            topic_failed: false,
            caregiver_blocked: false,
        }
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(csv_field("it's; fine"), "it's; fine");
        assert!(matches!(csv_field("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_text_defuses_formulas_only_in_text() {
        assert_eq!(csv_text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_text("+1"), "'+1");
        assert_eq!(csv_text("-x"), "'-x");
        assert_eq!(csv_text("@me"), "'@me");
        assert_eq!(csv_text("Ann"), "Ann");
        // Numbers are not text: a group's negative chat id stays a number.
        let mut e = escalation();
        e.chat_id = -1_001_234;
        let cells = ExportRow::new(&e).csv_cells();
        assert_eq!(cells[1], "-1001234");
    }

    #[test]
    fn export_csv_has_a_header_and_one_quoted_row_per_escalation() {
        let mut open = escalation();
        open.id = 4;
        open.open = true;
        open.closed_at = None;
        open.closed_by = None;
        open.first_reply_at = None;
        open.username = None;
        let csv = export_csv(&[escalation(), open]);
        let expected = concat!(
            "id,chat_id,name,username,language,reason,urgent,status,created_at,first_reply_at,",
            "closed_at,closed_by,claimed_by,seconds_to_first_reply,duration_seconds\n",
            "3,42,\"Ann, \"\"Mum\"\"\",ann,en,no_match,true,closed,2024-02-29T13:05:09Z,",
            "2024-02-29T13:07:09Z,2024-02-29T15:05:09Z,\"Bob\nSmith\",'=cmd|' /C calc'!A0,",
            "120,7200\n",
            "4,42,\"Ann, \"\"Mum\"\"\",,en,no_match,true,open,2024-02-29T13:05:09Z,,,,",
            "'=cmd|' /C calc'!A0,,\n",
        );
        assert_eq!(csv, expected);
    }

    #[test]
    fn export_json_has_the_same_fields_as_the_csv() {
        let json = export_json(&[escalation()]).expect("json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("parse");
        let object = value[0].as_object().expect("object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut columns = CSV_COLUMNS.to_vec();
        keys.sort_unstable();
        columns.sort_unstable();
        assert_eq!(keys, columns);
        assert_eq!(value[0]["name"], "Ann, \"Mum\"");
        assert_eq!(
            value[0]["claimed_by"], "=cmd|' /C calc'!A0",
            "JSON is not defused"
        );
        assert_eq!(value[0]["created_at"], "2024-02-29T13:05:09Z");
        assert_eq!(value[0]["seconds_to_first_reply"], 120);
        assert_eq!(value[0]["duration_seconds"], 7200);
        assert_eq!(value[0]["urgent"], true);
        assert_eq!(export_json(&[]).expect("empty"), "[]\n");
    }

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(999), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(951_868_799_000), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339(1_709_211_909_000), "2024-02-29T13:05:09Z");
        assert_eq!(rfc3339(1_735_689_599_000), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339(1_735_689_600_000), "2025-01-01T00:00:00Z");
        // 2100 is not a leap year.
        assert_eq!(rfc3339(4_107_542_400_000), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339(-2_208_988_800_000), "1900-01-01T00:00:00Z");
        assert_eq!(utc_seconds(1_709_211_909_000), "2024-02-29 13:05:09 UTC");
        assert_eq!(utc_minutes(1_709_211_909_000), "2024-02-29 13:05");
    }

    #[test]
    fn civil_from_days_agrees_with_counting_days() {
        let mut date = (1970_i64, 1_u32, 1_u32);
        for days in 0..=200_000 {
            assert_eq!(civil_from_days(days), date, "day {days}");
            let (y, m, d) = date;
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            date = match (d < len, m < 12) {
                (true, _) => (y, m, d + 1),
                (false, true) => (y, m + 1, 1),
                (false, false) => (y + 1, 1, 1),
            };
        }
    }

    #[test]
    fn durations_are_short_and_readable() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(-5_000), "0s");
        assert_eq!(human_duration(59_999), "59s");
        assert_eq!(human_duration(60_000), "1m");
        assert_eq!(human_duration(3_599_000), "59m");
        assert_eq!(human_duration(3_600_000), "1h 00m");
        assert_eq!(human_duration(3_900_000), "1h 05m");
        assert_eq!(human_duration(86_400_000 * 2 + 3_600_000 * 4), "2d 04h");
    }

    #[test]
    fn text_for_the_terminal_is_defused() {
        assert_eq!(printable("a\u{1b}[31mred", false), "a?[31mred");
        assert_eq!(printable("x\u{202e}y", false), "x?y");
        assert_eq!(printable("a\nb\tc", true), "a\nb c");
        assert_eq!(printable("a\nb", false), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("abcd", 4), "abcd");
    }

    #[test]
    fn the_table_lists_status_times_and_who() {
        let mut open = escalation();
        open.id = 4;
        open.open = true;
        open.closed_at = None;
        open.first_reply_at = None;
        open.caregiver_blocked = true;
        open.name = "Evil\u{1b}[2J".into();
        let now = open.created_at + 90 * 60_000;
        let table = escalation_table(&[open, escalation()], now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID  STATUS"), "{table}");
        assert!(
            lines[1].starts_with("4   open, blocked  no_match  yes"),
            "{table}"
        );
        assert!(lines[1].contains("Evil?[2J (@ann)"), "{table}");
        assert!(
            lines[1].ends_with("2024-02-29 13:05  -            1h 30m"),
            "{table}"
        );
        assert!(lines[2].contains("closed"), "{table}");
        assert!(lines[2].ends_with("2m           2h 00m"), "{table}");
    }

    #[test]
    fn details_show_the_transcript_with_marks() {
        let e = escalation();
        let entry = |at: i64, role: Role, text: &str| TranscriptEntry {
            at,
            role,
            text: text.into(),
            passage_id: None,
        };
        let transcript = [
            entry(e.created_at - 60_000, Role::Caregiver, "what now?"),
            entry(e.created_at, Role::Caregiver, "I want a person"),
            entry(
                e.created_at + 120_500,
                Role::Coordinator,
                "Hello,\nI am here",
            ),
            entry(
                e.closed_at.expect("closed") + 1_000,
                Role::Note,
                "later note",
            ),
        ];
        let text = escalation_details(&e, &transcript, 0);
        assert!(
            text.starts_with("Escalation 3 (closed, urgent)\n"),
            "{text}"
        );
        assert!(text.contains("  reason:        no_match\n"), "{text}");
        assert!(
            text.contains("2024-02-29 13:07:09 UTC (2m after)"),
            "{text}"
        );
        assert!(
            text.contains("  closed:        2024-02-29 15:05:09 UTC by Bob Smith\n"),
            "{text}"
        );
        assert!(text.contains("  duration:      2h 00m\n"), "{text}");
        let order: Vec<usize> = [
            "what now?",
            "I want a person",
            "escalation 3 opened",
            "Hello,",
            "I am here",
            "escalation 3 closed by Bob Smith",
            "later note",
        ]
        .iter()
        .map(|s| {
            text.find(s)
                .unwrap_or_else(|| panic!("{s:?} missing in {text}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{text}");
        let hello = text.lines().find(|l| l.ends_with("Hello,")).expect("line");
        let here = text
            .lines()
            .find(|l| l.ends_with("I am here"))
            .expect("line");
        assert_eq!(
            hello.find("Hello,"),
            here.find("I am here"),
            "continuation not aligned:\n{text}"
        );
        assert!(here.trim_start() == "I am here", "{text}");
    }
}
