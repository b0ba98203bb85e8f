//! Profiles and preferences of the signed-in user, and public profiles.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::domain::clean_name;
use crate::error::{Error, FieldError, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{Effects, ProfileRecord, ProfileUpdate, UserRecord};
use serde_json::json;
use time::Date;
use time::macros::format_description;

/// A profile change as the client sent it: `None` = not sent, `Some(None)` = clear.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    /// Given name.
    pub first_name: Option<Option<String>>,
    /// Family name.
    pub last_name: Option<Option<String>>,
    /// Up to 500 characters.
    pub bio: Option<Option<String>>,
    /// E.164, e.g. `+14155550123`.
    pub phone: Option<Option<String>>,
    /// `YYYY-MM-DD`, in the past.
    pub date_of_birth: Option<Option<String>>,
    /// Street address.
    pub address: Option<Option<String>>,
    /// City.
    pub city: Option<Option<String>>,
    /// Country.
    pub country: Option<Option<String>>,
    /// IANA time zone name, e.g. `Europe/Paris`.
    pub timezone: Option<Option<String>>,
    /// Two-letter ISO 639-1 code.
    pub language: Option<Option<String>>,
}

fn text(
    field: &str,
    value: Option<Option<String>>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    value.map(|v| {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())?;
        if v.chars().count() > max {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
        if v.chars().any(|c| c.is_control() && c != '\n') {
            errors.push(FieldError::new(
                field,
                "must not contain control characters",
            ));
        }
        Some(v)
    })
}

fn checked(
    field: &str,
    value: Option<Option<String>>,
    max: usize,
    errors: &mut Vec<FieldError>,
    rule: &str,
    ok: impl Fn(&str) -> bool,
) -> Option<Option<String>> {
    let before = errors.len();
    let value = text(field, value, max, errors);
    if let (Some(Some(v)), true) = (&value, errors.len() == before)
        && !ok(v)
    {
        errors.push(FieldError::new(field, rule));
    }
    value
}

fn is_e164(v: &str) -> bool {
    let digits = v.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_timezone(v: &str) -> bool {
    v == "UTC"
        || (v.contains('/')
            && v.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
            }))
}

impl ProfileInput {
    /// Validates every field; reports one entry per broken rule.
    pub fn validate(self, today: Date) -> Result<ProfileUpdate> {
        let mut errors = Vec::new();
        let name = |field: &str, v: Option<Option<String>>, errors: &mut Vec<FieldError>| {
            v.map(|inner| clean_name(field, inner.as_deref(), errors))
        };
        let first_name = name("firstName", self.first_name, &mut errors);
        let last_name = name("lastName", self.last_name, &mut errors);
        let bio = text("bio", self.bio, 500, &mut errors);
        let phone = checked(
            "phone",
            self.phone,
            16,
            &mut errors,
            "must be an E.164 number such as +14155550123",
            is_e164,
        );
        let address = text("address", self.address, 200, &mut errors);
        let city = text("city", self.city, 100, &mut errors);
        let country = text("country", self.country, 100, &mut errors);
        let timezone = checked(
            "timezone",
            self.timezone,
            64,
            &mut errors,
            "must be an IANA time zone such as Europe/Paris",
            is_timezone,
        );
        let language = checked(
            "language",
            self.language,
            2,
            &mut errors,
            "must be a two-letter ISO 639-1 code",
            |v| v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic()),
        )
        .map(|v| v.map(|l| l.to_ascii_lowercase()));
        let date_of_birth = self.date_of_birth.map(|v| {
            let raw = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())?;
            match Date::parse(&raw, format_description!("[year]-[month]-[day]")) {
                Ok(d) if d < today && d.year() >= 1900 => Some(d),
                Ok(_) => {
                    errors.push(FieldError::new(
                        "dateOfBirth",
                        "must be a past date after 1900",
                    ));
                    None
                }
                Err(_) => {
                    errors.push(FieldError::new(
                        "dateOfBirth",
                        "must be a date formatted YYYY-MM-DD",
                    ));
                    None
                }
            }
        });
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(ProfileUpdate {
            first_name,
            last_name,
            bio,
            phone,
            date_of_birth,
            address,
            city,
            country,
            timezone,
            language,
        })
    }

    /// For a full replacement (PUT): every field not sent is cleared.
    pub fn as_replacement(self) -> Self {
        let all = |v: Option<Option<String>>| Some(v.flatten());
        Self {
            first_name: all(self.first_name),
            last_name: all(self.last_name),
            bio: all(self.bio),
            phone: all(self.phone),
            date_of_birth: all(self.date_of_birth),
            address: all(self.address),
            city: all(self.city),
            country: all(self.country),
            timezone: all(self.timezone),
            language: all(self.language),
        }
    }
}

