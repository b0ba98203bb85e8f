//! The role routes: roles and permissions, creating, changing and deleting roles, and giving
//! users roles. Their rows, handlers, request bodies and the wire shape of a role.

use super::RoleInput;
use crate::api::openapi::derived::request_body;
use crate::api::openapi::rules;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::{caller, double_option, path_id};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, Result};
use crate::store::RoleRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/roles",
        "ListRoles",
        "Every role with permissions and user count [role:read]",
        handler!(list),
        |_| Docs::data(array(reference("Role"))),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/roles/permissions",
        "ListPermissions",
        "Every permission [role:read]",
        handler!(permissions),
        |_| {
            Docs::data(array(record(&[
                ("name", string()),
                ("description", string()),
            ])))
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/roles/{id}",
        "GetRole",
        "One role [role:read]",
        handler!(get),
        |_| Docs::data(reference("Role")),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/roles",
        "CreateRole",
        "Create a role [role:create]",
        handler!(create),
        |_| {
            Docs::data(reference("Role"))
                .status(201)
                .body(request_body::<RoleBody>().require(&["name", "permissions"]))
        },
    )
    .bearer(),
    Route::new(
        "PUT",
        "/api/v1/roles/{id}",
        "UpdateRole",
        "Change a role [role:update]",
        handler!(update),
        |_| Docs::data(reference("Role")).body(request_body::<RoleBody>()),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/roles/{id}",
        "DeleteRole",
        "Delete a role no user holds [role:delete]",
        handler!(delete),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/roles/user/{userId}",
        "UserRoles",
        "A user's roles [user:read]",
        handler!(of_user),
        |_| {
            Docs::data(record(&[
                ("userId", uuid()),
                ("roles", array(reference("Role"))),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/roles/user/{userId}/assign",
        "AssignRole",
        "Give a user a role [role:assign]",
        handler!(assign),
        |_| {
            Docs::data(record(&[
                ("userId", uuid()),
                ("assigned", boolean()),
                ("roles", array(reference("Role"))),
            ]))
            .body(request_body::<AssignRoleBody>())
        },
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/roles/user/{userId}/{roleId}",
        "RemoveRole",
        "Take a role from a user [role:assign]",
        handler!(remove),
        |_| Docs::data(null()),
    )
    .bearer(),
];

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let roles = api.manager().list_roles(&auth).await?;
    Ok(ApiResponse::success(200, "OK", roles_data(&roles)))
}

async fn permissions(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let catalog = api.manager().permission_catalog(&auth).await?;
    let list: Vec<_> = catalog
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    Ok(ApiResponse::success(200, "OK", list))
}

async fn get(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let role = api
        .manager()
        .role(&auth, path_id(ctx, "id", "role")?)
        .await?;
    Ok(ApiResponse::success(200, "OK", RoleDto::from(&role)))
}

async fn create(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: RoleBody = ctx.json()?;
    let role = api
        .manager()
        .create_role(&auth, body.into(), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        201,
        "Role created",
        RoleDto::from(&role),
    ))
}

async fn update(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = path_id(ctx, "id", "role")?;
    let body: RoleBody = ctx.json()?;
    let role = api
        .manager()
        .update_role(&auth, id, body.into(), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Role updated",
        RoleDto::from(&role),
    ))
}

async fn delete(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    api.manager()
        .delete_role(&auth, path_id(ctx, "id", "role")?, &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Role deleted", json!(null)))
}

async fn of_user(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    let (user, roles) = api.manager().roles_of_user(&auth, user_id).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"userId": user.id, "roles": roles_data(&roles)}),
    ))
}

async fn assign(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let m = api.manager();
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    let body: AssignRoleBody = ctx.json()?;
    let role_id = body
        .role_id
        .ok_or_else(|| Error::invalid("roleId", "is required"))?;
    let added = m.assign_role(&auth, user_id, role_id, &ctx.client).await?;
    // Answered without asking for user:read: role:assign was enough to get here.
    let user = m.existing_user(user_id).await?;
    let roles = m.roles_held(&user).await?;
    Ok(ApiResponse::success(
        200,
        if added {
            "Role assigned"
        } else {
            "The user holds this role already"
        },
        json!({"userId": user.id, "assigned": added, "roles": roles_data(&roles)}),
    ))
}

async fn remove(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    let role_id = path_id(ctx, "roleId", "role assignment")?;
    api.manager()
        .remove_role(&auth, user_id, role_id, &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Role removed", json!(null)))
}

fn roles_data(roles: &[RoleRecord]) -> Vec<RoleDto> {
    roles.iter().map(RoleDto::from).collect()
}

/// `POST /roles` (name and permissions required, set by the route's docs), `PUT /roles/:id`
/// (every member optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RoleBody {
    #[schema(pattern = "^[a-z_]{3,50}$")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::plain_text::<500>)]
    pub description: Option<Option<String>>,
    #[schema(schema_with = permission_names)]
    pub permissions: Option<Vec<String>>,
}

/// Permission names, at least one: ours (`user:read`) or the second seed's (`USER_READ`), which
/// are stored and answered as ours.
fn permission_names() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(crate::rbac::accepted_permission_names())),
        )
        .min_items(Some(1))
        .into()
}

impl From<RoleBody> for RoleInput {
    fn from(b: RoleBody) -> Self {
        Self {
            name: b.name,
            description: b.description,
            permissions: b.permissions,
        }
    }
}

/// `POST /roles/user/:userId/assign`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AssignRoleBody {
    #[schema(required)]
    pub role_id: Option<Uuid>,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Role)]
#[allow(missing_docs)]
pub struct RoleDto {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_system: bool,
    pub permissions: Vec<String>,
    pub user_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&RoleRecord> for RoleDto {
    fn from(r: &RoleRecord) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            is_system: r.is_system,
            permissions: r.permissions.clone(),
            user_count: r.user_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
