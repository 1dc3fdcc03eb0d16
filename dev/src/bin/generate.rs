//! Writes generated guides into a folder, for benchmarks: plausible caregiver-guide text in the
//! content format, not medical content. The same --passages and --seed always write the same
//! files.
//!
//! `cargo run -p faqbot-dev --bin generate -- --passages 100000 --seed 1 --out /tmp/synth`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Write generated guides into a folder, for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "generate", about)]
struct Args {
    /// How many passages to write (in files of 200).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    passages: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The folder to write into: created when missing, and must not hold guides already.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match generate(args.passages, args.seed, &args.out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the guides, refusing a folder that already holds some.
fn generate(passages: u64, seed: u64, out: &Path) -> anyhow::Result<()> {
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
    faqbot_dev::synth::write_guides(out, passages, seed)
        .with_context(|| format!("cannot write generated guides into {}", out.display()))?;
    eprintln!(
        "wrote {passages} generated passages (seed {seed}) into {}",
        out.display()
    );
    Ok(())
}
