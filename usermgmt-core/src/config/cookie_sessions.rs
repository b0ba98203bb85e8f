//! Cookie sessions for browser apps (`sessions/cookies.rs`): the cookies' names and attributes.

/// The `SameSite` attribute of the session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations (the default).
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent cross-site too (needs `secure`); CSRF protection then rests on the checks alone.
    None,
}

/// Sessions carried in cookies instead of bearer tokens, for a server-rendered app or a
/// same-site single-page app. A sign-in asked for with `X-Auth-Mode: cookie` answers its tokens
/// as three cookies instead of in the body: `<name>` (the access token, `HttpOnly`),
/// `<name>_refresh` (the refresh token, `HttpOnly`, sent to the API's paths only) and
/// `<name>_csrf` (readable by the page's script: the value unsafe requests repeat in
/// `X-CSRF-Token`). The sessions are the bearer tokens' own rows: listed, revoked and limited
/// alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSessionConfig {
    /// The access cookie's name; the refresh and CSRF cookies add `_refresh` and `_csrf`
    /// (`usermgmt_session`).
    pub name: String,
    /// The cookies' `Domain` (`None`, the default: the host that answered only).
    pub domain: Option<String>,
    /// The access and CSRF cookies' `Path` (`/`: the host app's routes see the session too).
    pub path: String,
    /// The `Secure` attribute (`true`; turn it off only for plain-HTTP development).
    pub secure: bool,
    /// The `SameSite` attribute (`Lax`).
    pub same_site: SameSite,
}

impl Default for CookieSessionConfig {
    fn default() -> Self {
        Self {
            name: "usermgmt_session".to_owned(),
            domain: None,
            path: "/".to_owned(),
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieSessionConfig {
    /// The refresh token's cookie.
    pub fn refresh_name(&self) -> String {
        format!("{}_refresh", self.name)
    }

    /// The CSRF token's cookie.
    pub fn csrf_name(&self) -> String {
        format!("{}_csrf", self.name)
    }

    /// Why these settings cannot work, if they cannot (the builder refuses them then).
    pub fn check(&self) -> Result<(), String> {
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if self.name.is_empty() || !self.name.chars().all(token_char) {
            return Err(format!(
                "name must be letters, digits and !#$%&'*+-.^_`|~, got {:?}",
                self.name
            ));
        }
        if !self.path.starts_with('/')
            || self.path.contains([';', ','])
            || self.path.contains(char::is_whitespace)
        {
            return Err(format!(
                "path must be a path such as /, got {:?}",
                self.path
            ));
        }
        if let Some(domain) = &self.domain
            && (domain.is_empty()
                || !domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            return Err(format!("domain must be a host name, got {domain:?}"));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err("SameSite=None needs secure cookies".to_owned());
        }
        Ok(())
    }
}
