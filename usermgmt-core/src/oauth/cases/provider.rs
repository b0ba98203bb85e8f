//! The real OpenID provider the HTTP cases sign in with: the `oidc-provider` npm package, run
//! by `tests/fixtures/oidc-provider/provider.js` on a free loopback port, once per test process
//! (every case makes a tenant of its own there: its own issuer, keys, client and accounts). When
//! Node.js or the fixture's `node_modules` (`npm ci` in that folder; `.ci/run` does it) are
//! missing, the cases print a notice and pass without it. A browser-less client walks the flow:
//! it follows the provider's redirects with its own cookie jar and answers the provider's
//! interaction (login and consent) with plain HTTP.

use crate::testing::http_suite::*;
use serde_json::{Value, json};
use std::io::BufRead as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The running fixture. Its stdin is held open for the life of the test process: the script
/// exits when it closes, so no provider outlives the tests.
struct Fixture {
    base: String,
    _child: Mutex<Child>,
    _stdin: Mutex<Option<ChildStdin>>,
}

static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc-provider")
}

fn start() -> Option<Fixture> {
    let dir = fixture_dir();
    if !dir.join("node_modules/oidc-provider").is_dir() {
        eprintln!(
            "notice: {}/node_modules is missing (run `npm ci` there); skipping an OpenID provider test",
            dir.display()
        );
        return None;
    }
    let spawned = Command::new("node")
        .arg("provider.js")
        .current_dir(&dir)
        .env("PORT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            eprintln!("notice: node could not be started ({e}); skipping an OpenID provider test");
            return None;
        }
    };
    let stdout = child.stdout.take()?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).ok()?;
    let port: u16 = line.trim().strip_prefix("listening ")?.parse().ok()?;
    let stdin = child.stdin.take();
    Some(Fixture {
        base: format!("http://127.0.0.1:{port}"),
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    })
}

/// The fixture's base URL, starting it on first use; `None` (with a printed notice) when it
/// cannot run here.
fn base() -> Option<&'static str> {
    FIXTURE.get_or_init(start).as_ref().map(|f| f.base.as_str())
}

/// The client the test (as a browser, and as the provider's administrator) talks with: no
/// redirects followed, and a time limit, so a fixture that stops answering fails its cases
/// instead of holding the test run forever.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// The client id and secret every tenant registers for usermgmt.
pub(crate) const CLIENT_ID: &str = "usermgmt-tests";
pub(crate) const CLIENT_SECRET: &str = "usermgmt-tests-client-secret-0123456789";

/// One tenant of the fixture: an OpenID provider of its own.
pub(crate) struct Tenant {
    pub(crate) issuer: String,
    name: String,
    base: String,
}

/// What a tenant is made with.
pub(crate) struct TenantOptions {
    /// The redirect URIs its client accepts.
    pub(crate) redirect_uris: Vec<String>,
    /// `sub` → claims (`email`, `email_verified`, `preferred_username`, …).
    pub(crate) accounts: Value,
    /// ID token lifetime in seconds (default one hour).
    pub(crate) id_token_ttl: Option<u64>,
    /// Publish a JWKS that does not hold the signing key.
    pub(crate) foreign_key: bool,
}

impl Tenant {
    /// A new tenant, or `None` (with a printed notice) when the fixture cannot run here.
    pub(crate) async fn new(options: TenantOptions) -> Option<Self> {
        let base = base()?.to_owned();
        let name = uuid::Uuid::new_v4().simple().to_string();
        let r = client()
            .post(format!("{base}/__test/tenants"))
            .json(&json!({
                "name": name,
                "clients": [{
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": options.redirect_uris,
                }],
                "accounts": options.accounts,
                "idTokenTtl": options.id_token_ttl,
                "foreignKey": options.foreign_key,
            }))
            .send()
            .await
            .expect("the provider fixture answers");
        assert_eq!(r.status(), 201, "tenant created");
        let body: Value = r.json().await.expect("JSON");
        Some(Self {
            issuer: body["issuer"].as_str().expect("issuer").to_owned(),
            name,
            base,
        })
    }

