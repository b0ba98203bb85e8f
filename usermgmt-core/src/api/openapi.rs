//! The OpenAPI 3.1 document, generated from the route table (so every served route is in it
//! and nothing else is), with the request schemas of every body and query, the success
//! envelope, the error envelope and its codes, and bearer security where a token is needed.
//! The interactive page at `/docs` is Swagger UI, vendored in the binary (works offline).

use super::routes::{Endpoint, ROUTES, Route};
use serde_json::{Map, Value, json};

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// A closed object (the API refuses unknown fields) with `(name, schema, required)` members.
fn object(members: &[(&str, Value, bool)]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, schema, needed) in members {
        properties.insert((*name).to_owned(), schema.clone());
        if *needed {
            required.push(json!(name));
        }
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn permissions_enum() -> Value {
    json!({"type": "string", "enum": crate::rbac::PERMISSIONS})
}

/// The JSON body an endpoint reads, if any.
fn request_body(endpoint: Endpoint) -> Option<Value> {
    use Endpoint as E;
    let password = || json!({"type": "string", "format": "password"});
    let email = || json!({"type": "string", "format": "email"});
    let code = || object(&[("code", string(), true)]);
    let credentials = || object(&[("email", email(), true), ("password", password(), true)]);
    let profile = || {
        object(&[
            ("firstName", nullable_string(), false),
            ("lastName", nullable_string(), false),
            ("bio", nullable_string(), false),
            (
                "phone",
                json!({"type": ["string", "null"], "description": "E.164"}),
                false,
            ),
            (
                "dateOfBirth",
                json!({"type": ["string", "null"], "format": "date"}),
                false,
            ),
            ("address", nullable_string(), false),
            ("city", nullable_string(), false),
            ("country", nullable_string(), false),
            ("timezone", nullable_string(), false),
            (
                "language",
                json!({"type": ["string", "null"], "description": "ISO 639-1"}),
                false,
            ),
        ])
    };
    let role = |required: bool| {
        object(&[
            (
                "name",
                json!({"type": "string", "pattern": "^[a-z_]{3,50}$"}),
                required,
            ),
            (
                "description",
                json!({"type": ["string", "null"], "maxLength": 500}),
                false,
            ),
            (
                "permissions",
                json!({"type": "array", "items": permissions_enum(), "minItems": 1}),
                required,
            ),
        ])
    };
    Some(match endpoint {
        E::Register => object(&[
            ("email", email(), true),
            ("username", string(), true),
            ("password", password(), true),
            ("firstName", string(), false),
            ("lastName", string(), false),
        ]),
        E::Login => object(&[
            ("identifier", string(), false),
            ("email", string(), false),
            ("username", string(), false),
            ("password", password(), true),
        ]),
        E::LoginTwoFactor => {
            object(&[("challengeToken", string(), true), ("code", string(), true)])
        }
        E::Logout => object(&[("refreshToken", string(), false)]),
        E::Refresh => object(&[("refreshToken", string(), true)]),
        E::VerifyEmailPost => object(&[("token", string(), true)]),
        E::ResendVerification | E::ForgotPassword => object(&[("email", email(), true)]),
        E::ResetPassword => object(&[
            ("token", string(), true),
            ("password", password(), true),
            ("confirmPassword", password(), true),
        ]),
        E::ChangePassword => object(&[
            ("currentPassword", password(), true),
            ("newPassword", password(), true),
            ("confirmPassword", password(), true),
        ]),
        E::ReplaceProfile | E::PatchProfile => profile(),
        E::UpdatePreferences => json!({
            "type": "object",
            "description": "Shallow-merged into the preferences; a null value removes a key (16 KiB at most once merged)",
        }),
        E::TwoFactorSetup => object(&[]),
        E::TwoFactorEnable | E::TwoFactorVerify | E::TwoFactorBackupCodes => code(),
        E::TwoFactorDisable => {
            object(&[("code", string(), false), ("password", password(), false)])
        }
        E::CreateRole => role(true),
        E::UpdateRole => role(false),
        E::AssignRole => object(&[("roleId", uuid(), true)]),
        E::AdminSuspend => {
            object(&[("reason", json!({"type": "string", "maxLength": 500}), false)])
        }
        E::AdminBulkAssignRole => object(&[
            (
                "userIds",
                json!({"type": "array", "items": uuid(), "minItems": 1, "maxItems": 1000}),
                true,
            ),
            ("roleId", uuid(), true),
        ]),
        E::AccountDeactivate | E::AccountDelete => object(&[("password", password(), true)]),
        E::AccountReactivate | E::AccountRecover => credentials(),
        E::AccountPermanentDelete => object(&[
            ("password", password(), true),
            ("confirmEmail", email(), true),
        ]),
        E::AuditCleanup => object(&[(
            "retentionDays",
            json!({"type": "integer", "minimum": 1, "maximum": 3650, "default": 90}),
            false,
        )]),
        _ => return None,
    })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn page_params() -> Vec<Value> {
    vec![
        query(
            "page",
            json!({"type": "integer", "minimum": 1, "default": 1}),
            "Page, from 1",
        ),
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            "Items per page",
        ),
    ]
}

/// The query parameters an endpoint reads.
fn query_params(endpoint: Endpoint) -> Vec<Value> {
    use Endpoint as E;
    let date = || json!({"type": "string", "description": "YYYY-MM-DD or RFC 3339"});
    match endpoint {
        E::VerifyEmailGet => vec![query("token", string(), "The token from the email")],
        E::CheckEmail => vec![query("email", string(), "The address to check")],
        E::CheckUsername => vec![query("username", string(), "The name to check")],
        E::ListNotifications => {
            let mut params = page_params();
            params.push(query(
                "unreadOnly",
                json!({"type": "boolean"}),
                "Unread only",
            ));
            params
        }
        E::AdminListUsers => {
            let mut params = vec![
                query(
                    "q",
                    json!({"type": "string", "maxLength": 100}),
                    "Substring of email, username, first and last name",
                ),
                query("role", string(), "Role name"),
                query(
                    "status",
                    json!({"type": "string", "enum": ["active", "inactive", "suspended", "deleted"]}),
                    "Account state (deleted users only with `deleted`)",
                ),
                query("verified", json!({"type": "boolean"}), "Verified address"),
                query(
                    "sortBy",
                    json!({"type": "string", "enum": crate::store::UserSortField::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>()}),
                    "Sort column",
                ),
                query(
                    "order",
                    json!({"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
                    "Order",
                ),
            ];
            params.extend(page_params());
            params
        }
        E::AuditList => {
            let mut params = vec![
                query("userId", uuid(), "Rows about or by this user"),
                query("action", string(), "Action, e.g. USER_LOGIN"),
                query("resource", string(), "Resource kind, e.g. session"),
                query("startDate", date(), "At or after"),
                query("endDate", date(), "Before (a date includes the whole day)"),
            ];
            params.extend(page_params());
            params
        }
        E::AuditUser => page_params(),
        _ => Vec::new(),
    }
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let name = name.trim_start_matches('*');
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect()
}

fn success_status(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Register | Endpoint::CreateRole => "201",
        _ => "200",
    }
}

/// What a success answer carries.
fn success_content(endpoint: Endpoint) -> Value {
    use Endpoint as E;
    match endpoint {
        E::Metrics => json!({"text/plain": {"schema": {"type": "string"}}}),
        E::Jwks => {
            json!({"application/json": {"schema": {"type": "object", "properties": {"keys": {"type": "array", "items": {"type": "object"}}}}}})
        }
        E::GetAvatar => json!({
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
        }),
        E::Docs | E::DocsAsset => json!({"text/html": {"schema": {"type": "string"}}}),
        E::OpenApi => json!({"application/json": {"schema": {"type": "object"}}}),
        _ => json!({"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}}),
    }
}

fn operation(route: &Route) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), json!(route.summary));
    op.insert("operationId".into(), json!(format!("{:?}", route.endpoint)));
    let tag = route
        .path
        .trim_start_matches("/api/v1/")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("root");
    op.insert("tags".into(), json!([tag]));
    let mut params = path_params(route.path);
    params.extend(query_params(route.endpoint));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if route.endpoint == Endpoint::UploadAvatar {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "properties": {"avatar": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP, at most 2 MB"}},
                "required": ["avatar"],
            }}}}),
        );
    } else if let Some(schema) = request_body(route.endpoint) {
        op.insert(
            "requestBody".into(),
            json!({"required": false, "content": {"application/json": {"schema": schema}}}),
        );
    }
    let mut responses = Map::new();
    responses.insert(
        success_status(route.endpoint).into(),
        json!({"description": "Success", "content": success_content(route.endpoint)}),
    );
    responses.insert(
        "default".into(),
        json!({"description": "An error in the envelope (see docs/ERRORS.md)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
    );
    op.insert("responses".into(), Value::Object(responses));
    if route.authenticated {
        op.insert("security".into(), json!([{"bearerAuth": []}]));
    }
    Value::Object(op)
}

/// The document for the routes served with or without the first seed's routes.
pub fn document(compatibility_routes: bool) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES.iter().filter(|r| compatibility_routes || !r.compat) {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.to_ascii_lowercase(), operation(route));
        }
    }
    let codes: Vec<&str> = crate::error::ALL_CODES.to_vec();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "usermgmt",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "User management: registration, login with rotating refresh tokens, TOTP two-factor, sessions, profiles, roles and permissions, administration with impersonation, account lifecycle, GDPR export, avatars, notifications and the audit trail.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": {
                "Success": {
                    "type": "object",
                    "properties": {
                        "success": {"const": true},
                        "message": {"type": "string"},
                        "data": {},
                    },
                    "required": ["success", "message"],
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "success": {"const": false},
                        "message": {"type": "string"},
                        "code": {"type": "string", "enum": codes},
                        "statusCode": {"type": "integer"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                                "required": ["field", "message"],
                            },
                        },
                    },
                    "required": ["success", "message", "code", "statusCode"],
                },
            },
        },
    })
}

/// A file of the Swagger UI page (`tail`: its path under `/docs/`, empty for the page itself),
/// with its content type.
pub fn docs_file(tail: &str) -> Option<(String, Vec<u8>)> {
    let tail = if tail.is_empty() { "/" } else { tail };
    let config = std::sync::Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json"));
    match utoipa_swagger_ui::serve(tail, config) {
        Ok(Some(file)) => Some((file.content_type, file.bytes.into_owned())),
        _ => None,
    }
}
