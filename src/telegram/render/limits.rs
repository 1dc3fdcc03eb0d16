//! Telegram's limits, and the few sizes the renderer chooses within them.

/// Telegram's limit on a message's visible text, in UTF-16 code units.
pub const MAX_TEXT_UNITS: usize = 4096;

/// Telegram's limit on a media caption's visible text, in UTF-16 code units.
pub const MAX_CAPTION_UNITS: usize = 1024;

/// Longest button text, in characters; longer titles are shortened with "…".
pub const MAX_BUTTON_CHARS: usize = 60;

/// Most topic buttons on one page (Telegram allows about 100 buttons per keyboard).
pub const MAX_TOPICS_PER_PAGE: usize = 20;

/// Longest forum topic name we give, in characters (Telegram allows 128).
pub(super) const MAX_TOPIC_CHARS: usize = 120;

/// Shown instead of an empty text: Telegram refuses empty messages.
pub(super) const EMPTY_TEXT: &str = "…";

/// Smallest limit a [`MessageBuilder`] accepts, so any character (up to 2 units) fits.
pub(super) const MIN_LIMIT: usize = 16;
