//! Escalations as rows for export: the same fields as CSV (for spreadsheets, defused) and as
//! JSON, written by `faqbot escalations export` and the review page's downloads.

use std::borrow::Cow;

use anyhow::Context;
use serde::Serialize;

use crate::clock::rfc3339;
use crate::store::Escalation;

/// One escalation in an export. The field order is the CSV column order.
#[derive(Debug, Serialize)]
pub(crate) struct ExportRow<'a> {
    id: i64,
    chat_id: i64,
    name: &'a str,
    username: Option<&'a str>,
    language: &'a str,
    reason: &'static str,
    urgent: bool,
    status: &'static str,
    created_at: String,
    first_reply_at: Option<String>,
    closed_at: Option<String>,
    closed_by: Option<&'a str>,
    claimed_by: Option<&'a str>,
    seconds_to_first_reply: Option<i64>,
    duration_seconds: Option<i64>,
}

/// The CSV header: [`ExportRow`]'s fields in order (a unit test keeps them in step).
pub(crate) const CSV_COLUMNS: [&str; 15] = [
    "id",
    "chat_id",
    "name",
    "username",
    "language",
    "reason",
    "urgent",
    "status",
    "created_at",
    "first_reply_at",
    "closed_at",
    "closed_by",
    "claimed_by",
    "seconds_to_first_reply",
    "duration_seconds",
];

impl<'a> ExportRow<'a> {
    pub(crate) fn new(e: &'a Escalation) -> ExportRow<'a> {
        let seconds = |to: i64| (to - e.created_at).max(0) / 1000;
        ExportRow {
            id: e.id,
            chat_id: e.chat_id,
            name: &e.name,
            username: e.username.as_deref(),
            language: &e.language,
            reason: e.reason.as_str(),
            urgent: e.urgent,
            status: if e.open { "open" } else { "closed" },
            created_at: rfc3339(e.created_at),
            first_reply_at: e.first_reply_at.map(rfc3339),
            closed_at: e.closed_at.map(rfc3339),
            closed_by: e.closed_by.as_deref(),
            claimed_by: e.claimed_by.as_deref(),
            seconds_to_first_reply: e.first_reply_at.map(seconds),
            duration_seconds: e.closed_at.map(seconds),
        }
    }

    /// The row's CSV cells, in [`CSV_COLUMNS`] order; empty for a missing value.
    pub(crate) fn csv_cells(&self) -> [String; 15] {
        let opt = |v: Option<&str>| v.map(crate::csv::text).unwrap_or_default();
        let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        [
            self.id.to_string(),
            self.chat_id.to_string(),
            crate::csv::text(self.name),
            opt(self.username),
            crate::csv::text(self.language),
            self.reason.to_string(),
            self.urgent.to_string(),
            self.status.to_string(),
            self.created_at.clone(),
            self.first_reply_at.clone().unwrap_or_default(),
            self.closed_at.clone().unwrap_or_default(),
            opt(self.closed_by),
            opt(self.claimed_by),
            num(self.seconds_to_first_reply),
            num(self.duration_seconds),
        ]
    }
}

/// `export --format csv`: a header line, then one line per escalation.
pub fn export_csv(list: &[Escalation]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for e in list {
        let cells = ExportRow::new(e).csv_cells();
        let quoted: Vec<Cow<'_, str>> = cells.iter().map(|c| crate::csv::field(c)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

/// `export --format json`: an array of objects.
pub fn export_json(list: &[Escalation]) -> anyhow::Result<String> {
    let rows: Vec<ExportRow<'_>> = list.iter().map(ExportRow::new).collect();
    let mut out = serde_json::to_string_pretty(&rows).context("cannot encode the export")?;
    out.push('\n');
    Ok(out)
}
