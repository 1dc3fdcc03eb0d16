//! The coordinators' review page end to end: `faqbot run` with `review.listen`, filled by a real
//! conversation through the fake Bot API (a caregiver with a hostile name asks, is escalated,
//! a coordinator answers in the topic and closes), then the pages over HTTP (security: sessions,
//! links, headers, escaping, CSV, the access log); `review_browser` drives the same pages in
//! headless Chromium.

use std::time::Duration;

use faqbot::review::{hash_secret, CSP};
use faqbot::store::{Chats, Escalations, ReviewStore};
use reqwest::redirect::Policy;

use crate::bot::{Bot, Home, TOKEN};
use crate::fake_api::FakeTelegram;

pub const WAIT: Duration = Duration::from_secs(30);
pub const GROUP: i64 = -1_001_234_567_890;
/// A coordinator on the allow-list.
pub const ANNA: i64 = 910_001;
/// In the group, not on the allow-list.
pub const BORIS: i64 = 910_002;
/// A caregiver whose name is an HTML injection.
pub const HOSTILE: i64 = 5_101;
/// A caregiver whose name is a spreadsheet formula.
pub const FORMULA: i64 = 5_102;
pub const HOSTILE_NAME: &str = "<img src=x onerror=document.title='pwned'>";
pub const FORMULA_NAME: &str = "=HYPERLINK(\"http://x.invalid\",\"click\")";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A bot with the review page on, and a conversation in its store.
pub struct Setup {
    pub fake: FakeTelegram,
    pub home: Home,
    pub bot: Option<Bot>,
    pub base: String,
    listen: String,
    /// The hostile caregiver's request.
    pub request: i64,
}

impl Setup {
    pub fn new() -> Setup {
        let fake = FakeTelegram::start(TOKEN);
        fake.make_forum(GROUP);
        let home = Home::shipped();
        let listen = format!("127.0.0.1:{}", free_port());
        let mut setup = Setup {
            base: format!("http://{listen}"),
            bot: None,
            fake,
            home,
            listen,
            request: 0,
        };
        setup.start(&ANNA.to_string());
        setup.converse();
        setup
    }

    /// (Re)starts the bot with `allowed` as the coordinators' allow-list.
    pub fn start(&mut self, allowed: &str) {
        self.bot = None;
        let group = GROUP.to_string();
        let settings = self.home.settings(
            &self.fake,
            &[
                ("FAQBOT_COORDINATORS__CHAT_ID", group.as_str()),
                ("FAQBOT_COORDINATORS__ALLOWED_USER_IDS", allowed),
                ("FAQBOT_REVIEW__LISTEN", self.listen.as_str()),
            ],
        );
        self.bot = Some(Bot::start(settings));
        let url = format!("{}/signin", self.base);
        assert!(
            self.fake
                .wait_until(WAIT, |_| get(&url, None).is_some_and(|r| r.status == 200)),
            "the review listener never came up"
        );
    }

    fn wait(&self, what: &str, pred: impl Fn(&FakeTelegram) -> bool) {
        assert!(
            self.fake.wait_until(WAIT, pred),
            "timed out waiting for: {what}"
        );
    }

    fn has_text(&self, chat: i64, needle: &str) -> bool {
        self.fake
            .messages_to(chat)
            .iter()
            .any(|m| m.visible.contains(needle))
    }

    /// A caregiver sends `command` and presses the button with `data` in the bot's answer.
    fn confirm(&self, chat: i64, command: &str, data: &str) {
        let has = |m: &crate::fake_api::SentMessage| m.callback_data().contains(&data.to_string());
        self.fake.push_command(chat, chat, command);
        self.wait("the confirmation", |f| f.messages_to(chat).iter().any(has));
        let confirm = self
            .fake
            .messages_to(chat)
            .into_iter()
            .rfind(has)
            .expect("confirm");
        self.fake
            .push_callback(chat, chat, confirm.message_id, data);
    }

