//! The audit routes: the trail with its filters, its statistics and analytics, one user's
//! activity, and the retention cleanup. Their rows, handlers and request bodies.

use super::STATS_DAYS;
use crate::api::openapi::derived::request_body;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::{caller, page_or_report, path_id};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, FieldError, Result};
use crate::store::{AuditEvent, AuditFilter, Page, Timestamp, Total};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/audit",
        "AuditList",
        "The audit trail, newest first: userId, action, resource, startDate, endDate, page, limit [audit:read]",
        handler!(list),
        |_| {
            // An empty query parameter reads as absent (what an HTML form sends for a blank
            // field).
            let date = || {
                json!({
                    "type": "string",
                    "anyOf": [{"format": "date"}, {"format": "date-time"}, blank()],
                    "description": "YYYY-MM-DD or RFC 3339",
                })
            };
            Docs::data(bounded_page("logs", reference("AuditEvent"))).query(paged(vec![
                query(
                    "userId",
                    json!({"type": "string", "anyOf": [{"format": "uuid"}, blank()]}),
                    "Rows about or by this user",
                ),
                query("action", no_control(), "Action, e.g. USER_LOGIN"),
                query("resource", no_control(), "Resource kind, e.g. session"),
                query("startDate", date(), "At or after"),
                query("endDate", date(), "Before (a date includes the whole day)"),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/audit/stats",
        "AuditStats",
        "Rows of the last 30 days, top actions and resources [audit:read]",
        handler!(stats),
        |_| {
            Docs::data(record(&[
                ("periodDays", integer()),
                ("total", integer()),
                (
                    "topActions",
                    array(record(&[("action", string()), ("count", integer())])),
                ),
                (
                    "topResources",
                    array(record(&[("resource", string()), ("count", integer())])),
                ),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/audit/analytics",
        "AuditAnalytics",
        "Users, activity and logins of the last 30 days [audit:read]",
        handler!(analytics),
        |_| {
            Docs::data(record(&[
                (
                    "users",
                    record(&[
                        ("total", integer()),
                        ("verified", integer()),
                        (
                            "verificationRate",
                            json!({"type": "number", "minimum": 0, "maximum": 100, "description": "Percent"}),
                        ),
                    ]),
                ),
                (
                    "activeUsers",
                    record(&[
                        ("today", integer()),
                        ("week", integer()),
                        ("month", integer()),
                    ]),
                ),
                ("newUsers", record(&[("last30Days", integer())])),
                (
                    "logins",
                    record(&[("last30Days", integer()), ("failedLast30Days", integer())]),
                ),
            ]))
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/audit/user/{userId}",
        "AuditUser",
        "One user's activity, newest first [audit:read]",
        handler!(user_activity),
        |_| Docs::data(bounded_page("logs", reference("AuditEvent"))).query(page_params()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/audit/cleanup",
        "AuditCleanup",
        "Delete rows older than retentionDays (90) [system:manage]",
        handler!(cleanup),
        |_| {
            Docs::data(count("deletedCount")).body(request_body::<RetentionBody>())
        },
    )
    .bearer(),
];

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let (filter, page) = audit_filter(ctx)?;
    let (events, total) = api.manager().audit_log(&auth, &filter, page).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        audit_page(&events, total, page),
    ))
}

async fn user_activity(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user_id = path_id(ctx, "userId", "user")?;
    let page = ctx.page()?;
    let (events, total) = api.manager().user_activity(&auth, user_id, page).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        audit_page(&events, total, page),
    ))
}

async fn stats(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let stats = api.manager().audit_stats(&auth).await?;
    let ranked = |list: &[(String, u64)], key: &str| -> Vec<serde_json::Value> {
        list.iter()
            .map(|(k, n)| json!({key: k, "count": n}))
            .collect()
    };
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "periodDays": STATS_DAYS,
            "total": stats.total,
            "topActions": ranked(&stats.top_actions, "action"),
            "topResources": ranked(&stats.top_resources, "resource"),
        }),
    ))
}

