//! The organization routes: organizations, their members, invitations. Their rows, handlers,
//! request bodies and wire shapes.

use super::store::{InvitationRecord, MemberRecord, OrgMembership, OrgRecord, OrgSummary};
use super::{MAX_QUERY_CHARS, role_field};
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::{caller, page_or_report, path_id, secret};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::routes::TokenBody;
use crate::error::{Error, FieldError, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "POST",
        "/api/v1/orgs",
        "CreateOrg",
        "Make an organization; the caller becomes its owner",
        handler!(create),
        |_| {
            Docs::data(record(&[("organization", answer::<OrgDto>())]))
                .status(201)
                .body(request_body::<CreateOrgBody>())
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/orgs",
        "ListOrgs",
        "The caller's organizations, with the caller's role in each",
        handler!(list),
        |_| Docs::data(record(&[("organizations", array(answer::<OrgDto>()))])),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/orgs/{orgId}",
        "GetOrg",
        "One of the caller's organizations [org:read]",
        handler!(get),
        |_| Docs::data(record(&[("organization", answer::<OrgDto>())])),
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/orgs/{orgId}",
        "UpdateOrg",
        "Rename an organization or change its slug [org:update]",
        handler!(update),
        |_| {
            Docs::data(record(&[("organization", answer::<OrgDto>())]))
                .body(request_body::<UpdateOrgBody>())
        },
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/orgs/{orgId}",
        "DeleteOrg",
        "Delete an organization [org:delete]; purged after the recovery window",
        handler!(remove),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/orgs/{orgId}/members",
        "ListOrgMembers",
        "A page of an organization's members [org:read]",
        handler!(members),
        |_| {
            Docs::data(page("members", answer::<OrgMemberDto>())).query(paged(vec![query(
                "q",
                plain_text::<100>(),
                "Substring of email, username, first and last name",
            )]))
        },
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/orgs/{orgId}/members/{userId}",
        "UpdateOrgMember",
        "Give a member another role [member:update]; never above the caller's own",
        handler!(update_member),
        |_| Docs::data(null()).body(request_body::<MemberRoleBody>()),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/orgs/{orgId}/members/{userId}",
        "RemoveOrgMember",
        "Remove a member [member:remove]",
        handler!(remove_member),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/orgs/{orgId}/leave",
        "LeaveOrg",
        "Leave an organization (the last owner cannot)",
        handler!(leave),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/orgs/{orgId}/invitations",
        "InviteToOrg",
        "Invite an address [member:invite]: a mailed link, valid 7 days, single use",
        handler!(invite),
        |_| {
            Docs::data(record(&[("invitation", answer::<InvitationDto>())]))
                .status(201)
                .body(request_body::<InviteBody>())
        },
    )
    .bearer()
    .limit(RateLimit::Email),
    Route::new(
        "GET",
        "/api/v1/orgs/{orgId}/invitations",
        "ListOrgInvitations",
        "An organization's pending invitations [member:invite]",
        handler!(invitations),
        |_| Docs::data(record(&[("invitations", array(answer::<InvitationDto>()))])),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/orgs/{orgId}/invitations/{invitationId}",
        "RevokeOrgInvitation",
        "Withdraw a pending invitation [member:invite]",
        handler!(revoke),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/invitations",
        "ListMyInvitations",
        "The pending invitations to the caller's verified address",
        handler!(mine),
        |_| Docs::data(record(&[("invitations", array(answer::<MyInvitationDto>()))])),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/invitations/accept",
        "AcceptInvitation",
        "Join an organization with a mailed token; the caller's verified address must be the one invited",
        handler!(accept),
        |_| {
            Docs::data(record(&[("organization", answer::<OrgDto>())]))
                .body(request_body::<TokenBody>())
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/invitations/decline",
        "DeclineInvitation",
        "Decline an invitation with its mailed token",
        handler!(decline),
        |_| Docs::data(null()).body(request_body::<TokenBody>()),
    ),
    Route::new(
        "GET",
        "/api/v1/admin/orgs",
        "AdminListOrgs",
        "A page of every organization, newest first [admin:access]",
        handler!(admin_list),
        |_| {
            Docs::data(page("organizations", answer::<AdminOrgDto>())).query(paged(vec![
                query("q", plain_text::<100>(), "Substring of name or slug"),
                query(
                    "deleted",
                    flag(),
                    "1/true: deleted ones only; 0/false or absent: every one",
                ),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/admin/orgs/{orgId}",
        "AdminGetOrg",
        "One organization and its first 100 members [admin:access]",
        handler!(admin_get),
        |_| {
            Docs::data(record(&[
                ("organization", answer::<AdminOrgDto>()),
                ("members", array(answer::<OrgMemberDto>())),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/auth/switch-org",
        "SwitchOrg",
        "Make an organization (or none) the session's active one: a new token pair whose access token carries org and orgRole",
        handler!(switch),
        |_| {
            let none = null();
            Docs::data(record(&[
                ("tokens", reference("Tokens")),
                ("organization", json!({"anyOf": [answer::<OrgDto>(), none]})),
            ]))
            .body(request_body::<SwitchOrgBody>())
        },
    )
    .bearer(),
];

/// The organization to act in.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchOrgBody {
    /// One of the caller's organizations; null or absent: none.
    #[schema(value_type = Option<Uuid>)]
    pub org_id: Option<Uuid>,
}

/// A new organization.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrgBody {
    /// Its name (1–100 characters, without control characters, `@`, `:`, `/`, `<`, `>`).
    #[schema(required, value_type = Option<String>, max_length = 100)]
    pub name: Option<String>,
    /// Its handle: 3–50 of `a-z`, `0-9` and single hyphens (any case; stored lower-case).
    /// Absent: derived from the name.
    #[schema(value_type = Option<String>, max_length = 50)]
    pub slug: Option<String>,
}

/// A change of an organization: a name, a slug or both.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateOrgBody {
    /// Its new name.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub name: Option<String>,
    /// Its new slug.
    #[schema(value_type = Option<String>, max_length = 50)]
    pub slug: Option<String>,
}

/// A member's new role.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberRoleBody {
    /// `owner`, `admin` or `member`.
    #[schema(required, value_type = Option<String>, pattern = "^(owner|admin|member)$")]
    pub role: Option<String>,
}

/// An invitation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteBody {
    /// The address invited.
    #[schema(required, value_type = Option<String>, format = Email)]
    pub email: Option<String>,
    /// The role the invitee gets: `owner`, `admin` or `member`, at most the caller's own.
    #[schema(required, value_type = Option<String>, pattern = "^(owner|admin|member)$")]
    pub role: Option<String>,
}

/// An organization as one of its members sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct OrgDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// The caller's role: `owner`, `admin` or `member`.
    pub role: String,
    /// The org permissions that role grants.
    pub permissions: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&OrgMembership> for OrgDto {
    fn from(m: &OrgMembership) -> Self {
        Self {
            id: m.org.id,
            name: m.org.name.clone(),
            slug: m.org.slug.clone(),
            role: m.role.as_str().to_owned(),
            permissions: m
                .role
                .permissions()
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            joined_at: m.joined_at,
            created_at: m.org.created_at,
            updated_at: m.org.updated_at,
        }
    }
}

/// A member of an organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct OrgMemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub username: String,
    #[schema(value_type = Option<String>)]
    pub first_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub last_name: Option<String>,
    /// `owner`, `admin` or `member`.
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

impl From<&MemberRecord> for OrgMemberDto {
    fn from(m: &MemberRecord) -> Self {
        Self {
            user_id: m.user_id,
            email: m.email.clone(),
            username: m.username.clone(),
            first_name: m.first_name.clone(),
            last_name: m.last_name.clone(),
            role: m.role.as_str().to_owned(),
            joined_at: m.joined_at,
        }
    }
}

/// A pending invitation as its organization sees it (never its token).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct InvitationDto {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    /// The role the invitee gets.
    pub role: String,
    /// Who invited (null once that account is gone).
    #[schema(value_type = Option<Uuid>)]
    pub inviter_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl From<&InvitationRecord> for InvitationDto {
    fn from(i: &InvitationRecord) -> Self {
        Self {
            id: i.id,
            org_id: i.org_id,
            email: i.email.clone(),
            role: i.role.as_str().to_owned(),
            inviter_id: i.inviter_id,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// A pending invitation to the caller, with the organization's name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct MyInvitationDto {
    pub id: Uuid,
    pub org_id: Uuid,
    pub org_name: String,
    pub org_slug: String,
    /// The role offered.
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl From<&(InvitationRecord, OrgRecord)> for MyInvitationDto {
    fn from((i, o): &(InvitationRecord, OrgRecord)) -> Self {
        Self {
            id: i.id,
            org_id: o.id,
            org_name: o.name.clone(),
            org_slug: o.slug.clone(),
            role: i.role.as_str().to_owned(),
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// An organization as administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AdminOrgDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// How many members it has.
    pub members: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When it was deleted (purged after the recovery window); null while live.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl From<&OrgSummary> for AdminOrgDto {
    fn from(s: &OrgSummary) -> Self {
        Self {
            id: s.org.id,
            name: s.org.name.clone(),
            slug: s.org.slug.clone(),
            members: s.members,
            created_at: s.org.created_at,
            updated_at: s.org.updated_at,
            deleted_at: s.org.deleted_at,
        }
    }
}

async fn admin_list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let mut errors = Vec::new();
    let page = page_or_report(ctx.page(), &mut errors)?;
    let query = search_term(ctx, &mut errors);
    let deleted = match ctx.query_param("deleted") {
        None => None,
        Some(_) => match ctx.flag("deleted") {
            Ok(true) => Some(true),
            Ok(false) => None,
            Err(Error::Validation(mut more)) => {
                errors.append(&mut more);
                None
            }
            Err(err) => return Err(err),
        },
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (orgs, total) = api
        .manager()
        .admin_orgs(&auth, query.as_deref(), deleted, page)
        .await?;
    let orgs: Vec<AdminOrgDto> = orgs.iter().map(AdminOrgDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "organizations": orgs,
            "total": total,
            "page": page.page,
            "limit": page.limit,
            "totalPages": page.total_pages(total),
        }),
    ))
}

async fn admin_get(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let (summary, members) = api.manager().admin_org(&auth, org_id(ctx)?).await?;
    let members: Vec<OrgMemberDto> = members.iter().map(OrgMemberDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"organization": AdminOrgDto::from(&summary), "members": members}),
    ))
}

/// The `q` parameter: trimmed, blank as absent; over 100 characters or with control characters
/// joins `errors`.
fn search_term(ctx: &RequestContext, errors: &mut Vec<FieldError>) -> Option<String> {
    let query = ctx
        .query_param("q")
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if query
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS || crate::domain::has_control_chars(q))
    {
        errors.push(FieldError::new(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters, without control characters"),
        ));
    }
    query
}

fn org_id(ctx: &RequestContext) -> Result<Uuid> {
    path_id(ctx, "orgId", "organization")
}

fn organization(status: u16, message: &str, m: &OrgMembership) -> ApiResponse {
    ApiResponse::success(status, message, json!({"organization": OrgDto::from(m)}))
}

async fn create(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: CreateOrgBody = ctx.json()?;
    let m = api
        .manager()
        .create_org(
            &auth,
            body.name.as_deref(),
            body.slug.as_deref(),
            &ctx.client,
        )
        .await?;
    Ok(organization(201, "Organization created", &m))
}

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let orgs = api.manager().my_orgs(&auth).await?;
    let orgs: Vec<OrgDto> = orgs.iter().map(OrgDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"organizations": orgs}),
    ))
}

