//! Talking to the providers: OpenID Connect through `openidconnect` (discovery, authorization
//! URL with PKCE and nonce, code exchange, ID token checks against the provider's JWKS,
//! userinfo) and GitHub through `oauth2` and its REST API. The HTTP client is reqwest
//! (rustls, no redirects followed, 10 s).

use super::config::{ProviderConfig, ProviderKind};
use crate::error::{Error, OAuthFailure, Result};
use crate::store::Timestamp;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use time::Duration;

/// How long a provider's discovery document and keys are reused before they are read again.
/// An ID token signed by a key not among them makes them be read again at once (rotation).
const DISCOVERY_TTL: Duration = Duration::minutes(10);

/// The largest answer read from a provider.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// What the callback needs back to finish: the PKCE verifier and the nonce (sealed in the
/// store while the browser is away).
#[derive(Serialize, Deserialize)]
pub(crate) struct AttemptSecrets {
    pub(crate) pkce_verifier: String,
    pub(crate) nonce: String,
}

/// A started authorization: where to send the browser, and what to keep.
pub(crate) struct Started {
    pub(crate) url: String,
    pub(crate) secrets: AttemptSecrets,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProviderProfile {
    pub(crate) subject: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) preferred_username: Option<String>,
    pub(crate) given_name: Option<String>,
    pub(crate) family_name: Option<String>,
    /// The provider's tokens as JSON (kept, sealed, only when the provider's `store_tokens`).
    pub(crate) tokens: Option<serde_json::Value>,
}

/// A failure talking to a provider, for openidconnect's client trait and the log.
#[derive(Debug)]
pub(crate) struct HttpFailure(String);

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpFailure {}

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        // A fresh connection per request: a pooled one the provider is closing at that moment
        // (its keep-alive ran out) fails the request, and a sign-in is a few requests a
        // minute at most.
        .pool_max_idle_per_host(0)
        .user_agent("usermgmt")
        .build()
        .unwrap_or_default()
});

/// Discovery documents (with their keys) by issuer, and when they were read. Process-wide:
/// one issuer's document is the same for every manager.
static DISCOVERED: LazyLock<Mutex<HashMap<String, (CoreProviderMetadata, Timestamp)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Sends one request of openidconnect/oauth2 through reqwest.
async fn send(
    request: openidconnect::HttpRequest,
) -> std::result::Result<openidconnect::HttpResponse, HttpFailure> {
    let request =
        reqwest::Request::try_from(request).map_err(|e| HttpFailure(format!("request: {e}")))?;
    let response = HTTP
        .execute(request)
        .await
        .map_err(|e| HttpFailure(format!("{e}")))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_limited(response).await?;
    let mut answer = oauth2::http::Response::new(body);
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

async fn read_limited(
    mut response: reqwest::Response,
) -> std::result::Result<Vec<u8>, HttpFailure> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpFailure(format!("{e}")))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpFailure("answer too large".to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The provider could not be used: logged with its cause, answered with the one code.
fn provider_error(step: &str, cause: impl std::fmt::Display) -> Error {
    tracing::warn!(step, error = %cause, "OAuth provider failed");
    Error::OAuth(OAuthFailure::ProviderError)
}

fn token_refused(cause: impl std::fmt::Display) -> Error {
    tracing::info!(error = %cause, "ID token refused");
    Error::OAuth(OAuthFailure::InvalidIdToken)
}

fn chrono_of(at: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond())
        .unwrap_or(chrono::DateTime::UNIX_EPOCH)
}

/// The issuer's discovery document and keys: the cached one unless `fresh` or stale.
async fn metadata(issuer: &str, now: Timestamp, fresh: bool) -> Result<CoreProviderMetadata> {
    if !fresh {
        let cached = DISCOVERED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(issuer)
            .filter(|(_, at)| now - *at < DISCOVERY_TTL && *at <= now)
            .map(|(m, _)| m.clone());
        if let Some(found) = cached {
            return Ok(found);
        }
    }
    let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| provider_error("issuer", e))?;
    // Checks that the document names this issuer, and reads the JWKS it points at.
    let found = CoreProviderMetadata::discover_async(url, &send)
        .await
        .map_err(|e| provider_error("discovery", e))?;
    DISCOVERED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(issuer.to_owned(), (found.clone(), now));
    Ok(found)
}

