//! Fixtures shared by the tests: a small content folder written to a temporary directory, an
//! engine over it (or over the shipped `faq/`), and the real executable run with a clean
//! environment.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use faqbot::core::{Engine, Reply};
use faqbot::search::{open_or_build, SearchIndex};
use faqbot::settings::Settings;
use tempfile::TempDir;

/// The guide of the fixture. `home` is longer than `search.excerpt_chars` (900), and only its
/// last paragraph mentions a wheelchair.
pub const GUIDE: &str = "---
id: care
title: Living with treatment
language: en
link: /guides/care
---

<!-- editor note: the integration tests rely on the words used here -->

## Kinase Inhibitors
id: kinase
keywords: targeted tablets
ask: which pills block growth signals

Kinase inhibitors are tablets that block the growth signals some cancer cells depend on. They are usually taken every day at home.

## Radiotherapy Planning
id: radiotherapy
keywords: beams
ask: how is the machine set up

Radiotherapy is planned with a simulation scan, so that the beams reach the tumour and spare healthy organs. A planning session can take an hour.

## Managing Fatigue
id: fatigue
ask: why am I so drained

Rest, short walks and regular meals help many people feel stronger.

## Sleep and Rest
id: sleep
ask: how can I sleep better

Good sleep habits help at night, and fatigue during the day is common.

## Practical Matters at Home
id: home
keywords: household
ask: how do we adapt the house

Many families rearrange the house while treatment goes on. A bed on the ground floor saves climbing stairs on the days when energy is low, and a chair in the shower makes washing safer. Keep a folder with the list of medicines, the names of the team and the dates of appointments near the door, so that anyone who helps can find it quickly.

Meals are easier when neighbours and relatives take turns, and a shared calendar shows who comes on which day. Simple food, small portions and plenty of water are usually better than large meals. It helps to write down questions for the next appointment as they come up, rather than trying to remember them in the consulting room.

Money matters can add to the worry: ask the hospital's social worker about travel costs, parking and any allowances that may apply. Employers often allow flexible hours for carers if asked early.

When walking becomes hard, a wheelchair can be borrowed from the local lending service for a small deposit, and most hospitals lend one for the day at the main entrance.
";

/// The FAQ file of the fixture (one passage per question).
pub const FAQ: &str = "---
id: care-faq
title: Questions families ask
language: en
kind: faq
---

## Can we travel during treatment?
id: travel
ask: are vaccinations needed before flying

Short trips are often possible between cycles; check with the team before booking.

## What helps with nausea?
id: nausea
keywords: sickness
ask: what stops feeling sick

Antiemetics, taken before meals, ease nausea for most people. Some vaccinations can also cause mild nausea for a day.

## Why do my hands and feet feel numb?
id: neuropathy
ask: numb fingers after chemo

Neuropathy is nerve damage that some medicines cause; tell the team early, because changing the dose can stop it getting worse.
";

/// The synonyms of the fixture: a brand (made up, so it occurs nowhere else) mapped one-way to
/// its class, and a multi-word lay phrase mapped to the guide's word.
pub const SYNONYMS: &str = "# fixture synonyms
zentrofix, zentrofixib => kinase inhibitor, kinase inhibitors
pins and needles, tingling => neuropathy
";

/// A temporary content folder and index folder (the index folder is created by the first build).
pub struct Fixture {
    pub content: PathBuf,
    pub index: PathBuf,
    root: TempDir,
}

impl Fixture {
    /// The standard fixture: [`GUIDE`], [`FAQ`] and [`SYNONYMS`].
    pub fn new() -> Fixture {
        let f = Fixture::empty();
        f.write("care.md", GUIDE);
        f.write("care-faq.md", FAQ);
        f.write("synonyms.txt", SYNONYMS);
        f
    }

    /// An empty content folder.
    pub fn empty() -> Fixture {
        let root = tempfile::Builder::new()
            .prefix("faqbot-it-")
            .tempdir()
            .expect("create a temporary folder");
        let content = root.path().join("faq");
        std::fs::create_dir(&content).expect("create the content folder");
        Fixture {
            content,
            index: root.path().join("index"),
            root,
        }
    }

    /// The temporary folder holding `faq/` and `index/`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Writes (or replaces) a file in the content folder; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        self.write_bytes(name, text.as_bytes())
    }

    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.content.join(name);
        std::fs::write(&path, bytes).expect("write a content file");
        path
    }

    /// The `FAQBOT_*` variables that point the settings at this fixture.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "FAQBOT_CONTENT__DIR".to_string(),
                self.content.display().to_string(),
            ),
            (
                "FAQBOT_INDEX__DIR".to_string(),
                self.index.display().to_string(),
            ),
        ]
    }

    pub fn settings(&self) -> Settings {
        Settings::load_from(None, self.env()).expect("fixture settings load")
    }

    /// An engine over this fixture (building the index when needed).
    pub fn engine(&self) -> Engine {
        engine_with(self.settings())
    }
}

/// Opens (building if needed) the index the settings name and wraps it in an engine, as the CLI
/// does.
pub fn engine_with(settings: Settings) -> Engine {
    let (index, meta, _) = open_or_build(&settings.content.dir, &settings.index.dir)
        .unwrap_or_else(|e| panic!("open or build the index: {e}"));
    let index = SearchIndex::new(index, meta).expect("read the index");
    Engine::new(index, settings).expect("intent rules compile")
}

/// The content that ships in `faq/`.
pub fn shipped_content() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("faq")
}

