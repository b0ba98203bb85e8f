//! The webhook routes (needs `system:manage`): endpoints (create, list, read, change, remove, rotate
//! the secret, send a test event) and their deliveries (list, retry). Their rows, handlers,
//! request bodies and wire shapes.

use super::WebhookInput;
use super::store::WebhookChange;
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::rules;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::{caller, double_option, page_or_report, path_id};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, FieldError, Result};
use crate::store::{DeliveryStatus, WebhookDeliveryRecord, WebhookEndpointRecord};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The delivery states, as the `status` filter takes them.
const DELIVERY_STATUSES: [&str; 3] = ["pending", "delivered", "failed"];

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "POST",
        "/api/v1/webhooks",
        "CreateWebhook",
        "Add a webhook endpoint; its signing secret is shown this once [system:manage]",
        handler!(create),
        |_| {
            Docs::data(with_secret())
                .status(201)
                .body(request_body::<CreateWebhookBody>())
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/webhooks",
        "ListWebhooks",
        "Every webhook endpoint [system:manage]",
        handler!(list),
        |_| Docs::data(record(&[("webhooks", array(answer::<WebhookDto>()))])),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/webhooks/{webhookId}",
        "GetWebhook",
        "One webhook endpoint [system:manage]",
        handler!(get),
        |_| Docs::data(record(&[("webhook", answer::<WebhookDto>())])),
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/webhooks/{webhookId}",
        "UpdateWebhook",
        "Change a webhook endpoint's URL, events, description or enabled state [system:manage]",
        handler!(update),
        |_| {
            Docs::data(record(&[("webhook", answer::<WebhookDto>())]))
                .body(request_body::<UpdateWebhookBody>())
        },
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/webhooks/{webhookId}",
        "DeleteWebhook",
        "Remove a webhook endpoint and its deliveries [system:manage]",
        handler!(remove),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/webhooks/{webhookId}/rotate-secret",
        "RotateWebhookSecret",
        "Replace the signing secret (shown this once); the previous one signs too for 24 hours [system:manage]",
        handler!(rotate),
        |_| Docs::data(with_secret()).body(request_body::<EmptyWebhookBody>()),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/webhooks/{webhookId}/deliveries",
        "ListWebhookDeliveries",
        "A webhook endpoint's deliveries, newest first [system:manage]",
        handler!(deliveries),
        |_| {
            Docs::data(page("deliveries", answer::<WebhookDeliveryDto>())).query(paged(vec![
                query(
                    "status",
                    or_blank(json!({"type": "string", "enum": DELIVERY_STATUSES})),
                    "Only deliveries in this state",
                ),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry",
        "RetryWebhookDelivery",
        "Send a delivered or failed delivery again, now [system:manage]",
        handler!(retry),
        |_| {
            Docs::data(record(&[("delivery", answer::<WebhookDeliveryDto>())]))
                .status(202)
                .body(request_body::<EmptyWebhookBody>())
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/webhooks/{webhookId}/test",
        "TestWebhook",
        "Send a WEBHOOK_TEST event to this endpoint [system:manage]",
        handler!(test),
        |_| {
            Docs::data(record(&[("delivery", answer::<WebhookDeliveryDto>())]))
                .status(202)
                .body(request_body::<EmptyWebhookBody>())
        },
    )
    .bearer(),
];

/// `{webhook, secret}`.
fn with_secret() -> serde_json::Value {
    record(&[
        ("webhook", answer::<WebhookDto>()),
        (
            "secret",
            json!({"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]+=*$",
                   "description": "The signing secret (Standard Webhooks), shown only in this answer"}),
        ),
    ])
}

/// `POST /webhooks`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookBody {
    /// Where events are POSTed: `https://` (`http://` only when the server allows it), a
    /// public address unless the server allows private ones.
    #[schema(required, schema_with = rules::plain_text::<2048>)]
    pub url: Option<String>,
    /// Event types: an audit action (`USER_REGISTERED`), a prefix with `*` (`USER_*`) or `*`.
    #[schema(required)]
    pub events: Option<Vec<String>>,
    /// Free text for the operators.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::plain_text::<500>)]
    pub description: Option<Option<String>>,
}

/// `PATCH /webhooks/:id`: the members present are changed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookBody {
    /// A new URL (checked as at creation).
    #[schema(schema_with = rules::plain_text::<2048>)]
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<String>>,
    /// A new description; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = rules::plain_text::<500>)]
    pub description: Option<Option<String>>,
    /// Enable or disable; enabling forgets the endpoint's failure period.
    pub enabled: Option<bool>,
}

/// A body with nothing in it (`{}` or none).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyWebhookBody {}

/// A webhook endpoint (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Webhook)]
#[allow(missing_docs)]
pub struct WebhookDto {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// The first failed attempt since the last success (null while healthy).
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&WebhookEndpointRecord> for WebhookDto {
    fn from(w: &WebhookEndpointRecord) -> Self {
        Self {
            id: w.id,
            url: w.url.clone(),
            events: w.events.clone(),
            description: w.description.clone(),
            enabled: w.enabled,
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
#[allow(missing_docs)]
pub struct WebhookDeliveryDto {
    pub id: Uuid,
    /// The `Webhook-Id` header and the payload's `id`: the same on every attempt.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

impl From<&WebhookDeliveryRecord> for WebhookDeliveryDto {
    fn from(d: &WebhookDeliveryRecord) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type.clone(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

fn webhook_id(ctx: &RequestContext) -> Result<Uuid> {
    path_id(ctx, "webhookId", "webhook")
}

async fn create(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: CreateWebhookBody = ctx.json()?;
    let mut errors = Vec::new();
    let url = crate::api::support::required("url", body.url, &mut errors);
    if body.events.is_none() {
        errors.push(FieldError::new("events", "is required"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let input = WebhookInput {
        url,
        events: body.events.unwrap_or_default(),
        description: body.description.flatten(),
    };
    let (webhook, secret) = api
        .manager()
        .create_webhook(&auth, input, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        201,
        "Webhook created",
        json!({"webhook": WebhookDto::from(&webhook), "secret": secret.expose_secret()}),
    ))
}

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let webhooks = api.manager().list_webhooks(&auth).await?;
    let webhooks: Vec<WebhookDto> = webhooks.iter().map(WebhookDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"webhooks": webhooks}),
    ))
}

async fn get(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let webhook = api.manager().webhook(&auth, webhook_id(ctx)?).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"webhook": WebhookDto::from(&webhook)}),
    ))
}

async fn update(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = webhook_id(ctx)?;
    let body: UpdateWebhookBody = ctx.json()?;
    let change = WebhookChange {
        url: body.url,
        events: body.events,
        description: body.description,
        enabled: body.enabled,
    };
    let webhook = api
        .manager()
        .update_webhook(&auth, id, change, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Webhook updated",
        json!({"webhook": WebhookDto::from(&webhook)}),
    ))
}

async fn remove(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    api.manager()
        .delete_webhook(&auth, webhook_id(ctx)?, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Webhook deleted",
        serde_json::Value::Null,
    ))
}

async fn rotate(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = webhook_id(ctx)?;
    let _: EmptyWebhookBody = ctx.json()?;
    let (webhook, secret) = api
        .manager()
        .rotate_webhook_secret(&auth, id, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Webhook secret rotated",
        json!({"webhook": WebhookDto::from(&webhook), "secret": secret.expose_secret()}),
    ))
}