async fn analytics(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let a = api.manager().audit_analytics(&auth).await?;
    let rate = if a.users_total == 0 {
        0.0
    } else {
        (a.users_verified as f64 / a.users_total as f64 * 10_000.0).round() / 100.0
    };
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({
            "users": {
                "total": a.users_total,
                "verified": a.users_verified,
                "verificationRate": rate,
            },
            "activeUsers": {
                "today": a.active_day,
                "week": a.active_week,
                "month": a.active_month,
            },
            "newUsers": {"last30Days": a.new_users},
            "logins": {"last30Days": a.logins, "failedLast30Days": a.failed_logins},
        }),
    ))
}

async fn cleanup(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: RetentionBody = ctx.json()?;
    let deleted = api
        .manager()
        .cleanup_audit(&auth, body.retention_days.unwrap_or(90), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Audit rows past retention deleted",
        json!({"deletedCount": deleted}),
    ))
}

/// A `startDate`/`endDate` query value: RFC 3339, or a calendar date (`endDate` then includes
/// the whole day).
fn date_param(
    ctx: &RequestContext,
    name: &str,
    end_of_day: bool,
    errors: &mut Vec<FieldError>,
) -> Option<Timestamp> {
    use time::format_description::well_known::Rfc3339;
    let raw = ctx.query_param(name)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(raw, &format) {
        Ok(date) => {
            let start = date.midnight().assume_utc();
            if !end_of_day {
                return Some(start);
            }
            let end = start.checked_add(time::Duration::days(1));
            if end.is_none() {
                errors.push(FieldError::new(name, "is out of range"));
            }
            end
        }
        Err(_) => {
            errors.push(FieldError::new(
                name,
                "must be a date (YYYY-MM-DD) or an RFC 3339 time",
            ));
            None
        }
    }
}

/// The audit filter from the query string, every bad value reported.
fn audit_filter(ctx: &RequestContext) -> Result<(AuditFilter, Page)> {
    let page = ctx.page();
    let mut errors = Vec::new();
    let user_id = match ctx.query_param("userId").as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("userId", "must be a user id (UUID)"));
                None
            }
        },
    };
    let text = |name: &str| {
        ctx.query_param(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let action = text("action").map(|a| a.to_ascii_uppercase());
    let resource = text("resource").map(|r| r.to_ascii_lowercase());
    for (name, value) in [("action", &action), ("resource", &resource)] {
        if value
            .as_deref()
            .is_some_and(crate::domain::has_control_chars)
        {
            errors.push(FieldError::new(name, "must not contain control characters"));
        }
    }
    let from = date_param(ctx, "startDate", false, &mut errors);
    let until = date_param(ctx, "endDate", true, &mut errors);
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        errors.push(FieldError::new("endDate", "must be after startDate"));
    }
    let page = page_or_report(page, &mut errors)?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok((
        AuditFilter {
            user_id,
            action,
            resource,
            from,
            until,
        },
        page,
    ))
}

fn audit_page(events: &[AuditEvent], total: Total, page: Page) -> serde_json::Value {
    let events: Vec<AuditEventDto> = events.iter().map(AuditEventDto::from).collect();
    json!({
        "logs": events,
        "total": total.count,
        "totalExact": total.exact,
        "page": page.page,
        "limit": page.limit,
        "totalPages": page.total_pages(total.count),
    })
}

/// `POST /audit/cleanup`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RetentionBody {
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 3650, default = 90)]
    pub retention_days: Option<u32>,
}

/// An audit row as the API answers it (the trail, one user's activity, the export).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
#[allow(missing_docs)]
pub struct AuditEventDto {
    pub id: Uuid,
    pub action: String,
    pub actor_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub resource: String,
    pub resource_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&AuditEvent> for AuditEventDto {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id,
            action: e.action.clone(),
            actor_id: e.actor_id,
            user_id: e.user_id,
            resource: e.resource.clone(),
            resource_id: e.resource_id.clone(),
            ip_address: e.ip_address.clone(),
            user_agent: e.user_agent.clone(),
            details: e.details.clone(),
            created_at: e.created_at,
        }
    }
}

/// A count that JSON may write as `90` or `90.0` (both are the integer 90 to JSON Schema).
fn whole_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u64)
        })
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number of days"))
}
