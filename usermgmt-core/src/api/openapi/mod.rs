//! The OpenAPI 3.1 document, generated from the route table (so every served route is in it
//! and nothing else is), with the request schemas of every body and query, the success
//! envelope, the error envelope and its codes, and bearer security where a token is needed.
//! The interactive page at `/docs` is Swagger UI, vendored in the binary (works offline).

pub(crate) mod derived;
pub(crate) mod responses;
pub(crate) mod rules;
pub(crate) mod schema;

use super::routes::{Docs, RequestDocs, Route, handler};
use super::{ApiResponse, RequestContext};
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};

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

fn operation(route: &Route, config: &crate::Config) -> Value {
    let docs = route.docs(config);
    let mut op = Map::new();
    op.insert("summary".into(), json!(route.summary));
    op.insert("operationId".into(), json!(route.name));
    let tag = route
        .path
        .trim_start_matches("/api/v1/")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("root");
    op.insert("tags".into(), json!([tag]));
    let mut params = path_params(route.path);
    params.extend(docs.query.iter().cloned());
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    match &docs.request {
        Some(RequestDocs::Multipart(schema)) => {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"multipart/form-data": {"schema": schema}}}),
            );
        }
        Some(RequestDocs::Json(schema)) => {
            // No body reads as `{}`: the body is only needed when a member is.
            let needed = schema["required"].as_array().is_some_and(|r| !r.is_empty());
            op.insert(
                "requestBody".into(),
                json!({"required": needed, "content": {"application/json": {"schema": schema}}}),
            );
        }
        None => {}
    }
    let mut responses = Map::new();
    if docs.content.is_null() {
        // A redirect: no body, the target in `Location`.
        responses.insert(
            docs.status.to_string(),
            json!({"description": "A redirect; the target is in Location", "headers": {"Location": {"required": true, "schema": {"type": "string", "format": "uri"}}}}),
        );
    } else {
        responses.insert(
            docs.status.to_string(),
            json!({"description": "Success", "content": docs.content}),
        );
    }
    for (status, description) in &docs.also {
        responses.insert(
            status.to_string(),
            json!({"description": description, "content": docs.content}),
        );
    }
    if route.ops_only {
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
        // Either scheme: an access token, or (where keys are not refused) an API key in
        // `X-API-Key` (or as the bearer token).
        let security = if route.refuses_api_keys {
            json!([{"bearerAuth": []}])
        } else {
            json!([{"bearerAuth": []}, {"apiKeyAuth": []}])
        };
        op.insert("security".into(), security);
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

/// The document of the rows of `routes` an API with `config` serves (the first seed's routes
/// when on; the password lengths of its policy), with the answers' shared `shapes` as its
/// `components.schemas`. `crate::capabilities::openapi_document` is the one of the whole table.
pub fn document(routes: &[Route], shapes: Vec<(String, Value)>, config: &crate::Config) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes
        .iter()
        .filter(|r| config.compatibility_routes || !r.compat)
        .filter(|r| config.console || !r.console_page)
    {
        let entry = paths
            .entry(documented_path(route.path))
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.to_ascii_lowercase(), operation(route, config));
        }
    }
    // The first seed's paths at the root, when served there: the same operations.
    if config.compatibility_routes && config.compatibility_root_routes {
        for route in routes.iter().filter(|r| r.at_root) {
            let Some(root) = route.path.strip_prefix(super::API_PREFIX) else {
                continue;
            };
            let entry = paths
                .entry(documented_path(root))
                .or_insert_with(|| json!({}));
            if let Value::Object(methods) = entry {
                // The same operation at a second path: an operationId names one path's only.
                let mut root_operation = operation(route, config);
                root_operation["operationId"] = json!(format!("{}AtRoot", route.name));
                methods.insert(route.method.to_ascii_lowercase(), root_operation);
            }
        }
    }
    let mut schemas = component_schemas(shapes);
    let mut security_schemes = json!({
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token; or an API key (umk_…) as the bearer token, on the routes that accept keys"},
        "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key (umk_…, POST /api-keys): the permissions of its scopes its owner holds now. Refused (403 API_KEY_NOT_ALLOWED) on key, password, two-factor, session, passkey, account and sign-in routes"},
    });
    if let Some(cookies) = &config.cookie_sessions {
        super::cookies::document(cookies, &mut schemas, &mut security_schemes);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "usermgmt",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "User management: registration, login with rotating refresh tokens, TOTP two-factor, sessions, profiles, roles and permissions, administration with impersonation, account lifecycle, GDPR export, avatars, notifications and the audit trail.",
        },
        // Paths are the table's (`/api/v1/…`), under the server's URL: the public URL and the
        // mount prefix; without a public URL, the prefix alone (relative to the document's own
        // address), never a guessed host.
        "servers": [{"url": match config.api_link_base() {
            base if base.is_empty() => "/".to_owned(),
            base => base,
        }}],
        "paths": paths,
        "components": {
            "securitySchemes": security_schemes,
            "schemas": schemas,
        },
    })
}

