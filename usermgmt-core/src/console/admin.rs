//! The admin console (`/admin`): the dashboard with its charts drawn here as SVG, user search,
//! one user with every admin action, roles, the audit log with its CSV export. Each page and
//! each control is shown only to a caller whose roles grant its permission now; the API
//! refuses the same actions without it whatever the page shows.

use super::{Frame, Viewer, Width, frame, html_answer, layout, refused, resume};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, Result};
use maud::{Markup, html};

fn status(id: &str) -> Markup {
    html! { div id=(id) data-status aria-live="polite" {} }
}

/// The frame of an admin page whose viewer holds `admin:access` and `permission`; otherwise
/// the answer to give instead (the resume page signed out, 403 without the permission).
async fn admin_frame(
    api: &Api,
    ctx: &RequestContext,
    here: &str,
    permission: Option<&str>,
) -> Result<std::result::Result<Frame, ApiResponse>> {
    let frame = frame(api, ctx).await?;
    let allowed = match &frame.viewer {
        None => return Ok(Err(resume(&frame, here))),
        Some(viewer) => viewer.may("admin:access") && permission.is_none_or(|p| viewer.may(p)),
    };
    Ok(if allowed {
        Ok(frame)
    } else {
        Err(refused(&frame))
    })
}

fn viewer(frame: &Frame) -> Result<&Viewer> {
    frame.viewer.as_ref().ok_or(Error::Unauthenticated)
}

/// A horizontal bar chart: one labelled bar per figure, scaled to the largest.
fn bar_chart(title: &str, figures: &[(&str, u64)]) -> Markup {
    const ROW: u64 = 28;
    const LABEL: u64 = 150;
    const WIDTH: u64 = 560;
    let max = figures.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * figures.len() as u64 + 8;
    let span = WIDTH - LABEL - 60;
    html! {
        figure {
            svg.chart viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-labelledby=(format!("{}-title", slug(title))) xmlns="http://www.w3.org/2000/svg" {
                title id=(format!("{}-title", slug(title))) { (title) }
                @for (i, (label, value)) in figures.iter().enumerate() {
                    @let y = ROW * i as u64 + 4;
                    @let w = if *value == 0 { 0 } else { (span * value / max).max(2) };
                    text x="0" y=(y + 17) { (label) }
                    rect.bar x=(LABEL) y=(y + 4) width=(w) height="18" rx="3" {}
                    text x=(LABEL + w + 6) y=(y + 17) { (value) }
                }
            }
            figcaption.muted { (title) }
        }
    }
}

/// A column chart of one figure per day: a column and its value as text for each day, the
/// dates along the bottom every week, and a title and description for assistive technology
/// (the figures are in the text, never in colour alone).
fn day_chart(title: &str, description: &str, days: &[(time::Date, u64)]) -> Markup {
    const WIDTH: u64 = 620;
    const HEIGHT: u64 = 190;
    const LEFT: u64 = 8;
    const TOP: u64 = 18;
    const BOTTOM: u64 = 24;
    let id = slug(title);
    let max = days.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let count = (days.len() as u64).max(1);
    let step = (WIDTH - 2 * LEFT) / count;
    let span = HEIGHT - TOP - BOTTOM;
    let total: u64 = days.iter().map(|(_, v)| *v).sum();
    let peak = days.iter().max_by_key(|(_, v)| *v).filter(|(_, v)| *v > 0);
    let summary = match peak {
        Some((day, value)) => format!(
            "{description} {total} in all over {} days; the most, {value}, on {day}.",
            days.len()
        ),
        None => format!("{description} None over {} days.", days.len()),
    };
    html! {
        figure {
            svg.chart.days viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
                aria-labelledby=(format!("{id}-title {id}-desc")) xmlns="http://www.w3.org/2000/svg" {
                title id=(format!("{id}-title")) { (title) }
                desc id=(format!("{id}-desc")) { (summary) }
                line.axis x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH - LEFT) y2=(HEIGHT - BOTTOM) {}
                @for (i, (day, value)) in days.iter().enumerate() {
                    @let x = LEFT + step * i as u64;
                    @let h = if *value == 0 { 0 } else { (span * value / max).max(2) };
                    @let y = HEIGHT - BOTTOM - h;
                    g {
                        title { (day.to_string()) ": " (value) }
                        rect.bar x=(x + 2) y=(y) width=(step.saturating_sub(4).max(2)) height=(h) rx="2" {}
                        @if *value > 0 {
                            text.value x=(x + step / 2) y=(y.saturating_sub(4)) text-anchor="middle" { (value) }
                        }
                    }
                    // A date under every seventh column, counted back from today.
                    @if (days.len() - 1 - i).is_multiple_of(7) {
                        text.date x=(x + step / 2) y=(HEIGHT - 6) text-anchor="middle" {
                            (format!("{:02}-{:02}", u8::from(day.month()), day.day()))
                        }
                    }
                }
            }
            figcaption.muted { (title) " (UTC days)" }
        }
    }
}

