//! What handlers share: the caller, path ids, required fields, pages. Every capability's
//! handlers (`<capability>/routes.rs`) read their request through these.

use super::{Api, RequestContext};
use crate::auth::AuthenticatedUser;
use crate::error::{Error, FieldError, Result};
use crate::secret::{Password, SecretText};
use uuid::Uuid;

/// The caller, from the bearer token.
pub(crate) async fn caller(api: &Api, ctx: &RequestContext) -> Result<AuthenticatedUser> {
    let token = ctx.bearer().ok_or(Error::Unauthenticated)?;
    api.manager().authenticate(token).await
}

/// A required text member: a blank one joins `errors` (and reads as empty).
pub(crate) fn required(field: &str, value: Option<String>, errors: &mut Vec<FieldError>) -> String {
    match value {
        Some(v) if !v.trim().is_empty() => v,
        _ => {
            errors.push(FieldError::new(field, "is required"));
            String::new()
        }
    }
}

/// A password member; absent reads as empty (which the service refuses).
pub(crate) fn password(value: Option<SecretText>) -> Password {
    Password::new(value.map(SecretText::into_inner).unwrap_or_default())
}

/// A secret member's text; absent reads as empty.
pub(crate) fn secret(value: Option<SecretText>) -> String {
    value.map(SecretText::into_inner).unwrap_or_default()
}

/// A UUID path parameter; a malformed one is simply not found.
pub(crate) fn path_id(ctx: &RequestContext, name: &str, what: &'static str) -> Result<Uuid> {
    ctx.param(name)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound(what))
}

/// The page of a query that reports every bad parameter at once: a bad `page`/`limit` joins
/// `errors` (the returned page is then a placeholder, never used).
pub(crate) fn page_or_report(
    page: Result<crate::store::Page>,
    errors: &mut Vec<FieldError>,
) -> Result<crate::store::Page> {
    match page {
        Ok(page) => Ok(page),
        Err(Error::Validation(mut more)) => {
            errors.append(&mut more);
            Ok(crate::store::Page { page: 1, limit: 20 })
        }
        Err(err) => Err(err),
    }
}

/// Distinguishes "absent" (`None`) from "null" (`Some(None)`) in a request body.
pub(crate) fn double_option<'de, D, T>(de: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}