    /// A caregiver asks, then asks for a coordinator and confirms.
    fn escalate(&self, chat: i64, question: &str) {
        self.fake.push_text(chat, chat, question);
        self.wait("the answer", |f| !f.messages_to(chat).is_empty());
        self.confirm(chat, "/human", "h:y");
        self.wait("the escalation", |_| {
            self.has_text(chat, "A coordinator has been asked")
        });
    }

    fn converse(&mut self) {
        self.fake.set_first_name(HOSTILE, HOSTILE_NAME);
        self.fake.set_first_name(FORMULA, FORMULA_NAME);
        self.fake.push_text(HOSTILE, HOSTILE, "how do i cook rice");
        self.wait("the no-match answer", |f| {
            !f.messages_to(HOSTILE).is_empty()
        });
        self.escalate(HOSTILE, "what is car-t cell therapy");
        // the answer marked Not helpful, for the content gaps
        let mut vote = None;
        for m in self.fake.messages_to(HOSTILE) {
            if let Some(d) = m
                .callback_data()
                .into_iter()
                .find(|d| d.starts_with("f:n:"))
            {
                vote = Some((m.message_id, d));
            }
        }
        let (message, data) = vote.expect("a Not helpful button");
        self.fake.push_callback(HOSTILE, HOSTILE, message, &data);
        let passage = data.trim_start_matches("f:n:").to_string();
        let store = self.home.store();
        self.wait("the vote", |_| {
            store.feedback_counts(&passage).is_ok_and(|(_, no)| no == 1)
        });
        self.wait("a topic", |f| !f.topics(GROUP).is_empty());
        let (thread, _, _) = self.fake.topics(GROUP)[0].clone();
        self.fake
            .push_text(HOSTILE, HOSTILE, "is it available in China?");
        self.wait("the caregiver's message relayed", |f| {
            f.sent("copyMessage")
                .iter()
                .any(|c| c["chat_id"].as_i64() == Some(GROUP))
        });
        self.fake
            .push_topic_text(GROUP, ANNA, thread, "Yes, we can arrange a consultation.");
        self.wait("the coordinator's reply relayed", |_| {
            self.has_text(HOSTILE, "arrange a consultation")
        });
        self.fake.push_topic_text(GROUP, ANNA, thread, "/close");
        self.wait("the caregiver told of the close", |_| {
            self.has_text(HOSTILE, "closed this conversation")
        });
        self.escalate(FORMULA, "what are ADCs");
        let store = self.home.store();
        let list = store.list_escalations(None).expect("escalations");
        self.request = list
            .iter()
            .find(|e| e.chat_id == HOSTILE)
            .map(|e| e.id)
            .expect("the hostile caregiver's request");
    }

    /// A fresh sign-in link sent to `user` by the bot on `/review` (`None` when none came).
    pub fn link(&self, user: i64) -> Option<String> {
        let before = self.fake.messages_to(user).len();
        self.fake.push_command(user, user, "/review");
        self.wait("the answer to /review", |f| {
            f.messages_to(user).len() > before
        });
        let text = self.fake.messages_to(user).pop()?.visible;
        let start = text.find("http://")?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        Some(link)
    }

    /// Signs in over HTTP with a fresh link: the session cookie (`name=value`).
    pub fn session(&self) -> String {
        let link = self.link(ANNA).expect("a link");
        let secret = link.rsplit('/').next().expect("secret");
        let r = post_form(&format!("{}/signin", self.base), &[("link", secret)], None);
        assert_eq!(r.status, 303, "{}", r.body);
        cookie_of(&r).expect("a session cookie")
    }
}

/// An HTTP answer, redirects not followed.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

async fn answer(response: reqwest::Response) -> Option<Answer> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.ok()?;
    Some(Answer {
        status,
        headers,
        body,
    })
}

pub fn get(url: &str, cookie: Option<&str>) -> Option<Answer> {
    block(async {
        let mut req = client().get(url);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        answer(req.send().await.ok()?).await
    })
}

