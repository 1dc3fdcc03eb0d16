//! The `faqbot` executable: parse the command line, set up logging, load settings, run one
//! command, and turn an error into one message and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use faqbot::cli::{self, Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = Cli::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faqbot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

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
