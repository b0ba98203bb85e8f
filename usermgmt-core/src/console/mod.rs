//! Hosted pages and the web console (feature `console`, switched on by `Config::console`):
//! sign-in, sign-up, email confirmation, password reset and the two-factor step at the root;
//! the account console under `/account`; the admin console under `/admin`.
//!
//! The pages are server-rendered HTML (maud: escaped by construction) with one stylesheet and
//! one script of this project, embedded in the binary (`assets/`): no build step, no CDN,
//! nothing fetched at run time. Every action goes to the JSON API from that script in cookie
//! mode (`X-Auth-Mode: cookie`, `X-CSRF-Token`), so the console gets the API's validation,
//! rate limits, lockout and CSRF checks rather than copies of them, and its sign-ins are the
//! API's cookie sessions: ordinary sessions, listed and revocable. The pages themselves are
//! `GET` rows of the route table: the API authenticates their access cookie as it does any
//! safe request, and the page decides from the caller's current permissions what it shows
//! (the API refuses the rest anyway).
//!
//! Every page carries a strict Content-Security-Policy ([`PAGE_POLICY`]: scripts and styles
//! from this origin only, no inline script or style, no framing) beside the API's fixed
//! `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer` (a verification or reset link's
//! token never leaves in a `Referer`; the script also drops it from the address bar).

mod account;
mod admin;
#[cfg(feature = "test-util")]
mod cases;
mod pages;

use crate::api::routes::{Docs, Route, handler};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::AuthenticatedUser;
use crate::error::{Error, Result};
use maud::{DOCTYPE, Markup, html};
use serde_json::json;

/// The policy of every console page: this origin's script and stylesheet only; images from
/// this origin (avatars) and `data:` (the API's QR code); `fetch` to this origin (the API).
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLESHEET: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

fn page_docs(_: &crate::Config) -> Docs {
    Docs::content(json!({"text/html": {"schema": {"type": "string"}}}))
}

/// An admin page also answers 403 as a page (the roles lack its permission).
fn admin_page_docs(config: &crate::Config) -> Docs {
    page_docs(config).also(
        403,
        "A page saying the caller's roles do not allow this one",
    )
}

/// A console page row: `GET`, HTML, the global rate limit, served and mounted at the root
/// (under the mount prefix) only with `Config::console` on.
const fn page(
    path: &'static str,
    name: &'static str,
    summary: &'static str,
    h: crate::api::Handler,
) -> Route {
    Route::new("GET", path, name, summary, h, page_docs).console_page()
}

/// An admin page row: as [`page`], documenting its 403 page too.
const fn admin_page(
    path: &'static str,
    name: &'static str,
    summary: &'static str,
    h: crate::api::Handler,
) -> Route {
    Route::new("GET", path, name, summary, h, admin_page_docs).console_page()
}

/// The console's rows.
pub(crate) static ROUTES: &[Route] = &[
    page(
        "/",
        "ConsoleHome",
        "Console: the account when signed in, else the sign-in page",
        handler!(pages::home),
    ),
    page(
        "/signin",
        "ConsoleSignIn",
        "Console: sign in (password, passkey, providers; two-factor step)",
        handler!(pages::sign_in),
    ),
    page(
        "/signup",
        "ConsoleSignUp",
        "Console: create an account",
        handler!(pages::sign_up),
    ),
    page(
        "/verify-email",
        "ConsoleVerifyEmail",
        "Console: the email-confirmation landing page",
        handler!(pages::verify_email),
    ),
    page(
        "/forgot-password",
        "ConsoleForgotPassword",
        "Console: ask for a password-reset link",
        handler!(pages::forgot_password),
    ),
    page(
        "/reset-password",
        "ConsoleResetPassword",
        "Console: choose a new password from a reset link",
        handler!(pages::reset_password),
    ),
    page(
        "/accept-invitation",
        "ConsoleAcceptInvitation",
        "Console: accept or decline an organization's invitation",
        handler!(pages::accept_invitation),
    ),
    page(
        "/oauth/success",
        "ConsoleOAuthLanding",
        "Console: where a social sign-in lands",
        handler!(pages::oauth_success),
    ),
    page(
        "/account",
        "ConsoleAccount",
        "Console: the signed-in user's account",
        handler!(account::account),
    ),
    admin_page(
        "/admin",
        "ConsoleAdmin",
        "Console: the admin dashboard [admin:access]",
        handler!(admin::dashboard),
    ),
    admin_page(
        "/admin/users",
        "ConsoleAdminUsers",
        "Console: user search [admin:access, user:read]",
        handler!(admin::users),
    ),
    admin_page(
        "/admin/users/{userId}",
        "ConsoleAdminUser",
        "Console: one user and the admin actions [admin:access, user:read]",
        handler!(admin::user),
    ),
    admin_page(
        "/admin/roles",
        "ConsoleAdminRoles",
        "Console: roles and their permissions [admin:access, role:read]",
        handler!(admin::roles),
    ),
    admin_page(
        "/admin/audit",
        "ConsoleAdminAudit",
        "Console: the audit log, filters and CSV export [admin:access, audit:read]",
        handler!(admin::audit),
    ),
    Route::new(
        "GET",
        "/console/assets/{file}",
        "ConsoleAsset",
        "Console: its stylesheet and script (embedded)",
        handler!(asset),
        |_| {
            let text = json!({"schema": {"type": "string"}});
            Docs::content(json!({"text/css": text, "text/javascript": text}))
        },
    )
    .console_page(),
];

