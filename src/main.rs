//! The `faqbot` executable: parse the command line, set up logging, load settings, run one
//! command, and turn an error into one message and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use faqbot::cli::{self, Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args = Cli::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faqbot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives each thread that allocates under contention an arena of its own, and memory
/// freed in one stays there: serving the load test, the bot's two runtime threads each kept
/// ~13 MB of such arenas, and the peak RSS was 69.4 MiB against the 64 MB target. Two arenas
/// make it 61.1 MiB at the same CPU per update (BENCHMARKS.md). Other allocators leave this alone.
///
/// glibc also raises the size from which it maps an allocation on its own (returned to the
/// system when freed) each time such a block is freed, up to 32 MB, so that after start-up
/// large buffers stay in the heap. Fixing it at 128 KiB lowered the load test's peak from
/// 63.8–64.4 to 63.5–63.6 MiB at the same CPU per update; at 32 KiB it was 63.0–63.4 MiB but
/// 10% more CPU (BENCHMARKS.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    /// Allocations from this size are mapped on their own (see above).
    const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
    // SAFETY: mallopt only sets tunables of glibc's allocator; it is called first thing in
    // main, before any other thread exists, and its result (0 on a refused value) needs no
    // handling: the default then stays.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn run(args: Cli) -> anyhow::Result<()> {
    let settings = cli::load_settings(args.config.as_deref())?;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match args.log_format {
        LogFormat::Json => logs.json().with_current_span(true).init(),
        LogFormat::Text => logs.init(),
    }
    match args.command {
        Command::Index => cli::index(&settings),
        Command::Check => cli::check(&settings),
        Command::Run => cli::run(settings),
        Command::Ask {
            json,
            explain,
            question,
        } => cli::ask(&settings, json, explain, &question),
        Command::Escalations { command } => cli::escalations(&settings, command),
        Command::Store { command } => cli::store(&settings, command),
        Command::Report {
            format,
            since,
            until,
            days,
        } => cli::report(&settings, format, since.as_deref(), until.as_deref(), days),
    }
}