/// Whether a JSON value holds U+0000 in a string or an object key, at any depth.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map_holds_nul(map),
        _ => false,
    }
}

/// Whether an object holds U+0000 in a key or, at any depth, in a value.
fn map_holds_nul(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    map.iter()
        .any(|(key, value)| key.contains('\0') || holds_nul(value))
}

impl UserManager {
    /// The caller's user and profile.
    pub async fn profile(&self, auth: &AuthenticatedUser) -> Result<(UserRecord, ProfileRecord)> {
        let profile = self
            .inner
            .store
            .profile(auth.user.id)
            .await?
            .unwrap_or_default();
        Ok((auth.user.clone(), profile))
    }

    /// Updates the caller's profile.
    pub async fn update_profile(
        &self,
        auth: &AuthenticatedUser,
        input: ProfileInput,
        client: &ClientInfo,
    ) -> Result<(UserRecord, ProfileRecord)> {
        let update = input.validate(self.now().date())?;
        let changed: Vec<&str> = [
            ("firstName", update.first_name.is_some()),
            ("lastName", update.last_name.is_some()),
            ("bio", update.bio.is_some()),
            ("phone", update.phone.is_some()),
            ("dateOfBirth", update.date_of_birth.is_some()),
            ("address", update.address.is_some()),
            ("city", update.city.is_some()),
            ("country", update.country.is_some()),
            ("timezone", update.timezone.is_some()),
            ("language", update.language.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        let audit = self.audit(
            AuditAction::ProfileUpdated,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "profile",
            client,
            json!({"fields": changed}),
        );
        self.inner
            .store
            .update_profile(auth.user.id, update, self.now(), Effects::audit(audit))
            .await
    }

    /// Shallow-merges the given object into the caller's preferences.
    pub async fn update_preferences(
        &self,
        auth: &AuthenticatedUser,
        patch: serde_json::Value,
        client: &ClientInfo,
    ) -> Result<serde_json::Value> {
        let serde_json::Value::Object(patch) = patch else {
            return Err(Error::invalid("preferences", "must be a JSON object"));
        };
        // PostgreSQL's jsonb (like its text) cannot hold U+0000; refused here on every store,
        // so a preference that one store keeps is never one another refuses with a 500.
        if map_holds_nul(&patch) {
            return Err(Error::invalid(
                "preferences",
                "must not contain the NUL character (U+0000)",
            ));
        }
        let keys: Vec<&String> = patch.keys().collect();
        let audit = self.audit(
            AuditAction::PreferencesUpdated,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "profile",
            client,
            json!({"keys": keys}),
        );
        self.inner
            .store
            .merge_preferences(
                auth.user.id,
                patch,
                self.inner.config.max_preferences_bytes,
                self.now(),
                Effects::audit(audit),
            )
            .await
    }

    /// A user's public profile; deleted, deactivated and suspended users are not found.
    pub async fn public_profile(&self, username: &str) -> Result<UserRecord> {
        let username =
            crate::domain::Username::parse(username).map_err(|_| Error::NotFound("user"))?;
        match self.inner.store.user_by_username(username.as_str()).await? {
            Some(u) if u.deleted_at.is_none() && u.is_active && !u.is_suspended => Ok(u),
            _ => Err(Error::NotFound("user")),
        }
    }
}
