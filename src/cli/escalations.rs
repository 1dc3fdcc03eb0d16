//! `faqbot escalations list|show|export`: the escalations for coordinators and their leads, as
//! a table, one escalation with its transcript, or CSV / JSON for reporting.

use super::{open_existing_store, write_stdout, EscalationsCommand, ExportFormat};
use crate::clock::{split_time, Clock};
use crate::report::escalations::{export_csv, export_json};
use crate::settings::Settings;
use crate::store::{Escalation, Role, TranscriptEntry};
use crate::text::{one_line, printable};

/// `faqbot escalations list|show|export`.
pub fn escalations(settings: &Settings, command: EscalationsCommand) -> anyhow::Result<()> {
    let opened = open_existing_store(settings)?;
    let store = &*opened.backend;
    let now = Clock::system().now_ms();
    let out = match command {
        EscalationsCommand::List { status } => {
            let filter = status.as_option();
            let list = store.list_escalations(filter)?;
            if list.is_empty() {
                let which = match filter {
                    Some(true) => "open ",
                    Some(false) => "closed ",
                    None => "",
                };
                format!("no {which}escalations\n")
            } else {
                escalation_table(&list, now)
            }
        }
        EscalationsCommand::Show { id } => {
            let Some(e) = store.escalation(id)? else {
                anyhow::bail!("no escalation {id} in the store {}", opened.kind);
            };
            let transcript = store.transcript(e.chat_id, usize::MAX)?;
            escalation_details(&e, &transcript, now)
        }
        EscalationsCommand::Export { format, status } => {
            let list = store.list_escalations(status.as_option())?;
            match format {
                ExportFormat::Csv => export_csv(&list),
                ExportFormat::Json => export_json(&list)?,
            }
        }
    };
    write_stdout(&out)
}

