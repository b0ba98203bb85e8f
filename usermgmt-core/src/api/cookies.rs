//! Cookie sessions for browser apps ([`crate::config::CookieSessionConfig`]): the same session
//! rows as bearer tokens, carried in cookies, with the server doing what a bearer client does
//! itself. HTTP machinery, like the route table: it works on every capability's answers
//! without knowing them.
//!
//! - **Signing in.** A request with `X-Auth-Mode: cookie` whose answer carries a token pair
//!   (login, its two-factor step, passkey sign-in, refresh, and any later sign-in route) gets
//!   the pair as cookies instead: the access token in `<name>` and the refresh token in
//!   `<name>_refresh`, both `HttpOnly`, and the CSRF token in `<name>_csrf`. The body keeps its
//!   shape, with `tokens` = `{tokenType: "Cookie", expiresIn, csrfToken}`: no token a script
//!   could read and send elsewhere.
//! - **Using the session.** On a route that needs a caller and gets no `Authorization` or
//!   `X-API-Key`, the access cookie is the credential. Bearer headers win, so a client that
//!   sends one is never affected by a cookie it also carries.
//! - **CSRF.** A cookie-authenticated request with an unsafe method must come from this site
//!   (`Sec-Fetch-Site`, `Origin` checked against the public URL, the CORS origins and the
//!   `Host`) and repeat the CSRF token in `X-CSRF-Token`. The token is an HMAC of the session
//!   id under the signing secret, so a cookie planted by a sibling subdomain cannot forge it,
//!   and it survives refreshes (the session id does).
//! - **Refresh.** An access cookie that has expired, with a refresh cookie beside it, is
//!   renewed before the handler runs: the refresh token rotates as `POST /auth/refresh` rotates
//!   it (reuse detection and grace included) and the answer sets the new cookies.
//!   `POST /auth/refresh` with `X-Auth-Mode: cookie` and no body renews on demand.
//! - **Impersonating.** `POST /admin/users/{userId}/impersonate` in cookie mode from a cookie
//!   session puts the impersonation token in the access cookie only (`set_access_cookie`);
//!   the refresh cookie stays the administrator's. `POST /admin/impersonation/stop` (the
//!   refresh cookie as proof) ends the administrator's session the token rode on and sets a
//!   fresh session's cookies; an expired impersonation token renews from the refresh cookie as
//!   any expired access cookie does, to the administrator's own token.
//! - **Ending.** Logout clears the cookies; so does any 401 to a cookie-authenticated request
//!   (the session is gone, the cookies are useless).

use super::{ApiResponse, RequestContext};
use crate::auth::TokenPair;
use crate::config::{API_PREFIX, Config, CookieSessionConfig, SameSite};
use crate::error::{Error, Result};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The request header that asks for cookies instead of tokens in the body (`cookie`).
pub const AUTH_MODE_HEADER: &str = "x-auth-mode";
/// The request header that repeats the CSRF token on unsafe cookie-session requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The routes whose success ends the caller's session: their answer clears the cookies.
const ENDING_ROUTES: &[&str] = &["Logout"];

/// What a request asked of cookie sessions, read before the handler runs.
#[derive(Clone, Default)]
pub(crate) struct CookieRequest {
    /// `X-Auth-Mode: cookie`: token pairs in the answer become cookies.
    pub(crate) wants_cookies: bool,
    /// The access token came from the cookie (not from a header).
    pub(crate) authenticated_by_cookie: bool,
    /// The refresh cookie, when sent.
    pub(crate) refresh: Option<crate::secret::SecretString>,
}

impl CookieRequest {
    /// The refresh token a cookie-mode request leaves to its refresh cookie (sent to the API's
    /// paths only): the cookie's value when the request asked for cookie mode. Routes that take
    /// a `refreshToken` member (refresh, ending an impersonation) fall back to it.
    pub(crate) fn refresh_token(&self) -> Option<String> {
        self.refresh
            .as_ref()
            .filter(|_| self.wants_cookies)
            .map(|token| crate::secret::ExposeSecret::expose_secret(token).to_owned())
    }
}

