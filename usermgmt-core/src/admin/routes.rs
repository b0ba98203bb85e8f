//! The administration routes: the dashboard, the user search and detail, the account actions
//! (reset, verify, unlock, suspend, reactivate, delete), impersonation and bulk role
//! assignment. Their rows, handlers, request bodies and the wire shape of a user as
//! administrators see it.

use super::AdminAction;
use crate::api::openapi::derived::request_body;
use crate::api::openapi::rules;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::{caller, page_or_report, path_id};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::AuthenticatedUser;
use crate::auth::routes::UserDto;
use crate::error::{Error, FieldError, Result};
use crate::passkeys::routes::PasskeyDto;
use crate::profile::routes::{ProfileDto, PublicProfileDto};
use crate::sessions::routes::SessionDto;
use crate::store::{UserRecord, UserSearch, UserSortField, UserStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/admin/dashboard",
        "AdminDashboard",
        "User, session and role figures [admin:access]",
        handler!(dashboard),
        |_| {
            Docs::data(record(&[
                (
                    "users",
                    record(&[
                        ("total", integer()),
                        ("active", integer()),
                        ("verified", integer()),
                        ("with2FA", integer()),
                        ("newThisWeek", integer()),
                    ]),
                ),
                ("sessions", record(&[("active", integer())])),
                ("organizations", record(&[("total", integer())])),
                (
                    "roles",
                    array(record(&[
                        ("id", uuid()),
                        ("name", string()),
                        ("userCount", integer()),
                    ])),
                ),
                (
                    "daily",
                    array(record(&[
                        ("date", json!({"type": "string", "format": "date", "description": "A UTC day"})),
                        ("signUps", integer()),
                        ("signIns", integer()),
                        ("failedSignIns", integer()),
                        ("lockouts", integer()),
                    ])),
                ),
                (
                    "asOf",
                    json!({
                        "type": "string",
                        "format": "date-time",
                        "description": "When the figures were read: now, or up to the server's \
                                        DASHBOARD_MAX_AGE earlier when reading them was slow"
                    }),
                ),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/admin/users",
        "AdminListUsers",
        "Search users: q, role, status, verified, sortBy, order, page, limit [user:read]",
        handler!(list_users),
        list_users_docs,
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/admin/users/{userId}",
        "AdminGetUser",
        "A user with profile, roles, sessions, 2FA and lockout state [user:read]",
        handler!(get_user),
        |_| Docs::data(reference("UserDetail")),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/users/{userId}/reset-password",
        "AdminResetPassword",
        "End a user's sessions and mail a reset link [user:manage]",
        handler!(reset_password),
        |_| Docs::data(count("revokedSessions")),
    )
    .bearer()
    .limit(RateLimit::Email),
    Route::new(
        "POST",
        "/api/v1/admin/users/{userId}/verify-email",
        "AdminVerifyEmail",
        "Mark a user's email verified [user:manage]",
        handler!(verify_email),
        account_action_docs,
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/users/{userId}/unlock",
        "AdminUnlock",
        "Clear a user's lockout [user:manage]",
        handler!(unlock),
        account_action_docs,
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/users/{userId}/suspend",
        "AdminSuspend",
        "Suspend a user; sessions end [user:manage]",
        handler!(suspend),
        |config| account_action_docs(config).body(request_body::<SuspendBody>()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/users/{userId}/reactivate",
        "AdminReactivate",
        "Lift a suspension or deactivation [user:manage]",
        handler!(reactivate),
        account_action_docs,
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/admin/users/{userId}",
        "AdminDeleteUser",
        "Soft-delete a user [user:delete]",
        handler!(delete_user),
        account_action_docs,
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/users/{userId}/impersonate",
        "AdminImpersonate",
        "A 15-minute token acting as the user [admin:access]",
        handler!(impersonate),
        |config| {
            let seconds = json!({"type": "integer", "description": "Seconds"});
            let bearer = record(&[
                ("accessToken", string()),
                ("tokenType", json!({"const": "Bearer"})),
                ("expiresIn", seconds.clone()),
                ("user", reference("User")),
                ("impersonatorId", uuid()),
            ]);
            if config.cookie_sessions.is_none() {
                return Docs::data(bearer);
            }
            // `X-Auth-Mode: cookie` from a cookie session: the token is in the access cookie
            // only; the refresh cookie stays the administrator's (the way back).
            let cookie = record(&[
                ("tokenType", json!({"const": "Cookie"})),
                ("expiresIn", seconds),
                ("csrfToken", string()),
                ("user", reference("User")),
                ("impersonatorId", uuid()),
            ]);
            Docs::data(json!({"oneOf": [bearer, cookie]}))
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/impersonation/stop",
        "AdminStopImpersonation",
        "End the caller's impersonation; the administrator signs back in [impersonation token + the administrator's refresh token]",
        handler!(stop_impersonation),
        |config| {
            let body = request_body::<StopImpersonationBody>();
            // In cookie mode the refresh cookie stands in for the member.
            let body = if config.cookie_sessions.is_some() {
                body
            } else {
                body.require(&["refreshToken"])
            };
            Docs::data(reference("LoginSuccess")).body(body)
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/admin/bulk/assign-role",
        "AdminBulkAssignRole",
        "Give many users one role [role:assign]",
        handler!(bulk_assign_role),
        |_| {
            Docs::data(record(&[("assigned", integer()), ("total", integer())]))
                .body(request_body::<BulkAssignRoleBody>())
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/users",
        "CompatListUsers",
        "First seed: list users (as GET /admin/users) [user:read]",
        handler!(list_users),
        list_users_docs,
    )
    .bearer()
    .compat()
    .at_root(),
    Route::new(
        "DELETE",
        "/api/v1/users/{username}",
        "CompatDeleteUser",
        "First seed: soft-delete a user by id [user:delete]",
        handler!(compat_delete_user),
        account_action_docs,
    )
    .bearer()
    .compat()
    .at_root(),
    Route::new(
        "GET",
        "/api/v1/users/{username}",
        "PublicProfile",
        "A user's public profile",
        handler!(public_profile),
        |config| {
            Docs::data(if config.compatibility_routes {
                json!({"oneOf": [
                    reference("PublicProfile"),
                    {"allOf": [reference("UserDetail")], "description": "First seed: `GET /users/{id}` with a user id [user:read]"},
                ]})
            } else {
                reference("PublicProfile")
            })
        },
    )
    .at_root(),
];

fn list_users_docs(_: &crate::Config) -> Docs {
    Docs::data(bounded_page("users", reference("AdminUser"))).query(paged(vec![
        query(
            "q",
            plain_text::<100>(),
            "Substring of email, username, first and last name",
        ),
        query("role", no_control(), "Role name"),
        query(
            "status",
            or_blank(
                json!({"type": "string", "enum": USER_STATUSES}),
            ),
            "Account state (deleted users only with `deleted`)",
        ),
        query("verified", flag(), "Verified address"),
        query(
            "sortBy",
            or_blank(
                json!({"type": "string", "enum": UserSortField::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>()}),
            ),
            "Sort column",
        ),
        query(
            "order",
            or_blank(json!({"type": "string", "enum": ["asc", "desc"], "default": "desc"})),
            "Order",
        ),
    ]))
}

fn account_action_docs(_: &crate::Config) -> Docs {
    Docs::data(with_user("AdminUser"))
}

async fn dashboard(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let d = api.manager().dashboard(&auth).await?;
    let c = &d.counts;
    let roles: Vec<_> = d
        .roles
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name, "userCount": r.user_count}))
        .collect();
    let daily: Vec<_> = d
        .daily
        .iter()
        .map(|day| {
            json!({
                "date": day.day.to_string(),
                "signUps": day.sign_ups,
                "signIns": day.sign_ins,
                "failedSignIns": day.failed_sign_ins,
                "lockouts": day.lockouts,
            })
        })
        .collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "users": {
                "total": c.users_total,
                "active": c.users_active,
                "verified": c.users_verified,
                "with2FA": c.users_with_two_factor,
                "newThisWeek": c.users_new,
            },
            "sessions": {"active": c.active_sessions},
            "organizations": {"total": d.organizations},
            "roles": roles,
            "daily": daily,
            "asOf": d
                .as_of
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }),
    ))
}

