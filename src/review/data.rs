//! What the pages show, computed from the store's rows: the requests list's filters, times to
//! first reply and durations, and the overview's figures per day. No HTML here.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::report::{Day, Period};
use crate::store::{Escalation, Reason};

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The requests page's filters, as the form sends them (empty = any).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// `open`, `closed`, or empty for both.
    pub state: String,
    /// `urgent`, `normal`, or empty.
    pub urgency: String,
    /// A [`Reason`] name, or empty.
    pub reason: String,
    /// A coordinator's name, `-` for unclaimed requests, or empty.
    pub claimed: String,
    /// Opened on or after this day (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// Opened on or before this day (`YYYY-MM-DD`, UTC).
    pub to: String,
}

impl Filter {
    /// The opening times the dates allow (`from` up to before `to`); a date that is not one is
    /// ignored (the form shows what was understood).
    fn period(&self) -> (i64, i64) {
        let day = |s: &str| {
            (!s.is_empty())
                .then(|| Period::new(Some(s), Some(s), 1, 0).ok())
                .flatten()
        };
        let from = day(&self.from).map_or(i64::MIN, |p| p.from);
        let to = day(&self.to).map_or(i64::MAX, |p| p.to);
        (from, to)
    }

    /// Whether a request passes every filter.
    pub fn matches(&self, e: &Escalation) -> bool {
        let (from, to) = self.period();
        let state = match self.state.as_str() {
            "open" => e.open,
            "closed" => !e.open,
            _ => true,
        };
        let urgency = match self.urgency.as_str() {
            "urgent" => e.urgent,
            "normal" => !e.urgent,
            _ => true,
        };
        let reason = Reason::parse(&self.reason).is_none_or(|r| r == e.reason);
        let claimed = match self.claimed.as_str() {
            "" => true,
            "-" => e.claimed_by.is_none(),
            name => e.claimed_by.as_deref() == Some(name),
        };
        state && urgency && reason && claimed && e.created_at >= from && e.created_at < to
    }

