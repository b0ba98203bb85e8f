//! The account console (`/account`): profile and avatar, preferences, password, sessions,
//! two-factor, passkeys, linked identities, API keys, organizations, notifications, the GDPR
//! export, deactivation and deletion. The page shows the caller's own record; the lists are
//! filled from the API by the script, and every change goes through the API.

use super::{Width, frame, html_answer, layout, resume};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::Result;
use maud::{Markup, html};

fn status(id: &str) -> Markup {
    html! { div id=(id) data-status aria-live="polite" {} }
}

/// A table the script fills from `GET /api/v1{path}`.
fn list(id: &str, path: &str, render: &str, headings: &[&str], columns: &str) -> Markup {
    html! {
        div.table-wrap id=(id) data-list=(path) data-render=(render) data-columns=(columns) {
            table {
                thead { tr { @for h in headings { th scope="col" { (h) } } } }
                tbody {}
            }
            (status(&format!("{id}-status")))
        }
    }
}

pub(super) async fn account(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = frame(api, ctx).await?;
    let Some(viewer) = &frame.viewer else {
        return Ok(resume(&frame, "/account"));
    };
    let user = &viewer.auth.user;
    let body = html! {
        h1 { "Your account" }
        div id="page-status" data-status aria-live="polite" {}
        @if !user.email_verified {
            section.card role="note" {
                p { "Your email address is not confirmed yet. Look for our email, or ask for a new link:" }
                form data-api="POST /auth/resend-verification" data-then="message" {
                    input type="hidden" name="email" value=(user.email);
                    button.secondary type="submit" { "Send a new confirmation link" }
                    (status("resend-status"))
                }
            }
        }
        form.card id="profile" data-api="PATCH /users/profile" data-then="message" {
            h2 { "Profile" }
            p.muted { (user.email) " · @" (user.username) }
            div.row {
                div { label for="firstName" { "First name" } input id="firstName" name="firstName" autocomplete="given-name" value=(user.first_name.as_deref().unwrap_or_default()); }
                div { label for="lastName" { "Last name" } input id="lastName" name="lastName" autocomplete="family-name" value=(user.last_name.as_deref().unwrap_or_default()); }
            }
            button type="submit" { "Save profile" }
            (status("profile-status"))
        }
        form.card id="avatar" data-api="POST /upload/avatar" enctype="multipart/form-data" data-then="reload" {
            h2 { "Picture" }
            @if let Some(avatar) = &user.avatar {
                img src=(avatar) alt="Your current picture" width="96" height="96";
            }
            label for="avatar-file" { "JPEG, PNG or WebP, at most 2 MB" }
            input id="avatar-file" name="avatar" type="file" accept="image/jpeg,image/png,image/webp" required;
            button type="submit" { "Upload" }
            (status("avatar-status"))
        }
        form.card id="preferences" data-api="PUT /users/preferences" data-then="reload" {
            h2 { "Preferences" }
            label for="theme" { "Theme of these pages" }
            select id="theme" name="theme" {
                @for (value, label) in [("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")] {
                    option value=(value) selected[viewer.theme == value] { (label) }
                }
            }
            button type="submit" { "Save preferences" }
            (status("preferences-status"))
        }
        form.card id="change-password" data-api="POST /auth/change-password" data-then="message" {
            h2 { "Password" }
            label for="currentPassword" { "Current password" }
            input id="currentPassword" name="currentPassword" type="password" autocomplete="current-password" required;
            label for="newPassword" { "New password" }
            input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required minlength="8";
            label for="confirmPassword" { "New password again" }
            input id="confirmPassword" name="confirmPassword" type="password" autocomplete="new-password" required minlength="8";
            p.hint { "Your other devices are signed out." }
            button type="submit" { "Change password" }
            (status("password-status"))
        }
        section.card id="sessions" {
            h2 { "Where you are signed in" }
            (list("sessions-list", "/sessions", "sessions", &["Device", "IP address", "Last active", ""], ""))
            button.secondary type="button" id="revoke-others" data-call="POST /sessions/revoke-all" data-status="sessions-list-status" data-confirm="Sign out every other device?" { "Sign out all other devices" }
        }
        section.card id="two-factor" {
            h2 { "Two-step verification" }
            @if user.two_factor_enabled {
                p id="two-factor-state" { "On: sign-ins ask for a code from your authenticator app." }
                form data-api="POST /2fa/backup-codes" data-then="backupCodes" {
                    label for="backup-code-totp" { "Current code, to make new backup codes" }
                    input id="backup-code-totp" name="code" inputmode="numeric" autocomplete="one-time-code" required;
                    button.secondary type="submit" { "New backup codes" }
                    (status("backup-status"))
                }
                form data-api="POST /2fa/disable" data-then="reload" data-confirm="Turn two-step verification off?" {
                    label for="disable-password" { "Password, to turn it off" }
                    input id="disable-password" name="password" type="password" autocomplete="current-password" required;
                    button.danger type="submit" { "Turn off" }
                    (status("disable-status"))
                }
            } @else {
                p id="two-factor-state" { "Off. Add a code from an authenticator app to every sign-in." }
                form data-api="POST /2fa/setup" data-then="totpSetup" {
                    button type="submit" id="two-factor-setup" { "Set up" }
                    (status("setup-status"))
                }
                form id="totp-setup" hidden data-api="POST /2fa/enable" data-then="backupCodes" {
                    p { "Scan this code with your authenticator app, or type the key below into it." }
                    img.qr id="totp-qr" alt="QR code of your authenticator key";
                    p { "Key: " span.secret id="totp-secret" {} }
                    label for="enable-code" { "The 6-digit code your app shows" }
                    input id="enable-code" name="code" inputmode="numeric" autocomplete="one-time-code" required;
                    button type="submit" { "Turn on" }
                    (status("enable-status"))
                }
            }
            div id="backup-codes" hidden {
                p tabindex="-1" { strong { "Backup codes." } " Each works once when your app is not at hand. Keep them somewhere safe: they are not shown again." }
                ul.codes {}
                a.button.secondary href="" { "Done" }
            }
        }
        section.card id="passkeys" {
            h2 { "Passkeys" }
            (list("passkeys-list", "/passkeys", "passkeys", &["Name", "Added", "Last used", ""], ""))
            div.row {
                div { label for="passkey-name" { "Name of the new passkey" } input id="passkey-name" value="This device"; }
                div { button type="button" id="passkey-add" data-passkey="register" { "Add a passkey" } }
            }
            (status("passkeys-status"))
        }
        section.card id="identities" {
            h2 { "Linked sign-in providers" }
            (list("identities-list", "/users/identities", "identities", &["Provider", "Email", "Linked", ""], ""))
        }
        section.card id="api-keys" {
            h2 { "API keys" }
            (list("api-keys-list", "/api-keys", "apiKeys", &["Name", "Prefix", "Scopes", "Expires", "Last used", ""], ""))
            form id="api-key-create" data-api="POST /api-keys" data-then="apiKeyCreated" {
                div.row {
                    div { label for="api-key-name" { "Name of the new key" } input id="api-key-name" name="name" maxlength="64" required; }
                    div {
                        label for="api-key-expiry" { "Expires" }
                        select id="api-key-expiry" name="expiresInDays" data-number data-optional {
                            option value="" { "Never" }
                            option value="30" { "In 30 days" }
                            option value="90" selected { "In 90 days" }
                            option value="365" { "In a year" }
                        }
                    }
                }
                // No scopes: the key reaches the owner's self-service routes only.
                input type="hidden" name="scopes" data-empty-list;
                button type="submit" { "Create a key" }
                (status("api-key-status"))
            }
            div id="api-key-created" hidden {
                p tabindex="-1" { strong { "Your new key." } " Copy it now: it is not shown again." }
                p { code.secret id="api-key-secret" {} }
            }
        }
        section.card id="organizations" {
            h2 { "Organizations" }
            (list("orgs-list", "/orgs", "generic", &["Name", "Slug", "Role"], "name,slug,role"))
        }
        section.card id="notifications" {
            h2 { "Notifications" }
            (list("notifications-list", "/notifications", "generic", &["Type", "Title", "Message", "When"], "type,title,message,createdAt"))
            button.secondary type="button" data-call="PATCH /notifications/read-all" data-status="notifications-list-status" { "Mark all as read" }
        }
        section.card id="your-data" {
            h2 { "Your data" }
            p { "Download everything we keep about you, as JSON." }
            button.secondary type="button" data-export { "Download my data" }
        }
        form.card id="deactivate" data-api="POST /account/deactivate" data-then="signedOut" data-confirm="Deactivate your account? You can reactivate it by signing in again with your password." {
            h2 { "Deactivate" }
            p { "Sign-ins are refused until you reactivate the account." }
            label for="deactivate-password" { "Password" }
            input id="deactivate-password" name="password" type="password" autocomplete="current-password" required;
            button.danger type="submit" { "Deactivate" }
            (status("deactivate-status"))
        }
        form.card id="delete" data-api="DELETE /account" data-then="signedOut" data-confirm="Delete your account? You have 30 days to recover it." {
            h2 { "Delete" }
            p { "The account is deleted now and purged after 30 days; until then you can recover it." }
            label for="delete-password" { "Password" }
            input id="delete-password" name="password" type="password" autocomplete="current-password" required;
            button.danger type="submit" { "Delete my account" }
            (status("delete-status"))
        }
    };
    Ok(html_answer(
        200,
        layout(&frame, "Your account", Width::Wide, "account", body),
    ))
}
