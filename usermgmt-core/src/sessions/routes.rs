//! The session routes: the caller's active sessions, ending one, ending every other. Their
//! rows, handlers and the wire shape of a session.

use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::caller;
use crate::api::{Api, ApiResponse, RequestContext};
use crate::domain::DeviceInfo;
use crate::error::{Error, Result};
use crate::store::SessionRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/sessions",
        "ListSessions",
        "The caller's active sessions",
        handler!(list),
        |_| Docs::data(array(reference("Session"))),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/sessions/{sessionId}",
        "RevokeSession",
        "End one of the caller's sessions",
        handler!(revoke),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/sessions/revoke-all",
        "RevokeOtherSessions",
        "End every other session",
        handler!(revoke_others),
        |_| Docs::data(count("revokedCount")),
    )
    .bearer(),
];

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let sessions = api.manager().list_sessions(&auth).await?;
    let list: Vec<SessionDto> = sessions
        .iter()
        .map(|s| SessionDto::new(s, auth.session_id))
        .collect();
    Ok(ApiResponse::success(200, "OK", list))
}

async fn revoke(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let session_id = ctx
        .param("sessionId")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound("session"))?;
    api.manager()
        .revoke_own_session(&auth, session_id, &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Session revoked", json!(null)))
}

async fn revoke_others(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let revoked = api
        .manager()
        .revoke_other_sessions(&auth, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Other sessions revoked",
        json!({"revokedCount": revoked}),
    ))
}

/// A session in the sessions list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
#[allow(missing_docs)]
pub struct SessionDto {
    pub id: Uuid,
    pub device_info: DeviceInfo,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub is_current: bool,
}

impl SessionDto {
    /// The DTO, marking the caller's own session.
    pub fn new(s: &SessionRecord, current: Uuid) -> Self {
        Self {
            id: s.id,
            device_info: s.device_info.clone(),
            ip_address: s.ip_address.clone(),
            user_agent: s.user_agent.clone(),
            last_activity: s.last_activity_at,
            created_at: s.created_at,
            expires_at: s.expires_at,
            is_current: s.id == current,
        }
    }
}
