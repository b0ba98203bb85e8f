//! One OpenAPI document for the host app's own routes and the library's:
//!
//! ```text
//! cargo run -p usermgmt-server --example openapi_merge > openapi.json
//! ```
//!
//! The app documents its own routes with utoipa; `merge_openapi_document` adds the library's
//! document (what the API serves at `/api/v1/openapi.json`: OpenAPI 3.1, paths under the
//! configured mount prefix, schemas, security schemes) to it, keeping the app's `info` and
//! `servers`, and names any path or component both define. The result is one document for
//! the app's API page or client generator. (`capabilities::openapi_document(&config)` alone
//! returns the library's document as a `serde_json::Value`.)

use usermgmt_core::Config;
use usermgmt_core::capabilities::merge_openapi_document;
use utoipa::OpenApi;

/// The host app's own route.
#[utoipa::path(
    get,
    path = "/me/plan",
    responses((status = 200, description = "The caller's plan", body = String)),
    security(("bearerAuth" = []))
)]
#[allow(dead_code)]
async fn my_plan() -> &'static str {
    "free"
}

/// The host app's document.
#[derive(OpenApi)]
#[openapi(
    info(title = "My app", version = "1.0.0"),
    servers((url = "https://app.example")),
    paths(my_plan)
)]
struct AppDoc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The same configuration the app's `Api` is built from: the prefix moves the documented paths.
    let config = Config::builder("example-only-secret-example-only-secret")
        .public_url("https://app.example")
        .mount_prefix("/identity")
        .build()?;

    let mut document = serde_json::to_value(AppDoc::openapi())?;
    let collisions = merge_openapi_document(&mut document, &config);
    if !collisions.is_empty() {
        return Err(format!("defined by both the app and the library: {collisions:?}").into());
    }

    let paths = document["paths"].as_object().map_or(0, |p| p.len());
    eprintln!("{paths} paths: the app's /me/plan and the library's");
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}
