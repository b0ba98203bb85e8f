//! The storage of this capability: [`OrgStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL), and its records.
//!
//! The rules decided on stored state are decided here, under the change's lock: the last owner
//! ([`MemberOutcome::LastOwner`]), who may change whom ([`may_change`]), and an invitation's
//! single use (a conditional update of its `pending` state).

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::records::{Effects, Page, RefreshRotation, SessionRecord, Timestamp, UserRecord};
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

/// A member's role in an organization, weakest first (the order ranks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgRole {
    /// Reads the organization.
    Member,
    /// Manages members, invitations and the organization's keys.
    Admin,
    /// Everything, deleting the organization included.
    Owner,
}

impl OrgRole {
    /// Every role, weakest first.
    pub const ALL: [OrgRole; 3] = [OrgRole::Member, OrgRole::Admin, OrgRole::Owner];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrgRole::Owner => "owner",
            OrgRole::Admin => "admin",
            OrgRole::Member => "member",
        }
    }

    /// The role of a stored or wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The org permissions the role grants.
    pub const fn permissions(self) -> &'static [&'static str] {
        match self {
            OrgRole::Owner => &[
                "org:read",
                "org:update",
                "org:delete",
                "member:invite",
                "member:remove",
                "member:update",
                "apikey:manage",
            ],
            OrgRole::Admin => &[
                "org:read",
                "org:update",
                "member:invite",
                "member:remove",
                "member:update",
                "apikey:manage",
            ],
            OrgRole::Member => &["org:read"],
        }
    }

    /// True when the role grants `permission`.
    pub fn grants(self, permission: &str) -> bool {
        self.permissions().contains(&permission)
    }
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    /// Its id.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// Its unique, lower-case handle.
    pub slug: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When its name or slug last changed.
    pub updated_at: Timestamp,
    /// When it was deleted (purged once the recovery window has passed).
    pub deleted_at: Option<Timestamp>,
}

/// One organization of a user, with the user's role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembership {
    /// The organization.
    pub org: OrgRecord,
    /// The user's role there.
    pub role: OrgRole,
    /// When the user joined.
    pub joined_at: Timestamp,
}

/// A member as the member list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// The user.
    pub user_id: Uuid,
    /// The user's address.
    pub email: String,
    /// The user's username.
    pub username: String,
    /// The user's first name.
    pub first_name: Option<String>,
    /// The user's last name.
    pub last_name: Option<String>,
    /// Their role in the organization.
    pub role: OrgRole,
    /// When they joined.
    pub joined_at: Timestamp,
}

/// Where an invitation stands. It leaves `Pending` once, by a conditional update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    /// Waiting for an answer (until it expires).
    Pending,
    /// Accepted: the invitee is a member.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Withdrawn by the organization.
    Revoked,
}

impl InvitationState {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Declined => "declined",
            InvitationState::Revoked => "revoked",
        }
    }

    /// The state of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            InvitationState::Pending,
            InvitationState::Accepted,
            InvitationState::Declined,
            InvitationState::Revoked,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// An invitation to join an organization. Its token is never stored: only the digest.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    /// Its id.
    pub id: Uuid,
    /// The organization.
    pub org_id: Uuid,
    /// The address invited (lower-case).
    pub email: String,
    /// The role the invitee gets.
    pub role: OrgRole,
    /// SHA-256 of the token mailed.
    pub digest: TokenDigest,
    /// Who invited (`None` once that account is gone).
    pub inviter_id: Option<Uuid>,
    /// Where it stands.
    pub state: InvitationState,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
    /// When it left `Pending`.
    pub decided_at: Option<Timestamp>,
}

impl std::fmt::Debug for InvitationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitationRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .field("state", &self.state)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A change of one membership: a new role, or removal (`role: None`; also leaving).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberChange {
    /// The organization.
    pub org_id: Uuid,
    /// The member changed.
    pub user_id: Uuid,
    /// Who changes it (the member themself when leaving).
    pub actor_id: Uuid,
    /// The new role; `None` removes the membership.
    pub role: Option<OrgRole>,
}

