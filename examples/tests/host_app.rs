//! A host app embedding usermgmt as the README's "First hour" shows, on a real socket, with Axum
//! and with Actix: the API under a custom mount prefix (`/identity`), its `public_url` set to
//! where the app listens, the app's own `CurrentUser` route. A sign-up's verification mail (read
//! from the mailer) must carry a link at public_url + prefix that verifies the address when
//! followed; avatar URLs, the OpenAPI `servers` and the API page must follow the prefix too.
//! Then the same app in cookie mode: sign-in cookies, the host's route and a CSRF-checked change.
//! The app's own route is added on the far side of the API's registration from the usual one
//! (Axum: after `.layer(extension(api))`, which does not wrap it; Actix: before `configure`),
//! and must find the API all the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use usermgmt_core::api::Api;
use usermgmt_core::avatars::MemoryAvatarStorage;
use usermgmt_core::config::{CookieSessionConfig, HashingConfig};
use usermgmt_core::mail::MemoryMailer;
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::testing::http_suite::{PNG, multipart};
use usermgmt_core::{Config, UserManager};

const PREFIX: &str = "/identity";
const PASSWORD: &str = "Str0ng!Passw0rd";

/// The API of a host app listening on `port`, mounted under [`PREFIX`].
fn api(port: u16) -> Api {
    let config = Config::builder("host-app-secret-host-app-secret-0123456789")
        .public_url(format!("http://127.0.0.1:{port}"))
        .mount_prefix(PREFIX)
        .hashing(HashingConfig::insecure_fast_for_tests())
        // Plain HTTP on loopback: cookies without `Secure`, as in development.
        .cookie_sessions(CookieSessionConfig {
            secure: false,
            ..CookieSessionConfig::default()
        })
        .build()
        .unwrap();
    let manager = UserManager::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .avatar_storage(Arc::new(MemoryAvatarStorage::default()))
        .build()
        .unwrap();
    Api::new(manager)
}