async fn list_users(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let search = user_search(ctx)?;
    let (users, total) = api.manager().search_users(&auth, &search).await?;
    let list: Vec<AdminUserDto> = users.iter().map(AdminUserDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "users": list,
            "total": total.count,
            "totalExact": total.exact,
            "page": search.page.page,
            "limit": search.page.limit,
            "totalPages": search.page.total_pages(total.count),
        }),
    ))
}

async fn get_user(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    Ok(ApiResponse::success(
        200,
        "OK",
        user_detail_data(api, &auth, user_id).await?,
    ))
}

/// `GET /admin/users/:userId` data (also the first seed's `GET /users/:id`).
pub(crate) async fn user_detail_data(
    api: &Api,
    auth: &AuthenticatedUser,
    user_id: Uuid,
) -> Result<UserDetailDto> {
    let d = api.manager().user_detail(auth, user_id).await?;
    let now = api.manager().now();
    let locked_until = d.user.locked_until.filter(|t| *t > now);
    Ok(UserDetailDto {
        user: AdminUserDto::from(&d.user),
        profile: ProfileDto::from(&d.profile),
        roles: d.user.roles.clone(),
        permissions: d.permissions,
        sessions: d
            .sessions
            .iter()
            .map(|s| SessionDto::new(s, auth.session_id))
            .collect(),
        two_factor: TwoFactorSummaryDto {
            enabled: d.two_factor.as_ref().is_some_and(|t| t.enabled),
            backup_codes_remaining: d
                .two_factor
                .as_ref()
                .map_or(0, |t| t.backup_codes_remaining),
        },
        passkeys: d.passkeys.iter().map(PasskeyDto::from).collect(),
        api_keys: d
            .api_keys
            .iter()
            .map(crate::api_keys::routes::ApiKeyDto::from)
            .collect(),
        identities: d
            .identities
            .iter()
            .map(crate::oauth::routes::IdentityDto::from)
            .collect(),
        lockout: LockoutDto {
            failed_attempts: d.user.failed_login_attempts,
            locked: locked_until.is_some(),
            locked_until,
        },
    })
}