    /// The filters as a query string (for the CSV link), `?` included when any is set.
    pub fn query(&self) -> String {
        let pairs: Vec<String> = [
            ("state", &self.state),
            ("urgency", &self.urgency),
            ("reason", &self.reason),
            ("claimed", &self.claimed),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }
}

/// `application/x-www-form-urlencoded` for one value.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The coordinators who claimed any of the requests, sorted, for the filter's choices.
pub fn claimants(list: &[Escalation]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().filter_map(|e| e.claimed_by.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// Time from opening to the first coordinator reply.
pub fn first_reply(e: &Escalation) -> Option<i64> {
    e.first_reply_at.map(|t| (t - e.created_at).max(0))
}

/// How long the request was (or has been, when open) open.
pub fn duration(e: &Escalation, now: i64) -> i64 {
    (e.closed_at.unwrap_or(now) - e.created_at).max(0)
}

/// The median of some values (the lower middle one for an even count).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    values.get((values.len() - 1) / 2).copied()
}

/// The overview's figures for one day (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct DayFigures {
    pub date: String,
    /// Answers by outcome (`answer`, `no_match`, …).
    pub outcomes: BTreeMap<String, u64>,
    /// Requests opened that day.
    pub escalations: u64,
    /// Median time to first coordinator reply of the requests opened that day.
    pub median_first_reply: Option<i64>,
}

/// The `YYYY-MM-DD` (UTC) of unix milliseconds.
pub fn date(ms: i64) -> String {
    crate::text::format_utc(ms)
        .get(..10)
        .unwrap_or_default()
        .to_string()
}

/// One row per day of the period, oldest first: the report's outcome counts, and the
/// requests opened in the period.
pub fn per_day(period: Period, outcomes: &[Day], escalations: &[Escalation]) -> Vec<DayFigures> {
    let first = period.from.div_euclid(DAY_MS);
    let last = (period.to - 1).div_euclid(DAY_MS);
    let by_date: BTreeMap<&str, &Day> = outcomes.iter().map(|d| (d.date.as_str(), d)).collect();
    (first..=last)
        .map(|day| {
            let date = date(day * DAY_MS);
            let opened: Vec<&Escalation> = escalations
                .iter()
                .filter(|e| e.created_at.div_euclid(DAY_MS) == day)
                .filter(|e| e.created_at >= period.from && e.created_at < period.to)
                .collect();
            let mut replies: Vec<i64> = opened.iter().filter_map(|e| first_reply(e)).collect();
            DayFigures {
                outcomes: by_date
                    .get(date.as_str())
                    .map(|d| d.counts.clone())
                    .unwrap_or_default(),
                escalations: opened.len() as u64,
                median_first_reply: median(&mut replies),
                date,
            }
        })
        .collect()
}

/// The period of the last `days` days up to `now` (1 to 366).
pub fn last_days(days: u32, now: i64) -> Period {
    let days = days.clamp(1, 366);
    // whole UTC days, today included
    let to = (now.div_euclid(DAY_MS) + 1) * DAY_MS;
    Period {
        from: to - i64::from(days) * DAY_MS,
        to,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An open, unclaimed request for the review module's tests.
    pub fn escalation(id: i64, created_at: i64) -> Escalation {
        Escalation {
            id,
            chat_id: id,
            user_id: id,
            name: format!("N{id}"),
            username: None,
            language: "en".into(),
            reason: Reason::Asked,
            urgent: false,
            open: true,
            created_at,
            claimed_by: None,
            first_reply_at: None,
            closed_at: None,
            closed_by: None,
            thread_id: None,
            card_message_id: None,
            topic_failed: false,
            caregiver_blocked: false,
        }
    }

    #[test]
    fn filters_combine() {
        let mut a = escalation(1, DAY_MS * 20_000 + 5);
        a.urgent = true;
        a.reason = Reason::Emergency;
        a.claimed_by = Some("Anna".into());
        let mut b = escalation(2, DAY_MS * 20_001);
        b.open = false;
        b.closed_at = Some(DAY_MS * 20_001 + 10);
        let f = |q: &str| -> Filter {
            serde_json::from_value(serde_json::from_str(q).expect("json")).expect("filter")
        };
        let pick = |filter: Filter| -> Vec<i64> {
            [&a, &b]
                .into_iter()
                .filter(|e| filter.matches(e))
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(pick(Filter::default()), vec![1, 2]);
        assert_eq!(pick(f(r#"{"state":"closed"}"#)), vec![2]);
        assert_eq!(pick(f(r#"{"urgency":"urgent"}"#)), vec![1]);
        assert_eq!(pick(f(r#"{"reason":"emergency"}"#)), vec![1]);
        assert_eq!(pick(f(r#"{"claimed":"-"}"#)), vec![2]);
        assert_eq!(pick(f(r#"{"claimed":"Anna"}"#)), vec![1]);
        let day = date(DAY_MS * 20_001);
        assert_eq!(pick(f(&format!(r#"{{"from":"{day}"}}"#))), vec![2]);
        assert_eq!(
            pick(f(&format!(r#"{{"to":"{}"}}"#, date(DAY_MS * 20_000)))),
            vec![1]
        );
        assert_eq!(pick(f(r#"{"from":"not a date"}"#)), vec![1, 2]);
        assert_eq!(
            f(r#"{"claimed":"A&B","state":"open"}"#).query(),
            "?state=open&claimed=A%26B"
        );
    }

    #[test]
    fn per_day_counts_requests_and_the_median_first_reply() {
        let period = last_days(3, DAY_MS * 100 + 1);
        let mut a = escalation(1, DAY_MS * 100 + 10);
        a.first_reply_at = Some(DAY_MS * 100 + 10 + 60_000);
        let mut b = escalation(2, DAY_MS * 100 + 20);
        b.first_reply_at = Some(DAY_MS * 100 + 20 + 180_000);
        let c = escalation(3, DAY_MS * 99);
        let old = escalation(4, DAY_MS * 10);
        let days = per_day(period, &[], &[a, b, c, old]);
        assert_eq!(days.len(), 3);
        assert_eq!(days[2].escalations, 2);
        assert_eq!(days[2].median_first_reply, Some(60_000));
        assert_eq!(days[1].escalations, 1);
        assert_eq!(days[1].median_first_reply, None);
        assert_eq!(days[0].escalations, 0);
        assert_eq!(median(&mut [5, 1, 3]), Some(3));
    }
}
