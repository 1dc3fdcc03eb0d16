//! The review listener's routes, and the headers every response carries (a strict
//! Content-Security-Policy among them, on pages, downloads, redirects and errors alike).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tokio::sync::watch;

use super::auth::{self, Coordinator, Limiter};
use super::data::{self, Filter};
use super::{csv, pages, ReviewData};
use crate::clock::Clock;
use crate::settings::Settings;
use crate::store::{Escalation, Relay, StoreResult, TranscriptEntry};

/// No script, no frames, no other origin: styles, images and forms from the page itself only.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the review pages read.
#[derive(Clone)]
pub struct Review {
    pub data: Arc<dyn ReviewData>,
    pub settings: Arc<Settings>,
    pub limiter: Arc<Limiter>,
    pub clock: Clock,
}

impl Review {
    pub fn new(data: Arc<dyn ReviewData>, settings: Arc<Settings>, clock: Clock) -> Review {
        Review {
            data,
            settings,
            clock,
            limiter: Arc::new(Limiter::default()),
        }
    }
}

/// The routes.
pub fn router(review: Review) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/requests") }))
        .route("/style.css", get(style))
        .route("/signin", get(signin_notice).post(signin))
        .route("/signin/{link}", get(signin_link))
        .route("/signout", post(signout))
        .route("/requests", get(requests))
        .route("/requests.csv", get(requests_csv))
        .route("/requests/{id}", get(request))
        .route("/requests/{id}/transcript.csv", get(transcript_csv))
        .route("/gaps", get(gaps))
        .route("/gaps.csv", get(gaps_csv))
        .route("/overview", get(overview))
        .route("/overview.csv", get(overview_csv))
        .fallback(|| async { pages::error_page(StatusCode::NOT_FOUND, "No such page.") })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(review)
}

/// Serves the review pages on `listener` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    review: Review,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    if let Err(e) = auth::end_unlisted(review.data.as_ref(), &review.settings) {
        tracing::warn!(error = %e, "cannot end the review sessions of removed coordinators");
    }
    let app = router(review).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // transcripts must not stay in a shared computer's cache after signing out
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::STYLE,
    )
        .into_response()
}

async fn signin_notice() -> Response {
    pages::signin_notice()
}

async fn signin_link(Path(link): Path<String>) -> Response {
    if auth::is_secret(&link) {
        pages::signin_confirm(&link)
    } else {
        pages::signin_refused()
    }
}

#[derive(Deserialize)]
struct SigninForm {
    #[serde(default)]
    link: String,
}

async fn signin(
    State(review): State<Review>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SigninForm>,
) -> Response {
    let now = review.clock.now_ms();
    // the button is on our own page: a form posted from another site (signing a victim in as
    // someone else) is refused where the browser says so
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return pages::signin_refused();
    }
    if !review.limiter.allow(peer.ip(), now) {
        tracing::warn!(client = %peer.ip(), "review sign-in: too many attempts");
        let mut r = pages::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Wait a minute, then try again.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    }
    match auth::redeem(review.data.as_ref(), &review.settings, &form.link, now) {
        Ok(Some((secret, user))) => {
            tracing::info!(coordinator = user, "review sign-in");
            let mut r = Redirect::to("/requests").into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                auth::cookie(&review.settings, Some(&secret)),
            );
            r
        }
        Ok(None) => {
            tracing::info!(client = %peer.ip(), "review sign-in refused: link not valid");
            pages::signin_refused()
        }
        Err(e) => unavailable(e),
    }
}

async fn signout(State(review): State<Review>, headers: HeaderMap) -> Response {
    if let Some(secret) = auth::session_secret(&headers) {
        if let Err(e) = review.data.end_review_session(&auth::hash_secret(&secret)) {
            return unavailable(e);
        }
    }
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, auth::cookie(&review.settings, None));
    r
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "review page: the store failed");
    pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The store cannot be read just now. Try again in a minute.",
    )
}

fn csv_download(name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}

/// A query's filters; a malformed query counts as no filter rather than an error page.
fn filter_of(query: Result<Query<Filter>, impl std::fmt::Debug>) -> Filter {
    query.map(|Query(f)| f).unwrap_or_default()
}

async fn requests(
    Coordinator(user): Coordinator,
    State(review): State<Review>,
    query: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = filter_of(query);
    match review.data.list_escalations(None) {
        Ok(all) => pages::page(
            StatusCode::OK,
            pages::requests(user, &all, &filter, review.clock.now_ms()),
        ),
        Err(e) => unavailable(e),
    }
}