    /// Rotates the tenant's signing key: a new key signs, the old one stays published.
    pub(crate) async fn rotate_keys(&self) {
        let r = client()
            .post(format!("{}/__test/tenants/{}/rotate", self.base, self.name))
            .send()
            .await
            .expect("the provider fixture answers");
        assert_eq!(r.status(), 200, "keys rotated");
    }

    /// Adds (or replaces) an account.
    pub(crate) async fn set_account(&self, sub: &str, claims: Value) {
        let r = client()
            .post(format!(
                "{}/__test/tenants/{}/accounts",
                self.base, self.name
            ))
            .json(&json!({"sub": sub, "claims": claims}))
            .send()
            .await
            .expect("the provider fixture answers");
        assert_eq!(r.status(), 200, "account set");
    }
}

/// A browser: one cookie jar for every host (all are loopback here), redirects followed by
/// hand.
#[derive(Default)]
pub(crate) struct Browser {
    cookies: Mutex<Vec<(String, String)>>,
}

impl Browser {
    /// The `Cookie` header value.
    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Takes the `Set-Cookie` headers of an answer (an empty value or `Max-Age=0` removes).
    pub(crate) fn remember<'a>(&self, set_cookies: impl Iterator<Item = &'a str>) {
        let mut jar = self.cookies.lock().unwrap();
        for header in set_cookies {
            let Some((pair, attributes)) = header.split_once(';').or(Some((header, ""))) else {
                continue;
            };
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            jar.retain(|(n, _)| n != name);
            let expired = value.is_empty()
                || attributes.to_ascii_lowercase().contains("max-age=0")
                || attributes.contains("1970");
            if !expired {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// Sends a GET to usermgmt through the adapter under test, with this browser's cookies.
    pub(crate) async fn get_app(
        &self,
        cx: &HttpCtx,
        uri: &str,
        token: Option<&str>,
    ) -> TestResponse {
        let mut headers = vec![
            ("cookie".to_owned(), self.cookie_header()),
            (
                "user-agent".to_owned(),
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0".to_owned(),
            ),
        ];
        if let Some(t) = token {
            headers.push(("authorization".to_owned(), format!("Bearer {t}")));
        }
        let r = cx
            .send(TestRequest {
                method: "GET".to_owned(),
                uri: uri.to_owned(),
                headers,
                body: Vec::new(),
            })
            .await;
        self.remember(
            r.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                .map(|(_, v)| v.as_str()),
        );
        r
    }

    /// Walks the provider from its authorization URL until it redirects to `callback_prefix`:
    /// follows its redirects and signs in as `account` (login and consent) at its interaction.
    /// Returns the callback URL the provider sent the browser to.
    pub(crate) async fn through_provider(
        &self,
        authorization_url: &str,
        account: &str,
        callback_prefix: &str,
    ) -> String {
        let http = client();
        let mut url = url::Url::parse(authorization_url).expect("an absolute URL");
        for _ in 0..10 {
            if url.as_str().starts_with(callback_prefix) {
                return url.to_string();
            }
            let interaction = url.path().contains("/interaction/");
            let request = if interaction {
                http.post(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(
                        form_urlencoded::Serializer::new(String::new())
                            .append_pair("account", account)
                            .finish(),
                    )
            } else {
                http.get(url.clone())
            };
            let response = request
                .header("cookie", self.cookie_header())
                .send()
                .await
                .expect("the provider answers");
            self.remember(
                response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
            let status = response.status().as_u16();
            let Some(location) = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
            else {
                let body = response.text().await.unwrap_or_default();
                panic!("the provider answered {status} without a redirect at {url}: {body}");
            };
            url = url.join(&location).expect("a redirect target");
        }
        panic!("the provider never redirected to {callback_prefix}");
    }
}

/// The callback URL's path and query, as the adapter serves it (the public URL cut off).
pub(crate) fn app_path(cx: &HttpCtx, url: &str) -> String {
    url.strip_prefix(cx.app.manager.config().absolute_public_url())
        .unwrap_or(url)
        .to_owned()
}

/// A query parameter of a URL.
pub(crate) fn query_value(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url)
        .or_else(|_| url::Url::parse("http://localhost").and_then(|b| b.join(url)))
        .ok()?;
    parsed
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with its query parameter `name` set to `value`.
pub(crate) fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("an absolute URL");
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(n, _)| n != name)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    parsed.to_string()
}