/// Starts an authorization with `provider`: the URL to send the browser to (code flow, PKCE
/// S256, `state`, and for OpenID Connect a `nonce`), and the secrets to keep.
pub(crate) async fn start(
    provider: &ProviderConfig,
    redirect_uri: &str,
    state: &str,
    now: Timestamp,
) -> Result<Started> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = crate::secret::random_token();
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(Error::internal)?;
    let state_value = state.to_owned();
    let url = match &provider.kind {
        ProviderKind::Oidc { issuer } => {
            let client = CoreClient::from_provider_metadata(
                metadata(issuer, now, false).await?,
                ClientId::new(provider.client_id.clone()),
                Some(ClientSecret::new(provider.secret().to_owned())),
            )
            .set_redirect_uri(redirect);
            let nonce_value = nonce.clone();
            let (url, _, _) = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    move || CsrfToken::new(state_value),
                    move || Nonce::new(nonce_value),
                )
                // openidconnect asks for `openid` itself.
                .add_scopes(
                    provider
                        .scopes
                        .iter()
                        .filter(|s| *s != "openid")
                        .map(|s| Scope::new(s.clone())),
                )
                .set_pkce_challenge(challenge)
                .url();
            url
        }
        ProviderKind::GitHub { .. } => {
            let (url, _) = github_client(provider, redirect)?
                .authorize_url(move || CsrfToken::new(state_value))
                .add_scopes(provider.scopes.iter().map(|s| Scope::new(s.clone())))
                .set_pkce_challenge(challenge)
                .url();
            url
        }
    };
    Ok(Started {
        url: url.to_string(),
        secrets: AttemptSecrets {
            pkce_verifier: verifier.secret().clone(),
            nonce,
        },
    })
}

/// Exchanges the callback's `code` and reads who signed in. For OpenID Connect the ID token is
/// checked (signature by the provider's JWKS, read again once when no published key verifies
/// it; `iss`, `aud`, `azp`, `exp` at `now`, `nonce`) and the userinfo answer, for the same
/// subject, fills what the ID token lacks.
pub(crate) async fn finish(
    provider: &ProviderConfig,
    redirect_uri: &str,
    code: &str,
    secrets: &AttemptSecrets,
    now: Timestamp,
) -> Result<ProviderProfile> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(Error::internal)?;
    match &provider.kind {
        ProviderKind::Oidc { issuer } => {
            finish_oidc(provider, issuer, redirect, code, secrets, now).await
        }
        ProviderKind::GitHub { api_url, .. } => {
            let token = github_client(provider, redirect)?
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()))
                .request_async(&send)
                .await
                .map_err(|e| provider_error("code exchange", e))?;
            github_profile(provider, api_url, &token).await
        }
    }
}

