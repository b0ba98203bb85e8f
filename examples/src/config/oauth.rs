//! Social and enterprise sign-in: `OAUTH_PROVIDERS` (`google,github,corp`), and per provider
//! `OAUTH_<NAME>_CLIENT_ID`, `OAUTH_<NAME>_CLIENT_SECRET`, `OAUTH_<NAME>_ISSUER` (required
//! unless the name is a preset: `google`, `microsoft`, `gitlab`, `github`),
//! `OAUTH_<NAME>_SCOPES` (space- or comma-separated), `OAUTH_<NAME>_DISPLAY_NAME`,
//! `OAUTH_<NAME>_STORE_TOKENS`; GitHub's `OAUTH_GITHUB_API_URL` (and its web base in
//! `OAUTH_GITHUB_ISSUER`). Then `OAUTH_SUCCESS_URL`, `OAUTH_ERROR_URL`,
//! `OAUTH_AUTO_LINK=verified|never` and `OAUTH_ALLOWED_REDIRECT_ORIGINS`. Every bad value is a
//! one-line error naming its variable.

use super::reader::{ConfigError, Result, Vars};
use super::values::parse_http_url;
use usermgmt_core::ConfigBuilder;
use usermgmt_core::oauth::{AutoLink, OAuthConfig, ProviderConfig, ProviderKind};

fn required(vars: &Vars<'_>, name: &str) -> Result<String> {
    vars.text(name)
        .ok_or_else(|| ConfigError::new(name, format!("{name} is required for this provider")))
}

