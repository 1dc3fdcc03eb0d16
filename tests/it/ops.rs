//! The operators' listener (`/healthz`, `/metrics`) and JSON logs.

use std::time::Duration;

use crate::bot::{free_port, Bot, Home, TOKEN};
use crate::fake_api::FakeTelegram;

/// GET on loopback: (status, body), or None while the listener is not up yet.
pub fn get(url: &str) -> Option<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    })
}

#[test]
fn healthz_and_metrics_in_polling_mode() {
    let fake = FakeTelegram::start(TOKEN);
    let home = Home::shipped();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _bot = Bot::start(home.settings(&fake, &[("FAQBOT_OPS__LISTEN", listen.as_str())]));
    let health = format!("http://{listen}/healthz");
    let metrics = format!("http://{listen}/metrics");
    // healthy once the first poll came back
    assert!(
        fake.wait_until(Duration::from_secs(30), |_| get(&health)
            .is_some_and(|(s, _)| s == 200)),
        "never healthy: {:?}",
        get(&health)
    );
    let (_, body) = get(&health).expect("healthz");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["store"], "ok");
    assert!(json["index_passages"].as_u64().unwrap_or(0) > 30, "{json}");

    fake.push_text(7101, 7101, "what are ADCs");
    fake.push_text(7102, 7102, "how do i cook rice");
    fake.wait_until(Duration::from_secs(30), |f| !f.messages_to(7102).is_empty());
    let ok = fake.wait_until(Duration::from_secs(30), |_| {
        get(&metrics).is_some_and(|(_, m)| m.contains("faqbot_updates_total{kind=\"message\"} 2"))
    });
    let (status, text) = get(&metrics).expect("metrics");
    assert!(ok && status == 200, "{text}");
    for needle in [
        "faqbot_replies_total{outcome=\"answer\"} 1",
        "faqbot_replies_total{outcome=\"no_match\"} 1",
        "faqbot_reply_latency_seconds_count 2",
        "faqbot_escalations_open 0",
        "faqbot_index_generation 1",
        "faqbot_outbox_pending",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert!(
        !text.contains("ADCs") && !text.contains("rice"),
        "message text in metrics"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let home = Home::shipped();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["--log-format", "json", "ask", "what are ADCs"])
        .current_dir(home.dir.path())
        .env_clear()
        .env("FAQBOT_CONTENT__DIR", &home.content)
        .env("FAQBOT_INDEX__DIR", home.dir.path().join("index"))
        .env("RUST_LOG", "debug")
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
}
