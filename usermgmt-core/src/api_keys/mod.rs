//! API keys: long-lived credentials a user makes for machines. A key is
//! `umk_<prefix>_<secret>`: the prefix (12 hex characters) finds the key with one indexed
//! read, the secret carries 256 random bits, and only the SHA-256 digest of the whole text is
//! stored and compared in constant time. It is shown once, when made or rotated.
//!
//! A key stands for its owner on the routes that accept a bearer token and on the host app's
//! guards, with the permissions of its scopes that the owner holds now (evaluated per request,
//! `roles::rbac::permissions`). It never manages keys, passwords, two-factor, sessions,
//! passkeys or the account, nor signs in or out (`Error::ApiKeyNotAllowed`). The owner's
//! state is read from the store on every use, so a suspended, deactivated or deleted owner's
//! keys stop at once on every instance.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::tokens::AccessClaims;
use crate::auth::{ApiKeyGrant, AuthenticatedUser};
use crate::domain::AuditAction;
use crate::error::{Error, FieldError, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::roles::rbac::canonical_permission;
use crate::secret::{API_KEY_PREFIX, TokenDigest, random_token};
use crate::store::{Effects, NotificationType, UserRecord};
use serde_json::json;
use store::{ApiKeyRecord, Rotation};
use subtle::ConstantTimeEq as _;
use time::Duration;
use uuid::Uuid;

/// The longest name a key may have, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The longest lifetime a key may be given, in days (`expiresInDays`).
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// The longest the replaced key of a rotation may keep working, in seconds (a day).
pub const MAX_GRACE_SECONDS: i64 = 86_400;

/// How often `lastUsedAt` (and the sampled `API_KEY_USED` audit row) is written per key.
pub const LAST_USED_INTERVAL: Duration = Duration::minutes(1);

/// The most keys one user may hold.
pub const MAX_KEYS_PER_USER: usize = 50;

/// Hex characters of the lookup prefix (48 random bits: unique in practice; a collision is a
/// conflict the store refuses, never a shared key).
const PREFIX_CHARS: usize = 12;

/// Characters of the secret part (`random_token`: 256 bits, base64url).
const SECRET_CHARS: usize = 43;

/// What a new key is made of.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyInput {
    /// Its name (required, 1–64 printable characters).
    pub name: Option<String>,
    /// The permission names it may use (ours or the second seed's spelling; may be empty: the
    /// key then reaches only the owner's self-service routes).
    pub scopes: Option<Vec<String>>,
    /// Days until it expires (1–3650; absent: never).
    pub expires_in_days: Option<i64>,
    /// The organization it belongs to: the caller must hold `apikey:manage` there (a
    /// non-member is told it does not exist).
    pub org_id: Option<Uuid>,
}

/// A key's text, shown once. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// The key's text (`umk_…`), to hand to the caller once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeySecret(…)")
    }
}

/// A fresh key: its prefix, its text and the text's digest.
fn new_key() -> (String, ApiKeySecret, TokenDigest) {
    let mut bytes = [0u8; PREFIX_CHARS / 2];
    rand::fill(&mut bytes);
    let prefix = hex::encode(bytes);
    let text = format!("{API_KEY_PREFIX}{prefix}_{}", random_token());
    let digest = TokenDigest::of(&text);
    (prefix, ApiKeySecret(text), digest)
}

