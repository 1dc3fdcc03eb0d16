//! Signing in to the review page through Telegram: the bot issues a one-time link to a listed
//! coordinator ([`issue_link`]); opening it shows a button that redeems it for a session cookie
//! (a POST from our own page, so the `SameSite=Strict` cookie is sent on the pages that follow,
//! which a redirect chain started in Telegram would not do; and link previews, which fetch with
//! GET, cannot use the link up). Secrets are 256 random bits; the store keeps their SHA-256 only.
//!
//! Every page checks the session on each request ([`Coordinator`]): expired, unknown or forged
//! cookies, and coordinators no longer on the allow-list, get the sign-in notice.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use ring::rand::{SecureRandom, SystemRandom};

use super::routes::Review;
use crate::settings::Settings;
use crate::store::{ReviewStore, StoreResult};

/// The session cookie's name.
pub const COOKIE: &str = "faqbot_review";

/// Sign-in attempts allowed per client address in [`WINDOW_MS`].
const ATTEMPTS: usize = 10;
const WINDOW_MS: i64 = 60_000;
/// Addresses remembered by the limiter at most; past that the oldest are forgotten.
const MAX_CLIENTS: usize = 10_000;

/// A new secret: 32 random bytes, as 64 lowercase hex digits. `None` only if the operating
/// system's random source fails.
pub fn new_secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// What the store keeps of a secret: its SHA-256, in hex.
pub fn hash_secret(secret: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `s` has the shape of a secret (so other input never reaches the store).
pub fn is_secret(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `user_id` is on the coordinators' allow-list (an empty list signs nobody in).
pub fn is_coordinator(settings: &Settings, user_id: i64) -> bool {
    u64::try_from(user_id).is_ok_and(|id| settings.coordinators.allowed_user_ids.contains(&id))
}

/// Issues a one-time sign-in link for `user_id`, valid for `review.link_minutes`. The caller
/// has checked that the user is a coordinator.
pub fn issue_link(
    store: &dyn ReviewStore,
    settings: &Settings,
    user_id: i64,
    now: i64,
) -> anyhow::Result<String> {
    let secret = new_secret().ok_or_else(|| anyhow::anyhow!("no random numbers available"))?;
    let expires = now + i64::from(settings.review.link_minutes) * 60_000;
    store.create_review_link(&hash_secret(&secret), user_id, expires, now)?;
    Ok(format!("{}/signin/{secret}", settings.review.base()))
}

/// Redeems a link's secret for a new session: the session's secret and the coordinator, or
/// `None` when the link is unknown, used, expired, or its user is no longer listed.
pub fn redeem(
    store: &dyn ReviewStore,
    settings: &Settings,
    link: &str,
    now: i64,
) -> anyhow::Result<Option<(String, i64)>> {
    if !is_secret(link) {
        return Ok(None);
    }
    let Some(user) = store.redeem_review_link(&hash_secret(link), now)? else {
        return Ok(None);
    };
    if !is_coordinator(settings, user) {
        return Ok(None);
    }
    let secret = new_secret().ok_or_else(|| anyhow::anyhow!("no random numbers available"))?;
    let expires = now + i64::from(settings.review.session_hours) * 3_600_000;
    store.create_review_session(&hash_secret(&secret), user, expires, now)?;
    Ok(Some((secret, user)))
}

/// The `Set-Cookie` value for a new session, or (with `None`) one that clears it.
pub fn cookie(settings: &Settings, secret: Option<&str>) -> HeaderValue {
    let secure = if settings.review.base().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = match secret {
        Some(s) => format!(
            "{COOKIE}={s}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            u64::from(settings.review.session_hours) * 3600
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    // built from hex digits and fixed text only
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session secret the browser sent, if it has the right shape.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && is_secret(value))
        .map(|(_, value)| value.to_string())
}

/// The coordinator of a valid session; a coordinator removed from the allow-list has all their
/// sessions ended here.
pub fn session_user(
    store: &dyn ReviewStore,
    settings: &Settings,
    secret: &str,
    now: i64,
) -> StoreResult<Option<i64>> {
    let Some(user) = store.review_session(&hash_secret(secret), now)? else {
        return Ok(None);
    };
    if is_coordinator(settings, user) {
        return Ok(Some(user));
    }
    end_unlisted(store, settings)?;
    Ok(None)
}

/// Ends the sessions and links of everyone not on the allow-list.
pub fn end_unlisted(store: &dyn ReviewStore, settings: &Settings) -> StoreResult<u64> {
    let listed: Vec<i64> = settings
        .coordinators
        .allowed_user_ids
        .iter()
        .filter_map(|&id| i64::try_from(id).ok())
        .collect();
    store.end_review_sessions_except(&listed)
}

/// A signed-in coordinator's Telegram user id; pages take it as an argument, so none can be
/// served without a session. Without one the browser is sent to the sign-in notice.
#[derive(Debug, Clone, Copy)]
pub struct Coordinator(pub i64);

impl FromRequestParts<Review> for Coordinator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Review) -> Result<Self, Response> {
        let to_notice = || Redirect::to("/signin").into_response();
        let Some(secret) = session_secret(&parts.headers) else {
            return Err(to_notice());
        };
        match session_user(
            state.data.as_ref(),
            &state.settings,
            &secret,
            state.clock.now_ms(),
        ) {
            Ok(Some(user)) => {
                // who looked at what, never what it said
                tracing::info!(coordinator = user, page = %parts.uri.path(), "review page");
                Ok(Coordinator(user))
            }
            Ok(None) => Err(to_notice()),
            Err(e) => {
                tracing::error!(error = %e, "cannot check a review session");
                Err(super::pages::error_page(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "The store cannot be read just now. Try again in a minute.",
                ))
            }
        }
    }
}

/// Sign-in attempts per client address, in a sliding window.
#[derive(Debug, Default)]
pub struct Limiter {
    hits: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

impl Limiter {
    /// Counts an attempt from `client` at `now`; false when it is one too many.
    pub fn allow(&self, client: IpAddr, now: i64) -> bool {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        if hits.len() >= MAX_CLIENTS && !hits.contains_key(&client) {
            hits.retain(|_, times| times.back().is_some_and(|&t| t > now - WINDOW_MS));
            if hits.len() >= MAX_CLIENTS {
                return false;
            }
        }
        let times = hits.entry(client).or_default();
        while times.front().is_some_and(|&t| t <= now - WINDOW_MS) {
            times.pop_front();
        }
        if times.len() >= ATTEMPTS {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_hex_and_hashed() {
        let a = new_secret().expect("random");
        let b = new_secret().expect("random");
        assert!(is_secret(&a) && is_secret(&b));
        assert_ne!(a, b);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!is_secret("ABC"));
        assert!(!is_secret(&"g".repeat(64)));
    }

    #[test]
    fn the_cookie_is_read_only_when_well_formed() {
        let secret = "a".repeat(64);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={secret}")).expect("header"),
        );
        assert_eq!(session_secret(&headers), Some(secret));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("faqbot_review=' OR 1=1 --"),
        );
        assert_eq!(session_secret(&headers), None);
    }

    #[test]
    fn the_limiter_allows_ten_a_minute_per_address() {
        let limiter = Limiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        for i in 0..10 {
            assert!(limiter.allow(ip, i));
        }
        assert!(!limiter.allow(ip, 10));
        assert!(limiter.allow(other, 10));
        assert!(limiter.allow(ip, 60_001));
    }
}