/// `components.schemas`: the shapes answers share and the error envelope.
/// The answers' shared `shapes` and the error envelope.
fn component_schemas(shapes: Vec<(String, Value)>) -> Map<String, Value> {
    let codes: Vec<&str> = crate::error::ALL_CODES.to_vec();
    let mut schemas: Map<String, Value> = shapes.into_iter().collect();
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
/// with its content type. `base_path` ([`crate::Config::api_base_path`]: a proxy path and the
/// mount prefix, empty at the root) goes before the document's path the page fetches.
pub fn docs_file(tail: &str, base_path: &str) -> Option<(String, Vec<u8>)> {
    let tail = if tail.is_empty() { "/" } else { tail };
    let config = std::sync::Arc::new(utoipa_swagger_ui::Config::from(format!(
        "{base_path}{}/openapi.json",
        super::API_PREFIX
    )));
    match utoipa_swagger_ui::serve(tail, config) {
        Ok(Some(file)) => Some((file.content_type, file.bytes.into_owned())),
        _ => None,
    }
}

/// The document and the page that shows it.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/openapi.json",
        "OpenApi",
        "This API as an OpenAPI 3.1 document",
        handler!(openapi_json),
        |_| Docs::content(json!({"application/json": {"schema": {"type": "object"}}})),
    ),
    Route::new(
        "GET",
        "/docs",
        "Docs",
        "The interactive API page (Swagger UI, served offline)",
        handler!(docs_page),
        |_| Docs::content(json!({"text/html": {"schema": {"type": "string"}}})),
    ),
    Route::new(
        "GET",
        "/docs/{*file}",
        "DocsAsset",
        "Files of the API page",
        handler!(docs_asset),
        |_| {
            // The page's scripts, styles and icons (types as the vendored bundle names them).
            let text = json!({"schema": {"type": "string"}});
            let binary = json!({"schema": {"type": "string", "format": "binary"}});
            Docs::content(json!({
                "text/html": text,
                "text/css": text,
                "text/javascript": text,
                "application/javascript": text,
                "application/json": {"schema": {}},
                "image/png": binary,
            }))
        },
    ),
];

async fn openapi_json(api: &super::Api, _: &RequestContext) -> Result<ApiResponse> {
    let mut response = ApiResponse::json(
        200,
        &document(api.routes(), api.answer_shapes(), api.manager().config()),
    );
    response.push_header("cache-control", "public, max-age=300");
    Ok(response)
}

async fn docs_page(api: &super::Api, _: &RequestContext) -> Result<ApiResponse> {
    docs_answer("", &api.manager().config().api_base_path())
}

async fn docs_asset(api: &super::Api, ctx: &RequestContext) -> Result<ApiResponse> {
    docs_answer(
        ctx.param("file").unwrap_or_default(),
        &api.manager().config().api_base_path(),
    )
}