/// The table `escalations list` prints.
fn escalation_table(list: &[Escalation], now: i64) -> String {
    let header = [
        "ID",
        "STATUS",
        "REASON",
        "URGENT",
        "WHO",
        "CREATED (UTC)",
        "FIRST REPLY",
        "DURATION/AGE",
    ];
    let rows: Vec<[String; 8]> = list
        .iter()
        .map(|e| {
            let status = match (e.open, e.caregiver_blocked) {
                (true, true) => "open, blocked",
                (true, false) => "open",
                (false, _) => "closed",
            };
            [
                e.id.to_string(),
                status.to_string(),
                e.reason.as_str().to_string(),
                if e.urgent { "yes" } else { "" }.to_string(),
                one_line(&who(e), 32),
                utc_minutes(e.created_at),
                e.first_reply_at
                    .map_or_else(|| "-".to_string(), |at| human_duration(at - e.created_at)),
                human_duration(e.closed_at.unwrap_or(now) - e.created_at),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// "Name (@username)".
fn who(e: &Escalation) -> String {
    match &e.username {
        Some(u) => format!("{} (@{u})", e.name),
        None => e.name.clone(),
    }
}

/// `escalations show`: the details, then the transcript with the escalation's opening and
/// closing marked where they happened.
fn escalation_details(e: &Escalation, transcript: &[TranscriptEntry], now: i64) -> String {
    let mut out = String::new();
    let mut field = |label: &str, value: &str| {
        out.push_str(&format!(
            "  {:<15}{}\n",
            format!("{label}:"),
            one_line(value, 200)
        ));
    };
    let flags = match (e.open, e.urgent) {
        (true, true) => "open, urgent",
        (true, false) => "open",
        (false, true) => "closed, urgent",
        (false, false) => "closed",
    };
    field("caregiver", &who(e));
    field("user / chat", &format!("{} / {}", e.user_id, e.chat_id));
    field("language", &e.language);
    field("reason", e.reason.as_str());
    field("created", &utc_seconds(e.created_at));
    field("claimed by", e.claimed_by.as_deref().unwrap_or("-"));
    field(
        "first reply",
        &e.first_reply_at.map_or_else(
            || "-".to_string(),
            |at| {
                format!(
                    "{} ({} after)",
                    utc_seconds(at),
                    human_duration(at - e.created_at)
                )
            },
        ),
    );
    match (e.closed_at, &e.closed_by) {
        (Some(at), by) => {
            let by = by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            field("closed", &format!("{}{by}", utc_seconds(at)));
            field("duration", &human_duration(at - e.created_at));
        }
        (None, _) => field("age", &human_duration(now - e.created_at)),
    }
    let place = match (e.thread_id, e.card_message_id) {
        (Some(t), _) => format!("topic {t}"),
        (None, Some(m)) => format!("card message {m}"),
        (None, None) if e.topic_failed => "card (the group has no topics), not sent yet".into(),
        (None, None) => "not posted yet".into(),
    };
    field("in the group", &place);
    if e.caregiver_blocked {
        field("blocked", "the caregiver blocked the bot");
    }
    let mut text = format!("Escalation {} ({flags})\n{out}", e.id);

    text.push_str(&format!(
        "\nTranscript of chat {} (oldest first, {} lines):\n",
        e.chat_id,
        transcript.len()
    ));
    // Marks go after the lines with the same time: the message that led to the escalation was
    // recorded with the escalation's own timestamp.
    let mut marks: Vec<(i64, String)> = vec![(e.created_at, format!("escalation {} opened", e.id))];
    if let Some(at) = e.closed_at {
        let by = e
            .closed_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        marks.push((at, format!("escalation {} closed{by}", e.id)));
    }
    let mut marks = marks.into_iter().peekable();
    let push_mark = |text: &mut String, at: i64, what: &str| {
        text.push_str(&format!(
            "  {}  -- {} --\n",
            utc_seconds(at),
            one_line(what, 200)
        ));
    };
    for entry in transcript {
        while let Some((at, what)) = marks.next_if(|(at, _)| *at < entry.at) {
            push_mark(&mut text, at, &what);
        }
        let role = match entry.role {
            Role::Caregiver => "caregiver",
            Role::Bot => "bot",
            Role::Coordinator => "coordinator",
            Role::Note => "note",
        };
        let mut body = printable(&entry.text, true);
        if let Some(p) = &entry.passage_id {
            body.push_str(&format!(" [passage {}]", one_line(p, 100)));
        }
        // Continuation lines start under the first line's text.
        let prefix = format!("  {}  {role:<12} ", utc_seconds(entry.at));
        let indent = " ".repeat(prefix.chars().count());
        for (i, line) in body.split('\n').enumerate() {
            text.push_str(if i == 0 { &prefix } else { &indent });
            text.push_str(line);
            text.push('\n');
        }
    }
    for (at, what) in marks {
        push_mark(&mut text, at, &what);
    }
    text
}

/// `2024-02-29 13:05:09 UTC`, for people.
fn utc_seconds(ms: i64) -> String {
    let (date, (h, m, s)) = split_time(ms);
    format!("{date} {h:02}:{m:02}:{s:02} UTC")
}

/// `2024-02-29 13:05`, for the table (whose header says UTC).
fn utc_minutes(ms: i64) -> String {
    let (date, (h, m, _)) = split_time(ms);
    format!("{date} {h:02}:{m:02}")
}

/// A span of milliseconds for people, to the precision that matters at that size:
/// `45s`, `12m`, `3h 05m`, `2d 04h`. Negative spans (clock changes) count as zero.
fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h {:02}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::escalations::{ExportRow, CSV_COLUMNS};
    use crate::store::Reason;

    fn escalation() -> Escalation {
        Escalation {
            id: 3,
            chat_id: 42,
            user_id: 42,
            name: "Ann, \"Mum\"".into(),
            username: Some("ann".into()),
            language: "en".into(),
            reason: Reason::NoMatch,
            urgent: true,
            open: false,
            created_at: 1_709_211_909_000,
            claimed_by: Some("=cmd|' /C calc'!A0".into()),
            first_reply_at: Some(1_709_212_029_500),
            closed_at: Some(1_709_219_109_000),
            closed_by: Some("Bob\nSmith".into()),
            thread_id: Some(5),
            card_message_id: None,
            topic_failed: false,
            caregiver_blocked: false,
        }
    }

    #[test]
    fn export_csv_has_a_header_and_one_quoted_row_per_escalation() {
        let mut open = escalation();
        open.id = 4;
        open.open = true;
        open.closed_at = None;
        open.closed_by = None;
        open.first_reply_at = None;
        open.username = None;
        let csv = export_csv(&[escalation(), open]);
        let expected = concat!(
            "id,chat_id,name,username,language,reason,urgent,status,created_at,first_reply_at,",
            "closed_at,closed_by,claimed_by,seconds_to_first_reply,duration_seconds\n",
            "3,42,\"Ann, \"\"Mum\"\"\",ann,en,no_match,true,closed,2024-02-29T13:05:09Z,",
            "2024-02-29T13:07:09Z,2024-02-29T15:05:09Z,\"Bob\nSmith\",'=cmd|' /C calc'!A0,",
            "120,7200\n",
            "4,42,\"Ann, \"\"Mum\"\"\",,en,no_match,true,open,2024-02-29T13:05:09Z,,,,",
            "'=cmd|' /C calc'!A0,,\n",
        );
        assert_eq!(csv, expected);
    }

    #[test]
    fn export_json_has_the_same_fields_as_the_csv() {
        let json = export_json(&[escalation()]).expect("json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("parse");
        let object = value[0].as_object().expect("object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut columns = CSV_COLUMNS.to_vec();
        keys.sort_unstable();
        columns.sort_unstable();
        assert_eq!(keys, columns);
        assert_eq!(value[0]["name"], "Ann, \"Mum\"");
        assert_eq!(
            value[0]["claimed_by"], "=cmd|' /C calc'!A0",
            "JSON is not defused"
        );
        assert_eq!(value[0]["created_at"], "2024-02-29T13:05:09Z");
        assert_eq!(value[0]["seconds_to_first_reply"], 120);
        assert_eq!(value[0]["duration_seconds"], 7200);
        assert_eq!(value[0]["urgent"], true);
        assert_eq!(export_json(&[]).expect("empty"), "[]\n");
    }

    #[test]
    fn durations_are_short_and_readable() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(-5_000), "0s");
        assert_eq!(human_duration(59_999), "59s");
        assert_eq!(human_duration(60_000), "1m");
        assert_eq!(human_duration(3_599_000), "59m");
        assert_eq!(human_duration(3_600_000), "1h 00m");
        assert_eq!(human_duration(3_900_000), "1h 05m");
        assert_eq!(human_duration(86_400_000 * 2 + 3_600_000 * 4), "2d 04h");
    }

    #[test]
    fn the_table_lists_status_times_and_who() {
        let mut open = escalation();
        open.id = 4;
        open.open = true;
        open.closed_at = None;
        open.first_reply_at = None;
        open.caregiver_blocked = true;
        open.name = "Evil\u{1b}[2J".into();
        let now = open.created_at + 90 * 60_000;
        let table = escalation_table(&[open, escalation()], now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID  STATUS"), "{table}");
        assert!(
            lines[1].starts_with("4   open, blocked  no_match  yes"),
            "{table}"
        );
        assert!(lines[1].contains("Evil?[2J (@ann)"), "{table}");
        assert!(
            lines[1].ends_with("2024-02-29 13:05  -            1h 30m"),
            "{table}"
        );
        assert!(lines[2].contains("closed"), "{table}");
        assert!(lines[2].ends_with("2m           2h 00m"), "{table}");
    }

    #[test]
    fn details_show_the_transcript_with_marks() {
        let e = escalation();
        let entry = |at: i64, role: Role, text: &str| TranscriptEntry {
            at,
            role,
            text: text.into(),
            passage_id: None,
        };
        let transcript = [
            entry(e.created_at - 60_000, Role::Caregiver, "what now?"),
            entry(e.created_at, Role::Caregiver, "I want a person"),
            entry(
                e.created_at + 120_500,
                Role::Coordinator,
                "Hello,\nI am here",
            ),
            entry(
                e.closed_at.expect("closed") + 1_000,
                Role::Note,
                "later note",
            ),
        ];
        let text = escalation_details(&e, &transcript, 0);
        assert!(
            text.starts_with("Escalation 3 (closed, urgent)\n"),
            "{text}"
        );
        assert!(text.contains("  reason:        no_match\n"), "{text}");
        assert!(
            text.contains("2024-02-29 13:07:09 UTC (2m after)"),
            "{text}"
        );
        assert!(
            text.contains("  closed:        2024-02-29 15:05:09 UTC by Bob Smith\n"),
            "{text}"
        );
        assert!(text.contains("  duration:      2h 00m\n"), "{text}");
        let order: Vec<usize> = [
            "what now?",
            "I want a person",
            "escalation 3 opened",
            "Hello,",
            "I am here",
            "escalation 3 closed by Bob Smith",
            "later note",
        ]
        .iter()
        .map(|s| {
            text.find(s)
                .unwrap_or_else(|| panic!("{s:?} missing in {text}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{text}");
        let hello = text.lines().find(|l| l.ends_with("Hello,")).expect("line");
        let here = text
            .lines()
            .find(|l| l.ends_with("I am here"))
            .expect("line");
        assert_eq!(
            hello.find("Hello,"),
            here.find("I am here"),
            "continuation not aligned:\n{text}"
        );
        assert!(here.trim_start() == "I am here", "{text}");
    }

    #[test]
    fn times_for_people_are_utc() {
        assert_eq!(utc_seconds(1_709_211_909_000), "2024-02-29 13:05:09 UTC");
        assert_eq!(utc_minutes(1_709_211_909_000), "2024-02-29 13:05");
    }

    #[test]
    fn numbers_are_not_defused_as_text() {
        // a group's negative chat id stays a number
        let mut e = escalation();
        e.chat_id = -1_001_234;
        let cells = ExportRow::new(&e).csv_cells();
        assert_eq!(cells[1], "-1001234");
    }
}
