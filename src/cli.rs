//! The command line: argument definitions and one function per command. `main` only parses,
//! sets up logging and maps errors to an exit code.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

mod escalations;

pub use escalations::escalations;

pub use crate::report::ReportFormat;

use crate::clock::Clock;
use crate::content;
use crate::core::{open_engine, Engine, Reply};
use crate::search;
use crate::settings::Settings;

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
    /// Manage the store itself.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

/// `faqbot store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every table (inbox, outbox, chats, feedback, escalations with their relays,
    /// transcripts, questions, review sign-ins) from one store to another, keeping ids; e.g.
    /// `--from sqlite:///var/lib/faqbot/faqbot.db --to postgres://faqbot@db/faqbot`. Stop the
    /// bot first. The PostgreSQL password comes from FAQBOT_STORE__PASSWORD or PGPASSWORD.
    Copy {
        /// The store to read (sqlite://PATH or postgres://…).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The store to write (created and migrated if needed).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy into a store that already has rows: rows whose key exists there are kept as
        /// they are, the rest added (so an interrupted copy can be run again).
        #[arg(long)]
        merge: bool,
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
    /// The filter as [`list_escalations`](crate::store::Escalations::list_escalations) takes
    /// it.
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
    let model = crate::core::QuestionModel::shared().map_err(anyhow::Error::msg)?;
    let unknown: Vec<&str> = content
        .passages()
        .map(|(_, p)| p.id.as_str())
        .filter(|id| !model.knows(id))
        .collect();
    if !unknown.is_empty() {
        eprintln!(
            "note: the question model was trained without {} passage(s): {}. They are found by \
             the search alone until it is retrained (scripts/train_ranker.py).",
            unknown.len(),
            unknown.join(", ")
        );
    }
    Ok(())
}

/// One line of `ask --json`, as DESIGN.md's contract defines it.
#[derive(Debug, Serialize)]
struct JsonReply<'a> {
    outcome: &'static str,
    reply: String,
    language: &'a str,
    passages: Vec<JsonPassage<'a>>,
    /// How sure the search is that the question is about the guide (absent when no search
    /// ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<f32>,
    /// How likely the question is about the guide, from that and the question model (absent
    /// when no search ran): what `search.suggest_confidence` is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    relevance: Option<f32>,
    /// How sure the question model is that the first passage is the one asked for (absent
    /// when no search ran): what `search.answer_certainty` is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    certainty: Option<f32>,
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
        relevance: reply.relevance.map(round3),
        certainty: reply.certainty.map(round3),
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
    match engine.rank(&cleaned) {
        Ok((result, confidence, ranked)) => {
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
            for (h, p) in ranked.hits.iter().zip(&ranked.probabilities) {
                out.push_str(&format!(
                    "  {:>7.3} coverage {:.2} model {:.3}  {}\n",
                    h.score, h.coverage, p, h.id
                ));
            }
            let cfg = &engine.settings().search;
            let certainty = ranked.certainty;
            let (relevance, verdict) = engine.verdict(confidence, &ranked);
            let verdict = verdict.as_str();
            out.push_str(&format!(
                "  confidence {confidence:.3}, about no passage {:.3}: relevance {relevance:.3} (suggest at {:.2}); certainty {certainty:.3} (answer at {:.2}): {verdict}\n",
                ranked.none,
                cfg.suggest_confidence, cfg.answer_certainty
            ));
        }
        Err(e) => out.push_str(&format!("  search failed: {e}\n")),
    }
    out
}

/// `faqbot report`.
pub fn report(
    settings: &Settings,
    format: ReportFormat,
    since: Option<&str>,
    until: Option<&str>,
    days: u32,
) -> anyhow::Result<()> {
    let now = Clock::system().now_ms();
    let period = crate::report::Period::new(since, until, days, now)?;
    let store = open_existing_store(settings)?;
    let report = crate::report::build(&*store.backend, period, settings.store.retention_days, now)?;
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

/// `faqbot store copy`: prints what was copied, table by table.
pub fn store(settings: &Settings, command: StoreCommand) -> anyhow::Result<()> {
    let StoreCommand::Copy { from, to, merge } = command;
    let source_kind = crate::store::StoreKind::parse(&from, &settings.store.path)
        .map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    if let crate::store::StoreKind::Sqlite(path) = &source_kind {
        if !path.is_file() {
            anyhow::bail!("--from: no SQLite store at {}", path.display());
        }
    }
    let source = crate::store::open_url(settings, &from).context("--from")?;
    let target = crate::store::open_url(settings, &to).context("--to")?;
    if source.kind == target.kind {
        anyhow::bail!("--from and --to are the same store ({})", source.kind);
    }
    let copied = crate::store::copy::copy(&*source.backend, &*target.backend, merge)?;
    let mut out = format!("copied {} → {}\n", source.kind, target.kind);
    out.push_str(&format!("{:<16} {:>10} {:>10}\n", "TABLE", "READ", "ADDED"));
    for c in &copied {
        out.push_str(&format!("{:<16} {:>10} {:>10}\n", c.table, c.read, c.added));
    }
    write_stdout(&out)
}

/// Opens the store for a command that only makes sense on an existing one: opening a SQLite
/// store creates a missing file, which would hide a wrong `store.path` behind an empty list.
/// (A PostgreSQL database must exist already; the server refuses a wrong name itself.)
fn open_existing_store(settings: &Settings) -> anyhow::Result<crate::store::OpenedStore> {
    let kind = crate::store::StoreKind::parse(settings.store.url.as_str(), &settings.store.path)
        .map_err(|e| anyhow::anyhow!("config key `store.url`: {e}; fix FAQBOT_STORE__URL"))?;
    if let crate::store::StoreKind::Sqlite(path) = &kind {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
                "no store at {}: the bot has not run with this store.path (set it in the \
                 config or FAQBOT_STORE__PATH)",
                path.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read the store {}", path.display()))
            }
        }
    }
    crate::store::open(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
