//! The pages' CSV downloads. Cells are quoted as RFC 4180 wants and free text that a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a
//! leading `'`, with the same helpers as `faqbot escalations export` and `faqbot report`.

use crate::csv::{field as csv_field, text as csv_text};
use crate::store::{Escalation, Relay, TranscriptEntry};

use super::data::DayFigures;

/// The requests list: the columns of `faqbot escalations export --format csv`.
pub fn requests(list: &[Escalation]) -> String {
    crate::report::escalations::export_csv(list)
}

fn line(out: &mut String, cells: &[String]) {
    let quoted: Vec<_> = cells.iter().map(|c| csv_field(c)).collect();
    out.push_str(&quoted.join(","));
    out.push('\n');
}

/// One request's transcript (as retention keeps it) and its relayed messages.
pub fn transcript(e: &Escalation, lines: &[TranscriptEntry], relays: &[Relay]) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &["escalation", "at", "role", "text", "passage"].map(String::from),
    );
    for t in lines {
        line(
            &mut out,
            &[
                e.id.to_string(),
                crate::clock::rfc3339(t.at),
                t.role.as_str().to_string(),
                csv_text(&t.text),
                t.passage_id.as_deref().map(csv_text).unwrap_or_default(),
            ],
        );
    }
    for r in relays {
        line(
            &mut out,
            &[
                e.id.to_string(),
                String::new(),
                "relay".into(),
                format!(
                    "{} group message {} / caregiver message {}",
                    r.direction.as_str(),
                    r.group_message_id,
                    r.caregiver_message_id
                ),
                String::new(),
            ],
        );
    }
    out
}

/// The overview: one line per day, one column per outcome.
pub fn overview(days: &[DayFigures]) -> String {
    let mut outcomes: Vec<&String> = days.iter().flat_map(|d| d.outcomes.keys()).collect();
    outcomes.sort();
    outcomes.dedup();
    let mut out = String::new();
    let mut header = vec![
        "date".to_string(),
        "escalations".into(),
        "median_seconds_to_first_reply".into(),
    ];
    header.extend(outcomes.iter().map(|o| o.to_string()));
    line(&mut out, &header);
    for d in days {
        let mut cells = vec![
            d.date.clone(),
            d.escalations.to_string(),
            d.median_first_reply
                .map(|ms| (ms / 1000).to_string())
                .unwrap_or_default(),
        ];
        cells.extend(
            outcomes
                .iter()
                .map(|o| d.outcomes.get(*o).copied().unwrap_or(0).to_string()),
        );
        line(&mut out, &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    #[test]
    fn transcript_text_is_quoted_and_defused() {
        let mut e = super::super::data::tests::escalation(3, 0);
        e.name = "=HYPERLINK(\"x\")".into();
        let lines = [TranscriptEntry {
            at: 60_000,
            role: Role::Caregiver,
            text: "=1+1, \"really\"".into(),
            passage_id: None,
        }];
        let csv = transcript(&e, &lines, &[]);
        assert!(csv.contains(",\"'=1+1, \"\"really\"\"\","), "{csv}");
        assert!(csv.contains("1970-01-01T00:01:00Z"), "{csv}");
        assert!(requests(&[e]).contains("'=HYPERLINK"));
    }
}