/// The share of users with two-step verification on, as a bar with its figures written out.
fn adoption_meter(with: u64, total: u64) -> Markup {
    const WIDTH: u64 = 620;
    let percent = (with * 100).checked_div(total).unwrap_or(0);
    let filled = (WIDTH * with).checked_div(total).unwrap_or(0);
    let words = format!("{with} of {total} users ({percent}%) have two-step verification on.");
    html! {
        figure {
            svg.chart.meter viewBox=(format!("0 0 {WIDTH} 44")) role="img" aria-labelledby="two-step-adoption-title two-step-adoption-desc" xmlns="http://www.w3.org/2000/svg" {
                title id="two-step-adoption-title" { "Two-step verification adoption" }
                desc id="two-step-adoption-desc" { (words) }
                rect.track x="0" y="4" width=(WIDTH) height="18" rx="3" {}
                rect.bar x="0" y="4" width=(filled) height="18" rx="3" {}
                text x="0" y="38" { (words) }
            }
            figcaption.muted { "Two-step verification adoption" }
        }
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

pub(super) async fn dashboard(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = match admin_frame(api, ctx, "/admin", None).await? {
        Ok(frame) => frame,
        Err(answer) => return Ok(answer),
    };
    let dashboard = api.manager().dashboard(&viewer(&frame)?.auth).await?;
    let c = &dashboard.counts;
    let users = [
        ("Users", c.users_total),
        ("Active", c.users_active),
        ("Verified email", c.users_verified),
        ("Two-step on", c.users_with_two_factor),
        ("New this week", c.users_new),
        ("Active sessions", c.active_sessions),
    ];
    let roles: Vec<(&str, u64)> = dashboard
        .roles
        .iter()
        .map(|r| (r.name.as_str(), r.user_count))
        .collect();
    let series = |figure: fn(&crate::store::DailyActivity) -> u64| -> Vec<(time::Date, u64)> {
        dashboard.daily.iter().map(|d| (d.day, figure(d))).collect()
    };
    let days = dashboard.daily.len();
    let as_of = dashboard
        .as_of
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let body = html! {
        h1 { "Dashboard" }
        section.card {
            h2 { "Figures" }
            p.muted { "Read at " time datetime=(as_of) { (as_of) } "." }
            ul.stats {
                @for (label, value) in &users { li { strong { (value) } (label) } }
                li { strong { (dashboard.organizations) } "Organizations" }
            }
        }
        section.card id="activity" {
            h2 { "The last " (days) " days" }
            (day_chart("Sign-ups per day", "Accounts created each day.", &series(|d| d.sign_ups)))
            (day_chart("Sign-ins per day", "Sessions opened each day.", &series(|d| d.sign_ins)))
            (day_chart("Failed sign-ins per day", "Sign-in attempts refused each day.", &series(|d| d.failed_sign_ins)))
            (day_chart("Lockouts per day", "Accounts locked by failed attempts each day.", &series(|d| d.lockouts)))
        }
        section.card id="now" {
            h2 { "Now" }
            (adoption_meter(c.users_with_two_factor, c.users_total))
            p { strong { (c.active_sessions) } " active sessions (neither ended nor expired)." }
        }
        section.card { h2 { "Users" } (bar_chart("Users by state", &users)) }
        section.card { h2 { "Roles" } (bar_chart("Users by role", &roles)) }
    };
    Ok(html_answer(
        200,
        layout(&frame, "Dashboard", Width::Wide, "admin-dashboard", body),
    ))
}

pub(super) async fn users(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = match admin_frame(api, ctx, "/admin/users", Some("user:read")).await? {
        Ok(frame) => frame,
        Err(answer) => return Ok(answer),
    };
    let q = ctx.query_param("q").unwrap_or_default();
    let status_filter = ctx.query_param("status").unwrap_or_default();
    let verified = ctx.query_param("verified").unwrap_or_default();
    let role = ctx.query_param("role").unwrap_or_default();
    let roles = api.manager().store().list_roles().await?;
    let body = html! {
        h1 { "Users" }
        form.card method="get" action=(frame.at("/admin/users")) role="search" {
            div.row {
                div { label for="q" { "Search" } input id="q" name="q" type="search" value=(q) placeholder="email, username or name"; }
                div { label for="status" { "State" }
                    select id="status" name="status" {
                        @for (value, label) in [("", "Any"), ("active", "Active"), ("inactive", "Deactivated"), ("suspended", "Suspended"), ("deleted", "Deleted")] {
                            option value=(value) selected[status_filter == value] { (label) }
                        }
                    }
                }
                div { label for="verified" { "Email" }
                    select id="verified" name="verified" {
                        @for (value, label) in [("", "Any"), ("true", "Verified"), ("false", "Not verified")] {
                            option value=(value) selected[verified == value] { (label) }
                        }
                    }
                }
                div { label for="role" { "Role" }
                    select id="role" name="role" {
                        option value="" { "Any" }
                        @for r in &roles { option value=(r.name) selected[role == r.name] { (r.name) } }
                    }
                }
            }
            button type="submit" { "Search" }
        }
        section.card id="users" data-list="/admin/users" data-query="location" data-render="users" {
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Username" } th scope="col" { "Email" } th scope="col" { "State" } th scope="col" { "Verified" } th scope="col" { "Roles" } th scope="col" { "Created" } } }
                    tbody {}
                }
            }
            nav.actions aria-label="Pages" data-pager {}
            (status("users-status"))
        }
    };
    Ok(html_answer(
        200,
        layout(&frame, "Users", Width::Wide, "admin-users", body),
    ))
}

