//! CSV cells as spreadsheets read them safely: quoted per RFC 4180, and free text that would
//! start a formula defused. Used by every CSV the bot writes (the CLI's exports and report, the
//! review page's downloads).

use std::borrow::Cow;

/// A CSV cell as RFC 4180 wants it: quoted, with quotes doubled, when it contains a comma, a
/// quote or a line break; as is otherwise.
pub fn field(cell: &str) -> Cow<'_, str> {
    if cell.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", cell.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Free text for a CSV cell (before [`field`]). Names come from Telegram profiles, which
/// anyone can set to `=HYPERLINK(…)`: a leading ' keeps a spreadsheet from running it.
pub fn text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field("it's; fine"), "it's; fine");
        assert!(matches!(field("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_text_defuses_formulas_only_in_text() {
        assert_eq!(text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(text("+1"), "'+1");
        assert_eq!(text("-x"), "'-x");
        assert_eq!(text("@me"), "'@me");
        assert_eq!(text("Ann"), "Ann");
    }
}
