//! The social sign-in settings: which providers are offered, where the browser lands
//! afterwards, and when a provider account may be linked to an existing user by itself.
//!
//! A value of the ground floor (`Config::oauth`): it imports nothing of the capability, so
//! `config/` can hold it.

use secrecy::{ExposeSecret, SecretString};

/// When a first sign-in with a provider may be linked to an existing account of the same
/// address (`OAUTH_AUTO_LINK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoLink {
    /// Only when the provider asserts `email_verified` and the local address is verified too.
    #[default]
    Verified,
    /// Never: the callback answers `ACCOUNT_EXISTS`, and the user links after signing in.
    Never,
}

impl AutoLink {
    /// `verified` or `never`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "verified" => Some(Self::Verified),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// How a provider is spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: endpoints and keys from the issuer's discovery document.
    Oidc {
        /// The issuer (`https://accounts.google.com`); `/.well-known/openid-configuration`
        /// is read under it, and ID tokens must name it as `iss`.
        issuer: String,
    },
    /// GitHub's OAuth 2.0 (not OpenID Connect): the user is read from its REST API.
    GitHub {
        /// Where the authorize and token endpoints are (`https://github.com`).
        web_url: String,
        /// The REST API (`https://api.github.com`; `OAUTH_GITHUB_API_URL`).
        api_url: String,
    },
}

/// One sign-in provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The name in paths and settings (`google`, `corp`): lower-case letters, digits, `_`, `-`.
    pub name: String,
    /// What a sign-in button says (`Google`).
    pub display_name: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret registered at the provider.
    pub client_secret: SecretString,
    /// OpenID Connect or GitHub.
    pub kind: ProviderKind,
    /// Scopes asked for (`openid email profile` for OpenID Connect, `read:user user:email`
    /// for GitHub).
    pub scopes: Vec<String>,
    /// Keep the provider's tokens (sealed) with the identity; off by default.
    pub store_tokens: bool,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("kind", &self.kind)
            .field("scopes", &self.scopes)
            .field("store_tokens", &self.store_tokens)
            .finish()
    }
}

/// The scopes of an OpenID Connect provider unless configured.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "email", "profile"];
/// The scopes of GitHub unless configured.
pub const GITHUB_SCOPES: [&str; 2] = ["read:user", "user:email"];

impl ProviderConfig {
    /// An OpenID Connect provider at `issuer`, named `name`.
    pub fn oidc(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let name = name.into();
        Self {
            display_name: capitalised(&name),
            name,
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            kind: ProviderKind::Oidc {
                issuer: issuer.into().trim_end_matches('/').to_owned(),
            },
            scopes: OIDC_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            store_tokens: false,
        }
    }

    /// GitHub (`https://github.com`, API `https://api.github.com`).
    pub fn github(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            name: "github".to_owned(),
            display_name: "GitHub".to_owned(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            kind: ProviderKind::GitHub {
                web_url: "https://github.com".to_owned(),
                api_url: "https://api.github.com".to_owned(),
            },
            scopes: GITHUB_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            store_tokens: false,
        }
    }