async fn deliveries(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = webhook_id(ctx)?;
    let mut errors = Vec::new();
    let page = page_or_report(ctx.page(), &mut errors)?;
    let status = match ctx.query_param("status").as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let parsed = DeliveryStatus::parse(s);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "status",
                    "must be one of pending, delivered, failed",
                ));
            }
            parsed
        }
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (deliveries, total) = api
        .manager()
        .webhook_deliveries(&auth, id, status, page)
        .await?;
    let deliveries: Vec<WebhookDeliveryDto> =
        deliveries.iter().map(WebhookDeliveryDto::from).collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "deliveries": deliveries,
            "total": total,
            "page": page.page,
            "limit": page.limit,
            "totalPages": page.total_pages(total),
        }),
    ))
}

async fn retry(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = webhook_id(ctx)?;
    let delivery_id = path_id(ctx, "deliveryId", "delivery")?;
    let _: EmptyWebhookBody = ctx.json()?;
    let delivery = api
        .manager()
        .retry_webhook_delivery(&auth, id, delivery_id)
        .await?;
    Ok(ApiResponse::success(
        202,
        "Delivery queued",
        json!({"delivery": WebhookDeliveryDto::from(&delivery)}),
    ))
}

async fn test(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = webhook_id(ctx)?;
    let _: EmptyWebhookBody = ctx.json()?;
    let delivery = api.manager().test_webhook(&auth, id, &ctx.client).await?;
    Ok(ApiResponse::success(
        202,
        "Test event queued",
        json!({"delivery": WebhookDeliveryDto::from(&delivery)}),
    ))
}
