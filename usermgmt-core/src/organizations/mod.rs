//! Organizations: named groups of users, each member with an org role (`owner`, `admin`,
//! `member`) that grants org permissions ([`OrgRole::permissions`]). Members come in by
//! invitation: a mailed link whose token (256 random bits) is stored as its SHA-256 digest
//! only, valid for [`INVITATION_TTL`], used once.
//!
//! Every check reads the caller's membership from the store on each request, so a removed
//! member loses the organization at once, on every instance. A non-member is told the
//! organization does not exist (404, the same answer as an unknown id); a member lacking the
//! permission gets 403. The rules decided on stored state are decided in the store, under one
//! lock of the organization: an organization keeps at least one owner (`LAST_OWNER`), nobody
//! changes a member ranked above them or grants a role above their own, an invitation answers
//! once.

#[cfg(feature = "test-util")]
mod cases;
pub(crate) mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::{AuditAction, Email};
use crate::error::{ConflictKind, Error, FieldError, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{TokenDigest, random_token};
use crate::store::{Effects, NotificationType, Page};
use serde_json::json;
pub use store::OrgRole;
use store::{
    InvitationDecision, InvitationOutcome, InvitationRecord, InvitationState, MemberChange,
    MemberOutcome, MemberRecord, OrgMembership, OrgRecord,
};
use time::Duration;
use uuid::Uuid;

/// How long an invitation can be accepted.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// The longest organization name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Slug length bounds.
pub const SLUG_CHARS: std::ops::RangeInclusive<usize> = 3..=50;

/// The most pending invitations one organization may have at once.
pub const MAX_PENDING_INVITATIONS: usize = 100;

/// The longest a member search term may be, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// An org permission, as a type: what the adapters' `OrgAuthorized<P>` guards name.
pub trait OrgPermission: Send + Sync + 'static {
    /// The permission's name (`member:invite`).
    const NAME: &'static str;
}

/// One marker type per org permission ([`OrgRole::permissions`] of the owner).
pub mod org_perm {
    macro_rules! org_permissions {
        ($($ty:ident = $name:literal),* $(,)?) => {
            $(
                #[doc = concat!("The `", $name, "` org permission.")]
                #[derive(Debug, Clone, Copy)]
                pub struct $ty;
                impl super::OrgPermission for $ty {
                    const NAME: &'static str = $name;
                }
            )*
            /// Every marker's name.
            pub const ALL: &[&str] = &[$($name),*];
        };
    }
    org_permissions!(
        OrgRead = "org:read",
        OrgUpdate = "org:update",
        OrgDelete = "org:delete",
        MemberInvite = "member:invite",
        MemberRemove = "member:remove",
        MemberUpdate = "member:update",
        ApiKeyManage = "apikey:manage",
    );
}

/// An invitation's token, mailed once. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationToken(String);

impl InvitationToken {
    /// The token's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationToken(…)")
    }
}

/// A name: trimmed, 1–[`MAX_NAME_CHARS`] characters, no control characters and none of `@`,
/// `:`, `/` (it appears in invitation mail: no addresses or links).
fn org_name(name: Option<&str>, errors: &mut Vec<FieldError>) -> String {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    } else if name.chars().count() > MAX_NAME_CHARS
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '@' | ':' | '/' | '<' | '>'))
    {
        errors.push(FieldError::new(
            "name",
            format!(
                "must be at most {MAX_NAME_CHARS} characters, without control characters, @, :, /, < or >"
            ),
        ));
    }
    name.to_owned()
}

/// True for `a-z0-9` words joined by single `-`, of [`SLUG_CHARS`] length.
fn is_slug(slug: &str) -> bool {
    SLUG_CHARS.contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// A given slug, lower-cased; a bad one joins `errors`.
fn given_slug(slug: &str, errors: &mut Vec<FieldError>) -> String {
    let slug = slug.trim().to_ascii_lowercase();
    if !is_slug(&slug) {
        errors.push(FieldError::new(
            "slug",
            "must be 3-50 of a-z, 0-9 and single hyphens between them",
        ));
    }
    slug
}

/// A slug made from a name: its ASCII letters and digits, words joined by `-`, padded with
/// random hex when too short.
fn derived_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(40);
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.len() < *SLUG_CHARS.start() {
        with_suffix(&slug)
    } else {
        slug
    }
}

