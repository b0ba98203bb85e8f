//! Headless Chromium driven through ChromeDriver (the W3C WebDriver protocol over plain HTTP,
//! plus ChromeDriver's `goog/cdp/execute` for what WebDriver lacks: media emulation, a script
//! run before every page's own). Tests skip with a notice when either binary is missing
//! (`apt-get install chromium chromium-driver`; `.ci/run` installs them).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and ChromeDriver are installed; prints the skip notice when not.
pub fn available() -> bool {
    let there = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !there {
        eprintln!(
            "skipped: no Chromium/ChromeDriver on this machine (apt-get install chromium chromium-driver)"
        );
    }
    there
}

/// A port that was free a moment ago (a relying party's origin must name the port before the
/// server starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A ChromeDriver process; killed when dropped.
pub struct Driver {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Driver {
    pub async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver
            .http
            .get(format!("{}/status", driver.base))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    /// A WebDriver command; returns its `value`, failing the test on a WebDriver error.
    pub async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let value = self.try_command(method, path, body).await;
        assert!(
            value.get("error").is_none(),
            "WebDriver {path}: {}",
            serde_json::to_string_pretty(&value).unwrap()
        );
        value
    }

    /// A WebDriver command whose error is an answer, not a failure.
    pub async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("chromedriver answers JSON");
        answer["value"].clone()
    }

    /// A headless Chromium session with its own profile (its own cookies) in `profile`, no
    /// network beyond loopback, prompts (`confirm`) accepted.
    pub async fn session(&self, profile: &Path) -> Browser<'_> {
        let session = self
            .command(
                reqwest::Method::POST,
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "unhandledPromptBehavior": "accept",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--window-size=1280,900", "--hide-scrollbars",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                }}})),
            )
            .await;
        Browser {
            driver: self,
            id: session["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session (window, cookies).
pub struct Browser<'d> {
    driver: &'d Driver,
    pub id: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser<'_> {
    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.id)
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.driver
            .command(reqwest::Method::POST, &self.at(path), Some(body))
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    pub async fn url(&self) -> String {
        self.driver
            .command(reqwest::Method::GET, &self.at("/url"), None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs `script` asynchronously: it ends by calling its last argument with the value to
    /// return (WebDriver's asynchronous script).
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// A Chrome DevTools Protocol command.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({"cmd": cmd, "params": params}))
            .await
    }

    async fn element(&self, css: &str) -> String {
        self.wait_until(&format!("visible({})", json!(css)), css)
            .await;
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clears the field, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await;
    }

    /// Gives the file input `css` the file at `path`, as a person picking it would.
    pub async fn upload(&self, css: &str, path: &Path) {
        let id = self.element(css).await;
        self.post(
            &format!("/element/{id}/value"),
            json!({"text": path.display().to_string()}),
        )
        .await;
    }

    /// Saves the page's downloads in `dir` (which must exist) without asking.
    pub async fn download_to(&self, dir: &Path) {
        self.cdp(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir.display().to_string()}),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.driver
            .command(
                reqwest::Method::GET,
                &self.at(&format!("/element/{id}/text")),
                None,
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (15 s at most) until the JavaScript expression `condition` is true in the page;
    /// `visible(css)` is defined for it. `what` names the wait in the failure.
    pub async fn wait_until(&self, condition: &str, what: &str) {
        let script = format!(
            "const visible = (css) => {{ const e = document.querySelector(css); \
             return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; }}; \
             try {{ return !!({condition}); }} catch (_) {{ return false; }}"
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // A page being replaced answers with an error: tried again.
            let value = self
                .driver
                .try_command(
                    reqwest::Method::POST,
                    &self.at("/execute/sync"),
                    Some(json!({"script": script, "args": []})),
                )
                .await;
            if value == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let body = self
                    .driver
                    .try_command(
                        reqwest::Method::POST,
                        &self.at("/execute/sync"),
                        Some(json!({"script": "return location.href + '\\n' + document.body.innerText", "args": []})),
                    )
                    .await;
                panic!(
                    "waited in vain for {what}; the page:\n{}",
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the address is `url_part`'s page.
    pub async fn wait_for_path(&self, path: &str) {
        self.wait_until(
            &format!(
                "location.pathname === {} && document.readyState === 'complete'",
                json!(path)
            ),
            &format!("the page {path}"),
        )
        .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self
            .driver
            .command(reqwest::Method::GET, &self.at("/screenshot"), None)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap()
    }

    pub async fn close(self) {
        self.driver
            .command(reqwest::Method::DELETE, &self.at(""), None)
            .await;
    }
}
