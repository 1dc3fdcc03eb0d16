//! The editors' log: which questions the engine answered, with what, and how the caregivers
//! took it (suggestions chosen, Not helpful votes). What caregivers asked that the guide could
//! not answer is how the guide gets better; `faqbot report` reads this through
//! [`QuestionLog`].
//!
//! The bot writes it with the rest of an answer ([`AnswerRecord`](super::AnswerRecord), in the
//! transaction that completes the update). Privacy as everywhere in the store: text only for the
//! outcomes editors read, erased (with the chat id) when retention passes, and deleted with the
//! chat by `/forget`.

use super::StoreResult;

/// A message the engine answered, as the editors' report sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AskedQuestion {
    /// When it was asked, unix milliseconds.
    pub at: i64,
    /// The reply's outcome (`answer`, `suggest`, `no_match`, `smalltalk`, …).
    pub outcome: String,
    /// What was asked: kept for `answer`, `suggest` and `no_match` only, and erased when
    /// retention passes.
    pub text: Option<String>,
    /// The passage given as the answer.
    pub passage_id: Option<String>,
    /// For `suggest`, the passages offered, best first.
    pub offered: Vec<String>,
    /// How sure the engine was of its best passage (when it searched).
    pub confidence: Option<f32>,
    /// For `suggest`, the passage the caregiver chose, if any.
    pub chosen: Option<String>,
}

/// Outcomes whose text editors read; the others are only counted.
const KEEP_TEXT: [&str; 3] = ["answer", "suggest", "no_match"];

/// Longest question text kept, in characters (a Telegram message is at most 4,096).
const MAX_TEXT_CHARS: usize = 1000;

impl AskedQuestion {
    /// The text as the store keeps it: only for the outcomes editors read, cut to 1,000
    /// characters.
    pub(crate) fn stored_text(&self) -> Option<String> {
        self.text
            .as_deref()
            .filter(|_| KEEP_TEXT.contains(&self.outcome.as_str()))
            .map(|t| t.chars().take(MAX_TEXT_CHARS).collect())
    }

    /// The passages offered as the store keeps them: ids separated by spaces (ids have none).
    pub(crate) fn stored_offered(&self) -> Option<String> {
        (!self.offered.is_empty()).then(|| self.offered.join(" "))
    }
}

/// The passages offered, from [`AskedQuestion::stored_offered`]'s form.
pub(crate) fn offered_from_stored(offered: Option<String>) -> Vec<String> {
    offered
        .map(|o| o.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// A logged question with the chat it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedQuestion {
    /// The chat, until retention erases it: for counting how many people asked, never shown.
    pub chat_id: Option<i64>,
    pub question: AskedQuestion,
}

/// A Not helpful vote with the question that led to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NotHelpful {
    pub passage_id: String,
    /// When the vote was cast, unix milliseconds.
    pub at: i64,
    /// When the question was asked that the passage answered (or was chosen for) in that chat,
    /// the latest before the vote; `None` when the passage was read some other way.
    pub question_at: Option<i64>,
    /// That question's text, while retention keeps it.
    pub question_text: Option<String>,
}

/// The editors' log, read by `faqbot report`.
pub trait QuestionLog {
    /// The questions asked from `from` to before `to` (unix milliseconds), oldest first.
    fn questions_between(&self, from: i64, to: i64) -> StoreResult<Vec<LoggedQuestion>>;

    /// The Not helpful votes cast from `from` to before `to`, by passage, then oldest first.
    fn not_helpful_between(&self, from: i64, to: i64) -> StoreResult<Vec<NotHelpful>>;
}