/// The prefix of a well-formed key text; `None` for anything else.
pub(crate) fn key_prefix(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(API_KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let well_formed = prefix.len() == PREFIX_CHARS
        && prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && secret.len() == SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some(prefix)
}

/// Constant-time equality of two digests.
fn same_digest(a: &TokenDigest, b: &TokenDigest) -> bool {
    bool::from(a.as_str().as_bytes().ct_eq(b.as_str().as_bytes()))
}

impl UserManager {
    /// The caller's keys, oldest first.
    pub async fn api_keys(&self, auth: &AuthenticatedUser) -> Result<Vec<ApiKeyRecord>> {
        self.ensure_not_api_key(auth)?;
        self.inner.store.api_keys(auth.user.id).await
    }

    /// Makes a key for the caller: the record and the key's text (shown this once). Not with
    /// a key, nor on an impersonation token. The owner is told in the app and by mail.
    #[tracing::instrument(skip_all)]
    pub async fn create_api_key(
        &self,
        auth: &AuthenticatedUser,
        input: ApiKeyInput,
        client: &ClientInfo,
    ) -> Result<(ApiKeyRecord, ApiKeySecret)> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let mut errors = Vec::new();
        let name = key_name(input.name.as_deref(), &mut errors);
        let scopes = scopes(input.scopes.unwrap_or_default(), &mut errors);
        let lifetime = match input.expires_in_days {
            None => None,
            Some(days) if (1..=MAX_EXPIRES_IN_DAYS).contains(&days) => Some(Duration::days(days)),
            Some(_) => {
                errors.push(FieldError::new(
                    "expiresInDays",
                    format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
                ));
                None
            }
        };
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        if let Some(org_id) = input.org_id {
            self.org_access(auth, org_id, "apikey:manage").await?;
        }
        let now = self.now();
        let (prefix, secret, digest) = new_key();
        let record = ApiKeyRecord {
            id: Uuid::now_v7(),
            user_id: auth.user.id,
            name,
            prefix,
            digest,
            scopes,
            expires_at: lifetime.map(|l| now + l),
            created_at: now,
            last_used_at: None,
            previous: None,
            org_id: input.org_id,
        };
        let effects = self
            .api_key_created_effects(&auth.user, &record)?
            .with_audit(self.audit(
                AuditAction::ApiKeyCreated,
                Some(auth.actor_id()),
                Some(auth.user.id),
                "api_key",
                client,
                json!({
                    "apiKeyId": record.id,
                    "name": record.name,
                    "prefix": record.prefix,
                    "scopes": record.scopes,
                    "expiresAt": record.expires_at.map(|t| t.unix_timestamp()),
                    "orgId": record.org_id,
                }),
            ));
        if !self
            .inner
            .store
            .add_api_key(record.clone(), MAX_KEYS_PER_USER, effects)
            .await?
        {
            return Err(Error::invalid(
                "body",
                format!("at most {MAX_KEYS_PER_USER} API keys per user; delete one first"),
            ));
        }
        self.wake_mail();
        Ok((record, secret))
    }

    /// Deletes one of the caller's keys: it stops working at once, on every instance.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_api_key(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let keys = self.inner.store.api_keys(auth.user.id).await?;
        let key = keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(Error::NotFound("API key"))?;
        let effects = Effects::audit(self.audit(
            AuditAction::ApiKeyRevoked,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "api_key",
            client,
            json!({"apiKeyId": id, "name": key.name, "prefix": key.prefix}),
        ));
        if !self
            .inner
            .store
            .remove_api_key(auth.user.id, id, effects)
            .await?
        {
            return Err(Error::NotFound("API key"));
        }
        Ok(())
    }

    /// Gives one of the caller's keys a new secret (shown this once). The replaced key stops at
    /// once, or after `grace_seconds` (0–86400). Of two racing rotations one wins; the other is
    /// a 409 `CONFLICT`.
    #[tracing::instrument(skip_all)]
    pub async fn rotate_api_key(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        grace_seconds: Option<i64>,
        client: &ClientInfo,
    ) -> Result<(ApiKeyRecord, ApiKeySecret)> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let grace = grace_seconds.unwrap_or(0);
        if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
            return Err(Error::invalid(
                "graceSeconds",
                format!("must be between 0 and {MAX_GRACE_SECONDS}"),
            ));
        }
        let keys = self.inner.store.api_keys(auth.user.id).await?;
        let key = keys
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(Error::NotFound("API key"))?;
        let now = self.now();
        if key.expires_at.is_some_and(|expires| expires <= now) {
            // The new key would keep the old expiry: dead on arrival.
            return Err(Error::BadRequest(
                "The API key has expired; create a new one".to_owned(),
            ));
        }
        let (prefix, secret, digest) = new_key();
        let previous_until = (grace > 0).then(|| now + Duration::seconds(grace));
        let effects = Effects::audit(self.audit(
            AuditAction::ApiKeyRotated,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "api_key",
            client,
            json!({
                "apiKeyId": id,
                "prefix": prefix,
                "previousPrefix": key.prefix,
                "graceSeconds": grace,
            }),
        ));
        let rotation = Rotation {
            expected_prefix: key.prefix.clone(),
            prefix: prefix.clone(),
            digest: digest.clone(),
            previous_until,
        };
        if !self
            .inner
            .store
            .rotate_api_key(auth.user.id, id, rotation, effects)
            .await?
        {
            // Gone meanwhile, or another rotation won.
            return Err(Error::Conflict(crate::error::ConflictKind::Other));
        }
        let previous = previous_until.map(|expires_at| store::PreviousKey {
            prefix: key.prefix.clone(),
            digest: key.digest.clone(),
            expires_at,
        });
        let record = ApiKeyRecord {
            prefix,
            digest,
            previous,
            ..key
        };
        Ok((record, secret))
    }

    /// The caller an API key stands for. Unknown, malformed, rotated-out and expired keys are
    /// all `InvalidAccessToken` (the same 401 as a bad access token: nothing tells them
    /// apart); a suspended owner is `AccountSuspended`, as with a session.
    pub async fn authenticate_api_key(&self, text: &str) -> Result<AuthenticatedUser> {
        let now = self.now();
        let prefix = key_prefix(text).ok_or(Error::InvalidAccessToken)?;
        let key = self
            .inner
            .store
            .api_key_by_prefix(prefix)
            .await?
            .ok_or(Error::InvalidAccessToken)?;
        let presented = TokenDigest::of(text);
        let current = key.prefix == prefix && same_digest(&presented, &key.digest);
        let in_grace = key.previous.as_ref().is_some_and(|p| {
            p.prefix == prefix && same_digest(&presented, &p.digest) && p.expires_at > now
        });
        if !(current || in_grace) || key.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::InvalidAccessToken);
        }
        let user = self
            .inner
            .store
            .user_by_id(key.user_id)
            .await?
            .ok_or(Error::InvalidAccessToken)?;
        if user.deleted_at.is_some() || !user.is_active {
            return Err(Error::InvalidAccessToken);
        }
        if user.is_suspended {
            return Err(Error::AccountSuspended);
        }
        if key
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_INTERVAL)
        {
            let used = Effects::audit(self.audit(
                AuditAction::ApiKeyUsed,
                Some(user.id),
                Some(user.id),
                "api_key",
                &ClientInfo::default(),
                json!({"apiKeyId": key.id, "prefix": prefix}),
            ));
            self.inner
                .store
                .touch_api_key(key.id, now, now - LAST_USED_INTERVAL, used)
                .await?;
        }
        let claims = key_claims(&user, &key);
        Ok(AuthenticatedUser {
            user,
            session_id: key.id,
            claims,
            api_key: Some(ApiKeyGrant {
                id: key.id,
                scopes: key.scopes,
                org_id: key.org_id,
            }),
        })
    }

    /// A key was made: the owner is told in the app and by mail.
    fn api_key_created_effects(&self, user: &UserRecord, key: &ApiKeyRecord) -> Result<Effects> {
        let mail = crate::mail::templates::api_key_created(
            &self.inner.config.mail,
            &user.email,
            &crate::auth::display_name(user),
            &key.name,
            &key.prefix,
        );
        Ok(Effects::none()
            .with_mail(self.outbox(crate::mail::MailKind::ApiKeyCreated, &mail)?)
            .with_notification(self.notification(
                user.id,
                NotificationType::SecurityAlert,
                "API key created",
                &format!("The API key \"{}\" was created.", key.name),
                json!({"apiKeyId": key.id, "apiKeyName": key.name, "prefix": key.prefix}),
            )))
    }
}

