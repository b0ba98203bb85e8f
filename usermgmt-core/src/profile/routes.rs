//! The profile routes: the caller's user and profile, replacing or patching it, preferences.
//! Their rows, handlers, request bodies and wire shapes (the public profile's too; its row is in
//! `admin/routes.rs`, whose user detail shares its path).

use super::ProfileInput;
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::rules;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::{caller, double_option};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::routes::UserDto;
use crate::error::{Error, Result};
use crate::store::{ProfileRecord, UserRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::Date;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/users/profile",
        "GetProfile",
        "The caller's user and profile",
        handler!(get_profile),
        |_| Docs::data(user_with_profile()),
    )
    .bearer(),
    Route::new(
        "PUT",
        "/api/v1/users/profile",
        "ReplaceProfile",
        "Replace the caller's profile",
        handler!(replace_profile),
        profile_update_docs,
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/users/profile",
        "PatchProfile",
        "Update fields of the caller's profile",
        handler!(patch_profile),
        profile_update_docs,
    )
    .bearer(),
    Route::new(
        "PUT",
        "/api/v1/users/preferences",
        "UpdatePreferences",
        "Shallow-merge preferences",
        handler!(update_preferences),
        |_| {
            Docs::data(record(&[("preferences", free_object())])).body(json!({
                "type": "object",
                "propertyNames": {"pattern": "^[^\\u0000]*$"},
                "description": "Shallow-merged into the preferences; a null value removes a key (16 KiB at most once merged; no U+0000 in any key or string, at any depth)",
            }))
        },
    )
    .bearer(),
    // `GET /users/{username}` (the public profile) is a row of `admin/routes.rs`: the first
    // seed's `GET /users/{id}` shares its path and answers the admin's user detail.
];

fn user_with_profile() -> serde_json::Value {
    answer::<UserWithProfileDto>()
}

/// Blank or null clears a field; a value is trimmed.
fn profile_update_docs(_: &crate::Config) -> Docs {
    Docs::data(user_with_profile()).body(request_body::<ProfileBody>())
}

async fn get_profile(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let token = ctx.bearer().ok_or(Error::Unauthenticated)?;
    let (auth, profile) = api.manager().authenticate_with_profile(token).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        profile_dto(&auth.user, &profile),
    ))
}

async fn replace_profile(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    update_profile(api, ctx, true).await
}

async fn patch_profile(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    update_profile(api, ctx, false).await
}

/// `replace`: every field not given is cleared (PUT), else kept (PATCH).
async fn update_profile(api: &Api, ctx: &RequestContext, replace: bool) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: ProfileBody = ctx.json()?;
    let mut input = ProfileInput::from(body);
    if replace {
        input = input.as_replacement();
    }
    let (user, profile) = api
        .manager()
        .update_profile(&auth, input, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Profile updated",
        profile_dto(&user, &profile),
    ))
}

async fn update_preferences(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let patch: serde_json::Value = ctx.json()?;
    let preferences = api
        .manager()
        .update_preferences(&auth, patch, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Preferences updated",
        json!({"preferences": preferences}),
    ))
}

fn profile_dto(user: &UserRecord, profile: &ProfileRecord) -> UserWithProfileDto {
    UserWithProfileDto {
        user: UserDto::from(user),
        profile: ProfileDto::from(profile),
    }
}

/// `PUT|PATCH /users/profile`: blank or null clears a field; a value is trimmed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ProfileBody {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::person_name)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::person_name)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::lines::<500>)]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = phone)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = date_of_birth)]
    pub date_of_birth: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::lines::<200>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::lines::<100>)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::lines::<100>)]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = timezone)]
    pub timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = language)]
    pub language: Option<Option<String>>,
}

type FieldSchema = utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>;

fn phone() -> FieldSchema {
    rules::blank_or(r"\+[1-9][0-9]{1,14}", "E.164, e.g. +14155550123")
}

fn date_of_birth() -> FieldSchema {
    rules::date_or_blank("YYYY-MM-DD, in the past, from 1900")
}

fn timezone() -> FieldSchema {
    rules::blank_or(
        r"UTC|[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)+",
        "IANA time zone, e.g. Europe/Paris",
    )
}

fn language() -> FieldSchema {
    rules::blank_or("[A-Za-z]{2}", "ISO 639-1, e.g. fr")
}

impl From<ProfileBody> for ProfileInput {
    fn from(b: ProfileBody) -> Self {
        Self {
            first_name: b.first_name,
            last_name: b.last_name,
            bio: b.bio,
            phone: b.phone,
            date_of_birth: b.date_of_birth,
            address: b.address,
            city: b.city,
            country: b.country,
            timezone: b.timezone,
            language: b.language,
        }
    }
}

/// A public profile: nothing private.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PublicProfile)]
#[allow(missing_docs)]
pub struct PublicProfileDto {
    pub id: Uuid,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub avatar: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&UserRecord> for PublicProfileDto {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            avatar: u.avatar.clone(),
            created_at: u.created_at,
        }
    }
}

time::serde::format_description!(date_format, Date, "[year]-[month]-[day]");

/// The extended profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Profile)]
#[allow(missing_docs)]
pub struct ProfileDto {
    pub bio: Option<String>,
    pub phone: Option<String>,
    #[serde(with = "date_format::option")]
    pub date_of_birth: Option<Date>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
}

impl From<&ProfileRecord> for ProfileDto {
    fn from(p: &ProfileRecord) -> Self {
        Self {
            bio: p.bio.clone(),
            phone: p.phone.clone(),
            date_of_birth: p.date_of_birth,
            address: p.address.clone(),
            city: p.city.clone(),
            country: p.country.clone(),
            timezone: p.timezone.clone(),
            language: p.language.clone(),
            preferences: p.preferences.clone(),
        }
    }
}

/// `GET /users/profile`: the user with their profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[allow(missing_docs)]
pub struct UserWithProfileDto {
    pub user: UserDto,
    pub profile: ProfileDto,
}
