//! The review pages' HTML, as maud templates: checked when the crate compiles, and every value
//! spliced in is escaped by maud (a caregiver named `<img src=x onerror=…>` is shown as those
//! characters). No script and no inline style: the one style sheet is served by the page itself
//! ([`STYLE`]), which the Content-Security-Policy allows and nothing else.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::data::{self, DayFigures, Filter};
use super::svg::{stacked_bars, Series};
use crate::report::Report;
use crate::store::{Escalation, Reason, Relay, RelayDirection, Role, TranscriptEntry};
use crate::text::{format_age, format_utc};

/// The style sheet, served at `/style.css`.
pub const STYLE: &str = include_str!("style.css");

/// Which page the navigation marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Requests,
    Overview,
    Gaps,
}

/// An HTML response.
pub fn page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

fn layout(title: &str, nav: Option<(Nav, i64)>, body: Markup) -> Markup {
    let item = |current: Nav, this: Nav, href: &str, label: &str| {
        html! {
            @if current == this { a href=(href) aria-current="page" { (label) } }
            @else { a href=(href) { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · faqbot review" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    strong.brand { "faqbot review" }
                    @if let Some((current, coordinator)) = nav {
                        nav {
                            (item(current, Nav::Requests, "/requests", "Requests"))
                            (item(current, Nav::Overview, "/overview", "Overview"))
                            (item(current, Nav::Gaps, "/gaps", "Content gaps"))
                        }
                        form.signout method="post" action="/signout" {
                            span.who { "Coordinator " (coordinator) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The only thing shown without a session.
pub fn signin_notice() -> Response {
    page(
        StatusCode::OK,
        layout(
            "Sign in",
            None,
            html! {
                h1 { "Sign in" }
                p { "This page is for the service's coordinators. To sign in, send "
                    code { "/review" } " to the bot in Telegram (in a private chat or in the \
                    coordinators' group); it sends you a link that works once, for a few minutes." }
            },
        ),
    )
}

/// The page a sign-in link opens: a button, so that only a person (not a link preview) uses it.
pub fn signin_confirm(secret: &str) -> Response {
    page(
        StatusCode::OK,
        layout(
            "Sign in",
            None,
            html! {
                h1 { "Sign in" }
                form method="post" action="/signin" {
                    input type="hidden" name="link" value=(secret);
                    button id="signin" type="submit" { "Sign in to the review page" }
                }
            },
        ),
    )
}

/// A link that is unknown, used, expired, or no longer a coordinator's.
pub fn signin_refused() -> Response {
    page(
        StatusCode::FORBIDDEN,
        layout(
            "Link not valid",
            None,
            html! {
                h1 { "This sign-in link is not valid" }
                p { "A link works once, for a few minutes, and only for coordinators on the \
                    list. Send " code { "/review" } " to the bot for a new one." }
            },
        ),
    )
}

/// An error page with a status.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        layout(
            "Error",
            None,
            html! { h1 { (status.as_u16()) } p { (message) } },
        ),
    )
}

fn reason_text(r: Reason) -> &'static str {
    match r {
        Reason::Asked => "asked for a person",
        Reason::NoMatch => "no answer found",
        Reason::NotHelpful => "answer not helpful",
        Reason::Emergency => "emergency",
    }
}

fn who(e: &Escalation) -> Markup {
    html! {
        (e.name)
        @if let Some(u) = &e.username { " " span.muted { "@" (u) } }
    }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "–".into())
}

fn select(name: &str, current: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        select name=(name) id=(name) {
            @for (value, label) in options {
                option value=(value) selected[*value == current] { (label) }
            }
        }
    }
}

/// The requests list with its filters.
pub fn requests(coordinator: i64, all: &[Escalation], filter: &Filter, now: i64) -> Markup {
    let shown: Vec<&Escalation> = all.iter().filter(|e| filter.matches(e)).collect();
    let claimants = data::claimants(all);
    let mut claimed: Vec<(&str, &str)> = vec![("", "anyone or nobody"), ("-", "nobody")];
    claimed.extend(claimants.iter().map(|c| (c.as_str(), c.as_str())));
    let mut reasons: Vec<(&str, &str)> = vec![("", "any")];
    reasons.extend(Reason::ALL.iter().map(|r| (r.as_str(), reason_text(*r))));
    layout(
        "Requests",
        Some((Nav::Requests, coordinator)),
        html! {
            h1 { "Requests" }
            form.filters method="get" action="/requests" {
                label { "State " (select("state", &filter.state, &[("", "open and closed"), ("open", "open"), ("closed", "closed")])) }
                label { "Urgency " (select("urgency", &filter.urgency, &[("", "any"), ("urgent", "urgent"), ("normal", "not urgent")])) }
                label { "Reason " (select("reason", &filter.reason, &reasons)) }
                label { "Claimed by " (select("claimed", &filter.claimed, &claimed)) }
                label { "From " input type="date" name="from" value=(filter.from); }
                label { "To " input type="date" name="to" value=(filter.to); }
                button type="submit" { "Filter" }
            }
            p {
                (shown.len()) " of " (all.len()) " requests. "
                a href=(format!("/requests.csv{}", filter.query())) { "Download CSV" }
            }
            div.scroll {
                table id="requests" {
                    thead { tr {
                        th { "#" } th { "Opened (UTC)" } th { "Who" } th { "Why" } th { "State" }
                        th { "Claimed by" } th { "First reply after" } th { "Duration" }
                    } }
                    tbody {
                        @for e in &shown {
                            tr.urgent[e.urgent] {
                                td { a href=(format!("/requests/{}", e.id)) { "#" (e.id) } }
                                td { (format_utc(e.created_at)) }
                                td { (who(e)) }
                                td { (reason_text(e.reason)) @if e.urgent { " " strong { "URGENT" } } }
                                td { @if e.open { "open" } @else { "closed" } }
                                td { (or_dash(e.claimed_by.clone())) }
                                td { (or_dash(data::first_reply(e).map(format_age))) }
                                td { (format_age(data::duration(e, now))) @if e.open { " so far" } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A `t.me` link to the request's topic or card in the coordinators' group (supergroups only:
/// Telegram has no links into basic groups).
pub fn telegram_link(group: i64, e: &Escalation) -> Option<String> {
    let internal = group.checked_neg()?.checked_sub(1_000_000_000_000)?;
    if internal <= 0 {
        return None;
    }
    let message = e.thread_id.or(e.card_message_id)?;
    Some(format!("https://t.me/c/{internal}/{message}"))
}

fn role_text(r: Role) -> &'static str {
    match r {
        Role::Caregiver => "Caregiver",
        Role::Bot => "Bot",
        Role::Coordinator => "Coordinator",
        Role::Note => "Note",
    }
}

/// The request's record: when it was opened, first answered and closed, with the notes the
/// chat's transcript keeps (events, not messages), oldest first.
fn notes(e: &Escalation, transcript: &[TranscriptEntry]) -> Vec<(i64, String)> {
    let mut notes = vec![(e.created_at, format!("opened: {}", reason_text(e.reason)))];
    if let Some(at) = e.first_reply_at {
        notes.push((at, "first coordinator reply relayed".into()));
    }
    if let Some(at) = e.closed_at {
        let by = e.closed_by.as_deref().unwrap_or("someone");
        notes.push((at, format!("closed by {by}")));
    }
    notes.extend(
        transcript
            .iter()
            .filter(|t| t.role == Role::Note)
            .map(|t| (t.at, t.text.clone())),
    );
    notes.sort_by_key(|(at, _)| *at);
    notes
}

/// One request: who, why, the transcript, relays and notes.
pub fn request(
    coordinator: i64,
    e: &Escalation,
    transcript: &[TranscriptEntry],
    relays: &[Relay],
    link: Option<String>,
    now: i64,
) -> Markup {
    let notes = notes(e, transcript);
    let count = |d: RelayDirection| relays.iter().filter(|r| r.direction == d).count();
    layout(
        &format!("Request #{}", e.id),
        Some((Nav::Requests, coordinator)),
        html! {
            h1 { "Request #" (e.id) @if e.urgent { " " strong.tag { "URGENT" } } }
            dl.facts {
                dt { "Who" } dd id="who" { (who(e)) " (user " (e.user_id) ", language " (e.language) ")" }
                dt { "Why" } dd { (reason_text(e.reason)) }
                dt { "Opened" } dd { (format_utc(e.created_at)) }
                dt { "State" } dd {
                    @if e.open { "open for " (format_age(data::duration(e, now))) }
                    @else {
                        "closed " (or_dash(e.closed_at.map(format_utc)))
                        " by " (or_dash(e.closed_by.clone()))
                        " after " (format_age(data::duration(e, now)))
                    }
                    @if e.caregiver_blocked { " · the caregiver blocked the bot" }
                }
                dt { "Claimed by" } dd { (or_dash(e.claimed_by.clone())) }
                dt { "First reply after" } dd { (or_dash(data::first_reply(e).map(format_age))) }
                dt { "In Telegram" } dd {
                    @if let Some(link) = &link { a href=(link) { "the request's topic" } }
                    @else { "no link (no topic or card yet, or not a supergroup)" }
                }
            }
            h2 { "Transcript" }
            p.muted { "As far as retention keeps it; the chat's lines before and after this request \
                included. " a href=(format!("/requests/{}/transcript.csv", e.id)) { "Download CSV" } }
            @if transcript.is_empty() { p { "Nothing kept." } }
            ol.transcript id="transcript" {
                @for t in transcript {
                    li class=(t.role.as_str()) {
                        span.meta { (format_utc(t.at)) " · " (role_text(t.role)) }
                        p.text { (t.text) }
                    }
                }
            }
            h2 { "Relayed messages" }
            p {
                (count(RelayDirection::ToCoordinators)) " from the caregiver to the coordinators, "
                (count(RelayDirection::ToCaregiver)) " from coordinators to the caregiver."
            }
            @if !relays.is_empty() {
                div.scroll { table {
                    thead { tr { th { "Direction" } th { "Group message" } th { "Caregiver's message" } } }
                    tbody { @for r in relays { tr {
                        td { @match r.direction {
                            RelayDirection::ToCoordinators => "caregiver → coordinators",
                            RelayDirection::ToCaregiver => "coordinator → caregiver",
                        } }
                        td { (r.group_message_id) } td { (r.caregiver_message_id) }
                    } } }
                } }
            }
            h2 { "Notes" }
            ul id="notes" { @for (at, text) in &notes { li { (format_utc(*at)) ": " (text) } } }
        },
    )
}

fn days_choice(path: &str, days: u32) -> Markup {
    html! {
        p.period {
            "Period: "
            @for d in [7u32, 30, 90] {
                @if d == days { strong { (d) " days" } } @else { a href=(format!("{path}?days={d}")) { (d) " days" } }
                " "
            }
            a href=(format!("{path}.csv?days={days}")) { "Download CSV" }
        }
    }
}

/// The content gaps: the editors' report.
pub fn gaps(coordinator: i64, report: &Report, days: u32) -> Markup {
    let groups = |id: &str, list: &[crate::report::Group], suggest: bool| {
        html! {
            @if list.is_empty() { p { "None in this period." } }
            @else { div.scroll { table id=(id) {
                thead { tr {
                    th { "Asked" } th { "People" } th { "Question" } th { "Last" }
                    @if suggest { th { "Offered" } th { "Chosen" } }
                } }
                tbody { @for g in list { tr {
                    td { (g.count) } td { (g.people) }
                    td {
                        @if let Some(t) = &g.text { (t) } @else { span.muted { "(text past retention)" } }
                        @for v in &g.variants { br; span.muted { "also: " (v) } }
                    }
                    td { (g.last) }
                    @if suggest {
                        td { (g.offered.join(", ")) }
                        td { @for (p, n) in &g.chosen { (p) " (" (n) ") " } }
                    }
                } } }
            } } }
        }
    };
    layout(
        "Content gaps",
        Some((Nav::Gaps, coordinator)),
        html! {
            h1 { "Content gaps" }
            (days_choice("/gaps", days))
            p.muted { "Questions' text is kept " (report.retention_days) " days." }
            h2 { "No answer found" }
            (groups("no-match", &report.no_match, false))
            h2 { "Only suggestions offered" }
            (groups("suggest", &report.suggest, true))
            h2 { "Marked Not helpful" }
            @if report.not_helpful.is_empty() { p { "None in this period." } }
            @else { div.scroll { table id="not-helpful" {
                thead { tr { th { "Passage" } th { "Votes" } th { "Questions that led there" } } }
                tbody { @for v in &report.not_helpful { tr {
                    td { code { (v.passage) } } td { (v.votes) }
                    td { @for q in &v.questions {
                        (q.voted_at.get(..10).unwrap_or_default()) ": "
                        @if let Some(t) = &q.text { (t) } @else { span.muted { "(no question kept)" } }
                        br;
                    } }
                } } }
            } } }
        },
    )
}

/// Outcome names in a fixed order, each with its colour class.
const OUTCOMES: [(&str, &str); 7] = [
    ("answer", "c-answer"),
    ("suggest", "c-suggest"),
    ("no_match", "c-nomatch"),
    ("smalltalk", "c-small"),
    ("handoff", "c-handoff"),
    ("language", "c-lang"),
    ("emergency", "c-emergency"),
];

/// The overview: outcomes, requests and the median first reply per day, as charts.
pub fn overview(
    coordinator: i64,
    days: &[DayFigures],
    open_now: usize,
    median_first_reply: Option<i64>,
    period_days: u32,
) -> Markup {
    let labels: Vec<String> = days.iter().map(|d| d.date.clone()).collect();
    let outcomes: Vec<Series<'_>> = OUTCOMES
        .iter()
        .map(|(name, class)| Series {
            name,
            class,
            values: days
                .iter()
                .map(|d| d.outcomes.get(*name).copied().unwrap_or(0) as f64)
                .collect(),
        })
        .filter(|s| s.values.iter().any(|v| *v > 0.0))
        .collect();
    let requests = [Series {
        name: "requests",
        class: "c-requests",
        values: days.iter().map(|d| d.escalations as f64).collect(),
    }];
    let minutes = [Series {
        name: "median minutes to first reply",
        class: "c-reply",
        values: days
            .iter()
            .map(|d| d.median_first_reply.map_or(0.0, |ms| ms as f64 / 60_000.0))
            .collect(),
    }];
    let total: u64 = days.iter().map(|d| d.escalations).sum();
    let answered: u64 = days.iter().flat_map(|d| d.outcomes.values()).sum();
    let count = |v: f64| format!("{v:.0}");
    layout(
        "Overview",
        Some((Nav::Overview, coordinator)),
        html! {
            h1 { "Overview" }
            (days_choice("/overview", period_days))
            ul.figures id="figures" {
                li { strong { (answered) } " messages answered" }
                li { strong { (total) } " requests for a coordinator" }
                li { strong { (open_now) } " open now" }
                li { "median time to first reply: "
                    strong { (or_dash(median_first_reply.map(format_age))) } }
            }
            (stacked_bars("Answers per day, by outcome", &labels, &outcomes, &count))
            (stacked_bars("Requests for a coordinator per day", &labels, &requests, &count))
            (stacked_bars("Median time to first coordinator reply (minutes), by day opened", &labels, &minutes, &|v| format!("{v:.0}")))
        },
    )
}