async fn finish_oidc(
    provider: &ProviderConfig,
    issuer: &str,
    redirect: RedirectUrl,
    code: &str,
    secrets: &AttemptSecrets,
    now: Timestamp,
) -> Result<ProviderProfile> {
    let client_of = |metadata: CoreProviderMetadata| {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.secret().to_owned())),
        )
        .set_redirect_uri(redirect.clone())
    };
    let client = client_of(metadata(issuer, now, false).await?);
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| provider_error("token endpoint", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()))
        .request_async(&send)
        .await
        .map_err(|e| provider_error("code exchange", e))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| token_refused("no ID token"))?;
    let nonce = Nonce::new(secrets.nonce.clone());
    let at = chrono_of(now);
    let verified = {
        let verifier = client.id_token_verifier().set_time_fn(move || at);
        id_token.claims(&verifier, &nonce).cloned()
    };
    let (client, claims) = match verified {
        Ok(claims) => (client, claims),
        // No published key verifies it: the provider may have rotated its keys since they
        // were read. Read them again, once.
        Err(ClaimsVerificationError::SignatureVerification(first)) => {
            tracing::info!(error = %first, "ID token signature: reading the provider's keys again");
            let client = client_of(metadata(issuer, now, true).await?);
            let claims = {
                let verifier = client.id_token_verifier().set_time_fn(move || at);
                id_token
                    .claims(&verifier, &nonce)
                    .cloned()
                    .map_err(token_refused)?
            };
            (client, claims)
        }
        Err(other) => return Err(token_refused(other)),
    };
    let mut profile = ProviderProfile {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
        preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
        given_name: claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        family_name: claims
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        tokens: None,
    };
    if profile.email.is_none() || profile.preferred_username.is_none() {
        // Many providers (oidc-provider among them) answer these from userinfo only. The
        // answer must be for the ID token's subject.
        if let Ok(request) =
            client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
        {
            let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> =
                request.request_async(&send).await.map_err(|e| match e {
                    openidconnect::UserInfoError::ClaimsVerification(cause) => token_refused(cause),
                    other => provider_error("userinfo", other),
                })?;
            if profile.email.is_none() {
                profile.email = info.email().map(|e| e.as_str().to_owned());
                profile.email_verified = info.email_verified().unwrap_or(false);
            }
            if profile.preferred_username.is_none() {
                profile.preferred_username =
                    info.preferred_username().map(|u| u.as_str().to_owned());
            }
            if profile.given_name.is_none() {
                profile.given_name = info
                    .given_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned());
            }
            if profile.family_name.is_none() {
                profile.family_name = info
                    .family_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned());
            }
        }
    }
    if provider.store_tokens {
        profile.tokens = serde_json::to_value(&token).ok();
    }
    Ok(profile)
}

type GitHubClient = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn github_client(provider: &ProviderConfig, redirect: RedirectUrl) -> Result<GitHubClient> {
    let ProviderKind::GitHub { web_url, .. } = &provider.kind else {
        return Err(Error::internal("not a GitHub provider"));
    };
    let web = web_url.trim_end_matches('/');
    Ok(
        oauth2::basic::BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_client_secret(ClientSecret::new(provider.secret().to_owned()))
            .set_auth_uri(
                oauth2::AuthUrl::new(format!("{web}/login/oauth/authorize"))
                    .map_err(Error::internal)?,
            )
            .set_token_uri(
                oauth2::TokenUrl::new(format!("{web}/login/oauth/access_token"))
                    .map_err(Error::internal)?,
            )
            .set_redirect_uri(redirect),
    )
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

async fn github_get<T: serde::de::DeserializeOwned>(
    api_url: &str,
    path: &str,
    access_token: &str,
) -> Result<T> {
    let response = HTTP
        .get(format!("{}{path}", api_url.trim_end_matches('/')))
        .bearer_auth(access_token)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .map_err(|e| provider_error("github api", e))?;
    if !response.status().is_success() {
        return Err(provider_error(
            "github api",
            format!("{path} answered {}", response.status()),
        ));
    }
    let body = read_limited(response)
        .await
        .map_err(|e| provider_error("github api", e))?;
    serde_json::from_slice(&body).map_err(|e| provider_error("github api", e))
}

async fn github_profile(
    provider: &ProviderConfig,
    api_url: &str,
    token: &oauth2::basic::BasicTokenResponse,
) -> Result<ProviderProfile> {
    let access = token.access_token().secret();
    let user: GitHubUser = github_get(api_url, "/user", access).await?;
    let emails: Vec<GitHubEmail> = github_get(api_url, "/user/emails", access).await?;
    let primary = emails
        .iter()
        .find(|e| e.primary && e.verified)
        .or_else(|| emails.iter().find(|e| e.primary));
    let (given_name, family_name) = match user.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => match name.rsplit_once(' ') {
            Some((given, family)) => (Some(given.to_owned()), Some(family.to_owned())),
            None => (Some(name.to_owned()), None),
        },
        _ => (None, None),
    };
    Ok(ProviderProfile {
        subject: user.id.to_string(),
        email: primary.map(|e| e.email.clone()),
        email_verified: primary.is_some_and(|e| e.verified),
        preferred_username: Some(user.login),
        given_name,
        family_name,
        tokens: provider
            .store_tokens
            .then(|| serde_json::to_value(token).ok())
            .flatten(),
    })
}
