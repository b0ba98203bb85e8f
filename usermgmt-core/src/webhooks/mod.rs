//! Webhooks: the standalone server (or a host app) tells other systems what happened. Every
//! committed audit row is an event; for each enabled endpoint whose patterns match its action
//! a delivery is written in the same transaction (`store/records/webhooks.rs::fan_out`), and
//! the [`WebhookWorker`] POSTs it, signed the Standard Webhooks way ([`signing`]), retrying
//! with backoff for a day. Endpoints are managed by holders of `system:manage`; a URL must
//! pass the server-side request forgery checks of [`address`] when it is set and again, after
//! DNS resolution, at every delivery.

pub mod address;
pub mod delivery;
mod memory;
pub(crate) mod routes;
pub mod signing;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

#[cfg(feature = "test-util")]
mod cases;

pub use delivery::{WebhookReport, WebhookWorker};

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::error::{Error, FieldError, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{
    DeliveryStatus, Effects, Page, WebhookDeliveryRecord, WebhookEndpointRecord, fan_out,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use store::WebhookChange;
use uuid::Uuid;

/// The permission every webhook operation needs.
pub const WEBHOOK_PERMISSION: &str = "system:manage";
/// The longest endpoint URL.
pub const MAX_URL_LENGTH: usize = 2048;
/// The most event patterns an endpoint may list.
pub const MAX_EVENT_PATTERNS: usize = 50;
/// The longest description.
pub const MAX_DESCRIPTION_LENGTH: usize = 500;
/// The type of the event `POST /webhooks/:id/test` sends.
pub const TEST_EVENT: &str = "WEBHOOK_TEST";

/// A new endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookInput {
    /// Where events are POSTed.
    pub url: String,
    /// Event patterns: an action, `PREFIX_*` or `*`.
    pub events: Vec<String>,
    /// Free text.
    pub description: Option<String>,
}

/// Whether `pattern` is `*`, an action name, or an upper-case prefix followed by `*`.
fn valid_pattern(pattern: &str) -> bool {
    let name_like = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => name_like(prefix),
        None => crate::AuditAction::ALL
            .iter()
            .any(|a| a.as_str() == pattern),
    }
}

impl UserManager {
    /// Checks an endpoint URL: its form (scheme, host) and, for a name, what it resolves to
    /// now (the delivery checks again).
    async fn check_webhook_url(&self, url: &str, errors: &mut Vec<FieldError>) {
        let config = &self.inner.config.webhooks;
        if url.len() > MAX_URL_LENGTH {
            errors.push(FieldError::new(
                "url",
                format!("must be at most {MAX_URL_LENGTH} characters"),
            ));
            return;
        }
        let target = match address::parse_target(url, config.allow_http, config.allow_private) {
            Ok(target) => target,
            Err(refused) => {
                errors.push(FieldError::new("url", refused.0));
                return;
            }
        };
        if let Err(refused) = address::resolve_target(&target, config.allow_private).await {
            errors.push(FieldError::new("url", refused.0));
        }
    }

    fn check_webhook_events(events: &[String], errors: &mut Vec<FieldError>) {
        if events.is_empty() || events.len() > MAX_EVENT_PATTERNS {
            errors.push(FieldError::new(
                "events",
                format!("must list from 1 to {MAX_EVENT_PATTERNS} event types"),
            ));
        }
        for (i, pattern) in events.iter().enumerate() {
            if !valid_pattern(pattern) {
                errors.push(FieldError::new(
                    format!("events[{i}]"),
                    "must be an event type (USER_REGISTERED), a prefix with * (USER_*) or *",
                ));
            }
        }
    }