/// A user as an administrator inspects them: account, profile, roles and what they grant,
/// sessions, two-factor and lockout state.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserDetail)]
#[allow(missing_docs)]
pub struct UserDetailDto {
    pub user: AdminUserDto,
    pub profile: ProfileDto,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub sessions: Vec<SessionDto>,
    #[schema(inline)]
    pub two_factor: TwoFactorSummaryDto,
    #[schema(inline)]
    pub passkeys: Vec<PasskeyDto>,
    #[schema(inline)]
    pub api_keys: Vec<crate::api_keys::routes::ApiKeyDto>,
    #[schema(inline)]
    pub identities: Vec<crate::oauth::routes::IdentityDto>,
    #[schema(inline)]
    pub lockout: LockoutDto,
}

/// Whether two-factor is on, and how many backup codes are left.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TwoFactorSummaryDto {
    pub enabled: bool,
    pub backup_codes_remaining: u32,
}

/// Failed sign-ins counted towards the lockout, and the lock while it lasts.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct LockoutDto {
    pub failed_attempts: u32,
    pub locked: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
}

/// A user's public profile; with the first seed's routes on, an id in its place (usernames
/// cannot look like one) asks for the admin detail instead, as that seed's `GET /users/:id`.
async fn public_profile(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let username = ctx.param("username").unwrap_or_default();
    // The first seed's GET /users/:id shares this path: an id (usernames cannot look like one)
    // is the admin detail when those routes are on.
    if api.manager().config().compatibility_routes
        && username.len() == 36
        && let Ok(user_id) = Uuid::parse_str(username)
    {
        let auth = caller(api, ctx).await?;
        return Ok(ApiResponse::success(
            200,
            "OK",
            user_detail_data(api, &auth, user_id).await?,
        ));
    }
    let user = api.manager().public_profile(username).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        PublicProfileDto::from(&user),
    ))
}