async fn asset(_: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let (content_type, body) = match ctx.param("file") {
        Some("console.css") => ("text/css; charset=utf-8", STYLESHEET),
        Some("console.js") => ("text/javascript; charset=utf-8", SCRIPT),
        _ => return Err(Error::RouteNotFound),
    };
    let mut response = ApiResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), content_type.to_owned())],
        body: body.as_bytes().to_vec(),
    };
    // Not `immutable`: the name carries no version, and an upgrade must reach browsers.
    response.push_header("cache-control", "public, max-age=300");
    Ok(response)
}

/// The signed-in person looking at a page, with the permissions their roles grant now.
pub(crate) struct Viewer {
    pub(crate) auth: AuthenticatedUser,
    pub(crate) permissions: Vec<String>,
    /// On an impersonation token: the username of the administrator acting as the user.
    pub(crate) impersonator: Option<String>,
    /// The `theme` preference: `light`, `dark`, or `system` (unset or anything else).
    pub(crate) theme: &'static str,
}

/// The theme a user's preferences ask for (`PUT /users/preferences` `{"theme": …}`).
fn theme_of(preferences: &serde_json::Value) -> &'static str {
    match preferences.get("theme").and_then(serde_json::Value::as_str) {
        Some("light") => "light",
        Some("dark") => "dark",
        _ => "system",
    }
}