pub(super) async fn user(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let id = ctx.param("userId").unwrap_or_default().to_owned();
    let uuid = uuid::Uuid::parse_str(&id).map_err(|_| Error::NotFound("User"))?;
    let here = format!("/admin/users/{uuid}");
    let frame = match admin_frame(api, ctx, &here, Some("user:read")).await? {
        Ok(frame) => frame,
        Err(answer) => return Ok(answer),
    };
    let viewer = viewer(&frame)?;
    let roles = if viewer.may("role:assign") {
        api.manager().store().list_roles().await?
    } else {
        Vec::new()
    };
    let act = |path: &str| format!("POST /admin/users/{uuid}{path}");
    let body = html! {
        p { a href=(frame.at("/admin/users")) { "← All users" } }
        h1 { "User" }
        div id="page-status" data-status aria-live="polite" {}
        section.card id="user-detail" data-detail=(format!("/admin/users/{uuid}")) {
            dl {}
        }
        @if viewer.may("user:manage") {
            section.card id="user-actions" {
                h2 { "Actions" }
                div.actions {
                    button.secondary type="button" id="action-verify" data-call=(act("/verify-email")) { "Mark email verified" }
                    button.secondary type="button" id="action-unlock" data-call=(act("/unlock")) { "Unlock" }
                    button.secondary type="button" id="action-reactivate" data-call=(act("/reactivate")) { "Reactivate" }
                    button.secondary type="button" id="action-reset" data-call=(act("/reset-password")) data-confirm="End the user's sessions and email a reset link?" { "Force a password reset" }
                }
                form data-api=(act("/suspend")) data-then="message" data-confirm="Suspend this user? Their sessions end now." {
                    label for="reason" { "Reason for suspending (optional)" }
                    input id="reason" name="reason" data-optional;
                    button.danger type="submit" id="action-suspend" { "Suspend" }
                    (status("suspend-status"))
                }
            }
        }
        @if viewer.may("admin:access") && uuid != viewer.auth.user.id {
            section.card id="user-impersonate" {
                h2 { "Act as this user" }
                p { "See the account as the user sees it, for 15 minutes at most. Password, two-step and account changes stay refused; everything done is recorded as yours." }
                button.secondary type="button" id="action-impersonate" data-call=(act("/impersonate")) data-then="impersonating" data-confirm="Act as this user? Every page shows a banner with the way back." { "Act as this user" }
            }
        }
        @if viewer.may("role:assign") {
            section.card id="user-roles" {
                h2 { "Roles" }
                form data-api=(format!("POST /roles/user/{uuid}/assign")) data-then="message" {
                    label for="assign-role" { "Add a role" }
                    select id="assign-role" name="roleId" { @for r in &roles { option value=(r.id) { (r.name) } } }
                    button.secondary type="submit" { "Add" }
                    (status("assign-status"))
                }
                form data-api=(format!("DELETE /roles/user/{uuid}/{{roleId}}")) data-then="message" {
                    label for="remove-role" { "Remove a role" }
                    select id="remove-role" name="roleId" { @for r in &roles { option value=(r.id) { (r.name) } } }
                    button.secondary type="submit" { "Remove" }
                    (status("remove-status"))
                }
            }
        }
        @if viewer.may("user:delete") {
            section.card {
                h2 { "Delete" }
                button.danger type="button" data-call=(format!("DELETE /admin/users/{uuid}")) data-confirm="Delete this user (recoverable for 30 days)?" { "Delete user" }
            }
        }
    };
    Ok(html_answer(
        200,
        layout(&frame, "User", Width::Wide, "admin-user", body),
    ))
}