async fn reset_password(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    let ended = api
        .manager()
        .admin_reset_password(&auth, user_id, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "The user was signed out everywhere and a reset link was mailed",
        json!({"revokedSessions": ended}),
    ))
}

async fn verify_email(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    account_action(
        api,
        ctx,
        "userId",
        AdminAction::VerifyEmail,
        "Email marked verified",
    )
    .await
}

async fn unlock(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    account_action(api, ctx, "userId", AdminAction::Unlock, "Account unlocked").await
}

async fn suspend(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    account_action(
        api,
        ctx,
        "userId",
        AdminAction::Suspend,
        "Account suspended",
    )
    .await
}

async fn reactivate(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    account_action(
        api,
        ctx,
        "userId",
        AdminAction::Reactivate,
        "Account reactivated",
    )
    .await
}

async fn delete_user(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    account_action(api, ctx, "userId", AdminAction::Delete, "User deleted").await
}

/// The first seed's `DELETE /users/:id` (its parameter is named as the public profile's).
async fn compat_delete_user(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    account_action(api, ctx, "username", AdminAction::Delete, "User deleted").await
}

/// One account action on the user of path parameter `id_param`; a suspension reads its
/// reason from the body.
async fn account_action(
    api: &Api,
    ctx: &RequestContext,
    id_param: &str,
    action: AdminAction,
    message: &str,
) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, id_param, "user")?;
    let reason = if action == AdminAction::Suspend {
        let body: SuspendBody = ctx.json()?;
        body.reason
    } else {
        None
    };
    let user = api
        .manager()
        .admin_account_action(&auth, user_id, action, reason, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        message,
        json!({"user": AdminUserDto::from(&user)}),
    ))
}

async fn impersonate(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    // Cookie mode keeps every token out of the body: checked before anything is issued.
    if ctx.cookies.wants_cookies && !ctx.cookies.authenticated_by_cookie {
        return Err(Error::invalid(
            "X-Auth-Mode",
            "cookie mode needs the administrator's cookie session",
        ));
    }
    let imp = api
        .manager()
        .impersonate(&auth, user_id, &ctx.client)
        .await?;
    if ctx.cookies.wants_cookies {
        // The access cookie now carries the impersonation; the refresh cookie stays the
        // administrator's (the way back, see `crate::api::cookies`).
        let mut response = ApiResponse::success(
            200,
            "Impersonation started",
            json!({
                "tokenType": "Cookie",
                "expiresIn": imp.expires_in,
                "csrfToken": crate::api::cookies::csrf_token(api.manager().config(), auth.session_id),
                "user": UserDto::from(&imp.user),
                "impersonatorId": auth.user.id,
            }),
        );
        crate::api::cookies::set_access_cookie(
            api.manager().config(),
            &imp.access_token,
            &mut response,
        );
        return Ok(response);
    }
    Ok(ApiResponse::success(
        200,
        "Impersonation token issued",
        json!({
            "accessToken": imp.access_token,
            "tokenType": "Bearer",
            "expiresIn": imp.expires_in,
            "user": UserDto::from(&imp.user),
            "impersonatorId": auth.user.id,
        }),
    ))
}

async fn stop_impersonation(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: StopImpersonationBody = ctx.json()?;
    let Some(refresh) = body
        .refresh_token
        .map(crate::secret::SecretText::into_inner)
        .or_else(|| ctx.cookies.refresh_token())
    else {
        return Err(Error::invalid("refreshToken", "is required"));
    };
    let success = api
        .manager()
        .end_impersonation(&auth, &refresh, &ctx.client)
        .await?;
    // The login answer: in cookie mode the pair becomes the cookies (`crate::api::cookies`).
    Ok(crate::auth::routes::login_success(&success))
}

async fn bulk_assign_role(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: BulkAssignRoleBody = ctx.json()?;
    let mut errors = Vec::new();
    if body.user_ids.is_none() {
        errors.push(FieldError::new("userIds", "is required"));
    }
    if body.role_id.is_none() {
        errors.push(FieldError::new("roleId", "is required"));
    }
    let (Some(user_ids), Some(role_id)) = (body.user_ids, body.role_id) else {
        return Err(Error::Validation(errors));
    };
    let assigned = api
        .manager()
        .assign_role_bulk(&auth, &user_ids, role_id, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Role assigned",
        json!({"assigned": assigned, "total": user_ids.len()}),
    ))
}

