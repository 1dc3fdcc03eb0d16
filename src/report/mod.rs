//! `faqbot report`: the editors' loop. What caregivers asked that the guide could not answer
//! (no match), or answered only with suggestions, grouped when the questions are near-duplicates;
//! the suggestions they chose; the passages they marked Not helpful with the questions that led
//! there; and the outcomes per day. Read from the store's question log
//! ([`QuestionLog`]); text only where retention still keeps it.

pub mod escalations;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde::Serialize;

use crate::clock::split_time;
use crate::csv::{field as csv_field, text as csv_text};
use crate::store::{LoggedQuestion, NotHelpful, QuestionLog};
use crate::text::{one_line, printable};

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Two questions are near-duplicates when they share at least this share of their meaningful
/// words (stemmed, without the words that say nothing, such as "my", "what", "please").
const SAME_QUESTION: f64 = 0.5;

/// Other wordings shown under a group of near-duplicates.
const MAX_VARIANTS: usize = 5;

/// `faqbot report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
}

/// The period a report covers, in unix milliseconds: `from` up to before `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

impl Period {
    /// From `--since` and `--until` (dates, `YYYY-MM-DD`, UTC, both days included) or else the
    /// last `days` days up to `now`.
    pub fn new(
        since: Option<&str>,
        until: Option<&str>,
        days: u32,
        now: i64,
    ) -> anyhow::Result<Period> {
        let to = match until {
            Some(d) => (parse_date(d).context("--until")? + 1) * DAY_MS,
            None => now,
        };
        let from = match since {
            Some(d) => parse_date(d).context("--since")? * DAY_MS,
            None => to - i64::from(days) * DAY_MS,
        };
        if from >= to {
            anyhow::bail!("the period is empty: --since must come before --until");
        }
        Ok(Period { from, to })
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_date(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("{s:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-01");
    let mut parts = s.trim().splitn(3, '-');
    let mut next = |len: usize| -> anyhow::Result<i64> {
        let p = parts.next().ok_or_else(bad)?;
        if p.len() != len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse().map_err(|_| bad())
    };
    let (y, m, d) = (next(4)?, next(2)?, next(2)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return Err(bad()),
    };
    if !(1..=month_len).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`, the
/// inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of unix milliseconds.
fn date(ms: i64) -> String {
    split_time(ms).0
}

/// The report, as `--format json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// First day of the period (UTC).
    pub from: String,
    /// Last day of the period (UTC).
    pub to: String,
    /// Questions' text is kept this many days; older questions are counted without it.
    pub retention_days: u32,
    /// Outcome counts per day (UTC), oldest first; every outcome that occurred in the period is
    /// a key of every day.
    pub outcomes_per_day: Vec<Day>,
    /// Questions that got `no_match`, grouped, the largest groups first.
    pub no_match: Vec<Group>,
    /// Questions that got `suggest`, grouped, the largest groups first.
    pub suggest: Vec<Group>,
    /// Per passage: how often it was offered among suggestions and how often chosen.
    pub suggestions_chosen: Vec<Chosen>,
    /// Passages marked Not helpful, the most votes first, with the questions that led there.
    pub not_helpful: Vec<Votes>,
}

#[derive(Debug, Serialize)]
pub struct Day {
    pub date: String,
    pub counts: BTreeMap<String, u64>,
    pub total: u64,
}

/// Near-duplicate questions (or all those whose text retention has erased: `text` null).
#[derive(Debug, Serialize)]
pub struct Group {
    pub count: u64,
    /// How many chats asked (chats erased by retention are not counted).
    pub people: u64,
    /// The wording asked first; null when retention erased the text.
    pub text: Option<String>,
    /// Other wordings in the group, up to five.
    pub variants: Vec<String>,
    pub first: String,
    pub last: String,
    /// For `suggest`: the passages offered, the most often first.
    pub offered: Vec<String>,
    /// For `suggest`: the passages chosen, with how often.
    pub chosen: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct Chosen {
    pub passage: String,
    pub offered: u64,
    pub chosen: u64,
    /// How often it was chosen when offered first, second and third.
    pub chosen_at_rank: [u64; 3],
}

#[derive(Debug, Serialize)]
pub struct Votes {
    pub passage: String,
    pub votes: u64,
    pub questions: Vec<VotedQuestion>,
}

#[derive(Debug, Serialize)]
pub struct VotedQuestion {
    /// When the vote was cast (RFC 3339).
    pub voted_at: String,
    /// The question that led to the passage, while retention keeps it.
    pub text: Option<String>,
}

/// Builds the report for `period` from the store's log. Text older than `retention_days`
/// before `now` is left out even where the store has not purged it yet.
pub fn build(
    log: &dyn QuestionLog,
    period: Period,
    retention_days: u32,
    now: i64,
) -> anyhow::Result<Report> {
    let kept_from = now - i64::from(retention_days) * DAY_MS;
    let mut questions = log.questions_between(period.from, period.to)?;
    for q in &mut questions {
        if q.question.at < kept_from {
            q.question.text = None;
        }
    }
    let mut votes = log.not_helpful_between(period.from, period.to)?;
    for v in &mut votes {
        if v.question_at.is_none_or(|at| at < kept_from) {
            v.question_text = None;
        }
    }
    let of = |outcome: &str| -> Vec<&LoggedQuestion> {
        questions
            .iter()
            .filter(|q| q.question.outcome == outcome)
            .collect()
    };
    Ok(Report {
        from: date(period.from),
        to: date(period.to - 1),
        retention_days,
        outcomes_per_day: per_day(&questions),
        no_match: groups(&of("no_match")),
        suggest: groups(&of("suggest")),
        suggestions_chosen: chosen(&of("suggest")),
        not_helpful: not_helpful(&votes),
    })
}

fn per_day(questions: &[LoggedQuestion]) -> Vec<Day> {
    let outcomes: BTreeSet<&str> = questions
        .iter()
        .map(|q| q.question.outcome.as_str())
        .collect();
    let mut days: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for q in questions {
        let day = days
            .entry(date(q.question.at))
            .or_insert_with(|| outcomes.iter().map(|o| (o.to_string(), 0)).collect());
        *day.entry(q.question.outcome.clone()).or_default() += 1;
    }
    days.into_iter()
        .map(|(date, counts)| Day {
            total: counts.values().sum(),
            date,
            counts,
        })
        .collect()
}

/// The meaningful words of a question, stemmed: what near-duplicates share.
fn key_terms(text: &str) -> BTreeSet<String> {
    crate::text::words(text)
        .into_iter()
        .filter(|w| !crate::search::stopword(w))
        .flat_map(|w| crate::search::terms_of(&w))
        .collect()
}

/// Jaccard similarity of two sets of words.
fn similarity(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// Questions grouped with their near-duplicates (each joins the first group whose first
/// question it is close enough to), the largest groups first; those without text in one group,
/// last.
fn groups(questions: &[&LoggedQuestion]) -> Vec<Group> {
    struct Building<'a> {
        key: BTreeSet<String>,
        normalized: String,
        members: Vec<&'a LoggedQuestion>,
    }
    let mut building: Vec<Building<'_>> = Vec::new();
    let mut erased: Vec<&LoggedQuestion> = Vec::new();
    for &q in questions {
        let Some(text) = q.question.text.as_deref() else {
            erased.push(q);
            continue;
        };
        let key = key_terms(text);
        let normalized = crate::text::words(text).join(" ");
        let found = building.iter_mut().find(|g| {
            g.normalized == normalized
                || (!key.is_empty() && similarity(&g.key, &key) >= SAME_QUESTION)
        });
        match found {
            Some(g) => g.members.push(q),
            None => building.push(Building {
                key,
                normalized,
                members: vec![q],
            }),
        }
    }
    let mut out: Vec<Group> = building.into_iter().map(|g| group(&g.members)).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| b.last.cmp(&a.last)));
    if !erased.is_empty() {
        out.push(group(&erased));
    }
    out
}

fn group(members: &[&LoggedQuestion]) -> Group {
    let text = members.iter().find_map(|q| q.question.text.clone());
    let mut variants: Vec<String> = Vec::new();
    for t in members.iter().filter_map(|q| q.question.text.as_deref()) {
        if Some(t) != text.as_deref() && !variants.iter().any(|v| v == t) {
            variants.push(t.to_string());
        }
    }
    variants.truncate(MAX_VARIANTS);
    let people: BTreeSet<i64> = members.iter().filter_map(|q| q.chat_id).collect();
    let mut offered: BTreeMap<&str, usize> = BTreeMap::new();
    let mut chosen: BTreeMap<String, u64> = BTreeMap::new();
    for q in members {
        for p in &q.question.offered {
            *offered.entry(p).or_default() += 1;
        }
        if let Some(c) = &q.question.chosen {
            *chosen.entry(c.clone()).or_default() += 1;
        }
    }
    let mut offered: Vec<(&str, usize)> = offered.into_iter().collect();
    offered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let at = |q: &&LoggedQuestion| q.question.at;
    Group {
        count: members.len() as u64,
        people: people.len() as u64,
        text,
        variants,
        first: members.iter().map(at).min().map(date).unwrap_or_default(),
        last: members.iter().map(at).max().map(date).unwrap_or_default(),
        offered: offered.into_iter().map(|(p, _)| p.to_string()).collect(),
        chosen,
    }
}

fn chosen(suggested: &[&LoggedQuestion]) -> Vec<Chosen> {
    let mut by_passage: BTreeMap<String, Chosen> = BTreeMap::new();
    for q in suggested {
        for (rank, p) in q.question.offered.iter().enumerate() {
            let entry = by_passage.entry(p.clone()).or_insert_with(|| Chosen {
                passage: p.clone(),
                offered: 0,
                chosen: 0,
                chosen_at_rank: [0; 3],
            });
            entry.offered += 1;
            if q.question.chosen.as_ref() == Some(p) {
                entry.chosen += 1;
                if let Some(n) = entry.chosen_at_rank.get_mut(rank) {
                    *n += 1;
                }
            }
        }
    }
    let mut out: Vec<Chosen> = by_passage.into_values().collect();
    out.sort_by(|a, b| b.chosen.cmp(&a.chosen).then(b.offered.cmp(&a.offered)));
    out
}

fn not_helpful(votes: &[NotHelpful]) -> Vec<Votes> {
    let mut out: Vec<Votes> = Vec::new();
    for group in votes.chunk_by(|a, b| a.passage_id == b.passage_id) {
        out.push(Votes {
            passage: group[0].passage_id.clone(),
            votes: group.len() as u64,
            questions: group
                .iter()
                .map(|v| VotedQuestion {
                    voted_at: crate::clock::rfc3339(v.at),
                    text: v.question_text.clone(),
                })
                .collect(),
        });
    }
    out.sort_by(|a, b| b.votes.cmp(&a.votes).then(a.passage.cmp(&b.passage)));
    out
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "faqbot report: {} to {} (UTC)\nQuestions' text is kept {} days (store.retention_days); older questions are counted without it.\n",
            self.from, self.to, self.retention_days
        );
        out.push_str("\nOutcomes per day\n");
        if self.outcomes_per_day.is_empty() {
            out.push_str("  no questions in this period\n");
        } else {
            out.push_str(&self.day_table());
        }
        for (title, groups) in [
            ("Not answered (no_match)", &self.no_match),
            ("Answered with suggestions (suggest)", &self.suggest),
        ] {
            let total: u64 = groups.iter().map(|g| g.count).sum();
            out.push_str(&format!(
                "\n{title}: {total} questions, near-duplicates grouped\n"
            ));
            if groups.is_empty() {
                out.push_str("  none\n");
            }
            for g in groups {
                out.push_str(&group_text(g));
            }
        }
        out.push_str("\nSuggestions chosen\n");
        if self.suggestions_chosen.is_empty() {
            out.push_str("  none offered\n");
        } else {
            let width = self
                .suggestions_chosen
                .iter()
                .map(|c| c.passage.chars().count())
                .max()
                .unwrap_or(0)
                .max(7);
            out.push_str(&format!(
                "  {:<width$}  OFFERED  CHOSEN  CHOSEN WHEN 1ST/2ND/3RD\n",
                "PASSAGE"
            ));
            for c in &self.suggestions_chosen {
                let [a, b, r] = c.chosen_at_rank;
                out.push_str(&format!(
                    "  {:<width$}  {:>7}  {:>6}  {a}/{b}/{r}\n",
                    one_line(&c.passage, 60),
                    c.offered,
                    c.chosen
                ));
            }
        }
        out.push_str("\nNot helpful votes\n");
        if self.not_helpful.is_empty() {
            out.push_str("  none\n");
        }
        for v in &self.not_helpful {
            let s = if v.votes == 1 { "" } else { "s" };
            out.push_str(&format!(
                "  {}: {} vote{s}\n",
                one_line(&v.passage, 60),
                v.votes
            ));
            for q in &v.questions {
                let asked = q.text.as_deref().map_or_else(
                    || "(the question is not known, or retention erased it)".to_string(),
                    |t| format!("after “{}”", one_line(t, 200)),
                );
                out.push_str(&format!(
                    "      {}  {asked}\n",
                    q.voted_at.replace('T', " ")
                ));
            }
        }
        out
    }

    fn outcomes(&self) -> Vec<&str> {
        // the days share their keys; the usual order first, anything else after
        const ORDER: [&str; 7] = [
            "answer",
            "suggest",
            "no_match",
            "smalltalk",
            "handoff",
            "emergency",
            "language",
        ];
        let present: BTreeSet<&str> = self
            .outcomes_per_day
            .iter()
            .flat_map(|d| d.counts.keys().map(String::as_str))
            .collect();
        let mut out: Vec<&str> = ORDER.into_iter().filter(|o| present.contains(o)).collect();
        out.extend(present.iter().filter(|o| !ORDER.contains(o)));
        out
    }

    fn day_table(&self) -> String {
        let outcomes = self.outcomes();
        let mut header = vec!["DATE".to_string()];
        header.extend(outcomes.iter().map(|o| o.to_uppercase()));
        header.push("TOTAL".into());
        let mut rows: Vec<Vec<String>> = vec![header];
        let mut totals = vec![0u64; outcomes.len() + 1];
        for d in &self.outcomes_per_day {
            let mut row = vec![d.date.clone()];
            for (i, o) in outcomes.iter().enumerate() {
                let n = d.counts.get(*o).copied().unwrap_or(0);
                totals[i] += n;
                row.push(n.to_string());
            }
            totals[outcomes.len()] += d.total;
            row.push(d.total.to_string());
            rows.push(row);
        }
        let mut total_row = vec!["TOTAL".to_string()];
        total_row.extend(totals.iter().map(u64::to_string));
        rows.push(total_row);
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c == 0 {
                        format!("{cell:<w$}", w = widths[c])
                    } else {
                        format!("{cell:>w$}", w = widths[c])
                    }
                })
                .collect();
            out.push_str(&format!("  {}\n", cells.join("  ")));
        }
        out
    }

    /// The report as one CSV table: a `section` column says what each row is (`outcomes`,
    /// `no_match`, `suggest`, `chosen`, `not_helpful`).
    pub fn csv(&self) -> String {
        let mut rows: Vec<[String; 8]> = Vec::new();
        for d in &self.outcomes_per_day {
            for (outcome, n) in &d.counts {
                rows.push([
                    "outcomes".into(),
                    d.date.clone(),
                    outcome.clone(),
                    String::new(),
                    n.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        for (section, groups) in [("no_match", &self.no_match), ("suggest", &self.suggest)] {
            for g in groups {
                let mut detail = Vec::new();
                if !g.offered.is_empty() {
                    detail.push(format!("offered: {}", g.offered.join(" ")));
                }
                if !g.chosen.is_empty() {
                    let chosen: Vec<String> =
                        g.chosen.iter().map(|(p, n)| format!("{p} ({n})")).collect();
                    detail.push(format!("chosen: {}", chosen.join(" ")));
                }
                if !g.variants.is_empty() {
                    detail.push(format!("also: {}", g.variants.join(" | ")));
                }
                rows.push([
                    section.into(),
                    g.last.clone(),
                    section.into(),
                    String::new(),
                    g.count.to_string(),
                    g.people.to_string(),
                    g.text.as_deref().map(csv_text).unwrap_or_default(),
                    csv_text(&detail.join("; ")),
                ]);
            }
        }
        for c in &self.suggestions_chosen {
            let [a, b, r] = c.chosen_at_rank;
            rows.push([
                "chosen".into(),
                String::new(),
                "suggest".into(),
                c.passage.clone(),
                c.chosen.to_string(),
                String::new(),
                String::new(),
                format!(
                    "offered {} times; chosen when 1st/2nd/3rd: {a}/{b}/{r}",
                    c.offered
                ),
            ]);
        }
        for v in &self.not_helpful {
            for q in &v.questions {
                rows.push([
                    "not_helpful".into(),
                    q.voted_at.get(..10).unwrap_or_default().to_string(),
                    "answer".into(),
                    v.passage.clone(),
                    "1".into(),
                    String::new(),
                    q.text.as_deref().map(csv_text).unwrap_or_default(),
                    String::new(),
                ]);
            }
        }
        let mut out = String::from("section,date,outcome,passage,count,people,text,detail\n");
        for row in rows {
            let cells: Vec<_> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

fn group_text(g: &Group) -> String {
    let mut out = String::new();
    let people = if g.people > 1 {
        format!(", {} people", g.people)
    } else {
        String::new()
    };
    let when = if g.first == g.last {
        g.last.clone()
    } else {
        format!("{} to {}", g.first, g.last)
    };
    let text = g.text.as_deref().map_or_else(
        || "(text erased after store.retention_days)".to_string(),
        |t| format!("“{}”", one_line(t, 200)),
    );
    out.push_str(&format!("  {:>3}×  {text}  ({when}{people})\n", g.count));
    for v in &g.variants {
        out.push_str(&format!("        also “{}”\n", one_line(v, 200)));
    }
    if !g.offered.is_empty() {
        out.push_str(&format!(
            "        offered: {}\n",
            printable(&g.offered.join(", "), false)
        ));
    }
    if !g.chosen.is_empty() {
        let chosen: Vec<String> = g.chosen.iter().map(|(p, n)| format!("{p} ({n})")).collect();
        out.push_str(&format!(
            "        chosen: {}\n",
            printable(&chosen.join(", "), false)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AskedQuestion;

    struct Log(Vec<LoggedQuestion>, Vec<NotHelpful>);

    impl QuestionLog for Log {
        fn questions_between(
            &self,
            from: i64,
            to: i64,
        ) -> crate::store::StoreResult<Vec<LoggedQuestion>> {
            Ok(self
                .0
                .iter()
                .filter(|q| (from..to).contains(&q.question.at))
                .cloned()
                .collect())
        }

        fn not_helpful_between(
            &self,
            from: i64,
            to: i64,
        ) -> crate::store::StoreResult<Vec<NotHelpful>> {
            Ok(self
                .1
                .iter()
                .filter(|v| (from..to).contains(&v.at))
                .cloned()
                .collect())
        }
    }

    fn q(chat: i64, at: i64, outcome: &str, text: &str) -> LoggedQuestion {
        LoggedQuestion {
            chat_id: Some(chat),
            question: AskedQuestion {
                at,
                outcome: outcome.into(),
                text: Some(text.into()),
                passage_id: None,
                offered: Vec::new(),
                confidence: None,
                chosen: None,
            },
        }
    }

    const NOW: i64 = 1_764_288_000_000; // 2025-11-28 00:00 UTC

    #[test]
    fn dates_parse_and_periods_cover_whole_days() {
        assert_eq!(parse_date("1970-01-01").expect("date"), 0);
        assert_eq!(parse_date("2000-03-01").expect("date"), 11_017);
        assert_eq!(parse_date("2024-02-29").expect("date"), 19_782);
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "x",
            "2024-01-32",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        for days in [-800_000, -1, 0, 1, 19_782, 2_000_000] {
            let (y, m, d) = crate::text::civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        let p = Period::new(Some("2025-11-01"), Some("2025-11-02"), 30, NOW).expect("period");
        assert_eq!(p.to - p.from, 2 * DAY_MS);
        assert_eq!(date(p.from), "2025-11-01");
        let p = Period::new(None, None, 7, NOW).expect("period");
        assert_eq!((p.from, p.to), (NOW - 7 * DAY_MS, NOW));
        assert!(Period::new(Some("2025-11-03"), Some("2025-11-02"), 7, NOW).is_err());
    }

    #[test]
    fn near_duplicates_are_grouped_and_old_text_left_out() {
        let day = DAY_MS;
        let mut suggested = q(3, NOW - day, "suggest", "when is enough treatment");
        suggested.question.offered = vec!["faq-when-to-stop".into(), "emotional-reality".into()];
        suggested.question.chosen = Some("emotional-reality".into());
        let log = Log(
            vec![
                q(
                    1,
                    NOW - 3 * day,
                    "no_match",
                    "How do I get a visa for China?",
                ),
                q(2, NOW - 2 * day, "no_match", "visa for china please"),
                q(
                    2,
                    NOW - 2 * day,
                    "no_match",
                    "how do I get a visa for china",
                ),
                q(1, NOW - 2 * day, "no_match", "tell me a joke"),
                // older than retention: counted, its text not shown
                q(4, NOW - 40 * day, "no_match", "an old secret question"),
                suggested,
                q(1, NOW - day, "answer", "what is til"),
                q(1, NOW - day, "smalltalk", "thanks"),
            ],
            vec![NotHelpful {
                passage_id: "til".into(),
                at: NOW - day,
                question_at: Some(NOW - day),
                question_text: Some("what is til".into()),
            }],
        );
        let report =
            build(&log, Period::new(None, None, 60, NOW).expect("p"), 30, NOW).expect("report");
        assert_eq!(report.no_match.len(), 3);
        let visa = &report.no_match[0];
        assert_eq!((visa.count, visa.people), (3, 2));
        assert_eq!(visa.text.as_deref(), Some("How do I get a visa for China?"));
        assert_eq!(visa.variants.len(), 2);
        assert_eq!(report.no_match[1].text.as_deref(), Some("tell me a joke"));
        let old = &report.no_match[2];
        assert_eq!((old.count, old.text.as_deref()), (1, None));
        assert_eq!(
            report.suggest[0].offered,
            vec!["emotional-reality", "faq-when-to-stop"]
        );
        let chosen = &report.suggestions_chosen[0];
        assert_eq!(
            (
                chosen.passage.as_str(),
                chosen.chosen,
                chosen.chosen_at_rank
            ),
            ("emotional-reality", 1, [0, 1, 0])
        );
        assert_eq!(report.not_helpful[0].votes, 1);
        let last_day = report.outcomes_per_day.last().expect("days");
        assert_eq!(last_day.total, 3);
        assert_eq!(last_day.counts["no_match"], 0, "every outcome on every day");

        let text = report.text();
        assert!(!text.contains("old secret"), "{text}");
        assert!(
            text.contains("3×  “How do I get a visa for China?”"),
            "{text}"
        );
        assert!(text.contains("also “visa for china please”"), "{text}");
        assert!(text.contains("after “what is til”"), "{text}");
        let csv = report.csv();
        assert!(csv.starts_with("section,date,outcome,passage,count,people,text,detail\n"));
        assert!(csv.contains("no_match,"), "{csv}");
        assert!(!csv.contains("old secret"), "{csv}");
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["no_match"][0]["count"], 3);
    }
}