    fn check_webhook_description(description: Option<&str>, errors: &mut Vec<FieldError>) {
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LENGTH) {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_LENGTH} characters"),
            ));
        }
    }

    async fn authorize_webhooks(&self, auth: &AuthenticatedUser) -> Result<()> {
        self.authorize(auth, WEBHOOK_PERMISSION).await?;
        self.ensure_not_impersonated(auth)
    }

    fn webhook_audit(
        &self,
        action: AuditAction,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> Effects {
        let mut audit = self.audit(action, Some(auth.user.id), None, "webhook", client, details);
        audit.resource_id = Some(id.to_string());
        Effects::audit(audit)
    }

    fn seal_webhook_secret(&self, secret: &SecretString) -> Vec<u8> {
        self.inner
            .webhook_sealing
            .seal(secret.expose_secret().as_bytes())
    }

    /// Adds an endpoint (needs `system:manage`); returns it with its signing secret, shown this once.
    pub async fn create_webhook(
        &self,
        auth: &AuthenticatedUser,
        input: WebhookInput,
        client: &ClientInfo,
    ) -> Result<(WebhookEndpointRecord, SecretString)> {
        self.authorize_webhooks(auth).await?;
        let url = input.url.trim().to_owned();
        let description = input
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        let mut errors = Vec::new();
        self.check_webhook_url(&url, &mut errors).await;
        Self::check_webhook_events(&input.events, &mut errors);
        Self::check_webhook_description(description.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let secret = signing::generate_secret();
        let now = self.now();
        let endpoint = WebhookEndpointRecord {
            id: Uuid::now_v7(),
            url,
            events: input.events,
            description,
            enabled: true,
            sealed_secret: self.seal_webhook_secret(&secret),
            sealed_previous_secret: None,
            previous_secret_until: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        let effects = self.webhook_audit(
            AuditAction::WebhookCreated,
            auth,
            endpoint.id,
            client,
            json!({"webhookId": endpoint.id, "url": address::for_audit(&endpoint.url), "events": endpoint.events}),
        );
        self.inner
            .store
            .create_webhook(endpoint.clone(), effects)
            .await?;
        self.wake_webhooks();
        Ok((endpoint, secret))
    }

    /// Every endpoint (needs `system:manage`).
    pub async fn list_webhooks(
        &self,
        auth: &AuthenticatedUser,
    ) -> Result<Vec<WebhookEndpointRecord>> {
        self.authorize_webhooks(auth).await?;
        self.inner.store.webhooks().await
    }

    /// One endpoint (needs `system:manage`).
    pub async fn webhook(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
    ) -> Result<WebhookEndpointRecord> {
        self.authorize_webhooks(auth).await?;
        self.inner
            .store
            .webhook(id)
            .await?
            .ok_or(Error::NotFound("webhook"))
    }

    /// Changes an endpoint (needs `system:manage`): URL, events, description, enabled.
    pub async fn update_webhook(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        mut change: WebhookChange,
        client: &ClientInfo,
    ) -> Result<WebhookEndpointRecord> {
        self.authorize_webhooks(auth).await?;
        change.url = change.url.map(|u| u.trim().to_owned());
        change.description = change
            .description
            .map(|d| d.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()));
        let mut errors = Vec::new();
        if let Some(url) = &change.url {
            self.check_webhook_url(url, &mut errors).await;
        }
        if let Some(events) = &change.events {
            Self::check_webhook_events(events, &mut errors);
        }
        if let Some(description) = &change.description {
            Self::check_webhook_description(description.as_deref(), &mut errors);
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let mut details = json!({"webhookId": id});
        if let Some(url) = &change.url {
            details["url"] = json!(address::for_audit(url));
        }
        if let Some(events) = &change.events {
            details["events"] = json!(events);
        }
        if let Some(enabled) = change.enabled {
            details["enabled"] = json!(enabled);
        }
        if change.description.is_some() {
            details["description"] = json!(true);
        }
        let effects = self.webhook_audit(AuditAction::WebhookUpdated, auth, id, client, details);
        let updated = self
            .inner
            .store
            .update_webhook(id, change, self.now(), effects)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        self.wake_webhooks();
        Ok(updated)
    }

    /// Removes an endpoint and its deliveries (needs `system:manage`).
    pub async fn delete_webhook(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        let endpoint = self.webhook(auth, id).await?;
        let effects = self.webhook_audit(
            AuditAction::WebhookDeleted,
            auth,
            id,
            client,
            json!({"webhookId": id, "url": address::for_audit(&endpoint.url)}),
        );
        if self.inner.store.delete_webhook(id, effects).await? {
            Ok(())
        } else {
            Err(Error::NotFound("webhook"))
        }
    }

    /// Replaces an endpoint's signing secret (needs `system:manage`); the previous one keeps signing
    /// for `WebhookConfig::rotation_overlap`. Returns the new secret, shown this once.
    pub async fn rotate_webhook_secret(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<(WebhookEndpointRecord, SecretString)> {
        self.authorize_webhooks(auth).await?;
        let secret = signing::generate_secret();
        let now = self.now();
        let until = now + self.inner.config.webhooks.rotation_overlap;
        let effects = self.webhook_audit(
            AuditAction::WebhookSecretRotated,
            auth,
            id,
            client,
            json!({
                "webhookId": id,
                "previousValidUntil": until
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            }),
        );
        let endpoint = self
            .inner
            .store
            .rotate_webhook_secret(
                id,
                None,
                self.seal_webhook_secret(&secret),
                until,
                now,
                effects,
            )
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        Ok((endpoint, secret))
    }

    /// An endpoint's deliveries, newest first (needs `system:manage`).
    pub async fn webhook_deliveries(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> Result<(Vec<WebhookDeliveryRecord>, u64)> {
        self.webhook(auth, id).await?;
        self.inner.store.webhook_deliveries(id, status, page).await
    }

    /// Queues a delivered or failed delivery again, due now (needs `system:manage`).
    pub async fn retry_webhook_delivery(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        delivery_id: Uuid,
    ) -> Result<WebhookDeliveryRecord> {
        self.authorize_webhooks(auth).await?;
        let delivery = self
            .inner
            .store
            .retry_webhook_delivery(id, delivery_id, self.now())
            .await?
            .ok_or(Error::NotFound("delivery"))?;
        self.wake_webhooks();
        Ok(delivery)
    }

    /// Queues a `WEBHOOK_TEST` event for this endpoint alone (needs `system:manage`) (whatever its
    /// patterns; delivered only while it is enabled).
    pub async fn test_webhook(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<WebhookDeliveryRecord> {
        let mut endpoint = self.webhook(auth, id).await?;
        let mut event = self.audit(
            AuditAction::WebhookUpdated,
            Some(auth.user.id),
            None,
            "webhook",
            client,
            json!({"webhookId": id, "test": true}),
        );
        event.action = TEST_EVENT.to_owned();
        event.resource_id = Some(id.to_string());
        endpoint.events = vec![TEST_EVENT.to_owned()];
        endpoint.enabled = true;
        let delivery = fan_out(
            std::slice::from_ref(&event),
            std::slice::from_ref(&endpoint),
        )
        .pop()
        .ok_or_else(|| Error::internal("test event not fanned out"))?;
        self.inner
            .store
            .enqueue_webhook_delivery(delivery.clone())
            .await?;
        self.wake_webhooks();
        Ok(delivery)
    }

    /// Makes sure the endpoint an operator configured (the standalone server's `WEBHOOK_URL`,
    /// `WEBHOOK_SECRET`, `WEBHOOK_EVENTS`) exists with these events and this secret, without
    /// an administrator: its id is derived from the URL, so any number of instances starting
    /// together configure one endpoint. A changed secret is rotated in (the previous one signs
    /// for the overlap). Returns the endpoint.
    pub async fn configure_webhook(
        &self,
        url: &str,
        secret: &SecretString,
        events: Vec<String>,
    ) -> Result<WebhookEndpointRecord> {
        let mut errors = Vec::new();
        let url = url.trim().to_owned();
        self.check_webhook_url(&url, &mut errors).await;
        Self::check_webhook_events(&events, &mut errors);
        if signing::secret_key(secret.expose_secret()).is_none() {
            errors.push(FieldError::new(
                "secret",
                "must be whsec_ followed by base64",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let id = configured_webhook_id(&url);
        let client = ClientInfo::default();
        let audit = |action, details| {
            let mut audit = self.audit(action, None, None, "webhook", &client, details);
            audit.resource_id = Some(id.to_string());
            Effects::audit(audit)
        };
        if self.inner.store.webhook(id).await?.is_none() {
            let now = self.now();
            let endpoint = WebhookEndpointRecord {
                id,
                url: url.clone(),
                events: events.clone(),
                description: Some("Configured by the server's environment".to_owned()),
                enabled: true,
                sealed_secret: self.seal_webhook_secret(secret),
                sealed_previous_secret: None,
                previous_secret_until: None,
                failing_since: None,
                created_at: now,
                updated_at: now,
            };
            let effects = audit(
                AuditAction::WebhookCreated,
                json!({"webhookId": id, "url": address::for_audit(&url), "events": events}),
            );
            match self.inner.store.create_webhook(endpoint, effects).await {
                // Another instance starting at the same time created it first.
                Ok(()) | Err(Error::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
        let current = self
            .inner
            .store
            .webhook(id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        if current.events != events {
            let change = WebhookChange {
                events: Some(events.clone()),
                ..WebhookChange::default()
            };
            let effects = audit(
                AuditAction::WebhookUpdated,
                json!({"webhookId": id, "events": events}),
            );
            self.inner
                .store
                .update_webhook(id, change, self.now(), effects)
                .await?;
        }
        let same_secret = self
            .inner
            .webhook_sealing
            .open(&current.sealed_secret)
            .is_some_and(|plain| plain == secret.expose_secret().as_bytes());
        if !same_secret {
            let now = self.now();
            let until = now + self.inner.config.webhooks.rotation_overlap;
            let effects = audit(AuditAction::WebhookSecretRotated, json!({"webhookId": id}));
            // Only over the secret read above: an instance starting at the same time may have
            // rotated it in already, and a second rotation would end the old one's overlap.
            self.inner
                .store
                .rotate_webhook_secret(
                    id,
                    Some(&current.sealed_secret),
                    self.seal_webhook_secret(secret),
                    until,
                    now,
                    effects,
                )
                .await?;
        }
        self.inner
            .store
            .webhook(id)
            .await?
            .ok_or(Error::NotFound("webhook"))
    }

    /// Tells this instance's webhook worker that a delivery is waiting.
    pub(crate) fn wake_webhooks(&self) {
        self.inner.webhook_wake.notify_one();
    }
}

/// The id of the endpoint configured for `url` by the environment: the first 16 bytes of a
/// SHA-256 of the URL, as a UUID (version and variant bits set as v8, "custom").
fn configured_webhook_id(url: &str) -> Uuid {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("usermgmt configured webhook\0{url}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_actions_prefixes_or_everything() {
        assert!(valid_pattern("*"));
        assert!(valid_pattern("USER_*"));
        assert!(valid_pattern("USER_REGISTERED"));
        assert!(valid_pattern("ACCOUNT_LOCKED"));
        assert!(!valid_pattern("NOT_AN_EVENT"));
        assert!(!valid_pattern("user_*"));
        assert!(!valid_pattern("US*ER"));
        assert!(!valid_pattern(""));
    }
}