fn docs_answer(tail: &str, base_path: &str) -> Result<ApiResponse> {
    let (content_type, mut body) = docs_file(tail, base_path).ok_or(Error::RouteNotFound)?;
    if tail.is_empty() || tail == "index.html" {
        // Served at /docs (no trailing slash): point its relative links under /docs/, itself
        // under the mount prefix (and a proxy's path).
        let docs = format!("{base_path}{}", super::DOCS_PREFIX);
        body = String::from_utf8_lossy(&body)
            .replace("\"./", &format!("\"{docs}/"))
            .replace("href=\"index.css\"", &format!("href=\"{docs}/index.css\""))
            .into_bytes();
    }
    let mut response = ApiResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), content_type)],
        body,
    };
    response.push_header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    );
    response.push_header("cache-control", "public, max-age=3600");
    Ok(response)
}

/// Writes the served document, with compatibility routes on and off, to compare it across a
/// change that must not alter it (deriving schemas from types, moving routes):
/// `OPENAPI_DUMP=/tmp/a.json cargo test --workspace --all-features --lib dump_document` before
/// and after, then `diff <(jq -S . /tmp/a.json) <(jq -S . /tmp/b.json)` (and `.nocompat`).
/// Without `OPENAPI_DUMP` it writes to a temporary file, so it runs in every suite run.
#[cfg(test)]
mod dump_for_review {
    use serde_json::Value;

    #[test]
    fn dump_document() {
        let path = std::env::var("OPENAPI_DUMP").unwrap_or_else(|_| {
            let name = format!("usermgmt-openapi-{}.json", uuid::Uuid::new_v4());
            std::env::temp_dir().join(name).display().to_string()
        });
        let mut config = crate::Config::builder("a-test-secret-of-at-least-thirty-two-bytes!!")
            .build()
            .unwrap();
        let mut written = Vec::new();
        for (compat, file) in [(true, path.clone()), (false, format!("{path}.nocompat"))] {
            config.compatibility_routes = compat;
            config.compatibility_root_routes = compat;
            let document = crate::capabilities::openapi_document(&config);
            std::fs::write(&file, serde_json::to_string_pretty(&document).unwrap()).unwrap();
            let read: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            assert_eq!(read, document, "{file} holds the served document");
            written.push(read);
        }
        for document in &written {
            let mut ids = std::collections::BTreeSet::new();
            for methods in document["paths"].as_object().unwrap().values() {
                for operation in methods.as_object().unwrap().values() {
                    let id = operation["operationId"].as_str().unwrap();
                    assert!(
                        ids.insert(id.to_owned()),
                        "operationId {id} twice (OpenAPI: unique)"
                    );
                }
            }
        }
        let paths = |doc: &Value| doc["paths"].as_object().unwrap().len();
        assert!(
            paths(&written[1]) < paths(&written[0]),
            "the first seed's routes are documented only when they are served"
        );
        if std::env::var("OPENAPI_DUMP").is_err() {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(format!("{path}.nocompat"));
        }
    }
}

#[cfg(test)]
mod servers {
    fn server_of(builder: crate::config::ConfigBuilder) -> serde_json::Value {
        let config = builder.build().unwrap();
        crate::capabilities::openapi_document(&config)["servers"][0]["url"].clone()
    }

    #[test]
    fn the_server_is_relative_until_a_public_url_is_set() {
        let builder = || crate::Config::builder("a-test-secret-of-at-least-thirty-two-bytes!!");
        assert_eq!(server_of(builder()), "/");
        assert_eq!(server_of(builder().mount_prefix("/identity")), "/identity");
        assert_eq!(
            server_of(
                builder()
                    .public_url("https://acme.test/app")
                    .mount_prefix("/identity")
            ),
            "https://acme.test/app/identity"
        );
    }
}