impl Viewer {
    pub(crate) fn may(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// What every page needs: where the console lives and who looks at it.
pub(crate) struct Frame {
    /// The console's base path (proxy path and mount prefix; empty at the root).
    pub(crate) base: String,
    csrf_cookie: String,
    pub(crate) viewer: Option<Viewer>,
}

impl Frame {
    /// A path of the console, under its base.
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The frame of a request: its access cookie (which the API admitted as it admits any safe
/// request's, dropping a stale one) authenticated now, against the session's current state.
/// An API key never opens the console.
pub(crate) async fn frame(api: &Api, ctx: &RequestContext) -> Result<Frame> {
    let manager = api.manager();
    let config = manager.config();
    let csrf_cookie = config
        .cookie_sessions
        .as_ref()
        .map(|c| c.csrf_name())
        .unwrap_or_default();
    let mut viewer = None;
    if let Some(token) = ctx.bearer().filter(|t| !crate::secret::is_api_key(t))
        && let Ok((auth, profile)) = manager.authenticate_with_profile(token).await
    {
        let permissions = manager.permissions(&auth).await?;
        let impersonator = match auth.impersonator() {
            // `authenticate` admitted the token, so the administrator exists and is active.
            Some(admin_id) => manager
                .store()
                .user_by_id(admin_id)
                .await?
                .map(|admin| admin.username),
            None => None,
        };
        viewer = Some(Viewer {
            auth,
            permissions,
            impersonator,
            theme: theme_of(&profile.preferences),
        });
    }
    Ok(Frame {
        base: config.api_base_path(),
        csrf_cookie,
        viewer,
    })
}

/// An HTML answer with the console's policy.
pub(crate) fn html_answer(status: u16, markup: Markup) -> ApiResponse {
    let mut response = ApiResponse {
        status,
        headers: vec![(
            "content-type".to_owned(),
            "text/html; charset=utf-8".to_owned(),
        )],
        body: markup.into_string().into_bytes(),
    };
    response.push_header("content-security-policy", PAGE_POLICY);
    response
}

/// The page a signed-out visitor of a signed-in page gets: the script tries one refresh from
/// the refresh cookie (the access cookie lives 15 minutes, the session longer), then comes
/// back to `next` or goes to the sign-in page.
pub(crate) fn resume(frame: &Frame, next: &str) -> ApiResponse {
    let next = frame.at(next);
    html_answer(
        200,
        layout(
            frame,
            "Signing you in",
            Width::Narrow,
            "resume",
            html! {
                h1 { "One moment" }
                p data-next=(next) id="resume" { "Checking your session…" }
                noscript { p { a href=(frame.at("/signin")) { "Sign in" } } }
            },
        ),
    )
}

/// A page refused for want of a permission.
pub(crate) fn refused(frame: &Frame) -> ApiResponse {
    html_answer(
        403,
        layout(
            frame,
            "Not allowed",
            Width::Narrow,
            "refused",
            html! {
                h1 { "Not allowed" }
                p { "Your roles do not allow this page. Ask an administrator if you need it." }
                p.code { "Code: FORBIDDEN" }
                p { a href=(frame.at("/account")) { "Back to your account" } }
            },
        ),
    )
}

/// How wide a page's column is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// Forms alone (sign-in, sign-up, …).
    Narrow,
    /// Tables and several sections.
    Wide,
}

/// The frame of every page: header with navigation (by permission), the main column, the
/// script. `page` names the page for the script (`data-page`).
pub(crate) fn layout(
    frame: &Frame,
    title: &str,
    width: Width,
    page: &str,
    content: Markup,
) -> Markup {
    let signed_in = frame.viewer.is_some();
    // The signed-in user's theme preference wins over the system's (`console.css`).
    let theme = frame.viewer.as_ref().map_or("system", |v| v.theme);
    html! {
        (DOCTYPE)
        html lang="en" data-theme=(theme) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content=(if theme == "system" { "light dark" } else { theme });
                meta name="referrer" content="no-referrer";
                title { (title) " · usermgmt" }
                link rel="stylesheet" href=(frame.at("/console/assets/console.css"));
                script src=(frame.at("/console/assets/console.js")) defer {}
            }
            body data-base=(frame.base) data-csrf-cookie=(frame.csrf_cookie) data-signed-in=(signed_in) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(frame.at("/")) { "usermgmt" }
                    @if let Some(viewer) = &frame.viewer {
                        nav aria-label="Main" {
                            ul {
                                li { a href=(frame.at("/account")) { "Account" } }
                                @if viewer.may("admin:access") {
                                    li { a href=(frame.at("/admin")) { "Dashboard" } }
                                    @if viewer.may("user:read") { li { a href=(frame.at("/admin/users")) { "Users" } } }
                                    @if viewer.may("role:read") { li { a href=(frame.at("/admin/roles")) { "Roles" } } }
                                    @if viewer.may("audit:read") { li { a href=(frame.at("/admin/audit")) { "Audit log" } } }
                                }
                            }
                        }
                        @if viewer.auth.is_impersonated() {
                            // Signing out is the administrator's to do, after returning.
                            span.muted { "Acting as " (viewer.auth.user.username) }
                        } @else {
                            form data-api="POST /auth/logout" data-then="signedOut" {
                                span.muted { "Signed in as " (viewer.auth.user.username) " " }
                                button.secondary type="submit" id="sign-out" { "Sign out" }
                                div data-status {}
                            }
                        }
                    } @else {
                        nav aria-label="Main" {
                            ul {
                                li { a href=(frame.at("/signin")) { "Sign in" } }
                                li { a href=(frame.at("/signup")) { "Create account" } }
                            }
                        }
                    }
                }
                @if let Some(viewer) = frame.viewer.as_ref().filter(|v| v.auth.is_impersonated()) {
                    (impersonation_banner(frame, viewer))
                }
                main id="main" class=(if width == Width::Narrow { "narrow" } else { "" }) data-page=(page) {
                    (content)
                }
            }
        }
    }
}

/// The banner of every page while the access token carries the impersonation claim: whose
/// account this is, who acts, and the way back (`POST /admin/impersonation/stop`, then the
/// user's admin page).
fn impersonation_banner(frame: &Frame, viewer: &Viewer) -> Markup {
    let user = &viewer.auth.user;
    let admin = viewer.impersonator.as_deref().unwrap_or("an administrator");
    html! {
        section.banner id="impersonation-banner" role="region" aria-label="Impersonation" {
            p {
                strong { "You are acting as " (user.username) } " (" (user.email) "). "
                "Changes are made in their name and recorded as yours, " (admin) "."
            }
            button type="button" id="stop-impersonating" data-call="POST /admin/impersonation/stop"
                data-then="impersonationEnded" data-next=(frame.at(&format!("/admin/users/{}", user.id)))
                data-status="impersonation-status" { "Return to your account" }
            div id="impersonation-status" data-status aria-live="polite" {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_code_and_no_framing() {
        for part in [
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "default-src 'none'",
        ] {
            assert!(PAGE_POLICY.contains(part), "{part}");
        }
        assert!(!PAGE_POLICY.contains("unsafe"));
    }

    #[test]
    fn the_assets_hold_no_inline_handlers_or_storage() {
        // The script reads no token from storage and the pages set none there.
        assert!(!SCRIPT.contains("localStorage") && !SCRIPT.contains("sessionStorage"));
        assert!(
            !SCRIPT.contains("innerHTML"),
            "text goes in as text, never as markup"
        );
    }
}