pub(super) async fn roles(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = match admin_frame(api, ctx, "/admin/roles", Some("role:read")).await? {
        Ok(frame) => frame,
        Err(answer) => return Ok(answer),
    };
    let viewer = viewer(&frame)?;
    let roles = api.manager().store().list_roles().await?;
    let body = html! {
        h1 { "Roles" }
        div id="page-status" data-status aria-live="polite" {}
        section.card {
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Role" } th scope="col" { "Users" } th scope="col" { "Permissions" } th scope="col" { "" } } }
                    tbody {
                        @for r in &roles {
                            tr {
                                td { strong { (r.name) } @if r.is_system { " " span.muted { "(system)" } } br; span.muted { (r.description.as_deref().unwrap_or_default()) } }
                                td { (r.user_count) }
                                td { (r.permissions.join(", ")) }
                                td {
                                    @if viewer.may("role:update") {
                                        details {
                                            summary { "Edit" }
                                            form data-api=(format!("PUT /roles/{}", r.id)) data-then="reload" {
                                                label for=(format!("description-{}", r.id)) { "Description" }
                                                input id=(format!("description-{}", r.id)) name="description" value=(r.description.as_deref().unwrap_or_default());
                                                fieldset {
                                                    legend { "Permissions" }
                                                    @for p in crate::roles::rbac::PERMISSIONS {
                                                        label { input type="checkbox" name="permissions" value=(p) checked[r.permissions.iter().any(|held| held == p)]; " " (p) }
                                                    }
                                                }
                                                button type="submit" { "Save " (r.name) }
                                                (status(&format!("role-{}-status", r.id)))
                                            }
                                        }
                                    }
                                    @if viewer.may("role:delete") && !r.is_system && r.user_count == 0 {
                                        button.secondary type="button" data-call=(format!("DELETE /roles/{}", r.id)) data-then="reload" data-confirm="Delete this role?" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if viewer.may("role:create") {
            form.card data-api="POST /roles" data-then="reload" {
                h2 { "New role" }
                label for="role-name" { "Name (3–50 of a–z and _)" }
                input id="role-name" name="name" required pattern="[a-z_]{3,50}";
                label for="role-description" { "Description" }
                input id="role-description" name="description" data-optional;
                fieldset {
                    legend { "Permissions" }
                    @for p in crate::roles::rbac::PERMISSIONS {
                        label { input type="checkbox" name="permissions" value=(p); " " (p) }
                    }
                }
                button type="submit" { "Create role" }
                (status("role-status"))
            }
        }
    };
    Ok(html_answer(
        200,
        layout(&frame, "Roles", Width::Wide, "admin-roles", body),
    ))
}

pub(super) async fn audit(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let frame = match admin_frame(api, ctx, "/admin/audit", Some("audit:read")).await? {
        Ok(frame) => frame,
        Err(answer) => return Ok(answer),
    };
    let field = |name: &str| ctx.query_param(name).unwrap_or_default();
    let body = html! {
        h1 { "Audit log" }
        form.card method="get" action=(frame.at("/admin/audit")) role="search" {
            div.row {
                div { label for="action" { "Action" } input id="action" name="action" value=(field("action")) placeholder="USER_LOGIN"; }
                div { label for="resource" { "Resource" } input id="resource" name="resource" value=(field("resource")); }
                div { label for="userId" { "User id" } input id="userId" name="userId" value=(field("userId")); }
                div { label for="startDate" { "From" } input id="startDate" name="startDate" type="date" value=(field("startDate")); }
                div { label for="endDate" { "To" } input id="endDate" name="endDate" type="date" value=(field("endDate")); }
            }
            button type="submit" { "Filter" }
        }
        section.card id="audit" data-list="/audit" data-query="location" data-render="generic" data-columns="createdAt,action,resource,userId,ipAddress" {
            div.actions { button.secondary type="button" data-csv="audit" { "Export these rows as CSV" } }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Action" } th scope="col" { "Resource" } th scope="col" { "User" } th scope="col" { "IP address" } } }
                    tbody {}
                }
            }
            nav.actions aria-label="Pages" data-pager {}
            (status("audit-status"))
        }
    };
    Ok(html_answer(
        200,
        layout(&frame, "Audit log", Width::Wide, "admin-audit", body),
    ))
}