/// The admin user search from the query string, every bad value reported.
fn user_search(ctx: &RequestContext) -> Result<UserSearch> {
    let page = ctx.page();
    let mut errors = Vec::new();
    let query = ctx
        .query_param("q")
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if query
        .as_ref()
        .is_some_and(|q| q.chars().count() > 100 || crate::domain::has_control_chars(q))
    {
        errors.push(FieldError::new(
            "q",
            "must be at most 100 characters, without control characters",
        ));
    }
    let role = ctx
        .query_param("role")
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if role
        .as_deref()
        .is_some_and(crate::domain::has_control_chars)
    {
        errors.push(FieldError::new(
            "role",
            "must not contain control characters",
        ));
    }
    let status = match ctx.query_param("status").as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let parsed = UserStatus::parse(s);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "status",
                    "must be one of active, inactive, suspended, deleted",
                ));
            }
            parsed
        }
    };
    let verified = match ctx.query_param("verified").as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => {
            errors.push(FieldError::new("verified", "must be true or false"));
            None
        }
    };
    let sort_by = match ctx.query_param("sortBy").as_deref().map(str::trim) {
        None | Some("") => UserSortField::CreatedAt,
        Some(s) => UserSortField::parse(s).unwrap_or_else(|| {
            let names: Vec<_> = UserSortField::ALL.iter().map(|(n, _)| *n).collect();
            errors.push(FieldError::new(
                "sortBy",
                format!("must be one of {}", names.join(", ")),
            ));
            UserSortField::CreatedAt
        }),
    };
    let descending = match ctx
        .query_param("order")
        .map(|o| o.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            errors.push(FieldError::new("order", "must be asc or desc"));
            true
        }
    };
    let page = page_or_report(page, &mut errors)?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(UserSearch {
        query,
        role,
        status,
        verified,
        sort_by,
        descending,
        page,
    })
}

/// `POST /admin/impersonation/stop`: the administrator's refresh token (a cookie session's
/// refresh cookie stands in for it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StopImpersonationBody {
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<crate::secret::SecretText>,
}

/// `POST /admin/bulk/assign-role`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BulkAssignRoleBody {
    #[schema(required, min_items = 1, max_items = 1000)]
    pub user_ids: Option<Vec<Uuid>>,
    #[schema(required)]
    pub role_id: Option<Uuid>,
}

/// `POST /admin/users/:userId/suspend`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SuspendBody {
    #[schema(schema_with = rules::plain_text::<500>)]
    pub reason: Option<String>,
}

/// A user as administrators see it: the public `User` plus account state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AdminUser)]
#[allow(missing_docs)]
pub struct AdminUserDto {
    #[serde(flatten)]
    #[schema(inline)]
    pub user: UserDto,
    #[schema(schema_with = status)]
    pub status: String,
    pub failed_login_attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `status`: one of [`user_status`]'s names.
fn status() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(USER_STATUSES))
        .into()
}

/// Every name [`user_status`] answers (the search filter's `status`).
const USER_STATUSES: [&str; 4] = ["active", "inactive", "suspended", "deleted"];

/// `active`, `inactive`, `suspended` or `deleted` (the search filter's names).
pub fn user_status(u: &UserRecord) -> &'static str {
    if u.deleted_at.is_some() {
        "deleted"
    } else if u.is_suspended {
        "suspended"
    } else if !u.is_active {
        "inactive"
    } else {
        "active"
    }
}

impl From<&UserRecord> for AdminUserDto {
    fn from(u: &UserRecord) -> Self {
        Self {
            user: UserDto::from(u),
            status: user_status(u).to_owned(),
            failed_login_attempts: u.failed_login_attempts,
            locked_until: u.locked_until,
            deleted_at: u.deleted_at,
            updated_at: u.updated_at,
        }
    }
}
