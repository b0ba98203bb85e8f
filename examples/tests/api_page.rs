//! The API page at `/docs`, rendered by a real browser: headless Chromium loads it from the
//! standalone server with the network otherwise closed, and the page must list every operation
//! of the OpenAPI document (its scripts, styles and the document all come from the server).
//! Skipped with a notice when Chromium is not installed (`apt-get install chromium`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, ServerSpec};
use std::process::{Command, Stdio};

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|path| std::path::Path::new(path).exists())
}

#[tokio::test]
async fn the_api_page_renders_every_operation_offline() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no Chromium on this machine (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("usermgmt-api-page-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database_url = format!("sqlite://{}/page.db?mode=rwc", dir.display());
    let server = Server::start(&ServerSpec::new("axum", &database_url, None)).await;
    let base = server.base.clone();

    let document: serde_json::Value = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();

    // The flags keep Chromium from reaching for the network at all (background services,
    // component updates); the virtual time budget lets the page fetch and render the document.
    let profile = dir.join("profile");
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("{base}/docs"))
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let dom = String::from_utf8_lossy(&output.stdout);
    let rendered = dom.matches("class=\"opblock-summary-path\"").count();
    assert!(
        dom.contains("usermgmt") && dom.contains("OAS 3.1"),
        "the page did not render the document's title"
    );
    assert_eq!(
        rendered, operations,
        "operations on the page vs in the document"
    );
}
