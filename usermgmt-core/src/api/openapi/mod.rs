//! The OpenAPI 3.1 document, generated from the route table (so every served route is in it
//! and nothing else is), with the request schemas of every body and query, the success
//! envelope, the error envelope and its codes, and bearer security where a token is needed.
//! The interactive page at `/docs` is Swagger UI, vendored in the binary (works offline).

mod responses;

use super::routes::{Endpoint, ROUTES, Route};
use serde_json::{Map, Value, json};

fn string() -> Value {
    json!({"type": "string"})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// A closed object (the API refuses unknown fields) with `(name, schema, required)` members.
/// An optional member also accepts `null` (read as absent); a required string must not be
/// empty (an empty one is refused as missing).
fn object(members: &[(&str, Value, bool)]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, schema, needed) in members {
        let mut schema = schema.clone();
        if *needed {
            required.push(json!(name));
            if schema["type"] == json!("string") && schema.get("minLength").is_none() {
                // Trimmed before use: blank is as good as missing.
                schema["minLength"] = json!(1);
                if schema.get("pattern").is_none() && schema.get("format").is_none() {
                    schema["pattern"] = json!(r"\S");
                }
            }
        } else {
            match schema.get_mut("type") {
                Some(Value::String(kind)) => {
                    let kind = kind.clone();
                    schema["type"] = json!([kind, "null"]);
                }
                Some(Value::Array(kinds)) if !kinds.contains(&json!("null")) => {
                    kinds.push(json!("null"));
                }
                _ => {}
            }
        }
        properties.insert((*name).to_owned(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Text without control characters (what every free-text field refuses), at most `max` long.
fn plain_text(max: usize) -> Value {
    json!({"type": "string", "maxLength": max, "pattern": r"^[^\u0000-\u001F\u007F-\u009F]*$"})
}

/// A first or last name (`domain::clean_name`): letters of any script, combining marks, spaces,
/// `'`, `’`, `-` and `.`, at most `MAX_NAME_LEN` characters. The pattern refuses every ASCII and
/// Latin-1 character outside that set; the letter classes of other scripts (which a pattern
/// without Unicode property escapes cannot name) are stated in the description.
fn person_name() -> Value {
    json!({
        "type": "string",
        "maxLength": crate::domain::MAX_NAME_LEN,
        "pattern": r"^[^\u0000-\u001F\u0021-\u0026\u0028-\u002C\u002F-\u0040\u005B-\u0060\u007B-\u00BF\u00D7\u00F7]*$",
        "description": "Letters of any script, combining marks, spaces, apostrophes, hyphens and periods, with at least one letter; no digits, symbols, emoji or format characters. Blank reads as absent.",
    })
}

/// Text without control characters, of any length.
fn no_control() -> Value {
    json!({"type": "string", "pattern": r"^[^\u0000-\u001F\u007F-\u009F]*$"})
}

/// Multi-line text (control characters refused but the line feed), at most `max` long.
fn lines(max: usize) -> Value {
    json!({"type": "string", "maxLength": max, "pattern": r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$"})
}

/// A text field with a format, where blank (empty or spaces) also reads as "none".
fn blank_or(pattern: &str, description: &str) -> Value {
    json!({"type": "string", "pattern": format!(r"^\s*({pattern})?\s*$"), "description": description})
}

fn permissions_enum() -> Value {
    json!({"type": "string", "enum": crate::rbac::PERMISSIONS})
}

/// Optional members of which at least one must be given, as a non-empty string.
fn one_of_members(body: &mut Value, names: &[&str]) {
    for name in names {
        body["properties"][*name]["type"] = json!("string");
        body["properties"][*name]["minLength"] = json!(1);
    }
    body["anyOf"] = names.iter().map(|n| json!({"required": [n]})).collect();
}

/// The JSON body an endpoint reads, if any.
fn request_body(endpoint: Endpoint, policy: &crate::config::PasswordPolicy) -> Option<Value> {
    use Endpoint as E;
    let password = || json!({"type": "string", "format": "password"});
    // The composition rules and the list of common passwords cannot be said in a schema; the
    // length can.
    let new_password = || {
        json!({
            "type": "string",
            "format": "password",
            "minLength": policy.min_length,
            "maxLength": policy.max_length,
            "description": "An upper-case and a lower-case letter, a digit and a special character; not a common password, nor the email or username",
        })
    };
    let email = || json!({"type": "string", "format": "email"});
    let code = || object(&[("code", string(), true)]);
    let credentials = || object(&[("email", email(), true), ("password", password(), true)]);
    // Blank or null clears a field; a value is trimmed.
    let profile = || {
        let name = person_name();
        object(&[
            ("firstName", name.clone(), false),
            ("lastName", name, false),
            ("bio", lines(500), false),
            (
                "phone",
                blank_or(r"\+[1-9][0-9]{1,14}", "E.164, e.g. +14155550123"),
                false,
            ),
            (
                "dateOfBirth",
                json!({
                    "type": "string",
                    "anyOf": [{"format": "date"}, {"pattern": r"^\s*$"}],
                    "description": "YYYY-MM-DD, in the past, from 1900",
                }),
                false,
            ),
            ("address", lines(200), false),
            ("city", lines(100), false),
            ("country", lines(100), false),
            (
                "timezone",
                blank_or(
                    r"UTC|[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)+",
                    "IANA time zone, e.g. Europe/Paris",
                ),
                false,
            ),
            (
                "language",
                blank_or("[A-Za-z]{2}", "ISO 639-1, e.g. fr"),
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
            ("description", plain_text(500), false),
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
            (
                "username",
                json!({"type": "string", "pattern": "^[A-Za-z0-9_]{3,30}$"}),
                true,
            ),
            ("password", new_password(), true),
            ("firstName", person_name(), false),
            ("lastName", person_name(), false),
        ]),
        E::Login => {
            let mut body = object(&[
                ("identifier", string(), false),
                ("email", string(), false),
                ("username", string(), false),
                ("password", password(), true),
            ]);
            one_of_members(&mut body, &["identifier", "email", "username"]);
            body
        }
        E::LoginTwoFactor | E::AccountReactivateTwoFactor | E::AccountRecoverTwoFactor => {
            object(&[("challengeToken", string(), true), ("code", string(), true)])
        }
        E::Logout => object(&[("refreshToken", string(), false)]),
        E::Refresh => object(&[("refreshToken", string(), true)]),
        E::VerifyEmailPost => object(&[("token", string(), true)]),
        E::ResendVerification | E::ForgotPassword => object(&[("email", email(), true)]),
        E::ResetPassword => object(&[
            ("token", string(), true),
            ("password", new_password(), true),
            (
                "confirmPassword",
                json!({"type": "string", "format": "password", "description": "The same as password"}),
                true,
            ),
        ]),
        E::ChangePassword => object(&[
            ("currentPassword", password(), true),
            ("newPassword", new_password(), true),
            (
                "confirmPassword",
                json!({"type": "string", "format": "password", "description": "The same as newPassword"}),
                true,
            ),
        ]),
        E::ReplaceProfile | E::PatchProfile => profile(),
        E::UpdatePreferences => json!({
            "type": "object",
            "propertyNames": {"pattern": "^[^\\u0000]*$"},
            "description": "Shallow-merged into the preferences; a null value removes a key (16 KiB at most once merged; no U+0000 in any key or string, at any depth)",
        }),
        E::TwoFactorSetup => object(&[]),
        E::TwoFactorEnable | E::TwoFactorVerify | E::TwoFactorBackupCodes => code(),
        E::TwoFactorDisable => {
            let mut body = object(&[("code", string(), false), ("password", password(), false)]);
            one_of_members(&mut body, &["code", "password"]);
            body
        }
        E::CreateRole => role(true),
        E::UpdateRole => role(false),
        E::AssignRole => object(&[("roleId", uuid(), true)]),
        E::AdminSuspend => object(&[("reason", plain_text(500), false)]),
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

/// A query parameter the endpoint cannot do without.
fn required_query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": true, "schema": schema, "description": description})
}

/// A query value that is empty or only spaces, which the server reads as absent.
fn blank() -> Value {
    json!({"type": "string", "pattern": "^\\s*$"})
}

/// `schema`, or blank (read as absent).
fn or_blank(schema: Value) -> Value {
    json!({"anyOf": [schema, blank()]})
}

/// A yes/no query parameter: `true`/`false`, `1`/`0`, or blank (read as absent).
fn flag() -> Value {
    json!({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["1", "0"]}, blank()]})
}

fn page_params() -> Vec<Value> {
    vec![
        query(
            "page",
            json!({"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
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
    // An empty query parameter reads as absent (what an HTML form sends for a blank field).
    let date = || {
        json!({
            "type": "string",
            "anyOf": [{"format": "date"}, {"format": "date-time"}, blank()],
            "description": "YYYY-MM-DD or RFC 3339",
        })
    };
    match endpoint {
        E::VerifyEmailGet => vec![required_query(
            "token",
            json!({"type": "string", "pattern": "\\S"}),
            "The token from the email",
        )],
        E::CheckEmail => vec![required_query(
            "email",
            json!({"type": "string", "format": "email"}),
            "The address to check",
        )],
        E::CheckUsername => vec![required_query(
            "username",
            json!({"type": "string", "pattern": "^[A-Za-z0-9_]{3,30}$"}),
            "The name to check",
        )],
        E::ListNotifications => {
            let mut params = page_params();
            params.push(query("unreadOnly", flag(), "Unread only"));
            params
        }
        E::AdminListUsers => {
            let mut params = vec![
                query(
                    "q",
                    plain_text(100),
                    "Substring of email, username, first and last name",
                ),
                query("role", no_control(), "Role name"),
                query(
                    "status",
                    or_blank(
                        json!({"type": "string", "enum": ["active", "inactive", "suspended", "deleted"]}),
                    ),
                    "Account state (deleted users only with `deleted`)",
                ),
                query("verified", flag(), "Verified address"),
                query(
                    "sortBy",
                    or_blank(
                        json!({"type": "string", "enum": crate::store::UserSortField::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>()}),
                    ),
                    "Sort column",
                ),
                query(
                    "order",
                    or_blank(json!({"type": "string", "enum": ["asc", "desc"], "default": "desc"})),
                    "Order",
                ),
            ];
            params.extend(page_params());
            params
        }
        E::AuditList => {
            let mut params = vec![
                query(
                    "userId",
                    json!({"type": "string", "anyOf": [{"format": "uuid"}, blank()]}),
                    "Rows about or by this user",
                ),
                query("action", no_control(), "Action, e.g. USER_LOGIN"),
                query("resource", no_control(), "Resource kind, e.g. session"),
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
            // `{*file}` is the router's catch-all; OpenAPI names the parameter plainly.
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

/// The success envelope around an endpoint's `data`.
fn envelope(data: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "success": {"const": true},
            "message": {"type": "string"},
            "data": data,
        },
        "required": ["success", "message", "data"],
    })
}

/// What a success answer carries.
fn success_content(endpoint: Endpoint, compatibility_routes: bool) -> Value {
    use Endpoint as E;
    if let Some(data) = responses::data(endpoint, compatibility_routes) {
        return json!({"application/json": {"schema": envelope(data)}});
    }
    match endpoint {
        E::Metrics => json!({"text/plain": {"schema": {"type": "string"}}}),
        E::Jwks => json!({"application/json": {"schema": {
            "type": "object",
            "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
            "required": ["keys"],
        }}}),
        E::GetAvatar => json!({
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
        }),
        E::OpenApi => json!({"application/json": {"schema": {"type": "object"}}}),
        E::DocsAsset => {
            // The page's scripts, styles and icons (types as the vendored bundle names them).
            let text = json!({"schema": {"type": "string"}});
            let binary = json!({"schema": {"type": "string", "format": "binary"}});
            json!({
                "text/html": text,
                "text/css": text,
                "text/javascript": text,
                "application/javascript": text,
                "application/json": {"schema": {}},
                "image/png": binary,
            })
        }
        _ => json!({"text/html": {"schema": {"type": "string"}}}),
    }
}

fn operation(route: &Route, config: &crate::Config) -> Value {
    let compatibility_routes = config.compatibility_routes;
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
    } else if let Some(schema) = request_body(route.endpoint, &config.password_policy) {
        // No body reads as `{}`: the body is only needed when a member is.
        let needed = schema["required"].as_array().is_some_and(|r| !r.is_empty());
        op.insert(
            "requestBody".into(),
            json!({"required": needed, "content": {"application/json": {"schema": schema}}}),
        );
    }
    let mut responses = Map::new();
    let content = success_content(route.endpoint, compatibility_routes);
    responses.insert(
        success_status(route.endpoint).into(),
        json!({"description": "Success", "content": content}),
    );
    if route.endpoint == Endpoint::HealthDetailed {
        // Degraded is still a report (the success envelope), not an error.
        responses.insert(
            "503".into(),
            json!({"description": "Degraded: the database is down", "content": content}),
        );
    }
    if super::ops::is_gated(route.endpoint) {
        op.insert("description".into(), json!(OPS_ACCESS_NOTE));
        responses.insert(
            "404".into(),
            json!({"description": "ROUTE_NOT_FOUND, as for an unknown path: the client is outside OPS_ALLOWED_NETWORKS and sent no valid METRICS_TOKEN", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
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

/// How the operational routes are opened (`api/ops.rs`).
const OPS_ACCESS_NOTE: &str = "Answers only clients in the allowed networks (OPS_ALLOWED_NETWORKS; loopback and private ranges by default) or requests with `Authorization: Bearer <METRICS_TOKEN>`; anyone else gets the 404 of an unknown path.";

/// A route's path as the document writes it: `{*file}` is the router's catch-all, OpenAPI
/// names the parameter plainly.
pub fn documented_path(route_path: &str) -> String {
    route_path.replace("{*", "{")
}

/// The document of the routes an API with `config` serves (the first seed's routes when on;
/// the password lengths of its policy).
pub fn document(config: &crate::Config) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES
        .iter()
        .filter(|r| config.compatibility_routes || !r.compat)
    {
        let entry = paths
            .entry(documented_path(route.path))
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.to_ascii_lowercase(), operation(route, config));
        }
    }
    let schemas = component_schemas();
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
            "schemas": schemas,
        },
    })
}

/// `components.schemas`: the shapes answers share and the error envelope.
fn component_schemas() -> Map<String, Value> {
    let codes: Vec<&str> = crate::error::ALL_CODES.to_vec();
    let mut schemas: Map<String, Value> = responses::components()
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect();
    schemas.insert(
        "Error".into(),
        json!({
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
        }),
    );
    schemas
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