/// An engine over the shipped content, with its index in a temporary folder (never the
/// project's `index/`, which a running bot or another test run may be using).
pub struct Shipped {
    pub engine: Engine,
    // dropped after the engine, which maps files inside it
    _dir: TempDir,
}

impl Shipped {
    pub fn new() -> Shipped {
        let dir = tempfile::Builder::new()
            .prefix("faqbot-it-shipped-")
            .tempdir()
            .expect("create a temporary folder");
        let settings = Settings::load_from(None, shipped_env(&dir.path().join("index")))
            .expect("settings load");
        Shipped {
            engine: engine_with(settings),
            _dir: dir,
        }
    }

    pub fn answer(&self, text: &str) -> Reply {
        self.engine.answer(text)
    }
}

/// Environment pointing at the shipped content and the given index folder.
pub fn shipped_env(index: &Path) -> Vec<(String, String)> {
    vec![
        (
            "FAQBOT_CONTENT__DIR".to_string(),
            shipped_content().display().to_string(),
        ),
        ("FAQBOT_INDEX__DIR".to_string(), index.display().to_string()),
    ]
}

/// The settings the executable uses when run with no config file and no `FAQBOT_*` variables:
/// the built-in defaults alone (read through a file, since `load_from(None, …)` would also read
/// a `config.toml` in the test's working folder).
pub fn builtin_settings() -> Settings {
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let file = dir.path().join("defaults.toml");
    std::fs::write(&file, faqbot::settings::DEFAULTS).expect("write the defaults");
    Settings::load_from(Some(&file), vec![]).expect("the built-in defaults load")
}

/// The line every reply ends with: the disclaimer, then the way to a coordinator.
pub fn reply_footer(settings: &Settings) -> String {
    let handoff = settings
        .reply
        .handoff
        .replace("{label}", &settings.handoff.label)
        .replace("{url}", &settings.handoff.url);
    format!("{}\n{}", settings.reply.disclaimer, handoff)
}

/// Asserts that a reply's plain text ends with the disclaimer and the handoff line.
pub fn assert_footer(reply: &Reply, settings: &Settings, input: &str) {
    let text = reply.plain_text();
    assert!(
        text.contains("not medical advice"),
        "reply to {input:?} lacks the disclaimer:\n{text}"
    );
    assert!(
        text.ends_with(&reply_footer(settings)),
        "reply to {input:?} does not end with the disclaimer and handoff line:\n{text}"
    );
}

/// What a run of the executable produced.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success, showing stderr otherwise.
    pub fn ok(self) -> Run {
        assert!(
            self.status.success(),
            "faqbot failed ({}):\nstderr:\n{}\nstdout:\n{}",
            self.status,
            self.stderr,
            self.stdout
        );
        self
    }

    /// Asserts failure; stderr's non-empty lines.
    pub fn failed(&self) -> Vec<&str> {
        assert!(
            !self.status.success(),
            "faqbot should have failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// stdout parsed as one JSON value per line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}"))
            })
            .collect()
    }
}

/// The real `faqbot` executable, run in a fresh temporary folder with an environment holding
/// only `PATH` and what the test sets.
pub struct Faqbot {
    command: Command,
    stdin: Option<Vec<u8>>,
    cwd: TempDir,
}

impl Faqbot {
    pub fn new(args: &[&str]) -> Faqbot {
        let cwd = tempfile::Builder::new()
            .prefix("faqbot-it-cwd-")
            .tempdir()
            .expect("create a temporary folder");
        let mut command = Command::new(env!("CARGO_BIN_EXE_faqbot"));
        command.args(args).current_dir(cwd.path()).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        Faqbot {
            command,
            stdin: None,
            cwd,
        }
    }

    /// `faqbot ARGS` over a fixture.
    pub fn on(fixture: &Fixture, args: &[&str]) -> Faqbot {
        Faqbot::new(args).envs(fixture.env())
    }

    /// `faqbot ARGS` over the shipped content, with the index in `index`.
    pub fn shipped(index: &Path, args: &[&str]) -> Faqbot {
        Faqbot::new(args).envs(shipped_env(index))
    }

    pub fn env(mut self, key: &str, value: &str) -> Faqbot {
        self.command.env(key, value);
        self
    }

    pub fn envs(mut self, vars: Vec<(String, String)>) -> Faqbot {
        self.command.envs(vars);
        self
    }

    /// Writes a file into the folder the executable runs in (e.g. a `config.toml`).
    pub fn file(self, name: &str, text: &str) -> Faqbot {
        std::fs::write(self.cwd.path().join(name), text).expect("write into the working folder");
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Faqbot {
        self.stdin = Some(bytes.into());
        self
    }

    /// Starts the executable with piped stdin and stdout, for a conversation line by line.
    pub fn spawn(mut self) -> Running {
        let child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start faqbot");
        Running {
            child,
            _cwd: self.cwd,
        }
    }

    pub fn run(mut self) -> Run {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("start faqbot");
        // written from a thread so a large input cannot deadlock against a full stdout pipe;
        // the pipe closes when the thread ends, which is the end of input
        let writer = self.stdin.take().map(|bytes| {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || pipe.write_all(&bytes))
        });
        let out = child.wait_with_output().expect("wait for faqbot");
        if let Some(writer) = writer {
            // a write error means faqbot stopped reading: the output checks will say so
            let _ = writer.join().expect("stdin writer thread");
        }
        Run {
            status: out.status,
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A running executable (see [`Faqbot::spawn`]).
pub struct Running {
    pub child: std::process::Child,
    _cwd: TempDir,
}