/// The walk a newcomer makes, against the app at `base` (`http://127.0.0.1:<port>`).
async fn sign_up_follow_the_link_and_sign_in(base: &str, api: &Api) {
    let client = reqwest::Client::new();
    let identity = format!("{base}{PREFIX}");

    // The routes are under the prefix, and only there.
    let health = client
        .get(format!("{identity}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let at_root = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        at_root.status(),
        StatusCode::NOT_FOUND,
        "the root is the host's"
    );

    let email = format!("ann-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = client
        .post(format!("{identity}/api/v1/auth/register"))
        .json(&json!({"email": email, "username": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);

    // The mail, as the outbox worker hands it to the mailer.
    let mailer = MemoryMailer::new();
    api.manager()
        .outbox_worker(Arc::new(mailer.clone()))
        .deliver_due()
        .await
        .unwrap();
    let mail = mailer.last_to(&email).expect("a verification mail");
    let link = mail
        .text
        .split_whitespace()
        .find(|word| word.starts_with("http"))
        .expect("a link in the mail")
        .to_owned();
    assert!(
        link.starts_with(&format!("{identity}/api/v1/auth/verify-email?token=")),
        "{link}"
    );
    let followed = client.get(&link).send().await.unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    let followed: Value = followed.json().await.unwrap();
    assert_eq!(followed["data"]["user"]["emailVerified"], json!(true));

    // Signed in, the host's own route knows the caller.
    let login: Value = client
        .post(format!("{identity}/api/v1/auth/login"))
        .json(&json!({"identifier": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = client
        .get(format!("{base}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.text().await.unwrap(), "hello ann");
    let anonymous = client.get(format!("{base}/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // An avatar URL is absolute, under the prefix, and serves the image.
    let uploaded: Value = client
        .post(format!("{identity}/api/v1/upload/avatar"))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=B0und")
        .body(multipart("B0und", "image/png", "me.png", PNG))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let avatar = uploaded["data"]["avatar"].as_str().unwrap();
    assert!(
        avatar.starts_with(&format!("{identity}/api/v1/upload/avatars/")),
        "{avatar}"
    );
    let image = client.get(avatar).send().await.unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.bytes().await.unwrap().as_ref(), PNG);

    // The document names the prefixed server; the page fetches it and its files there.
    let document: Value = client
        .get(format!("{identity}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["servers"][0]["url"], json!(identity));
    let page = client
        .get(format!("{identity}/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("\"/identity/docs/"), "{page}");
    assert!(!page.contains("\"./"), "{page}");
    let initializer = client
        .get(format!("{identity}/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("\"/identity/api/v1/openapi.json\""),
        "{initializer}"
    );
}

/// The same app as a browser with a cookie session sees it (after the bearer walk: `ann` is
/// verified): sign in with `X-Auth-Mode: cookie`, the host's route and the API's routes with
/// the cookies, a change with the CSRF token, logout clearing the cookies.
async fn the_same_app_with_a_cookie_session(base: &str) {
    let client = reqwest::Client::new();
    let identity = format!("{base}{PREFIX}");
    let login = client
        .post(format!("{identity}/api/v1/auth/login"))
        .header("x-auth-mode", "cookie")
        .json(&json!({"identifier": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let set: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body: Value = login.json().await.unwrap();
    let csrf = body["data"]["tokens"]["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(body["data"]["tokens"].get("accessToken").is_none());
    let pair = |name: &str| {
        set.iter()
            .find(|line| line.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {set:?}"))
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let refresh_line = set
        .iter()
        .find(|line| line.starts_with("usermgmt_session_refresh="))
        .unwrap();
    assert!(
        refresh_line.contains("Path=/identity/api/v1"),
        "the refresh cookie goes to the API's paths only: {refresh_line}"
    );
    // What the browser sends to the host's pages, and to the API's.
    let to_pages = format!(
        "{}; {}",
        pair("usermgmt_session"),
        pair("usermgmt_session_csrf")
    );
    let to_api = format!("{to_pages}; {}", pair("usermgmt_session_refresh"));

    let me = client
        .get(format!("{base}/me"))
        .header("cookie", &to_pages)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.text().await.unwrap(), "hello ann");

    let change = |csrf: Option<&str>| {
        let mut request = client
            .put(format!("{identity}/api/v1/users/profile"))
            .header("cookie", &to_api)
            .header("origin", base)
            .json(&json!({"firstName": "Ann"}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(change(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(change(Some(&csrf)).await.unwrap().status(), StatusCode::OK);

    let logout = client
        .post(format!("{identity}/api/v1/auth/logout"))
        .header("cookie", &to_api)
        .header("origin", base)
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert!(
        logout
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("usermgmt_session=;")),
        "the cookies are cleared"
    );
    let me = client
        .get(format!("{base}/me"))
        .header("cookie", &to_pages)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the session ended");
}

mod with_axum {
    use super::*;
    use axum::routing::get;
    use usermgmt_axum::CurrentUser;

    async fn me(CurrentUser(caller): CurrentUser) -> String {
        format!("hello {}", caller.user.username)
    }

    #[tokio::test]
    async fn a_prefixed_axum_app_hands_out_links_that_work() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let api = api(port);
        let app = axum::Router::new()
            .merge(usermgmt_axum::router(api.clone()))
            .layer(usermgmt_axum::extension(api.clone()))
            // After the layer, which does not wrap it: found through `router` all the same.
            .route("/me", get(me));
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        let base = format!("http://127.0.0.1:{port}");
        sign_up_follow_the_link_and_sign_in(&base, &api).await;
        the_same_app_with_a_cookie_session(&base).await;
        server.abort();
    }
}

mod with_actix {
    use super::*;
    use actix_web::{App, HttpServer, web};
    use usermgmt_actix::CurrentUser;

    async fn me(CurrentUser(caller): CurrentUser) -> String {
        format!("hello {}", caller.user.username)
    }

    #[actix_rt::test]
    async fn a_prefixed_actix_app_hands_out_links_that_work() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let api = api(port);
        let app_api = api.clone();
        let server = HttpServer::new(move || {
            App::new()
                // Before the API is configured: the extractor finds it all the same.
                .route("/me", web::get().to(me))
                .configure(usermgmt_actix::configure(app_api.clone()))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        let base = format!("http://127.0.0.1:{port}");
        sign_up_follow_the_link_and_sign_in(&base, &api).await;
        the_same_app_with_a_cookie_session(&base).await;
        handle.stop(false).await;
    }
}