fn provider(vars: &mut Vars<'_>, name: &str) -> Result<ProviderConfig> {
    let prefix = format!("OAUTH_{}", name.to_ascii_uppercase().replace('-', "_"));
    let client_id = required(vars, &format!("{prefix}_CLIENT_ID"))?;
    let client_secret = required(vars, &format!("{prefix}_CLIENT_SECRET"))?;
    let issuer_var = format!("{prefix}_ISSUER");
    let issuer = vars
        .text(&issuer_var)
        .map(|url| parse_http_url(&issuer_var, &url))
        .transpose()?;
    let mut provider = match (
        ProviderConfig::preset(name, &client_id, &client_secret),
        issuer,
    ) {
        (Some(mut preset), issuer) => {
            match (&mut preset.kind, issuer) {
                (ProviderKind::Oidc { issuer: at }, Some(url)) => {
                    *at = url.trim_end_matches('/').to_owned();
                }
                (ProviderKind::GitHub { web_url, .. }, Some(url)) => {
                    *web_url = url.trim_end_matches('/').to_owned();
                }
                _ => {}
            }
            preset
        }
        (None, Some(issuer)) => ProviderConfig::oidc(name, issuer, client_id, client_secret),
        (None, None) => {
            return Err(ConfigError::new(
                issuer_var.clone(),
                format!(
                    "{issuer_var} is required: {name:?} is not a preset (google, microsoft, gitlab, github)"
                ),
            ));
        }
    };
    if let ProviderKind::GitHub { api_url, .. } = &mut provider.kind {
        let var = format!("{prefix}_API_URL");
        if let Some(url) = vars.text(&var) {
            *api_url = parse_http_url(&var, &url)?.trim_end_matches('/').to_owned();
        }
    }
    if let Some(scopes) = vars.text(&format!("{prefix}_SCOPES")) {
        provider.scopes = scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(display) = vars.text(&format!("{prefix}_DISPLAY_NAME")) {
        provider.display_name = display;
    }
    if let Some(store) = vars.flag(&format!("{prefix}_STORE_TOKENS"))? {
        provider.store_tokens = store;
    }
    Ok(provider)
}

pub(super) fn settings(vars: &mut Vars<'_>, builder: ConfigBuilder) -> Result<ConfigBuilder> {
    let mut config = OAuthConfig::default();
    if let Some(list) = vars.text("OAUTH_PROVIDERS") {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = name.to_ascii_lowercase();
            let provider = provider(vars, &name)?;
            config.providers.push(provider);
        }
    }
    for var in ["OAUTH_SUCCESS_URL", "OAUTH_ERROR_URL"] {
        if let Some(url) = vars.text(var) {
            let url = parse_http_url(var, &url)?;
            if var == "OAUTH_SUCCESS_URL" {
                config.success_url = Some(url);
            } else {
                config.error_url = Some(url);
            }
        }
    }
    if let Some(mode) = vars.text("OAUTH_AUTO_LINK") {
        config.auto_link = AutoLink::parse(&mode).ok_or_else(|| {
            ConfigError::new(
                "OAUTH_AUTO_LINK",
                format!("OAUTH_AUTO_LINK must be verified or never, got {mode:?}"),
            )
        })?;
    }
    if let Some(list) = vars.text("OAUTH_ALLOWED_REDIRECT_ORIGINS") {
        for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            config
                .allowed_redirect_origins
                .push(parse_http_url("OAUTH_ALLOWED_REDIRECT_ORIGINS", origin)?);
        }
    }
    if let Err(why) = config.check() {
        return Err(ConfigError::new(
            "OAUTH_PROVIDERS",
            format!("OAUTH_PROVIDERS: {why}"),
        ));
    }
    Ok(builder.oauth(config))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, ok};
    use usermgmt_core::oauth::{AutoLink, ProviderKind};

    #[test]
    fn providers_are_read_with_presets_and_issuers() {
        let config = ok(&[
            ("OAUTH_PROVIDERS", "google, github,corp"),
            ("OAUTH_GOOGLE_CLIENT_ID", "g-id"),
            ("OAUTH_GOOGLE_CLIENT_SECRET", "g-secret"),
            ("OAUTH_GITHUB_CLIENT_ID", "gh-id"),
            ("OAUTH_GITHUB_CLIENT_SECRET", "gh-secret"),
            ("OAUTH_GITHUB_API_URL", "http://127.0.0.1:9999/api/"),
            ("OAUTH_CORP_CLIENT_ID", "c-id"),
            ("OAUTH_CORP_CLIENT_SECRET", "c-secret"),
            ("OAUTH_CORP_ISSUER", "https://idp.corp.example/realms/staff"),
            ("OAUTH_CORP_SCOPES", "openid email profile groups"),
            ("OAUTH_CORP_DISPLAY_NAME", "Corp SSO"),
            ("OAUTH_SUCCESS_URL", "https://app.example.com/signed-in"),
            ("OAUTH_ERROR_URL", "https://app.example.com/sign-in-failed"),
            ("OAUTH_AUTO_LINK", "never"),
        ])
        .core
        .oauth;
        let names: Vec<_> = config.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["google", "github", "corp"]);
        assert_eq!(
            config.providers[0].kind,
            ProviderKind::Oidc {
                issuer: "https://accounts.google.com".into()
            }
        );
        assert_eq!(
            config.providers[1].kind,
            ProviderKind::GitHub {
                web_url: "https://github.com".into(),
                api_url: "http://127.0.0.1:9999/api".into()
            }
        );
        let corp = &config.providers[2];
        assert_eq!(corp.display_name, "Corp SSO");
        assert_eq!(corp.scopes, ["openid", "email", "profile", "groups"]);
        assert_eq!(config.auto_link, AutoLink::Never);
        assert_eq!(
            config.success_url.as_deref(),
            Some("https://app.example.com/signed-in")
        );
    }

    #[test]
    fn no_providers_by_default() {
        let config = ok(&[]).core.oauth;
        assert!(config.providers.is_empty());
        assert_eq!(config.auto_link, AutoLink::Verified);
    }

    #[test]
    fn bad_settings_name_their_variable() {
        err(
            &[("OAUTH_PROVIDERS", "corp"), ("OAUTH_CORP_CLIENT_ID", "x")],
            "OAUTH_CORP_CLIENT_SECRET",
            "required",
        );
        err(
            &[
                ("OAUTH_PROVIDERS", "corp"),
                ("OAUTH_CORP_CLIENT_ID", "x"),
                ("OAUTH_CORP_CLIENT_SECRET", "y"),
            ],
            "OAUTH_CORP_ISSUER",
            "preset",
        );
        err(
            &[
                ("OAUTH_PROVIDERS", "corp"),
                ("OAUTH_CORP_CLIENT_ID", "x"),
                ("OAUTH_CORP_CLIENT_SECRET", "y"),
                ("OAUTH_CORP_ISSUER", "idp.example"),
            ],
            "OAUTH_CORP_ISSUER",
            "http",
        );
        err(
            &[("OAUTH_AUTO_LINK", "always")],
            "OAUTH_AUTO_LINK",
            "verified or never",
        );
        err(
            &[("OAUTH_SUCCESS_URL", "/relative")],
            "OAUTH_SUCCESS_URL",
            "http",
        );
        err(
            &[
                ("OAUTH_PROVIDERS", "google,google"),
                ("OAUTH_GOOGLE_CLIENT_ID", "x"),
                ("OAUTH_GOOGLE_CLIENT_SECRET", "y"),
            ],
            "OAUTH_PROVIDERS",
            "twice",
        );
    }
}
