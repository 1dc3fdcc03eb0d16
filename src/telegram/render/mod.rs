//! Telegram HTML: the one place that escapes text, writes markup, keeps messages within
//! Telegram's limits and builds inline keyboards. Nothing else in the bot writes a tag.
//!
//! Text is built as [`Block`]s (paragraphs of plain-text spans with a style) and turned into
//! messages by a [`MessageBuilder`]. Because blocks hold plain text, a long text is split on
//! its visible characters and each part is then escaped and wrapped in its own tags: a split
//! can never fall inside a tag or an entity, and no tag spans two messages.
//!
//! Telegram counts the 4,096-character limit in UTF-16 code units of the text after entity
//! parsing, i.e. of what the reader sees; that is what [`MAX_TEXT_UNITS`] bounds here.

mod builder;
mod escape;
mod group;
mod keyboard;
mod limits;
mod reply;
mod split;
#[cfg(test)]
mod tests;

pub use builder::{paragraphs, Block, MessageBuilder, Style};
pub use escape::{escape, html_to_plain, without_markup};
pub use group::{escalation_notice, labelled_caption, topic_name, unknown_topic_name};
pub use keyboard::{callback_button, handoff_row, reply_keyboard, url_button, Labels};
pub use limits::{MAX_BUTTON_CHARS, MAX_CAPTION_UNITS, MAX_TEXT_UNITS, MAX_TOPICS_PER_PAGE};
pub use reply::{plain_message, render_reply, render_reply_with, topics_page};
