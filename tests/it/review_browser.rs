//! The review page in a real browser: Debian's headless Chromium driven through chromedriver
//! (fantoccini, plain HTTP on 127.0.0.1), signed in with the link the bot sent on `/review`,
//! against a bot filled by a real conversation ([`Setup`]). Screenshots of each page are saved
//! under `target/review-screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use faqbot::review::hash_secret;

use crate::review::{block, free_port, get, Setup, ANNA, BORIS, FORMULA_NAME, HOSTILE_NAME, WAIT};

/// chromedriver on a free port, ended on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver: install Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver; .ci/run does)",
            );
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let deadline = std::time::Instant::now() + WAIT;
        while get(&status, None).is_none_or(|r| r.status != 200) {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver never started"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clicks the element `what` found by `locator`.
async fn click(browser: &fantoccini::Client, locator: fantoccini::Locator<'_>, what: &str) {
    browser
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {what}: {e}"));
}

fn screenshots() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("review-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

#[test]
fn the_pages_in_headless_chromium() {
    use fantoccini::{ClientBuilder, Locator};

    let setup = Setup::new();
    let driver = Driver::start();
    let link = setup.link(ANNA).expect("a link");
    let base = setup.base.clone();
    let request = setup.request;
    let store = setup.home.store();
    let shots = screenshots();
    let now = faqbot::clock::Clock::system().now_ms();
    let expired = "d".repeat(64);
    store
        .create_review_link(&hash_secret(&expired), ANNA, now - 1, now - 600_000)
        .expect("expired link");
    let boris = "f".repeat(64);
    store
        .create_review_link(&hash_secret(&boris), BORIS, now + 600_000, now)
        .expect("a non-coordinator's link");

    let run = async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]
            }),
        );
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a browser session");
        let shot = |name: &'static str| {
            let browser = browser.clone();
            let path = shots.join(name);
            async move {
                let png = browser.screenshot().await.expect("screenshot");
                std::fs::write(&path, png).expect("write the screenshot");
            }
        };
        // the page's text once it contains `needle` (a click's navigation may still be under way)
        let text_with = |needle: String| {
            let browser = browser.clone();
            async move {
                let deadline = std::time::Instant::now() + WAIT;
                loop {
                    let text = match browser.find(Locator::Css("body")).await {
                        Ok(body) => body.text().await.unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    if text.contains(&needle) || std::time::Instant::now() > deadline {
                        return text;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let body_text = || text_with(String::new());

        // without a session: the sign-in notice, whatever the page
        browser
            .goto(&format!("{base}/requests/{request}"))
            .await
            .expect("goto");
        assert!(browser.current_url().await.expect("url").path() == "/signin");
        assert!(text_with("send /review".into())
            .await
            .contains("send /review to the bot"));
        shot("signin.png").await;

        // the link from /review, opened as from Telegram, then the button
        browser.goto(&link).await.expect("open the link");
        click(&browser, Locator::Id("signin"), "the button").await;
        let text = text_with(HOSTILE_NAME.into()).await;
        assert_eq!(
            browser.current_url().await.expect("url").path(),
            "/requests"
        );
        assert!(
            text.contains(HOSTILE_NAME),
            "the name shows literally: {text}"
        );
        assert!(text.contains(FORMULA_NAME), "{text}");
        assert_eq!(
            browser.title().await.expect("title"),
            "Requests · faqbot review"
        );
        assert!(
            browser
                .find_all(Locator::Css("img"))
                .await
                .expect("img")
                .is_empty(),
            "an <img> was made from the name"
        );
        let rows = browser
            .find_all(Locator::Css("#requests tbody tr"))
            .await
            .expect("rows");
        assert_eq!(rows.len(), 2);
        shot("requests.png").await;

        // a filter
        browser
            .goto(&format!("{base}/requests?state=open"))
            .await
            .expect("filter");
        let rows = browser
            .find_all(Locator::Css("#requests tbody tr"))
            .await
            .expect("rows");
        assert_eq!(rows.len(), 1, "only the open request");

        // one request
        browser
            .goto(&format!("{base}/requests"))
            .await
            .expect("list");
        click(
            &browser,
            Locator::LinkText(&format!("#{request}")),
            "the request's link",
        )
        .await;
        let text = text_with("Transcript".into()).await;
        for needle in [
            "what is car-t cell therapy",
            "is it available in China?",
            "Yes, we can arrange a consultation.",
            HOSTILE_NAME,
        ] {
            assert!(text.contains(needle), "{needle} missing: {text}");
        }
        assert_eq!(
            browser.title().await.expect("title"),
            format!("Request #{request} · faqbot review")
        );
        shot("request.png").await;

        // content gaps and the overview
        browser.goto(&format!("{base}/gaps")).await.expect("gaps");
        let text = body_text().await;
        assert!(text.contains("how do i cook rice"), "{text}");
        let votes = browser
            .find(Locator::Id("not-helpful"))
            .await
            .expect("the Not helpful table")
            .text()
            .await
            .expect("text");
        assert!(votes.contains("what is car-t cell therapy"), "{votes}");
        shot("gaps.png").await;
        browser
            .goto(&format!("{base}/overview"))
            .await
            .expect("overview");
        let charts = browser
            .find_all(Locator::Css("figure.chart svg"))
            .await
            .expect("charts");
        assert_eq!(charts.len(), 3);
        assert!(body_text().await.contains("2 requests for a coordinator"));
        shot("overview.png").await;
        browser.set_window_size(390, 844).await.expect("phone size");
        browser.refresh().await.expect("refresh");
        shot("overview-phone.png").await;
        browser
            .set_window_size(1280, 900)
            .await
            .expect("desktop size");

        // the same link again, an expired one, a non-coordinator's: refused
        for (what, url) in [
            ("reused", link.clone()),
            ("expired", format!("{base}/signin/{expired}")),
            ("non-coordinator", format!("{base}/signin/{boris}")),
        ] {
            browser.goto(&url).await.expect("open");
            click(&browser, Locator::Id("signin"), "the button").await;
            let text = text_with("This sign-in link is not valid".into()).await;
            assert!(
                text.contains("This sign-in link is not valid"),
                "{what}: {text}"
            );
        }
        shot("refused.png").await;

        // signing out
        browser
            .goto(&format!("{base}/requests"))
            .await
            .expect("list");
        click(&browser, Locator::Css("form.signout button"), "sign out").await;
        text_with("Sign in".into()).await;
        browser
            .goto(&format!("{base}/requests"))
            .await
            .expect("list");
        assert_eq!(browser.current_url().await.expect("url").path(), "/signin");
        browser.close().await.expect("close the browser");
    };
    block(run);
}