    /// A named preset (`google`, `microsoft`, `gitlab`, `github`) with its issuer or URLs;
    /// `None` for any other name (which needs an issuer of its own).
    pub fn preset(
        name: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Option<Self> {
        let (issuer, display) = match name {
            "google" => ("https://accounts.google.com", "Google"),
            // The multi-tenant endpoint: personal and work accounts. A single tenant's issuer
            // (`https://login.microsoftonline.com/<tenant>/v2.0`) goes in OAUTH_<NAME>_ISSUER.
            "microsoft" => (
                "https://login.microsoftonline.com/consumers/v2.0",
                "Microsoft",
            ),
            "gitlab" => ("https://gitlab.com", "GitLab"),
            "github" => return Some(Self::github(client_id, client_secret)),
            _ => return None,
        };
        let mut provider = Self::oidc(name, issuer, client_id, client_secret);
        provider.display_name = display.to_owned();
        Some(provider)
    }

    /// The client secret, for the token request only.
    pub(crate) fn secret(&self) -> &str {
        self.client_secret.expose_secret()
    }

    fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(format!(
                "provider name {:?} must be 1-32 of a-z, 0-9, '_' and '-'",
                self.name
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(format!("{}: the client id is required", self.name));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(format!("{}: the client secret is required", self.name));
        }
        if self.display_name.trim().is_empty() {
            return Err(format!("{}: the display name is empty", self.name));
        }
        let urls: Vec<&str> = match &self.kind {
            ProviderKind::Oidc { issuer } => vec![issuer],
            ProviderKind::GitHub { web_url, api_url } => vec![web_url, api_url],
        };
        for url in urls {
            let parsed = url::Url::parse(url)
                .map_err(|e| format!("{}: {url:?} is not a URL ({e})", self.name))?;
            if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
                return Err(format!("{}: {url:?} must be an http(s) URL", self.name));
            }
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err(format!("{}: scopes must be single words", self.name));
        }
        Ok(())
    }
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The social sign-in settings of a [`crate::Config`] (`Config::oauth`). No provider: the
/// routes answer `OAUTH_PROVIDER_NOT_FOUND` and `GET /auth/oauth/providers` an empty list.
#[derive(Debug, Clone, Default)]
pub struct OAuthConfig {
    /// The providers offered, in the order `GET /auth/oauth/providers` lists them.
    pub providers: Vec<ProviderConfig>,
    /// Where the browser lands after a successful callback, with `?code=<one-time code>`
    /// (`OAUTH_SUCCESS_URL`; default `<public_url>/oauth/success`).
    pub success_url: Option<String>,
    /// Where the browser lands after a failed callback, with `?error=<CODE>`
    /// (`OAUTH_ERROR_URL`; default `<public_url>/oauth/error`).
    pub error_url: Option<String>,
    /// When a first sign-in may link to an existing account (`OAUTH_AUTO_LINK`).
    pub auto_link: AutoLink,
    /// Origins a `redirectTo` may point at besides the public URL's own
    /// (`OAUTH_ALLOWED_REDIRECT_ORIGINS`).
    pub allowed_redirect_origins: Vec<String>,
}

impl OAuthConfig {
    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Checks the settings as a whole; the reason when they cannot work.
    pub fn check(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for provider in &self.providers {
            provider.check()?;
            if !names.insert(provider.name.as_str()) {
                return Err(format!("provider {:?} is configured twice", provider.name));
            }
        }
        for (what, url) in [
            ("success_url", &self.success_url),
            ("error_url", &self.error_url),
        ] {
            if let Some(url) = url {
                origin_of(url).ok_or_else(|| format!("{what} {url:?} is not an http(s) URL"))?;
            }
        }
        for origin in &self.allowed_redirect_origins {
            origin_of(origin)
                .ok_or_else(|| format!("allowed redirect origin {origin:?} is not an origin"))?;
        }
        Ok(())
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
        return None;
    }
    Some(parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_checks() {
        let google = ProviderConfig::preset("google", "id", "secret").unwrap();
        assert_eq!(
            google.kind,
            ProviderKind::Oidc {
                issuer: "https://accounts.google.com".into()
            }
        );
        assert_eq!(google.display_name, "Google");
        assert!(ProviderConfig::preset("corp", "id", "secret").is_none());
        let github = ProviderConfig::preset("github", "id", "secret").unwrap();
        assert!(matches!(github.kind, ProviderKind::GitHub { .. }));
        let mut config = OAuthConfig {
            providers: vec![google.clone(), github],
            ..OAuthConfig::default()
        };
        assert_eq!(config.check(), Ok(()));
        config.providers.push(google);
        assert!(config.check().unwrap_err().contains("twice"));
        let bad = ProviderConfig::oidc("Corp!", "https://idp.example", "id", "s");
        assert!(bad.check().unwrap_err().contains("provider name"));
        let no_secret = ProviderConfig::oidc("corp", "https://idp.example", "id", "");
        assert!(no_secret.check().unwrap_err().contains("secret"));
        let bad_issuer = ProviderConfig::oidc("corp", "ftp://idp.example", "id", "s");
        assert!(bad_issuer.check().is_err());
    }

    #[test]
    fn debug_hides_the_client_secret() {
        let p = ProviderConfig::oidc("corp", "https://idp.example", "id", "s3cr3t-value");
        assert!(!format!("{p:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://app.example.com:8443/x?y").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("/relative"), None);
        assert_eq!(AutoLink::parse("Never"), Some(AutoLink::Never));
        assert_eq!(AutoLink::parse("always"), None);
    }
}