impl std::fmt::Debug for CookieRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieRequest")
            .field("wants_cookies", &self.wants_cookies)
            .field("authenticated_by_cookie", &self.authenticated_by_cookie)
            .field("refresh", &self.refresh.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// The headers cookie sessions read besides the cookies (which the [`RequestContext`] keeps),
/// copied from the request before it becomes one.
pub(crate) struct BrowserHeaders(Vec<(&'static str, String)>);

impl BrowserHeaders {
    const NAMES: [&'static str; 4] = ["origin", "sec-fetch-site", "host", CSRF_HEADER];

    pub(crate) fn of(request: &super::ApiRequest) -> Self {
        Self(
            Self::NAMES
                .iter()
                .filter_map(|name| Some((*name, request.header_value(name)?.to_owned())))
                .collect(),
        )
    }

    /// A header by lower-case name.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// The value of cookie `name` in a `Cookie` header's text (every `Cookie` header joined with
/// `; `), its surrounding quotes removed: the one reader of cookies, for the request context and
/// the host guards alike.
pub(crate) fn cookie_in<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A session cookie's value: an empty one (a cleared cookie a client still sends) is none.
pub(crate) fn session_cookie<'h>(cookies: Option<&'h str>, name: &str) -> Option<&'h str> {
    cookie_in(cookies?, name).filter(|value| !value.is_empty())
}

/// `X-Auth-Mode`: absent or `bearer` → false, `cookie` → true; anything else, or `cookie`
/// while cookie sessions are off, is refused (422) rather than silently answered with tokens.
pub(crate) fn wants_cookies(config: &Config, header: Option<&str>) -> Result<bool> {
    match header.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("bearer") => Ok(false),
        Some("cookie") if config.cookie_sessions.is_some() => Ok(true),
        Some("cookie") => Err(Error::invalid(
            "X-Auth-Mode",
            "cookie sessions are not enabled on this server",
        )),
        Some(_) => Err(Error::invalid("X-Auth-Mode", "must be cookie or bearer")),
    }
}

/// The CSRF token of a session: an HMAC of its id under the signing secret.
pub fn csrf_token(config: &Config, session_id: Uuid) -> String {
    // HMAC takes a key of any length; were it ever refused, the empty token matches nothing.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(config.jwt_secret_bytes()) else {
        return String::new();
    };
    mac.update(b"usermgmt csrf v1\0");
    mac.update(session_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn csrf_matches(config: &Config, session_id: Uuid, presented: Option<&str>) -> bool {
    use subtle::ConstantTimeEq as _;
    let Some(presented) = presented.map(str::trim) else {
        return false;
    };
    let expected = csrf_token(config, session_id);
    !expected.is_empty()
        && expected.len() == presented.len()
        && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// Whether the browser says the request comes from this site. Headers a browser sets and a
/// page cannot: `Sec-Fetch-Site` same-origin (or none: typed or bookmarked) passes; otherwise
/// `Origin` must be the public URL's origin, an allowed CORS origin or the `Host` asked for.
/// Neither header (a client that is no browser) passes: the CSRF token is still required.
fn from_this_site(config: &Config, header: &(dyn Fn(&str) -> Option<String> + Sync)) -> bool {
    let site = header("sec-fetch-site");
    if site
        .as_deref()
        .is_some_and(|site| matches!(site.trim(), "same-origin" | "none"))
    {
        return true;
    }
    let Some(origin) = header("origin") else {
        return site.is_none();
    };
    let origin = origin.trim();
    let public_origin = config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization());
    if public_origin.as_deref() == Some(origin) {
        return true;
    }
    if config.cors.allowed_origins.iter().any(|o| o != "*") && config.cors.allow(origin).is_some() {
        return true;
    }
    let host = url::Url::parse(origin).ok().and_then(|u| {
        u.host_str()
            .map(|h| u.port().map_or(h.to_owned(), |p| format!("{h}:{p}")))
    });
    host.is_some_and(|host| {
        header("host").is_some_and(|asked| asked.trim().eq_ignore_ascii_case(&host))
    })
}

impl super::Api {
    /// The credential a host app's guard authenticates: the bearer token or API key of the
    /// request's headers, else (cookie sessions on) its access cookie — refused (403
    /// `CSRF_FAILED`) when the method changes something without the page's CSRF token or from
    /// another site. `headers` are the request's (names in any case; every `Cookie` header).
    /// An expired cookie is not renewed here (a guard cannot set cookies): the API's own routes
    /// renew it, and so does `POST /auth/refresh` with `X-Auth-Mode: cookie`.
    pub fn guard_credential(
        &self,
        method: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<String>> {
        let first = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        if let Some(credential) = super::credential(first("authorization"), first("x-api-key")) {
            return Ok(Some(credential.to_owned()));
        }
        let manager = self.manager();
        let config = manager.config();
        let Some(settings) = &config.cookie_sessions else {
            return Ok(None);
        };
        let cookies = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .map(|(_, v)| *v)
            .collect::<Vec<_>>()
            .join("; ");
        let Some(access) = session_cookie(Some(&cookies), &settings.name).map(str::to_owned) else {
            return Ok(None);
        };
        if !is_safe(method) {
            let claims = manager.inner.tokens.genuine(&access)?;
            let header = |name: &str| first(name).map(str::to_owned);
            check_csrf(config, claims.session_id()?, &header)?;
        }
        Ok(Some(access))
    }
}

pub(crate) fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

fn check_csrf(
    config: &Config,
    session_id: Uuid,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<()> {
    if from_this_site(config, header)
        && csrf_matches(config, session_id, header(CSRF_HEADER).as_deref())
    {
        Ok(())
    } else {
        Err(Error::CsrfFailed)
    }
}

/// Before the handler, for a request authenticated by its access cookie: the CSRF check
/// (unsafe methods), then the renewal of an expired access token from the refresh cookie.
/// Returns the renewed pair, whose cookies the answer must set. On a route that does not
/// `require` a caller the cookie is only offered: kept when it is a live token of this issuer,
/// else dropped without a word (a stale cookie must not break a public page).
pub(crate) async fn admit(
    manager: &crate::UserManager,
    method: &str,
    required: bool,
    ctx: &mut RequestContext,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Option<TokenPair>> {
    let Some(access) = ctx.bearer().map(str::to_owned) else {
        return Ok(None);
    };
    if !required {
        if manager.inner.tokens.verify(&access, manager.now()).is_err() {
            ctx.clear_credential();
        }
        return Ok(None);
    }
    let claims = manager.inner.tokens.genuine(&access)?;
    if !is_safe(method) {
        check_csrf(manager.config(), claims.session_id()?, header)?;
    }
    if claims.exp > manager.now().unix_timestamp() {
        return Ok(None);
    }
    let Some(refresh) = ctx.cookies.refresh.clone() else {
        // Expired, nothing to renew it with: the handler answers the usual 401.
        return Ok(None);
    };
    use crate::secret::ExposeSecret as _;
    let pair = manager
        .refresh(refresh.expose_secret(), &ctx.client)
        .await?;
    ctx.replace_credential(pair.access_token.clone());
    Ok(Some(pair))
}

/// After the handler: sets the cookies of a renewed or newly issued pair, clears them when the
/// session ended, and takes any token pair out of the body of a cookie-mode answer.
pub(crate) fn finish_answer(
    manager: &crate::UserManager,
    route_name: Option<&str>,
    cookies_asked: &CookieRequest,
    renewed: Option<&TokenPair>,
    response: &mut ApiResponse,
) {
    let config = manager.config();
    let Some(settings) = &config.cookie_sessions else {
        return;
    };
    let success = (200..300).contains(&response.status);
    if cookies_asked.wants_cookies
        && success
        && let Some(session_id) = move_pair_to_cookies(manager, response)
    {
        tracing::debug!(%session_id, "session handed out as cookies");
        return;
    }
    if let Some(pair) = renewed
        && response.status != 401
    {
        if let Ok(claims) = manager.inner.tokens.genuine(&pair.access_token)
            && let Ok(session_id) = claims.session_id()
        {
            let refresh = pair.refresh_token.expose();
            set_pair(
                config,
                settings,
                (&pair.access_token, refresh),
                session_id,
                response,
            );
        }
        return;
    }
    let ended = success && route_name.is_some_and(|name| ENDING_ROUTES.contains(&name));
    // A refresh cookie that no longer renews anything is as dead as the session.
    let refresh_refused = response.status == 401
        && cookies_asked.wants_cookies
        && cookies_asked.refresh.is_some()
        && route_name == Some("Refresh");
    let session_gone = cookies_asked.authenticated_by_cookie && (ended || response.status == 401);
    if session_gone || refresh_refused {
        for name in [
            settings.name.clone(),
            settings.refresh_name(),
            settings.csrf_name(),
        ] {
            let path = if name == settings.refresh_name() {
                refresh_path(config)
            } else {
                settings.path.clone()
            };
            let cleared = build(settings, name, String::new(), path, false)
                .max_age(time::Duration::ZERO)
                .build();
            response.push_header("set-cookie", &cleared.to_string());
        }
    }
}

/// Replaces `data.tokens` (or `data`, a refresh's answer) holding `accessToken` and
/// `refreshToken` by the cookie session's `{tokenType: "Cookie", expiresIn, csrfToken}`, and
/// sets the cookies. The session id, when there was a pair.
fn move_pair_to_cookies(manager: &crate::UserManager, response: &mut ApiResponse) -> Option<Uuid> {
    let config = manager.config();
    let settings = config.cookie_sessions.as_ref()?;
    let mut body: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    let data = body.get_mut("data")?;
    let holder = if data.get("tokens").is_some() {
        data.get_mut("tokens")?
    } else {
        data
    };
    let access = holder.get("accessToken")?.as_str()?.to_owned();
    let refresh = holder.get("refreshToken")?.as_str()?.to_owned();
    let expires_in = holder.get("expiresIn")?.as_i64()?;
    let session_id = manager
        .inner
        .tokens
        .genuine(&access)
        .ok()?
        .session_id()
        .ok()?;
    let csrf = csrf_token(config, session_id);
    *holder =
        serde_json::json!({"tokenType": "Cookie", "expiresIn": expires_in, "csrfToken": csrf});
    response.body = serde_json::to_vec(&body).ok()?;
    set_pair(config, settings, (&access, &refresh), session_id, response);
    Some(session_id)
}

/// Where the refresh cookie is sent: the API's paths only, never the host app's own.
fn refresh_path(config: &Config) -> String {
    format!("{}{API_PREFIX}", config.api_base_path())
}

fn build(
    settings: &CookieSessionConfig,
    name: String,
    value: String,
    path: String,
    script_readable: bool,
) -> cookie::CookieBuilder<'static> {
    let mut cookie = cookie::Cookie::build((name, value))
        .path(path)
        .secure(settings.secure)
        .http_only(!script_readable)
        .same_site(match settings.same_site {
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::None => cookie::SameSite::None,
        });
    if let Some(domain) = &settings.domain {
        cookie = cookie.domain(domain.clone());
    }
    cookie
}

fn set_pair(
    config: &Config,
    settings: &CookieSessionConfig,
    (access, refresh): (&str, &str),
    session_id: Uuid,
    response: &mut ApiResponse,
) {
    // The cookies live as long as the session can: an expired access token is still sent, so
    // the server can renew it from the refresh cookie (its session id names the CSRF token).
    let lifetime = config.refresh_token_ttl;
    let cookies = [
        build(
            settings,
            settings.name.clone(),
            access.to_owned(),
            settings.path.clone(),
            false,
        ),
        build(
            settings,
            settings.refresh_name(),
            refresh.to_owned(),
            refresh_path(config),
            false,
        ),
        build(
            settings,
            settings.csrf_name(),
            csrf_token(config, session_id),
            settings.path.clone(),
            true,
        ),
    ];
    for cookie in cookies {
        response.push_header("set-cookie", &cookie.max_age(lifetime).build().to_string());
    }
}

/// Sets the access cookie alone to `access`, the refresh and CSRF cookies untouched: an
/// impersonation started in cookie mode. Its token rides on the administrator's session, so
/// the CSRF token (bound to the session) stays valid, and the refresh cookie keeps the
/// administrator's refresh token: the way back (`POST /admin/impersonation/stop`), and the
/// renewal that makes the administrator themself again once the impersonation token expires.
/// The cookie lives as long as the pair's would, for that renewal. Nothing without cookie
/// sessions on.
pub(crate) fn set_access_cookie(config: &Config, access: &str, response: &mut ApiResponse) {
    let Some(settings) = &config.cookie_sessions else {
        return;
    };
    let cookie = build(
        settings,
        settings.name.clone(),
        access.to_owned(),
        settings.path.clone(),
        false,
    )
    .max_age(config.refresh_token_ttl)
    .build();
    response.push_header("set-cookie", &cookie.to_string());
}

/// The document of a server with cookie sessions on: `Tokens` becomes either the bearer pair
/// or the cookie session's answer, and the cookie is a security scheme.
pub(crate) fn document(
    settings: &CookieSessionConfig,
    schemas: &mut serde_json::Map<String, serde_json::Value>,
    security_schemes: &mut serde_json::Value,
) {
    use serde_json::json;
    if let Some(bearer) = schemas.remove("Tokens") {
        schemas.insert("BearerTokens".into(), bearer);
        schemas.insert(
            "CookieSession".into(),
            json!({
                "type": "object",
                "description": "Tokens of a sign-in asked for with `X-Auth-Mode: cookie`: the pair is in HttpOnly cookies, not here",
                "properties": {
                    "tokenType": {"type": "string", "enum": ["Cookie"]},
                    "expiresIn": {"type": "integer", "description": "Seconds until the access cookie needs renewing (the server renews it)"},
                    "csrfToken": {"type": "string", "description": "Repeat it in `X-CSRF-Token` on every POST, PUT, PATCH and DELETE (also in the `_csrf` cookie)"},
                },
                "required": ["tokenType", "expiresIn", "csrfToken"],
                "additionalProperties": false,
            }),
        );
        schemas.insert(
            "Tokens".into(),
            json!({"oneOf": [
                {"$ref": "#/components/schemas/BearerTokens"},
                {"$ref": "#/components/schemas/CookieSession"},
            ]}),
        );
    }
    security_schemes["cookieAuth"] = json!({
        "type": "apiKey",
        "in": "cookie",
        "name": settings.name,
        "description": "A cookie session (sign in with `X-Auth-Mode: cookie`); unsafe methods also need `X-CSRF-Token`",
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::builder("x".repeat(40))
            .public_url("https://app.test")
            .cookie_sessions(CookieSessionConfig::default())
            .build()
            .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_csrf_token_is_bound_to_the_session_and_the_secret() {
        let config = config();
        let session = Uuid::now_v7();
        let token = csrf_token(&config, session);
        assert!(csrf_matches(&config, session, Some(&token)));
        assert!(!csrf_matches(&config, Uuid::now_v7(), Some(&token)));
        assert!(!csrf_matches(&config, session, None));
        assert!(!csrf_matches(&config, session, Some("")));
        let other = Config::builder("y".repeat(40)).build().unwrap();
        assert_ne!(csrf_token(&other, session), token);
    }

    #[test]
    fn only_this_site_passes_the_origin_check() {
        let config = config();
        let check = |pairs: &[(&str, &str)]| from_this_site(&config, &headers(pairs));
        assert!(check(&[]));
        assert!(check(&[("sec-fetch-site", "same-origin")]));
        assert!(check(&[("sec-fetch-site", "none")]));
        assert!(!check(&[("sec-fetch-site", "cross-site")]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
        assert!(check(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://app.test")
        ]));
        assert!(!check(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.test")
        ]));
        assert!(check(&[("origin", "https://app.test")]));
        assert!(!check(&[("origin", "https://evil.test")]));
        assert!(!check(&[("origin", "null")]));
        assert!(check(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(!check(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:9090")
        ]));
    }

    #[test]
    fn an_empty_session_cookie_is_none() {
        let all = "a=1; usermgmt_session=abc; cleared=";
        assert_eq!(session_cookie(Some(all), "usermgmt_session"), Some("abc"));
        assert_eq!(session_cookie(Some(all), "cleared"), None);
        assert_eq!(session_cookie(Some(all), "missing"), None);
        assert_eq!(session_cookie(None, "a"), None);
    }

    #[test]
    fn the_auth_mode_header_is_checked() {
        let on = config();
        let off = Config::builder("x".repeat(40)).build().unwrap();
        assert!(!wants_cookies(&on, None).unwrap());
        assert!(!wants_cookies(&on, Some("bearer")).unwrap());
        assert!(wants_cookies(&on, Some("Cookie")).unwrap());
        assert!(wants_cookies(&off, Some("cookie")).is_err());
        assert!(wants_cookies(&on, Some("session")).is_err());
    }
}