async fn get(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let m = api.manager().org(&auth, org_id(ctx)?).await?;
    Ok(organization(200, "OK", &m))
}

async fn update(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let body: UpdateOrgBody = ctx.json()?;
    let m = api
        .manager()
        .update_org(
            &auth,
            id,
            body.name.as_deref(),
            body.slug.as_deref(),
            &ctx.client,
        )
        .await?;
    Ok(organization(200, "Organization updated", &m))
}

async fn remove(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    api.manager()
        .delete_org(&auth, org_id(ctx)?, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Organization deleted",
        json!(null),
    ))
}

async fn members(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let mut errors = Vec::new();
    let page = page_or_report(ctx.page(), &mut errors)?;
    let query = search_term(ctx, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (members, total) = api
        .manager()
        .org_members(&auth, id, query.as_deref(), page)
        .await?;
    let members: Vec<OrgMemberDto> = members.iter().map(OrgMemberDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "members": members,
            "total": total,
            "page": page.page,
            "limit": page.limit,
            "totalPages": page.total_pages(total),
        }),
    ))
}

async fn update_member(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let user_id = path_id(ctx, "userId", "member")?;
    let body: MemberRoleBody = ctx.json()?;
    let mut errors = Vec::new();
    let role = role_field("role", body.role.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    api.manager()
        .change_org_member(&auth, id, user_id, Some(role), &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Member updated", json!(null)))
}

async fn remove_member(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let user_id = path_id(ctx, "userId", "member")?;
    api.manager()
        .change_org_member(&auth, id, user_id, None, &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Member removed", json!(null)))
}

async fn leave(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let me = auth.user.id;
    api.manager()
        .change_org_member(&auth, id, me, None, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Left the organization",
        json!(null),
    ))
}

async fn invite(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let body: InviteBody = ctx.json()?;
    let (invitation, _token) = api
        .manager()
        .invite_to_org(
            &auth,
            id,
            body.email.as_deref(),
            body.role.as_deref(),
            &ctx.client,
        )
        .await?;
    Ok(ApiResponse::success(
        201,
        "Invitation sent",
        json!({"invitation": InvitationDto::from(&invitation)}),
    ))
}

async fn invitations(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let list = api.manager().org_invitations(&auth, org_id(ctx)?).await?;
    let list: Vec<InvitationDto> = list.iter().map(InvitationDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"invitations": list}),
    ))
}

