//! The avatar routes: upload (a multipart form, with its own body limit), remove, and serve an
//! image. Their rows and handlers.

use super::MAX_AVATAR_BYTES;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::caller;
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::routes::UserDto;
use crate::error::Result;
use serde_json::json;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "POST",
        "/api/v1/upload/avatar",
        "UploadAvatar",
        "Upload the caller's avatar (multipart, JPEG/PNG/WebP, at most 2 MB)",
        handler!(upload),
        |_| {
            Docs::data(record(&[("avatar", string()), ("user", reference("User"))])).multipart(
                json!({
                    "type": "object",
                    "properties": {"avatar": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP, at most 2 MB"}},
                    "required": ["avatar"],
                }),
            )
        },
    )
    .bearer()
    // A 2 MB image plus its multipart framing.
    .multipart(MAX_AVATAR_BYTES + 64 * 1024),
    Route::new(
        "DELETE",
        "/api/v1/upload/avatar",
        "DeleteAvatar",
        "Remove the caller's avatar",
        handler!(delete),
        |_| Docs::data(with_user("User")),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/upload/avatars/{key}",
        "GetAvatar",
        "An avatar image",
        handler!(image),
        |_| {
            Docs::content(json!({
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/webp": {"schema": {"type": "string", "format": "binary"}},
            }))
        },
    ),
];

async fn upload(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let content_type = ctx.content_type().unwrap_or_default();
    let user = api
        .manager()
        .upload_avatar(&auth, content_type, ctx.body().to_vec(), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Avatar updated",
        json!({"avatar": user.avatar, "user": UserDto::from(&user)}),
    ))
}

async fn delete(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let user = api.manager().delete_avatar(&auth, &ctx.client).await?;
    Ok(ApiResponse::success(
        200,
        "Avatar removed",
        json!({"user": UserDto::from(&user)}),
    ))
}

async fn image(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let (kind, bytes) = api
        .manager()
        .avatar_image(ctx.param("key").unwrap_or_default())
        .await?;
    let mut response = ApiResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), kind.mime().to_owned())],
        body: bytes,
    };
    // Keys are never reused (a new upload gets a new key), so the image is immutable.
    response.push_header("cache-control", "public, max-age=31536000, immutable");
    Ok(response)
}