async fn requests_csv(
    Coordinator(_): Coordinator,
    State(review): State<Review>,
    query: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = filter_of(query);
    match review.data.list_escalations(None) {
        Ok(all) => {
            let shown: Vec<_> = all.into_iter().filter(|e| filter.matches(e)).collect();
            csv_download("requests.csv", csv::requests(&shown))
        }
        Err(e) => unavailable(e),
    }
}

/// Transcript lines read for a request at most (the store keeps them per chat, for
/// `store.retention_days`).
const TRANSCRIPT_LINES: usize = 5_000;

/// A request with its chat's transcript and its relayed messages; `None` when unknown.
type Loaded = (Escalation, Vec<TranscriptEntry>, Vec<Relay>);

fn load_request(review: &Review, id: i64) -> StoreResult<Option<Loaded>> {
    let data = &review.data;
    let Some(e) = data.escalation(id)? else {
        return Ok(None);
    };
    let lines = data.transcript(e.chat_id, TRANSCRIPT_LINES)?;
    let relays = data.relays_of(e.id)?;
    Ok(Some((e, lines, relays)))
}

async fn request(
    Coordinator(user): Coordinator,
    State(review): State<Review>,
    Path(id): Path<i64>,
) -> Response {
    match load_request(&review, id) {
        Ok(Some((e, lines, relays))) => {
            let link = pages::telegram_link(review.settings.coordinators.chat_id, &e);
            pages::page(
                StatusCode::OK,
                pages::request(user, &e, &lines, &relays, link, review.clock.now_ms()),
            )
        }
        Ok(None) => pages::error_page(
            StatusCode::NOT_FOUND,
            "No such request (it may have been erased by /forget or retention).",
        ),
        Err(e) => unavailable(e),
    }
}

async fn transcript_csv(
    Coordinator(_): Coordinator,
    State(review): State<Review>,
    Path(id): Path<i64>,
) -> Response {
    match load_request(&review, id) {
        Ok(Some((e, lines, relays))) => csv_download(
            &format!("request-{id}.csv"),
            csv::transcript(&e, &lines, &relays),
        ),
        Ok(None) => pages::error_page(StatusCode::NOT_FOUND, "No such request."),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
struct Days {
    days: Option<u32>,
}

/// The period's length in days: 30 unless the query says otherwise (1 to 366).
fn days_of(query: Result<Query<Days>, axum::extract::rejection::QueryRejection>) -> u32 {
    query
        .ok()
        .and_then(|Query(d)| d.days)
        .unwrap_or(30)
        .clamp(1, 366)
}

fn report(review: &Review, days: u32) -> anyhow::Result<crate::report::Report> {
    let now = review.clock.now_ms();
    crate::report::build(
        review.data.as_ref(),
        data::last_days(days, now),
        review.settings.store.retention_days,
        now,
    )
}

async fn gaps(
    Coordinator(user): Coordinator,
    State(review): State<Review>,
    query: Result<Query<Days>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let days = days_of(query);
    match report(&review, days) {
        Ok(r) => pages::page(StatusCode::OK, pages::gaps(user, &r, days)),
        Err(e) => unavailable(e),
    }
}

async fn gaps_csv(
    Coordinator(_): Coordinator,
    State(review): State<Review>,
    query: Result<Query<Days>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match report(&review, days_of(query)) {
        Ok(r) => csv_download("content-gaps.csv", r.csv()),
        Err(e) => unavailable(e),
    }
}

/// The overview's figures: per day, the requests open now, and the median time to first
/// reply of the period's requests.
type Figures = (Vec<data::DayFigures>, usize, Option<i64>);

fn overview_days(review: &Review, days: u32) -> anyhow::Result<Figures> {
    let now = review.clock.now_ms();
    let period = data::last_days(days, now);
    let report = report(review, days)?;
    let all = review.data.list_escalations(None)?;
    let open = all.iter().filter(|e| e.open).count();
    let mut replies: Vec<i64> = all
        .iter()
        .filter(|e| e.created_at >= period.from && e.created_at < period.to)
        .filter_map(data::first_reply)
        .collect();
    Ok((
        data::per_day(period, &report.outcomes_per_day, &all),
        open,
        data::median(&mut replies),
    ))
}

async fn overview(
    Coordinator(user): Coordinator,
    State(review): State<Review>,
    query: Result<Query<Days>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let days = days_of(query);
    match overview_days(&review, days) {
        Ok((figures, open, median)) => pages::page(
            StatusCode::OK,
            pages::overview(user, &figures, open, median, days),
        ),
        Err(e) => unavailable(e),
    }
}

async fn overview_csv(
    Coordinator(_): Coordinator,
    State(review): State<Review>,
    query: Result<Query<Days>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match overview_days(&review, days_of(query)) {
        Ok((figures, _, _)) => csv_download("overview.csv", csv::overview(&figures)),
        Err(e) => unavailable(e),
    }
}