/// What became of a [`MemberChange`]; only `Changed` wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOutcome {
    /// Done; the member's role before.
    Changed {
        /// Their role before the change.
        previous: OrgRole,
    },
    /// The actor is not a member of the (live) organization.
    ActorNotMember,
    /// The member changed is not a member.
    NotMember,
    /// [`may_change`] refused it.
    Forbidden,
    /// It would leave the organization without an owner.
    LastOwner,
}

/// Who may make a membership change, on the roles read under the change's lock: leaving is
/// always one's own to decide (the last owner aside); otherwise the actor must manage members
/// (`member:update` for a new role, `member:remove` for a removal), may not touch a member
/// ranked above them, and may not grant a role above their own.
pub fn may_change(actor: OrgRole, target: OrgRole, change: &MemberChange) -> bool {
    if change.actor_id == change.user_id && change.role.is_none() {
        return true;
    }
    let permission = if change.role.is_some() {
        "member:update"
    } else {
        "member:remove"
    };
    actor.grants(permission) && target <= actor && change.role.is_none_or(|r| r <= actor)
}

/// A decision on an invitation, taken only while it is pending and unexpired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationDecision {
    /// The invitee joins with the invitation's role.
    Accept {
        /// The accepting user.
        user_id: Uuid,
    },
    /// The invitee says no.
    Decline,
    /// The organization withdraws it.
    Revoke,
}

/// What became of an [`InvitationDecision`]; only `Done` wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationOutcome {
    /// Decided.
    Done,
    /// No such invitation pending (unknown, expired, decided already, or its org deleted).
    NotPending,
    /// Accepting: the user is a member already (the invitation stays pending).
    AlreadyMember,
}

/// A session with its user and its active organization, as
/// [`session_in_org`](OrgStore::session_in_org) reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInOrg {
    /// The session, whatever its state (the caller judges it).
    pub session: SessionRecord,
    /// Its user, with roles.
    pub user: UserRecord,
    /// The active organization and the user's role there, while they are a member of it and it
    /// is not deleted.
    pub active_org: Option<(Uuid, OrgRole)>,
}

/// A refresh for a store that reads after it rotates (the memory store, MySQL): `rotation` with
/// [`session_in_org`](OrgStore::session_in_org)'s read of its session when it rotated, as
/// [`rotate_refresh_token_in_org`](OrgStore::rotate_refresh_token_in_org) answers.
pub(crate) async fn with_session_read<S: OrgStore + ?Sized>(
    store: &S,
    rotation: RefreshRotation,
) -> Result<(RefreshRotation, Option<SessionInOrg>)> {
    let session = match rotation {
        RefreshRotation::Rotated { session_id, .. } => store.session_in_org(session_id).await?,
        RefreshRotation::Reused { .. } | RefreshRotation::Invalid => None,
    };
    Ok((rotation, session))
}

/// What `switch_session_org` changes.
#[derive(Debug, Clone)]
pub struct SessionOrgSwitch {
    /// The session.
    pub session_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The organization to make active; `None` for none.
    pub org_id: Option<Uuid>,
    /// SHA-256 of the session's new refresh token.
    pub next_refresh: TokenDigest,
    /// Now.
    pub now: Timestamp,
    /// When the new refresh token (and the session) expire.
    pub expires_at: Timestamp,
}

/// An organization as the admin listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSummary {
    /// The organization.
    pub org: OrgRecord,
    /// Its members.
    pub members: u64,
}

