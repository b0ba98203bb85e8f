//! The pages a visitor uses before being signed in: sign-in (with its two-factor step),
//! sign-up, the email-confirmation landing, forgot and reset password.

use super::{Frame, Width, frame, html_answer, layout};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::Result;
use maud::{Markup, html};

/// `/`: the account of a signed-in visitor, the sign-in page otherwise (shown in place rather
/// than redirected, so the address stays the one the visitor typed).
pub(super) async fn home(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    if frame.viewer.is_some() {
        return super::account::account(api, ctx).await;
    }
    Ok(sign_in_page(&frame))
}

pub(super) async fn sign_in(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    Ok(sign_in_page(&frame))
}

/// A status region forms and scripts write their outcome into (announced by screen readers).
fn status(id: &str) -> Markup {
    html! { div id=(id) data-status aria-live="polite" {} }
}

fn sign_in_page(frame: &Frame) -> ApiResponse {
    let body = html! {
        h1 { "Sign in" }
        form.card id="signin-form" data-api="POST /auth/login" data-then="signin" data-public {
            label for="identifier" { "Email or username" }
            input id="identifier" name="identifier" autocomplete="username webauthn" required;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
            (status("signin-status"))
            p { a href=(frame.at("/forgot-password")) { "Forgot your password?" } }
        }
        form.card id="two-factor-step" hidden data-api="POST /auth/login/2fa" data-challenge data-then="account" data-public {
            h2 { "Two-step verification" }
            p { "Enter the 6-digit code from your authenticator app, or one of your backup codes." }
            label for="code" { "Code" }
            input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required;
            button type="submit" { "Verify" }
            button.secondary type="button" id="two-factor-passkey" data-passkey="second-factor" hidden { "Use a passkey instead" }
            (status("two-factor-status"))
        }
        section.card {
            h2 { "Other ways in" }
            button.secondary type="button" id="passkey-signin" data-passkey="sign-in" { "Sign in with a passkey" }
            div id="providers" hidden { ul.actions {} }
            p { "New here? " a href=(frame.at("/signup")) { "Create an account" } }
        }
    };
    html_answer(200, layout(frame, "Sign in", Width::Narrow, "signin", body))
}

pub(super) async fn sign_up(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let body = html! {
        h1 { "Create an account" }
        form.card id="signup-form" data-api="POST /auth/register" data-then="message" data-public {
            label for="email" { "Email" }
            input id="email" name="email" type="email" autocomplete="email" required;
            label for="username" { "Username" }
            input id="username" name="username" autocomplete="username" required minlength="3" maxlength="30" pattern="[A-Za-z0-9_]+" aria-describedby="username-hint";
            p.hint id="username-hint" { "3 to 30 letters, digits or _." }
            div.row {
                div { label for="firstName" { "First name" } input id="firstName" name="firstName" autocomplete="given-name" data-optional; }
                div { label for="lastName" { "Last name" } input id="lastName" name="lastName" autocomplete="family-name" data-optional; }
            }
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" aria-describedby="password-hint";
            p.hint id="password-hint" { "At least 8 characters with an upper-case letter, a lower-case letter, a digit and a symbol." }
            button type="submit" { "Create account" }
            (status("signup-status"))
        }
        p { "We send you an email to confirm your address. Already have an account? " a href=(frame.at("/signin")) { "Sign in" } }
    };
    Ok(html_answer(
        200,
        layout(&frame, "Create an account", Width::Narrow, "signup", body),
    ))
}

pub(super) async fn verify_email(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let body = html! {
        h1 { "Confirm your email" }
        section.card {
            div id="verify-status" data-status aria-live="polite" { p { "Confirming…" } }
            noscript { p { "This page needs JavaScript to confirm your address." } }
            p { a.button href=(frame.at("/signin")) { "Go to sign in" } }
        }
        form.card data-api="POST /auth/resend-verification" data-then="message" data-public {
            h2 { "Need a new link?" }
            label for="email" { "Email" }
            input id="email" name="email" type="email" autocomplete="email" required;
            button.secondary type="submit" { "Send a new link" }
            (status("resend-status"))
        }
    };
    Ok(html_answer(
        200,
        layout(
            &frame,
            "Confirm your email",
            Width::Narrow,
            "verify-email",
            body,
        ),
    ))
}

pub(super) async fn forgot_password(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let body = html! {
        h1 { "Forgot your password?" }
        form.card data-api="POST /auth/forgot-password" data-then="message" data-public {
            p { "Enter your email address. If it belongs to an account, we send a link to choose a new password." }
            label for="email" { "Email" }
            input id="email" name="email" type="email" autocomplete="email" required;
            button type="submit" { "Send the link" }
            (status("forgot-status"))
        }
        p { a href=(frame.at("/signin")) { "Back to sign in" } }
    };
    Ok(html_answer(
        200,
        layout(
            &frame,
            "Forgot password",
            Width::Narrow,
            "forgot-password",
            body,
        ),
    ))
}

pub(super) async fn reset_password(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let body = html! {
        h1 { "Choose a new password" }
        form.card data-api="POST /auth/reset-password" data-then="message" data-public {
            input id="reset-token" name="token" type="hidden";
            label for="password" { "New password" }
            input id="password" name="password" type="password" autocomplete="new-password" required minlength="8";
            label for="confirmPassword" { "New password again" }
            input id="confirmPassword" name="confirmPassword" type="password" autocomplete="new-password" required minlength="8";
            p.hint { "Every session of the account ends: sign in again afterwards." }
            button type="submit" { "Set the password" }
            (status("reset-status"))
        }
        p { a href=(frame.at("/signin")) { "Go to sign in" } }
    };
    Ok(html_answer(
        200,
        layout(
            &frame,
            "Reset password",
            Width::Narrow,
            "reset-password",
            body,
        ),
    ))
}

/// `/oauth/success`: where a social sign-in lands (the default `OAUTH_SUCCESS_URL`); the
/// script exchanges the one-time code for a cookie session.
pub(super) async fn oauth_success(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let body = html! {
        h1 { "Signing you in" }
        section.card {
            div id="oauth-status" data-status aria-live="polite" { p { "One moment…" } }
            p { a href=(frame.at("/signin")) { "Back to sign in" } }
        }
    };
    Ok(html_answer(
        200,
        layout(
            &frame,
            "Signing you in",
            Width::Narrow,
            "oauth-success",
            body,
        ),
    ))
}

/// `/accept-invitation`: where an organization's invitation mail links (`PUBLIC_URL` +
/// `/accept-invitation?token=…`). Accepting needs the invited address signed in; declining
/// needs the token alone.
pub(super) async fn accept_invitation(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let signed_in = frame.viewer.is_some();
    let body = html! {
        h1 { "Invitation" }
        section.card {
            p { "You were invited to join an organization." }
            @if !signed_in {
                p { "To accept, " a href=(frame.at("/signin")) { "sign in" } " with the invited address first, then open the link from the email again." }
            }
            div.actions {
                @if signed_in {
                    button type="button" id="invitation-accept" data-invitation="accept" { "Accept" }
                }
                button.secondary type="button" id="invitation-decline" data-invitation="decline" { "Decline" }
            }
            (status("invitation-status"))
        }
    };
    Ok(html_answer(
        200,
        layout(
            &frame,
            "Invitation",
            Width::Narrow,
            "accept-invitation",
            body,
        ),
    ))
}