async fn revoke(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = org_id(ctx)?;
    let invitation = path_id(ctx, "invitationId", "invitation")?;
    api.manager()
        .revoke_invitation(&auth, id, invitation, &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Invitation revoked", json!(null)))
}

async fn mine(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let list = api.manager().my_invitations(&auth).await?;
    let list: Vec<MyInvitationDto> = list.iter().map(MyInvitationDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"invitations": list}),
    ))
}

async fn accept(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: TokenBody = ctx.json()?;
    let m = api
        .manager()
        .accept_invitation(&auth, &secret(body.token), &ctx.client)
        .await?;
    Ok(organization(200, "Invitation accepted", &m))
}

async fn decline(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: TokenBody = ctx.json()?;
    api.manager()
        .decline_invitation(&secret(body.token), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Invitation declined",
        json!(null),
    ))
}

async fn switch(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: SwitchOrgBody = ctx.json()?;
    let (pair, membership) = api.manager().switch_org(&auth, body.org_id).await?;
    Ok(ApiResponse::success(
        200,
        "Active organization switched",
        json!({
            "tokens": crate::auth::routes::TokensDto::from(&pair),
            "organization": membership.as_ref().map(OrgDto::from),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::OrgRole;
    use super::*;

    #[test]
    fn the_dto_names_the_role_and_its_permissions() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let m = OrgMembership {
            org: OrgRecord {
                id: Uuid::nil(),
                name: "Acme".into(),
                slug: "acme".into(),
                created_at: now,
                updated_at: now,
                deleted_at: None,
            },
            role: OrgRole::Member,
            joined_at: now,
        };
        let dto = OrgDto::from(&m);
        assert_eq!(dto.role, "member");
        assert_eq!(dto.permissions, vec!["org:read"]);
    }
}
