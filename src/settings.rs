//! Settings: the defaults in `config.toml` (embedded in the binary, so `faqbot ask` works from
//! anywhere), then an optional file, then `FAQBOT_<SECTION>__<KEY>` environment variables.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

/// The defaults, compiled in.
pub const DEFAULTS: &str = include_str!("../config.toml");

/// All settings. Unknown keys are errors, so a typo in a key name does not go unnoticed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub telegram: TelegramSettings,
    pub coordinators: CoordinatorSettings,
    pub handoff: HandoffSettings,
    pub content: ContentSettings,
    pub index: IndexSettings,
    pub store: StoreSettings,
    pub search: SearchSettings,
    pub log: LogSettings,
    pub ops: OpsSettings,
    pub review: ReviewSettings,
    pub reply: ReplyTexts,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSettings {
    pub listen: String,
}

/// The coordinators' review page (`review.listen`, off when empty).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    pub listen: String,
    /// The page's public address, for the sign-in links the bot sends; `https://` makes the
    /// session cookie `Secure`. Empty: `http://` and `listen`.
    pub base_url: String,
    pub session_hours: u32,
    pub link_minutes: u32,
}

impl ReviewSettings {
    /// The address sign-in links start with, without a trailing slash.
    pub fn base(&self) -> String {
        if self.base_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.base_url.trim_end_matches('/').to_string()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    pub token: Secret,
    pub api_url: String,
    pub mode: TelegramMode,
    pub webhook_url: String,
    pub webhook_listen: String,
    pub webhook_secret: Secret,
    pub poll_timeout_secs: u32,
    pub throttle: bool,
    pub max_pending_updates: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    Polling,
    Webhook,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorSettings {
    pub chat_id: i64,
    #[serde(deserialize_with = "one_or_many")]
    pub allowed_user_ids: Vec<u64>,
    pub office_hours: String,
    pub show_names: bool,
    pub transcript_lines: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    pub url: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentSettings {
    pub dir: PathBuf,
    pub site_url: String,
    pub reload_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Which store: empty for the SQLite file at `path`, `sqlite://PATH`, or
    /// `postgres://USER@HOST:PORT/DATABASE[?sslmode=require]`. Never with a password in it.
    pub url: StoreUrl,
    pub path: PathBuf,
    pub retention_days: u32,
    /// PostgreSQL: connections each process keeps at most.
    pub max_connections: usize,
    /// PostgreSQL with `sslmode=require`: a PEM file of CA certificates trusted besides
    /// Mozilla's roots (empty: none).
    pub ca_file: PathBuf,
    /// PostgreSQL: the password, from `FAQBOT_STORE__PASSWORD` only (a config file holding it
    /// is refused); `PGPASSWORD` is read when this is empty.
    #[serde(default)]
    pub password: Secret,
}

/// `store.url`: prints with any password hidden, though [`Settings::load_from`] refuses one.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct StoreUrl(pub String);

impl StoreUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::store::postgres::redact_url(&self.0))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::store::postgres::redact_url(&self.0))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    pub max_results: usize,
    pub answer_certainty: f32,
    pub answer_confidence: f32,
    pub suggest_confidence: f32,
    pub suggest_ratio: f32,
    pub min_coverage: f32,
    pub related_ratio: f32,
    pub excerpt_chars: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub message_text: bool,
    pub level: String,
}