fn post_form(url: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Answer {
    post_form_from(url, form, cookie, None)
}

/// A form post, as from a page of `site` (`Sec-Fetch-Site`) when given.
fn post_form_from(
    url: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
    site: Option<&str>,
) -> Answer {
    block(async {
        let mut req = client().post(url).form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        answer(req.send().await.ok()?).await
    })
    .expect("an answer")
}

/// The `name=value` of a `Set-Cookie`, with the header checked for its flags.
fn cookie_of(r: &Answer) -> Option<String> {
    let set = r.header("set-cookie")?;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Secure"), "no Secure over plain http: {set}");
    Some(set.split(';').next()?.to_string())
}

/// Every page that shows or downloads anything.
fn pages(request: i64) -> Vec<String> {
    vec![
        "/requests".into(),
        "/requests?state=closed&urgency=normal".into(),
        "/requests.csv".into(),
        format!("/requests/{request}"),
        format!("/requests/{request}/transcript.csv"),
        "/gaps".into(),
        "/gaps.csv".into(),
        "/overview".into(),
        "/overview.csv?days=7".into(),
    ]
}

fn assert_refused(r: &Answer, what: &str) {
    assert_eq!(r.status, 303, "{what}: {}", r.body);
    assert_eq!(r.header("location"), Some("/signin"), "{what}");
    assert!(!r.body.contains("car-t"), "{what}: text leaked");
}

#[test]
fn pages_need_a_valid_session_and_carry_the_security_headers() {
    let setup = Setup::new();
    let base = &setup.base;
    let store = setup.home.store();
    let now = faqbot::clock::Clock::system().now_ms();

    // expired session, a removed coordinator's session, forged and malformed cookies
    let expired = "e".repeat(64);
    store
        .create_review_session(&hash_secret(&expired), ANNA, now - 1, now - 3_600_000)
        .expect("expired session");
    let boris = "b".repeat(64);
    store
        .create_review_session(&hash_secret(&boris), BORIS, now + 3_600_000, now)
        .expect("an unlisted user's session");
    let cookies = [
        None,
        Some(format!("faqbot_review={}", "0".repeat(64))),
        Some(format!("faqbot_review={expired}")),
        Some(format!("faqbot_review={boris}")),
        Some("faqbot_review=x' OR '1'='1".to_string()),
        Some(format!("faqbot_review={}", hash_secret(&expired))),
    ];
    for page in pages(setup.request) {
        for cookie in &cookies {
            let r = get(&format!("{base}{page}"), cookie.as_deref()).expect("answer");
            assert_refused(&r, &format!("{page} with {cookie:?}"));
            assert_eq!(r.header("content-security-policy"), Some(CSP), "{page}");
        }
    }
    let notice = get(&format!("{base}/"), None).expect("root");
    assert_eq!(notice.header("location"), Some("/requests"));
    let notice = get(&format!("{base}/signin"), None).expect("notice");
    assert!(notice.body.contains("/review"), "{}", notice.body);

    // a valid session sees everything, with the same headers
    let cookie = setup.session();
    for page in pages(setup.request) {
        let r = get(&format!("{base}{page}"), Some(&cookie)).expect("page");
        assert_eq!(r.status, 200, "{page}: {}", r.body);
        assert_eq!(r.header("content-security-policy"), Some(CSP), "{page}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(!r.body.contains("<script"), "{page}");
    }
    // and the responses that are not pages carry them too
    for (path, status) in [("/style.css", 200), ("/nope", 404), ("/signin/zzz", 403)] {
        let r = get(&format!("{base}{path}"), None).expect("answer");
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.header("content-security-policy"), Some(CSP), "{path}");
    }

    // the hostile name is text, in the list and on the request's page
    let list = get(&format!("{base}/requests"), Some(&cookie)).expect("list");
    assert!(
        list.body
            .contains("&lt;img src=x onerror=document.title='pwned'&gt;"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<img"), "markup from a name");
    let page = get(&format!("{base}/requests/{}", setup.request), Some(&cookie)).expect("page");
    assert!(!page.body.contains("<img"));
    for text in [
        "what is car-t cell therapy",
        "is it available in China?",
        "Yes, we can arrange a consultation.",
        "https://t.me/c/1234567890/",
        "closed by User910001",
        "first coordinator reply relayed",
    ] {
        assert!(page.body.contains(text), "{text} missing:\n{}", page.body);
    }
    assert!(
        page.body
            .contains("1 from the caregiver to the coordinators"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("1 from coordinators to the caregiver"),
        "{}",
        page.body
    );

    // CSV cells that a spreadsheet would run are defused
    let csv = get(&format!("{base}/requests.csv"), Some(&cookie)).expect("csv");
    assert!(csv
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/csv")));
    assert!(csv.body.contains("\"'=HYPERLINK(\"\"http"), "{}", csv.body);
    assert!(!csv.body.contains(",=HYPERLINK") && !csv.body.contains(",\"=HYPERLINK"));

    // signing out ends the session on the server, not just in the browser
    let out = post_form(&format!("{base}/signout"), &[], Some(&cookie));
    assert_eq!(out.status, 303);
    assert!(out
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    let r = get(&format!("{base}/requests"), Some(&cookie)).expect("after sign-out");
    assert_refused(&r, "after sign-out");
}

#[test]
fn a_link_works_once_only_for_coordinators_and_not_after_it_expired() {
    let mut setup = Setup::new();
    let base = setup.base.clone();
    let link = setup.link(ANNA).expect("a link for a coordinator");
    assert!(link.starts_with(&format!("{base}/signin/")), "{link}");
    let secret = link.rsplit('/').next().expect("secret").to_string();
    // opening the link (or a link preview) does not use it up
    let opened = get(&link, None).expect("the link's page");
    assert_eq!(opened.status, 200);
    assert!(opened.body.contains("Sign in to the review page"));
    // a form on another site cannot sign a browser in, and does not use the link up
    let forged = post_form_from(
        &format!("{base}/signin"),
        &[("link", &secret)],
        None,
        Some("cross-site"),
    );
    assert_eq!(forged.status, 403);
    let first = post_form_from(
        &format!("{base}/signin"),
        &[("link", &secret)],
        None,
        Some("same-origin"),
    );
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(first.header("location"), Some("/requests"));
    let cookie = cookie_of(&first).expect("cookie");
    let again = post_form(&format!("{base}/signin"), &[("link", &secret)], None);
    assert_eq!(again.status, 403, "a link works once");
    assert!(again.header("set-cookie").is_none());

    // the store keeps hashes only
    let store = setup.home.store();
    assert_eq!(
        store
            .review_session(&secret, faqbot::clock::Clock::system().now_ms())
            .expect("read"),
        None
    );

    // an expired link
    let now = faqbot::clock::Clock::system().now_ms();
    let old = "a".repeat(64);
    store
        .create_review_link(&hash_secret(&old), ANNA, now - 1, now - 600_000)
        .expect("expired link");
    let r = post_form(&format!("{base}/signin"), &[("link", &old)], None);
    assert_eq!(r.status, 403, "expired link");

    // a non-coordinator gets no link, and a link for one (planted in the store) does not work
    assert_eq!(setup.link(BORIS), None, "no link for a non-coordinator");
    assert!(setup.has_text(BORIS, "for the service's coordinators"));
    let planted = "c".repeat(64);
    store
        .create_review_link(&hash_secret(&planted), BORIS, now + 600_000, now)
        .expect("planted link");
    let r = post_form(&format!("{base}/signin"), &[("link", &planted)], None);
    assert_eq!(r.status, 403, "non-coordinator");

    // /review in the coordinators' group: the link goes privately
    let before = setup.fake.messages_to(ANNA).len();
    setup.fake.push_group_text(GROUP, ANNA, "/review", false);
    setup.wait("the private link", |f| f.messages_to(ANNA).len() > before);
    assert!(setup.has_text(ANNA, "/signin/"));
    setup.wait("the note in the group", |f| {
        f.messages_to(GROUP)
            .iter()
            .any(|m| m.visible.contains("sent you a sign-in link"))
    });
    assert!(
        !setup
            .fake
            .messages_to(GROUP)
            .iter()
            .any(|m| m.visible.contains("/signin/")),
        "no link in the group"
    );

    // rate limit on the sign-in endpoint
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(post_form(&format!("{base}/signin"), &[("link", "nope")], None).status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // taken off the allow-list: the session ends at the next start
    assert_eq!(
        get(&format!("{base}/requests"), Some(&cookie))
            .expect("ok")
            .status,
        200
    );
    setup.start(&BORIS.to_string());
    let r = get(&format!("{base}/requests"), Some(&cookie)).expect("answer");
    assert_refused(&r, "a removed coordinator");
}

#[test]
fn forget_removes_the_text_from_every_page() {
    let setup = Setup::new();
    let base = &setup.base;
    let cookie = setup.session();
    let before = get(&format!("{base}/gaps"), Some(&cookie)).expect("gaps");
    assert!(
        before.body.contains("how do i cook rice"),
        "{}",
        before.body
    );
    setup.confirm(HOSTILE, "/forget", "g:y");
    let store = setup.home.store();
    setup.wait("the chat forgotten", |_| {
        store
            .list_escalations(None)
            .is_ok_and(|l| l.iter().all(|e| e.chat_id != HOSTILE))
    });
    for page in pages(setup.request) {
        let r = get(&format!("{base}{page}"), Some(&cookie)).expect("page");
        for text in ["cook rice", "car-t cell", "available in China", "onerror"] {
            assert!(!r.body.contains(text), "{text} still on {page}");
        }
    }
    let gone = get(&format!("{base}/requests/{}", setup.request), Some(&cookie)).expect("page");
    assert_eq!(gone.status, 404);
}

/// Log lines written by one test, in memory.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[test]
fn access_is_logged_by_coordinator_id_never_with_text() {
    use faqbot::store::{NewEscalation, Reason, Role, SqliteStore, TranscriptEntry};

    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("faqbot.db")).expect("store");
    let now = faqbot::clock::Clock::system().now_ms();
    let (e, _) = store
        .open_escalation(
            &NewEscalation {
                chat_id: 77,
                user_id: 77,
                name: "Secret Name".into(),
                username: None,
                language: "en".into(),
                reason: Reason::Emergency,
                urgent: true,
            },
            now,
        )
        .expect("escalate");
    store
        .add_transcript(
            77,
            &TranscriptEntry {
                at: now,
                role: Role::Caregiver,
                text: "SECRET-TEXT-42".into(),
                passage_id: None,
            },
        )
        .expect("transcript");
    let session = "9".repeat(64);
    store
        .create_review_session(&hash_secret(&session), 7, now + 3_600_000, now)
        .expect("session");
    let settings = faqbot::settings::Settings::load_from(
        None,
        vec![("FAQBOT_COORDINATORS__ALLOWED_USER_IDS".into(), "7".into())],
    )
    .expect("settings");
    let review = faqbot::review::Review::new(
        std::sync::Arc::new(store),
        std::sync::Arc::new(settings),
        faqbot::clock::Clock::system(),
    );

    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let cookie = format!("faqbot_review={session}");
    let statuses = tracing::subscriber::with_default(subscriber, || {
        // one thread: the server's tasks log to this thread's subscriber
        block(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let base = format!("http://{}", listener.local_addr().expect("address"));
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let server = tokio::spawn(faqbot::review::serve(listener, review, stopped));
            let mut statuses = Vec::new();
            for page in pages(e.id) {
                let r = client()
                    .get(format!("{base}{page}"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .expect("answer");
                statuses.push(r.status().as_u16());
                let body = r.text().await.expect("body");
                assert!(!body.is_empty());
            }
            let _ = stop.send(true);
            let _ = server.await;
            statuses
        })
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let logs = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(
        logs.contains("coordinator=7") && logs.contains(&format!("/requests/{}", e.id)),
        "{logs}"
    );
    assert!(!logs.contains("SECRET-TEXT-42"), "{logs}");
    assert!(!logs.contains("Secret Name"), "{logs}");
}
