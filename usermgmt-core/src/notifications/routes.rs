//! The notification routes: the caller's notifications, marking them read, deleting them.
//! Their rows, handlers and the wire shape of a notification.

use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::caller;
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, Result};
use crate::store::NotificationRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/notifications",
        "ListNotifications",
        "The caller's notifications, newest first, with unreadCount",
        handler!(list),
        |_| {
            let mut schema = page("notifications", reference("Notification"));
            schema["properties"]["unreadCount"] = integer();
            if let Some(required) = schema["required"].as_array_mut() {
                required.push(json!("unreadCount"));
            }
            let mut params = page_params();
            params.push(query("unreadOnly", flag(), "Unread only"));
            Docs::data(schema).query(params)
        },
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/notifications/{id}/read",
        "MarkNotificationRead",
        "Mark a notification read",
        handler!(mark_read),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/notifications/read-all",
        "MarkAllNotificationsRead",
        "Mark every notification read",
        handler!(mark_all_read),
        |_| Docs::data(count("updatedCount")),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/notifications/{id}",
        "DeleteNotification",
        "Delete a notification",
        handler!(delete),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/notifications",
        "DeleteAllNotifications",
        "Delete every notification",
        handler!(delete_all),
        |_| Docs::data(count("deletedCount")),
    )
    .bearer(),
];

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let page = ctx.page()?;
    let unread_only = ctx.flag("unreadOnly")?;
    let found = api
        .manager()
        .notifications(&auth, unread_only, page)
        .await?;
    let items: Vec<NotificationDto> = found.items.iter().map(NotificationDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "notifications": items,
            "unreadCount": found.unread,
            "total": found.total,
            "page": page.page,
            "limit": page.limit,
            "totalPages": page.total_pages(found.total),
        }),
    ))
}

async fn mark_read(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    api.manager()
        .mark_notification_read(&auth, notification_id(ctx)?)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Notification marked read",
        json!(null),
    ))
}

async fn mark_all_read(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let updated = api.manager().mark_all_notifications_read(&auth).await?;
    Ok(ApiResponse::success(
        200,
        "All notifications marked read",
        json!({"updatedCount": updated}),
    ))
}

async fn delete(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    api.manager()
        .delete_notification(&auth, notification_id(ctx)?, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Notification deleted",
        json!(null),
    ))
}

async fn delete_all(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let deleted = api
        .manager()
        .delete_all_notifications(&auth, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "All notifications deleted",
        json!({"deletedCount": deleted}),
    ))
}

/// The `{id}` of a notification route; a malformed id is simply not found.
fn notification_id(ctx: &RequestContext) -> Result<Uuid> {
    ctx.param("id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound("notification"))
}

/// An in-app notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Notification)]
#[allow(missing_docs)]
pub struct NotificationDto {
    pub id: Uuid,
    /// PASSWORD_CHANGED, EMAIL_VERIFIED, LOGIN_ALERT, SECURITY_ALERT, ROLE_CHANGED, ACCOUNT_UPDATE or an application's own
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub message: String,
    pub data: serde_json::Value,
    pub read: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub read_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&NotificationRecord> for NotificationDto {
    fn from(n: &NotificationRecord) -> Self {
        Self {
            id: n.id,
            kind: n.kind.clone(),
            title: n.title.clone(),
            message: n.message.clone(),
            data: n.data.clone(),
            read: n.read_at.is_some(),
            read_at: n.read_at,
            created_at: n.created_at,
        }
    }
}