/// The storage of organizations, memberships and invitations. One method per atomic unit of
/// work.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Stores a new organization with `owner` as its owner, and the effects. `Conflict` when
    /// the slug is taken (whatever its case, deleted organizations included until purged);
    /// `NotFound` when the owner is gone.
    async fn create_org(&self, org: OrgRecord, owner: Uuid, effects: Effects) -> Result<()>;

    /// The live (not deleted) organization and `user_id`'s membership there.
    async fn membership(&self, org_id: Uuid, user_id: Uuid) -> Result<Option<OrgMembership>>;

    /// The live organizations `user_id` belongs to, oldest membership first.
    async fn user_orgs(&self, user_id: Uuid) -> Result<Vec<OrgMembership>>;

    /// Renames a live organization and sets its slug, with the effects; false when it is not
    /// live; `Conflict` when the slug is taken.
    async fn update_org(
        &self,
        org_id: Uuid,
        name: &str,
        slug: &str,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;

    /// Soft-deletes a live organization, with the effects; false when it is not live.
    async fn delete_org(&self, org_id: Uuid, now: Timestamp, effects: Effects) -> Result<bool>;

    /// A page of the organization's members, by join time; `query` a case-insensitive
    /// substring of email, username and names (matched literally).
    async fn org_members(
        &self,
        org_id: Uuid,
        query: Option<&str>,
        page: Page,
    ) -> Result<(Vec<MemberRecord>, u64)>;

    /// Changes or removes a membership, deciding under one lock of the organization: both
    /// roles as stored now, [`may_change`], and that an owner remains. Effects only when
    /// `Changed`.
    async fn change_member(&self, change: MemberChange, effects: Effects) -> Result<MemberOutcome>;

    /// Stores a pending invitation with its effects. `NotFound` when the organization is not
    /// live.
    async fn add_invitation(&self, invitation: InvitationRecord, effects: Effects) -> Result<()>;

    /// The organization's invitations that are still pending and unexpired at `now`, oldest
    /// first.
    async fn org_invitations(&self, org_id: Uuid, now: Timestamp) -> Result<Vec<InvitationRecord>>;

    /// The pending, unexpired invitations to `email` (lower-case) of live organizations,
    /// oldest first, with their organization.
    async fn invitations_for(
        &self,
        email: &str,
        now: Timestamp,
    ) -> Result<Vec<(InvitationRecord, OrgRecord)>>;

    /// The invitation whose token has this digest, with its organization (live or not).
    async fn invitation_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(InvitationRecord, OrgRecord)>>;

    /// Decides a pending, unexpired invitation of a live organization: one conditional update
    /// of its state (of racing decisions, one wins), and for an acceptance the membership,
    /// with the effects, only when `Done`. `org_id` must match (a revocation names it).
    async fn decide_invitation(
        &self,
        org_id: Uuid,
        id: Uuid,
        decision: InvitationDecision,
        now: Timestamp,
        effects: Effects,
    ) -> Result<InvitationOutcome>;

    /// A page of the organizations, newest first, with member counts; `query` a
    /// case-insensitive substring of name or slug, `deleted` `Some(false)` for live ones only,
    /// `Some(true)` for deleted ones only. And the total.
    async fn all_orgs(
        &self,
        query: Option<&str>,
        deleted: Option<bool>,
        page: Page,
    ) -> Result<(Vec<OrgSummary>, u64)>;

    /// One organization (live or deleted) with its member count.
    async fn org_summary(&self, org_id: Uuid) -> Result<Option<OrgSummary>>;

    /// Makes `org_id` (or none) the active organization of the user's live session, and
    /// rotates the session's refresh token to `next_refresh` (valid until `expires_at`, which
    /// the session is extended to), in one transaction: only when the user is a member of the
    /// live organization (for `Some`) and the session is live. False otherwise, with nothing
    /// written.
    async fn switch_session_org(&self, switch: SessionOrgSwitch, effects: Effects) -> Result<bool>;

    /// The session, its user, and the user's membership of the session's active organization
    /// while it lasts (none once the user left or the organization was deleted): what a refresh
    /// reads to issue the access token. One statement on the SQL stores.
    async fn session_in_org(&self, session_id: Uuid) -> Result<Option<SessionInOrg>>;

    /// A refresh: [`rotate_refresh_token`](crate::store::SessionStore::rotate_refresh_token)
    /// with the same arguments and outcome, and, when it rotated, the session as the rotation
    /// left it with what [`session_in_org`](OrgStore::session_in_org) reads (`None` for any
    /// other outcome, or when the session is gone). The SQLite and PostgreSQL stores read it in
    /// the rotation's own trip to the database (its batch; its statement): a refresh is one
    /// trip there.
    async fn rotate_refresh_token_in_org(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: Duration,
    ) -> Result<(RefreshRotation, Option<SessionInOrg>)>;

    /// Removes the organizations deleted before `cutoff` (at most `limit`), their memberships
    /// and invitations with them; the ids removed.
    async fn purge_deleted_orgs(&self, cutoff: Timestamp, limit: u64) -> Result<Vec<Uuid>>;
}