/// The bot's own sentences, kept out of code so they can be reviewed and translated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyTexts {
    pub disclaimer: String,
    pub handoff: String,
    pub answer_intro: String,
    pub advice_intro: String,
    pub read_more: String,
    pub related: String,
    pub no_match: String,
    pub suggest: String,
    pub suggest_offer: String,
    /// `suggest` for a question about one person's treatment: the advice notice first.
    pub advice_suggest: String,
    pub empty: String,
    /// The emergency notice: call the local emergency number.
    pub emergency: String,
    /// The notice for a reaction to cancer treatment: the oncology team's 24-hour line.
    pub emergency_treatment: String,
    /// The notice for suicidal or self-harm thoughts: crisis support.
    pub emergency_crisis: String,
    /// One line with the emergency numbers, under every reply in a language the bot does not
    /// answer in.
    pub emergency_line: String,
    pub handoff_request: String,
    pub greeting: String,
    pub thanks: String,
    pub farewell: String,
    pub identity: String,
    pub language: String,
    pub not_found: String,
    pub welcome: String,
    pub help: String,
    pub privacy: String,
    pub forget_confirm: String,
    pub forget_done: String,
    pub forget_cancelled: String,
    pub non_text: String,
    pub feedback_thanks: String,
    pub feedback_sorry: String,
    pub stale_button: String,
    pub topics: String,
    pub human: String,
    pub error: String,
    pub button_helpful: String,
    pub button_not_helpful: String,
    pub button_topics: String,
    pub button_coordinator: String,
    pub button_yes_forget: String,
    pub button_cancel: String,
    pub button_previous: String,
    pub button_next: String,
    pub button_yes_coordinator: String,
    pub button_claim: String,
    pub button_close: String,
    pub escalation_confirm: String,
    pub escalation_created: String,
    pub escalation_exists: String,
    pub escalation_cancelled: String,
    pub escalation_not_confirmed: String,
    pub escalation_closed: String,
    pub escalation_none: String,
    pub no_match_offer: String,
    pub coordinator_label: String,
    pub coordinator_label_anonymous: String,
    pub correction: String,
    pub group_new: String,
    pub group_urgent: String,
    pub group_help: String,
    pub group_claimed: String,
    pub group_closed: String,
    pub group_reopened: String,
    pub group_withdrawn: String,
    pub group_erased: String,
    pub group_blocked: String,
    pub group_edited: String,
    pub group_not_found: String,
    pub group_none_open: String,
    pub group_open_list: String,
    pub group_is_closed: String,
    pub group_emergency: String,
    pub review_link: String,
    pub review_link_sent: String,
    pub review_refused: String,
    pub review_off: String,
    /// The three emergency notices per language (ISO 639-1), shown above the English one.
    #[serde(default)]
    pub emergency_translations: BTreeMap<String, EmergencyTexts>,
    #[serde(default)]
    pub language_translations: BTreeMap<String, String>,
}

/// The emergency notices in one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyTexts {
    pub emergency: String,
    pub treatment: String,
    pub crisis: String,
}

/// A list from the file (`[1, 2]`), or from the environment as `1,2` or a single `1` (which the
/// environment source reads as a number, not a list).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Number(u64),
        Text(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Item>),
        One(Item),
    }
    let items = match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(i) => vec![i],
    };
    let mut ids = Vec::new();
    for item in items {
        match item {
            Item::Number(n) => ids.push(n),
            Item::Text(t) => {
                for part in t.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let id = part.parse::<u64>().map_err(|_| {
                        serde::de::Error::custom(format!("{part:?} is not a Telegram user id"))
                    })?;
                    ids.push(id);
                }
            }
        }
    }
    Ok(ids)
}

/// A value that must never reach a log: prints as `***`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A settings problem, worded as one line that names the file or key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {} not found: check the --config path", .0.display())]
    MissingFile(PathBuf),
    #[error("configuration: {message}; fix the key in {source_name} or in its FAQBOT_<SECTION>__<KEY> environment variable")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("config key `{key}` {problem}; set it in {file} or with {env}")]
    BadValue {
        key: &'static str,
        problem: String,
        file: String,
        env: String,
    },
}