/// `slug` with a random 6-hex suffix.
fn with_suffix(slug: &str) -> String {
    let mut bytes = [0u8; 3];
    rand::fill(&mut bytes);
    let suffix = hex::encode(bytes);
    if slug.is_empty() {
        format!("org-{suffix}")
    } else {
        format!("{}-{suffix}", slug.chars().take(43).collect::<String>())
    }
}

/// A role named in a body; a bad one joins `errors`.
pub(crate) fn role_field(
    field: &str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> OrgRole {
    match value.map(str::trim).and_then(OrgRole::parse) {
        Some(role) => role,
        None => {
            errors.push(FieldError::new(
                field,
                "must be one of owner, admin, member",
            ));
            OrgRole::Member
        }
    }
}

impl UserManager {
    /// The caller's membership of a live organization holding `permission`: a non-member (or
    /// an unknown or deleted organization) is `NotFound`, a member without it `Forbidden`.
    pub async fn org_access(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        permission: &str,
    ) -> Result<OrgMembership> {
        let membership = self
            .inner
            .store
            .membership(org_id, auth.user.id)
            .await?
            .ok_or(Error::NotFound("organization"))?;
        if !membership.role.grants(permission) {
            return Err(Error::Forbidden);
        }
        Ok(membership)
    }

    /// Makes an organization; the caller is its owner. Without a slug one is derived from the
    /// name (with a random suffix while it is taken); a slug given and taken is `Conflict`.
    #[tracing::instrument(skip_all)]
    pub async fn create_org(
        &self,
        auth: &AuthenticatedUser,
        name: Option<&str>,
        slug: Option<&str>,
        client: &ClientInfo,
    ) -> Result<OrgMembership> {
        self.ensure_not_api_key(auth)?;
        let mut errors = Vec::new();
        let name = org_name(name, &mut errors);
        let given = slug
            .filter(|s| !s.trim().is_empty())
            .map(|s| given_slug(s, &mut errors));
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = self.now();
        let mut slug = given.clone().unwrap_or_else(|| derived_slug(&name));
        for attempt in 0..5 {
            let org = OrgRecord {
                id: Uuid::now_v7(),
                name: name.clone(),
                slug: slug.clone(),
                created_at: now,
                updated_at: now,
                deleted_at: None,
            };
            let effects = Effects::audit(self.org_audit(
                AuditAction::OrgCreated,
                auth,
                None,
                client,
                json!({"orgId": org.id, "name": org.name, "slug": org.slug}),
            ));
            match self
                .inner
                .store
                .create_org(org.clone(), auth.user.id, effects)
                .await
            {
                Ok(()) => {
                    return Ok(OrgMembership {
                        org,
                        role: OrgRole::Owner,
                        joined_at: now,
                    });
                }
                Err(Error::Conflict(_)) if given.is_none() && attempt < 4 => {
                    slug = with_suffix(&derived_slug(&name));
                }
                Err(err) => return Err(err),
            }
        }
        Err(Error::Conflict(ConflictKind::Other))
    }

    /// The caller's organizations, with their role in each.
    pub async fn my_orgs(&self, auth: &AuthenticatedUser) -> Result<Vec<OrgMembership>> {
        self.ensure_not_api_key(auth)?;
        self.inner.store.user_orgs(auth.user.id).await
    }

    /// One organization of the caller's (needs `org:read`).
    pub async fn org(&self, auth: &AuthenticatedUser, org_id: Uuid) -> Result<OrgMembership> {
        self.ensure_not_api_key(auth)?;
        self.org_access(auth, org_id, "org:read").await
    }

    /// Renames an organization and/or changes its slug (needs `org:update`).
    #[tracing::instrument(skip_all)]
    pub async fn update_org(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        name: Option<&str>,
        slug: Option<&str>,
        client: &ClientInfo,
    ) -> Result<OrgMembership> {
        self.ensure_not_api_key(auth)?;
        let membership = self.org_access(auth, org_id, "org:update").await?;
        let mut errors = Vec::new();
        if name.is_none() && slug.is_none() {
            errors.push(FieldError::new("body", "give a name, a slug or both"));
        }
        let new_name = match name {
            Some(n) => org_name(Some(n), &mut errors),
            None => membership.org.name.clone(),
        };
        let new_slug = match slug {
            Some(s) => given_slug(s, &mut errors),
            None => membership.org.slug.clone(),
        };
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = self.now();
        let effects = Effects::audit(self.org_audit(
            AuditAction::OrgUpdated,
            auth,
            None,
            client,
            json!({
                "orgId": org_id,
                "name": new_name,
                "slug": new_slug,
                "previousName": membership.org.name,
                "previousSlug": membership.org.slug,
            }),
        ));
        if !self
            .inner
            .store
            .update_org(org_id, &new_name, &new_slug, now, effects)
            .await?
        {
            return Err(Error::NotFound("organization"));
        }
        Ok(OrgMembership {
            org: OrgRecord {
                name: new_name,
                slug: new_slug,
                updated_at: now,
                ..membership.org
            },
            ..membership
        })
    }

    /// Deletes an organization (needs `org:delete`) (owners): soft, purged after the account recovery
    /// window (`purge_deleted_orgs`). Not on an impersonation token.
    #[tracing::instrument(skip_all)]
    pub async fn delete_org(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        let membership = self.org_access(auth, org_id, "org:delete").await?;
        self.ensure_not_impersonated(auth)?;
        let now = self.now();
        let effects = Effects::audit(self.org_audit(
            AuditAction::OrgDeleted,
            auth,
            None,
            client,
            json!({
                "orgId": org_id,
                "slug": membership.org.slug,
                "purgeAfter": (now + self.inner.config.account_recovery_window).unix_timestamp(),
            }),
        ));
        if !self.inner.store.delete_org(org_id, now, effects).await? {
            return Err(Error::NotFound("organization"));
        }
        Ok(())
    }

    /// Removes the organizations deleted longer ago than the account recovery window (at most
    /// 500 a pass), with their memberships and invitations; how many.
    pub async fn purge_deleted_orgs(&self) -> Result<u64> {
        let cutoff = self.now() - self.inner.config.account_recovery_window;
        let purged = self.inner.store.purge_deleted_orgs(cutoff, 500).await?;
        if !purged.is_empty() {
            tracing::info!(purged = purged.len(), "deleted organizations purged");
        }
        Ok(purged.len() as u64)
    }

    /// A page of an organization's members (needs `org:read`), `query` matching email, username and
    /// names.
    pub async fn org_members(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        query: Option<&str>,
        page: Page,
    ) -> Result<(Vec<MemberRecord>, u64)> {
        self.ensure_not_api_key(auth)?;
        self.org_access(auth, org_id, "org:read").await?;
        self.inner.store.org_members(org_id, query, page).await
    }

    /// Gives a member a new role (needs `member:update`), removes them (needs `member:remove`) (`role:
    /// None`), or, when `user_id` is the caller and `role` is `None`, leaves. Decided in the
    /// store on the roles as they are then: nobody changes a member ranked above them or
    /// grants a role above their own (403), and the last owner stays (409 `LAST_OWNER`).
    #[tracing::instrument(skip_all)]
    pub async fn change_org_member(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        user_id: Uuid,
        role: Option<OrgRole>,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        let leaving = user_id == auth.user.id && role.is_none();
        let permission = match (leaving, role) {
            (true, _) => "org:read",
            (false, Some(_)) => "member:update",
            (false, None) => "member:remove",
        };
        self.org_access(auth, org_id, permission).await?;
        let action = match (leaving, role) {
            (true, _) => AuditAction::MemberLeft,
            (false, Some(_)) => AuditAction::MemberRoleChanged,
            (false, None) => AuditAction::MemberRemoved,
        };
        let mut effects = Effects::audit(self.org_audit(
            action,
            auth,
            Some(user_id),
            client,
            json!({"orgId": org_id, "memberId": user_id, "role": role.map(OrgRole::as_str)}),
        ));
        if !leaving {
            let text = match role {
                Some(r) => format!("Your role in an organization is now {}.", r.as_str()),
                None => "You were removed from an organization.".to_owned(),
            };
            effects = effects.with_notification(self.notification(
                user_id,
                NotificationType::AccountUpdate,
                "Organization membership changed",
                &text,
                json!({"orgId": org_id, "role": role.map(OrgRole::as_str)}),
            ));
        }
        let change = MemberChange {
            org_id,
            user_id,
            actor_id: auth.user.id,
            role,
        };
        match self.inner.store.change_member(change, effects).await? {
            MemberOutcome::Changed { .. } => Ok(()),
            MemberOutcome::ActorNotMember => Err(Error::NotFound("organization")),
            MemberOutcome::NotMember => Err(Error::NotFound("member")),
            MemberOutcome::Forbidden => Err(Error::Forbidden),
            MemberOutcome::LastOwner => Err(Error::LastOwner),
        }
    }

    /// Invites an address to an organization (needs `member:invite`) with a role no higher than the
    /// caller's: mails a link with a single-use token valid for [`INVITATION_TTL`]. The token
    /// is returned for a host app that delivers it itself; the API never shows it.
    #[tracing::instrument(skip_all)]
    pub async fn invite_to_org(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        email: Option<&str>,
        role: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(InvitationRecord, InvitationToken)> {
        self.ensure_not_api_key(auth)?;
        let membership = self.org_access(auth, org_id, "member:invite").await?;
        let mut errors = Vec::new();
        let email = match Email::parse(email.unwrap_or_default()) {
            Ok(email) => email.as_str().to_owned(),
            Err(why) => {
                errors.push(FieldError::new("email", why));
                String::new()
            }
        };
        let role = role_field("role", role, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        if role > membership.role {
            return Err(Error::Forbidden);
        }
        let now = self.now();
        let pending = self.inner.store.org_invitations(org_id, now).await?;
        if pending.len() >= MAX_PENDING_INVITATIONS {
            return Err(Error::invalid(
                "body",
                format!("at most {MAX_PENDING_INVITATIONS} pending invitations; revoke some first"),
            ));
        }
        let token = InvitationToken(random_token());
        let invitation = InvitationRecord {
            id: Uuid::now_v7(),
            org_id,
            email: email.clone(),
            role,
            digest: TokenDigest::of(token.expose()),
            inviter_id: Some(auth.user.id),
            state: InvitationState::Pending,
            created_at: now,
            expires_at: now + INVITATION_TTL,
            decided_at: None,
        };
        let mail = crate::mail::templates::org_invitation(
            &self.inner.config.mail,
            &format!(
                "{}/accept-invitation",
                self.inner.config.absolute_public_url()
            ),
            &email,
            &membership.org.name,
            role.as_str(),
            token.expose(),
            INVITATION_TTL.whole_days(),
        );
        let effects = Effects::audit(self.org_audit(
            AuditAction::InvitationSent,
            auth,
            None,
            client,
            json!({"orgId": org_id, "invitationId": invitation.id, "email": email, "role": role.as_str()}),
        ))
        .with_mail(self.outbox(crate::mail::MailKind::OrgInvitation, &mail)?);
        self.inner
            .store
            .add_invitation(invitation.clone(), effects)
            .await?;
        self.wake_mail();
        Ok((invitation, token))
    }

    /// An organization's pending invitations (needs `member:invite`).
    pub async fn org_invitations(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
    ) -> Result<Vec<InvitationRecord>> {
        self.ensure_not_api_key(auth)?;
        self.org_access(auth, org_id, "member:invite").await?;
        self.inner.store.org_invitations(org_id, self.now()).await
    }

    /// Withdraws a pending invitation (needs `member:invite`).
    #[tracing::instrument(skip_all)]
    pub async fn revoke_invitation(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        self.org_access(auth, org_id, "member:invite").await?;
        let effects = Effects::audit(self.org_audit(
            AuditAction::InvitationRevoked,
            auth,
            None,
            client,
            json!({"orgId": org_id, "invitationId": id}),
        ));
        match self
            .inner
            .store
            .decide_invitation(org_id, id, InvitationDecision::Revoke, self.now(), effects)
            .await?
        {
            InvitationOutcome::Done => Ok(()),
            _ => Err(Error::NotFound("invitation")),
        }
    }

    /// Accepts an invitation: the caller's verified address must be the one invited (the
    /// same answer as an unknown token otherwise: `InvalidOneTimeToken`). Single use: of racing
    /// acceptances one joins.
    #[tracing::instrument(skip_all)]
    pub async fn accept_invitation(
        &self,
        auth: &AuthenticatedUser,
        token: &str,
        client: &ClientInfo,
    ) -> Result<OrgMembership> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let (invitation, org) = self.pending_invitation(token).await?;
        if !auth.user.email_verified || auth.user.email != invitation.email {
            return Err(Error::InvalidOneTimeToken);
        }
        let now = self.now();
        let effects = Effects::audit(self.org_audit(
            AuditAction::InvitationAccepted,
            auth,
            None,
            client,
            json!({"orgId": org.id, "invitationId": invitation.id, "role": invitation.role.as_str()}),
        ))
        .with_audit(self.org_audit(
            AuditAction::MemberAdded,
            auth,
            None,
            client,
            json!({"orgId": org.id, "memberId": auth.user.id, "role": invitation.role.as_str()}),
        ));
        let decision = InvitationDecision::Accept {
            user_id: auth.user.id,
        };
        match self
            .inner
            .store
            .decide_invitation(org.id, invitation.id, decision, now, effects)
            .await?
        {
            InvitationOutcome::Done => Ok(OrgMembership {
                org,
                role: invitation.role,
                joined_at: now,
            }),
            InvitationOutcome::AlreadyMember => Err(Error::Conflict(ConflictKind::Other)),
            InvitationOutcome::NotPending => Err(Error::InvalidOneTimeToken),
        }
    }

    /// Declines an invitation by its token (whoever holds the mailed link may say no).
    #[tracing::instrument(skip_all)]
    pub async fn decline_invitation(&self, token: &str, client: &ClientInfo) -> Result<()> {
        let (invitation, org) = self.pending_invitation(token).await?;
        let effects = Effects::audit(self.audit(
            AuditAction::InvitationDeclined,
            None,
            None,
            "organization",
            client,
            json!({"orgId": org.id, "invitationId": invitation.id}),
        ));
        match self
            .inner
            .store
            .decide_invitation(
                org.id,
                invitation.id,
                InvitationDecision::Decline,
                self.now(),
                effects,
            )
            .await?
        {
            InvitationOutcome::Done => Ok(()),
            _ => Err(Error::InvalidOneTimeToken),
        }
    }

    /// The pending invitations to the caller's verified address.
    pub async fn my_invitations(
        &self,
        auth: &AuthenticatedUser,
    ) -> Result<Vec<(InvitationRecord, OrgRecord)>> {
        self.ensure_not_api_key(auth)?;
        if !auth.user.email_verified {
            return Ok(Vec::new());
        }
        self.inner
            .store
            .invitations_for(&auth.user.email, self.now())
            .await
    }

    /// The pending, unexpired invitation of a live organization a token names; anything else
    /// is `InvalidOneTimeToken`.
    async fn pending_invitation(&self, token: &str) -> Result<(InvitationRecord, OrgRecord)> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::invalid("token", "is required"));
        }
        let (invitation, org) = self
            .inner
            .store
            .invitation_by_digest(&TokenDigest::of(token))
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
        if invitation.state != InvitationState::Pending
            || invitation.expires_at <= self.now()
            || org.deleted_at.is_some()
        {
            return Err(Error::InvalidOneTimeToken);
        }
        Ok((invitation, org))
    }

    /// Makes `org_id` (or none) the active organization of the caller's session: a new token
    /// pair whose access token carries `org` and `orgRole`, the session's refresh token
    /// rotated (the old one is then a used one), and the session remembering the org so a
    /// refresh keeps it. A non-member (or an unknown or deleted organization) is `NotFound`.
    /// Not with a key, nor on an impersonation token (it rides on the administrator's session).
    #[tracing::instrument(skip_all)]
    pub async fn switch_org(
        &self,
        auth: &AuthenticatedUser,
        org_id: Option<Uuid>,
    ) -> Result<(crate::TokenPair, Option<OrgMembership>)> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let membership = match org_id {
            Some(id) => Some(self.org_access(auth, id, "org:read").await?),
            None => None,
        };
        let now = self.now();
        let refresh = crate::secret::RefreshToken::generate();
        let switch = store::SessionOrgSwitch {
            session_id: auth.session_id,
            user_id: auth.user.id,
            org_id,
            next_refresh: refresh.digest(),
            now,
            expires_at: now + self.inner.config.refresh_token_ttl,
        };
        if !self
            .inner
            .store
            .switch_session_org(switch, Effects::none())
            .await?
        {
            // Left (or the session ended) since the check above.
            return Err(match org_id {
                Some(_) => Error::NotFound("organization"),
                None => Error::InvalidAccessToken,
            });
        }
        let (access_token, _) = self.inner.tokens.issue_in_org(
            &auth.user,
            auth.session_id,
            now,
            None,
            None,
            membership.as_ref().map(|m| (m.org.id, m.role.as_str())),
        )?;
        let pair = crate::TokenPair {
            access_token,
            refresh_token: refresh,
            expires_in: self.inner.tokens.ttl().whole_seconds(),
        };
        Ok((pair, membership))
    }

    /// The caller's active organization (the access token's `org` claim) and their membership
    /// there as stored now, holding `permission` when one is named: what the host app's
    /// `OrgMember` and `OrgAuthorized<P>` guards ask. A token without an active org, or whose
    /// holder is no longer a member, is `Forbidden` (an org claim of a removed member grants
    /// nothing); a member without the permission too.
    pub async fn authenticate_org(
        &self,
        bearer: &str,
        permission: Option<&str>,
    ) -> Result<(AuthenticatedUser, OrgMembership)> {
        let auth = self.authenticate(bearer).await?;
        let org_id = match (&auth.api_key, auth.claims.org.as_deref()) {
            (Some(grant), _) => grant.org_id,
            (None, Some(org)) => Uuid::parse_str(org).ok(),
            (None, None) => None,
        }
        .ok_or(Error::Forbidden)?;
        let membership = self
            .inner
            .store
            .membership(org_id, auth.user.id)
            .await?
            .ok_or(Error::Forbidden)?;
        if let Some(permission) = permission
            && !membership.role.grants(permission)
        {
            return Err(Error::Forbidden);
        }
        Ok((auth, membership))
    }

    /// A page of every organization (deleted ones included unless `deleted` says), newest
    /// first, with member counts (needs `admin:access`).
    pub async fn admin_orgs(
        &self,
        auth: &AuthenticatedUser,
        query: Option<&str>,
        deleted: Option<bool>,
        page: Page,
    ) -> Result<(Vec<store::OrgSummary>, u64)> {
        self.authorize(auth, "admin:access").await?;
        self.inner.store.all_orgs(query, deleted, page).await
    }

    /// One organization (live or deleted), its member count and its first 100 members
    /// (needs `admin:access`).
    pub async fn admin_org(
        &self,
        auth: &AuthenticatedUser,
        org_id: Uuid,
    ) -> Result<(store::OrgSummary, Vec<MemberRecord>)> {
        self.authorize(auth, "admin:access").await?;
        let summary = self
            .inner
            .store
            .org_summary(org_id)
            .await?
            .ok_or(Error::NotFound("organization"))?;
        let (members, _) = self
            .inner
            .store
            .org_members(
                org_id,
                None,
                Page {
                    page: 1,
                    limit: 100,
                },
            )
            .await?;
        Ok((summary, members))
    }

    /// An audit row of an organization change: resource `organization`, actor the caller,
    /// subject `subject` (else the caller).
    fn org_audit(
        &self,
        action: AuditAction,
        auth: &AuthenticatedUser,
        subject: Option<Uuid>,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> crate::store::AuditEvent {
        self.audit(
            action,
            Some(auth.actor_id()),
            Some(subject.unwrap_or(auth.user.id)),
            "organization",
            client,
            details,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_and_derived() {
        for good in ["acme", "acme-inc", "a1b", "x-y-z"] {
            assert!(is_slug(good), "{good}");
        }
        for bad in [
            "ab",
            "-acme",
            "acme-",
            "ac--me",
            "Acme",
            "acme_inc",
            &"a".repeat(51),
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
        assert_eq!(derived_slug("Acme, Inc."), "acme-inc");
        assert!(is_slug(&derived_slug("Zoë & Co")));
        assert!(derived_slug("ü").starts_with("org-"));
        assert!(is_slug(&derived_slug(&"Very long name ".repeat(10))));
    }

    #[test]
    fn roles_rank_and_grant() {
        assert!(OrgRole::Owner > OrgRole::Admin && OrgRole::Admin > OrgRole::Member);
        assert!(OrgRole::Owner.grants("org:delete"));
        assert!(!OrgRole::Admin.grants("org:delete"));
        assert!(OrgRole::Admin.grants("apikey:manage"));
        assert_eq!(OrgRole::Member.permissions(), &["org:read"]);
        for role in OrgRole::ALL {
            assert_eq!(OrgRole::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn the_markers_are_the_owners_permissions() {
        assert_eq!(org_perm::ALL, OrgRole::Owner.permissions());
    }

    #[test]
    fn invitation_tokens_are_redacted() {
        let token = InvitationToken(random_token());
        assert_eq!(format!("{token:?}"), "InvitationToken(…)");
    }
}