/// Claims standing in for an access token's on a key's caller: never signed nor sent, they
/// keep code that reads `claims` (the user id, names) working the same.
fn key_claims(user: &UserRecord, key: &ApiKeyRecord) -> AccessClaims {
    AccessClaims {
        sub: user.id.to_string(),
        sid: key.id.to_string(),
        email: user.email.clone(),
        username: user.username.clone(),
        roles: user.roles.clone(),
        iat: key.created_at.unix_timestamp(),
        exp: key.expires_at.map_or(i64::MAX, |at| at.unix_timestamp()),
        nbf: key.created_at.unix_timestamp(),
        iss: String::new(),
        aud: String::new(),
        jti: key.id.to_string(),
        act: None,
        org: None,
        org_role: None,
    }
}

/// A trimmed, non-empty name of at most [`MAX_NAME_CHARS`] printable characters.
fn key_name(name: Option<&str>, errors: &mut Vec<FieldError>) -> String {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    } else if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} printable characters"),
        ));
    }
    name.to_owned()
}

/// The scopes in our spelling, each once; an unknown name is an error of its own entry.
fn scopes(names: Vec<String>, errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match canonical_permission(name) {
            Some(p) if !scopes.iter().any(|s| s == p) => scopes.push(p.to_owned()),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("scopes[{i}]"),
                "is not a known permission",
            )),
        }
    }
    scopes.sort();
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_has_its_form_and_its_prefix_reads_back() {
        let (prefix, secret, digest) = new_key();
        assert!(secret.expose().starts_with("umk_"));
        assert_eq!(key_prefix(secret.expose()), Some(prefix.as_str()));
        assert_eq!(digest, TokenDigest::of(secret.expose()));
        assert_eq!(format!("{secret:?}"), "ApiKeySecret(…)");
        let (other, _, _) = new_key();
        assert_ne!(prefix, other);
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        let (prefix, secret, _) = new_key();
        let text = secret.expose();
        for bad in [
            "",
            "umk_",
            "umk_abc",
            &text[..text.len() - 1],
            &format!("{text}x"),
            &text.replace("umk_", "umx_"),
            &format!("umk_ABCDEF012345_{}", &text[17..]),
            &format!("umk_{prefix}_{}", "!".repeat(43)),
        ] {
            assert_eq!(key_prefix(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn scopes_read_both_spellings_once_and_report_unknown_ones() {
        let mut errors = Vec::new();
        let read = scopes(
            vec!["USER_READ".into(), "user:read".into(), "audit:read".into()],
            &mut errors,
        );
        assert_eq!(read, vec!["audit:read", "user:read"]);
        assert!(errors.is_empty());
        scopes(vec!["user:read".into(), "nope".into()], &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "scopes[1]");
    }
}