impl Settings {
    /// Loads the embedded defaults, then `file` (or `./config.toml` when it exists), then the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("FAQBOT_"))
            .collect();
        Settings::load_from(file, env)
    }

    /// Like [`Settings::load`] with the environment given, so tests need not change the
    /// process's own.
    pub fn load_from(
        file: Option<&Path>,
        env: Vec<(String, String)>,
    ) -> Result<Settings, SettingsError> {
        let file = match file {
            Some(path) if !path.is_file() => {
                return Err(SettingsError::MissingFile(path.to_path_buf()))
            }
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from("config.toml")).filter(|p| p.is_file()),
        };
        let file_name = file.as_ref().map_or_else(
            || "the built-in defaults".to_string(),
            |p| p.display().to_string(),
        );
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = &file {
            builder = builder.add_source(
                File::from(path.as_path())
                    .format(FileFormat::Toml)
                    .required(true),
            );
        }
        let env_has_password = env.iter().any(|(k, _)| k == "FAQBOT_STORE__PASSWORD");
        let source = Environment::with_prefix("FAQBOT")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("coordinators.allowed_user_ids")
            .source(Some(env.into_iter().collect()));
        let settings: Settings = builder
            .add_source(source)
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError::Invalid {
                source_name: file_name.clone(),
                message: e.to_string(),
            })?;
        settings.validate(&file_name)?;
        if !settings.store.password.is_empty() && !env_has_password {
            return Err(SettingsError::BadValue {
                key: "store.password",
                problem: "must not be written in a config file".into(),
                file: "the environment only (remove it from the file)".into(),
                env: "FAQBOT_STORE__PASSWORD".into(),
            });
        }
        Ok(settings)
    }

    fn validate(&self, file: &str) -> Result<(), SettingsError> {
        let bad = |key: &'static str, problem: String| SettingsError::BadValue {
            key,
            problem,
            file: file.to_string(),
            env: format!("FAQBOT_{}", key.to_uppercase().replacen('.', "__", 1)),
        };
        let is_url = |s: &str| s.starts_with("https://") || s.starts_with("http://");
        if !is_url(&self.handoff.url) {
            return Err(bad(
                "handoff.url",
                format!("must be an http(s) address, not {:?}", self.handoff.url),
            ));
        }
        if !is_url(&self.telegram.api_url) {
            return Err(bad(
                "telegram.api_url",
                format!(
                    "must be an http(s) address, not {:?}",
                    self.telegram.api_url
                ),
            ));
        }
        for (key, value) in [
            ("search.answer_certainty", self.search.answer_certainty),
            ("search.answer_confidence", self.search.answer_confidence),
            ("search.suggest_confidence", self.search.suggest_confidence),
            ("search.suggest_ratio", self.search.suggest_ratio),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(bad(key, "must be between 0 and 1".into()));
            }
        }
        if !(0.0..=1.0).contains(&self.search.min_coverage) {
            return Err(bad("search.min_coverage", "must be between 0 and 1".into()));
        }
        if !(0.0..=1.0).contains(&self.search.related_ratio) {
            return Err(bad(
                "search.related_ratio",
                "must be between 0 and 1".into(),
            ));
        }
        if !(1..=20).contains(&self.search.max_results) {
            return Err(bad("search.max_results", "must be between 1 and 20".into()));
        }
        if self.search.excerpt_chars < 200 {
            return Err(bad("search.excerpt_chars", "must be at least 200".into()));
        }
        if self.telegram.poll_timeout_secs > 50 {
            return Err(bad(
                "telegram.poll_timeout_secs",
                "must be at most 50".into(),
            ));
        }
        if !self.ops.listen.is_empty() && self.ops.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "ops.listen",
                format!(
                    "must be an address such as 127.0.0.1:9090, not {:?}",
                    self.ops.listen
                ),
            ));
        }
        if !self.review.listen.is_empty()
            && self.review.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(bad(
                "review.listen",
                format!(
                    "must be an address such as 127.0.0.1:8090, not {:?}",
                    self.review.listen
                ),
            ));
        }
        if !self.review.base_url.is_empty() && !is_url(&self.review.base_url) {
            return Err(bad(
                "review.base_url",
                format!("must be an http(s) address, not {:?}", self.review.base_url),
            ));
        }
        if !(1..=24 * 30).contains(&self.review.session_hours) {
            return Err(bad(
                "review.session_hours",
                "must be between 1 and 720".into(),
            ));
        }
        if !(1..=60).contains(&self.review.link_minutes) {
            return Err(bad(
                "review.link_minutes",
                "must be between 1 and 60".into(),
            ));
        }
        if self.content.reload_secs == 0 {
            return Err(bad("content.reload_secs", "must be at least 1".into()));
        }
        if self.store.retention_days == 0 {
            return Err(bad("store.retention_days", "must be at least 1".into()));
        }
        let url = self.store.url.as_str();
        if !url.is_empty()
            && !url.starts_with("sqlite://")
            && !crate::store::postgres::is_postgres_url(url)
        {
            return Err(bad(
                "store.url",
                format!(
                    "must start with postgres://, postgresql:// or sqlite:// (or be empty for \
                     store.path), not {}",
                    self.store.url
                ),
            ));
        }
        if crate::store::postgres::is_postgres_url(url) {
            if let Err(e) = crate::store::postgres::connect_settings(url, None, None) {
                return Err(bad("store.url", format!("is not usable: {e}")));
            }
        }
        if !(1..=100).contains(&self.store.max_connections) {
            return Err(bad(
                "store.max_connections",
                "must be between 1 and 100".into(),
            ));
        }
        if self.reply.disclaimer.trim().is_empty() {
            return Err(bad(
                "reply.disclaimer",
                "must not be empty: every reply carries it".into(),
            ));
        }
        Ok(())
    }

    /// Checks what `faqbot run` needs beyond what `ask` needs: a token, and a webhook address
    /// and secret in webhook mode.
    pub fn validate_for_run(&self) -> Result<(), SettingsError> {
        let missing = |key: &'static str, problem: &str| SettingsError::BadValue {
            key,
            problem: problem.to_string(),
            file: "the config file".into(),
            env: format!("FAQBOT_{}", key.to_uppercase().replacen('.', "__", 1)),
        };
        if self.telegram.token.is_empty() {
            return Err(missing(
                "telegram.token",
                "is not set (get one from @BotFather)",
            ));
        }
        if !self.review.listen.is_empty() && self.coordinators.allowed_user_ids.is_empty() {
            return Err(missing(
                "coordinators.allowed_user_ids",
                "must list the coordinators when review.listen is set: only they can sign in",
            ));
        }
        if self.telegram.mode == TelegramMode::Webhook {
            if !self.telegram.webhook_url.starts_with("https://") {
                return Err(missing(
                    "telegram.webhook_url",
                    "must be the public https:// address Telegram posts to",
                ));
            }
            if self.telegram.webhook_secret.expose().len() < 16 {
                return Err(missing(
                    "telegram.webhook_secret",
                    "must be at least 16 characters in webhook mode",
                ));
            }
        }
        Ok(())
    }

    /// A link from content (a full URL, or a path joined to `content.site_url`).
    pub fn content_link(&self, link: &str) -> Option<String> {
        if link.starts_with("https://") || link.starts_with("http://") {
            Some(link.to_string())
        } else if self.content.site_url.is_empty() {
            None
        } else {
            Some(format!(
                "{}/{}",
                self.content.site_url.trim_end_matches('/'),
                link.trim_start_matches('/')
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_environment_overrides() {
        let s = Settings::load_from(
            None,
            env(&[
                ("FAQBOT_TELEGRAM__TOKEN", "123:abc"),
                ("FAQBOT_STORE__RETENTION_DAYS", "7"),
                ("FAQBOT_COORDINATORS__ALLOWED_USER_IDS", "1,2"),
                ("FAQBOT_COORDINATORS__CHAT_ID", "-100123"),
            ]),
        )
        .expect("valid");
        assert_eq!(s.telegram.token.expose(), "123:abc");
        assert_eq!(s.store.retention_days, 7);
        assert_eq!(s.coordinators.allowed_user_ids, vec![1, 2]);
        let one = Settings::load_from(
            None,
            env(&[("FAQBOT_COORDINATORS__ALLOWED_USER_IDS", "42")]),
        )
        .expect("valid");
        assert_eq!(one.coordinators.allowed_user_ids, vec![42]);
        assert_eq!(s.coordinators.chat_id, -100123);
        assert_eq!(s.telegram.mode, TelegramMode::Polling);
        assert!(s.reply.disclaimer.contains("not medical advice"));
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("123:abc");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        let settings = Settings::load_from(None, env(&[("FAQBOT_TELEGRAM__TOKEN", "123:abc")]))
            .expect("valid");
        assert!(!format!("{settings:?}").contains("123:abc"));
    }

    #[test]
    fn store_settings_keep_the_password_in_the_environment() {
        let e = Settings::load_from(None, env(&[("FAQBOT_STORE__URL", "mysql://db/faqbot")]))
            .expect_err("bad scheme");
        assert!(e.to_string().contains("store.url"), "{e}");
        let e = Settings::load_from(
            None,
            env(&[("FAQBOT_STORE__URL", "postgres://faqbot:hunter2@db/faqbot")]),
        )
        .expect_err("password in the address");
        assert!(e.to_string().contains("FAQBOT_STORE__PASSWORD"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("faqbot.toml");
        std::fs::write(&file, "[store]\npassword = \"hunter2\"\n").expect("write");
        let e = Settings::load_from(Some(&file), vec![]).expect_err("password in a file");
        assert!(e.to_string().contains("store.password"), "{e}");
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("FAQBOT_STORE__URL", "postgres://faqbot@db/faqbot"),
                ("FAQBOT_STORE__PASSWORD", "from-env"),
            ]),
        )
        .expect("the environment's password");
        assert_eq!(s.store.password.expose(), "from-env");
        assert!(!format!("{s:?}").contains("from-env"));
        let s = Settings::load_from(
            None,
            env(&[("FAQBOT_STORE__URL", "sqlite:///var/lib/faqbot/faqbot.db")]),
        )
        .expect("sqlite url");
        assert_eq!(s.store.url.as_str(), "sqlite:///var/lib/faqbot/faqbot.db");
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let e = Settings::load_from(None, env(&[("FAQBOT_STORE__RETENTION_DAYS", "soon")]))
            .expect_err("bad");
        assert!(e.to_string().contains("store.retention_days"), "{e}");
        let e =
            Settings::load_from(None, env(&[("FAQBOT_HANDOFF__URL", "call us")])).expect_err("bad");
        assert!(e.to_string().contains("FAQBOT_HANDOFF__URL"), "{e}");
        let e = Settings::load_from(None, env(&[("FAQBOT_TELEGRAM__MODE", "carrier-pigeon")]))
            .expect_err("bad");
        assert!(e.to_string().contains("telegram.mode"), "{e}");
        let e = Settings::load_from(Some(Path::new("/nonexistent/faqbot.toml")), vec![])
            .expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/faqbot.toml"), "{e}");
    }

    #[test]
    fn the_review_page_needs_an_address_and_the_allow_list() {
        let e = Settings::load_from(None, env(&[("FAQBOT_REVIEW__LISTEN", "everywhere")]))
            .expect_err("bad address");
        assert!(e.to_string().contains("review.listen"), "{e}");
        let on = [
            ("FAQBOT_TELEGRAM__TOKEN", "123:abc"),
            ("FAQBOT_REVIEW__LISTEN", "127.0.0.1:8090"),
        ];
        let s = Settings::load_from(None, env(&on)).expect("valid");
        assert_eq!(s.review.base(), "http://127.0.0.1:8090");
        let e = s.validate_for_run().expect_err("no allow-list");
        assert!(e.to_string().contains("allowed_user_ids"), "{e}");
        let mut listed = on.to_vec();
        listed.push(("FAQBOT_COORDINATORS__ALLOWED_USER_IDS", "7"));
        listed.push(("FAQBOT_REVIEW__BASE_URL", "https://review.example.org/"));
        let s = Settings::load_from(None, env(&listed)).expect("valid");
        s.validate_for_run().expect("runs");
        assert_eq!(s.review.base(), "https://review.example.org");
    }

    #[test]
    fn content_links_join_the_site_address() {
        let s = Settings::load_from(None, vec![]).expect("valid");
        assert_eq!(
            s.content_link("/guides/x").as_deref(),
            Some("https://chinamedwaypoint.com/guides/x")
        );
        assert_eq!(
            s.content_link("https://a.b/c").as_deref(),
            Some("https://a.b/c")
        );
    }
}
