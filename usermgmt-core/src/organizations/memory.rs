//! [`OrgStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`), so every method decides and changes in one critical section.

use super::store::*;
use crate::error::{ConflictKind, Error, Result};
use crate::secret::TokenDigest;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

/// Removes a user's memberships (their account is going): an organization they alone owned
/// passes to its longest-standing admin, else its longest-standing member; one left with no
/// member is removed.
pub(crate) fn leave_all_orgs(st: &mut State, user_id: Uuid) {
    let owned: Vec<Uuid> = st
        .org_members
        .iter()
        .filter(|((_, member), (role, _))| *member == user_id && *role == OrgRole::Owner)
        .map(|((org, _), _)| *org)
        .collect();
    st.org_members.retain(|(_, member), _| *member != user_id);
    for org_id in owned {
        let heir = st
            .org_members
            .iter()
            .filter(|((org, _), _)| *org == org_id)
            .map(|((_, member), (role, joined))| (*role, *joined, *member))
            .min_by_key(|(role, joined, member)| (std::cmp::Reverse(*role), *joined, *member));
        match heir {
            Some((OrgRole::Owner, _, _)) => {}
            Some((_, _, member)) => {
                if let Some(entry) = st.org_members.get_mut(&(org_id, member)) {
                    entry.0 = OrgRole::Owner;
                }
            }
            None => {
                st.organizations.remove(&org_id);
                st.org_invitations.retain(|_, i| i.org_id != org_id);
                st.session_orgs.retain(|_, org| *org != org_id);
                st.api_keys.retain(|_, k| k.org_id != Some(org_id));
            }
        }
    }
}

fn live(st: &State, org_id: Uuid) -> Option<&OrgRecord> {
    st.organizations
        .get(&org_id)
        .filter(|o| o.deleted_at.is_none())
}

fn slug_taken(st: &State, slug: &str, except: Option<Uuid>) -> bool {
    st.organizations
        .values()
        .any(|o| o.slug.eq_ignore_ascii_case(slug) && Some(o.id) != except)
}

/// Case-insensitive substring match of any of `fields` (`None`: everything matches).
fn matches(query: Option<&str>, fields: &[&str]) -> bool {
    query.is_none_or(|q| {
        let q = q.to_lowercase();
        fields.iter().any(|f| f.to_lowercase().contains(&q))
    })
}

fn summary(st: &State, org: &OrgRecord) -> OrgSummary {
    OrgSummary {
        org: org.clone(),
        members: st
            .org_members
            .keys()
            .filter(|(id, _)| *id == org.id)
            .count() as u64,
    }
}

fn paged<T>(items: Vec<T>, page: Page) -> (Vec<T>, u64) {
    let total = items.len() as u64;
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    (items.into_iter().skip(offset).take(limit).collect(), total)
}

#[async_trait]
impl OrgStore for MemoryStore {
    async fn create_org(&self, org: OrgRecord, owner: Uuid, effects: Effects) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(owner)?;
        if st.organizations.contains_key(&org.id) || slug_taken(&st, &org.slug, None) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.org_members
            .insert((org.id, owner), (OrgRole::Owner, org.created_at));
        st.organizations.insert(org.id, org);
        st.apply(effects);
        Ok(())
    }

    async fn membership(&self, org_id: Uuid, user_id: Uuid) -> Result<Option<OrgMembership>> {
        let st = self.lock();
        let Some(org) = live(&st, org_id) else {
            return Ok(None);
        };
        Ok(st
            .org_members
            .get(&(org_id, user_id))
            .map(|(role, joined_at)| OrgMembership {
                org: org.clone(),
                role: *role,
                joined_at: *joined_at,
            }))
    }

    async fn user_orgs(&self, user_id: Uuid) -> Result<Vec<OrgMembership>> {
        let st = self.lock();
        let mut orgs: Vec<OrgMembership> = st
            .org_members
            .iter()
            .filter(|((_, member), _)| *member == user_id)
            .filter_map(|((org_id, _), (role, joined_at))| {
                live(&st, *org_id).map(|org| OrgMembership {
                    org: org.clone(),
                    role: *role,
                    joined_at: *joined_at,
                })
            })
            .collect();
        orgs.sort_by_key(|m| (m.joined_at, m.org.id));
        Ok(orgs)
    }

    async fn update_org(
        &self,
        org_id: Uuid,
        name: &str,
        slug: &str,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        if live(&st, org_id).is_none() {
            return Ok(false);
        }
        if slug_taken(&st, slug, Some(org_id)) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        if let Some(org) = st.organizations.get_mut(&org_id) {
            org.name = name.to_owned();
            org.slug = slug.to_owned();
            org.updated_at = now;
        }
        st.apply(effects);
        Ok(true)
    }

    async fn delete_org(&self, org_id: Uuid, now: Timestamp, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        match st.organizations.get_mut(&org_id) {
            Some(org) if org.deleted_at.is_none() => org.deleted_at = Some(now),
            _ => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }

    async fn org_members(
        &self,
        org_id: Uuid,
        query: Option<&str>,
        page: Page,
    ) -> Result<(Vec<MemberRecord>, u64)> {
        let st = self.lock();
        let mut members: Vec<MemberRecord> = st
            .org_members
            .iter()
            .filter(|((org, _), _)| *org == org_id)
            .filter_map(|((_, user_id), (role, joined_at))| {
                let user = st.users.get(user_id)?;
                Some(MemberRecord {
                    user_id: *user_id,
                    email: user.email.clone(),
                    username: user.username.clone(),
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    role: *role,
                    joined_at: *joined_at,
                })
            })
            .filter(|m| {
                matches(
                    query,
                    &[
                        &m.email,
                        &m.username,
                        m.first_name.as_deref().unwrap_or_default(),
                        m.last_name.as_deref().unwrap_or_default(),
                    ],
                )
            })
            .collect();
        members.sort_by_key(|m| (m.joined_at, m.user_id));
        Ok(paged(members, page))
    }

    async fn change_member(&self, change: MemberChange, effects: Effects) -> Result<MemberOutcome> {
        let mut st = self.lock();
        if live(&st, change.org_id).is_none() {
            return Ok(MemberOutcome::ActorNotMember);
        }
        let Some((actor, _)) = st
            .org_members
            .get(&(change.org_id, change.actor_id))
            .copied()
        else {
            return Ok(MemberOutcome::ActorNotMember);
        };
        let Some((target, _)) = st
            .org_members
            .get(&(change.org_id, change.user_id))
            .copied()
        else {
            return Ok(MemberOutcome::NotMember);
        };
        if !may_change(actor, target, &change) {
            return Ok(MemberOutcome::Forbidden);
        }
        if target == OrgRole::Owner && change.role != Some(OrgRole::Owner) {
            let owners = st
                .org_members
                .iter()
                .filter(|((org, _), (role, _))| *org == change.org_id && *role == OrgRole::Owner)
                .count();
            if owners <= 1 {
                return Ok(MemberOutcome::LastOwner);
            }
        }
        match change.role {
            Some(role) => {
                if let Some(entry) = st.org_members.get_mut(&(change.org_id, change.user_id)) {
                    entry.0 = role;
                }
            }
            None => {
                st.org_members.remove(&(change.org_id, change.user_id));
            }
        }
        st.apply(effects);
        Ok(MemberOutcome::Changed { previous: target })
    }

    async fn add_invitation(&self, invitation: InvitationRecord, effects: Effects) -> Result<()> {
        let mut st = self.lock();
        if live(&st, invitation.org_id).is_none() {
            return Err(Error::NotFound("organization"));
        }
        if st.org_invitations.contains_key(&invitation.id)
            || st
                .org_invitations
                .values()
                .any(|i| i.digest == invitation.digest)
        {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.org_invitations.insert(invitation.id, invitation);
        st.apply(effects);
        Ok(())
    }

    async fn org_invitations(&self, org_id: Uuid, now: Timestamp) -> Result<Vec<InvitationRecord>> {
        let st = self.lock();
        let mut list: Vec<InvitationRecord> = st
            .org_invitations
            .values()
            .filter(|i| {
                i.org_id == org_id && i.state == InvitationState::Pending && i.expires_at > now
            })
            .cloned()
            .collect();
        list.sort_by_key(|i| (i.created_at, i.id));
        Ok(list)
    }

    async fn invitations_for(
        &self,
        email: &str,
        now: Timestamp,
    ) -> Result<Vec<(InvitationRecord, OrgRecord)>> {
        let st = self.lock();
        let mut list: Vec<(InvitationRecord, OrgRecord)> = st
            .org_invitations
            .values()
            .filter(|i| {
                i.email == email && i.state == InvitationState::Pending && i.expires_at > now
            })
            .filter_map(|i| live(&st, i.org_id).map(|o| (i.clone(), o.clone())))
            .collect();
        list.sort_by_key(|(i, _)| (i.created_at, i.id));
        Ok(list)
    }

    async fn invitation_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(InvitationRecord, OrgRecord)>> {
        let st = self.lock();
        Ok(st
            .org_invitations
            .values()
            .find(|i| &i.digest == digest)
            .and_then(|i| {
                st.organizations
                    .get(&i.org_id)
                    .map(|o| (i.clone(), o.clone()))
            }))
    }

    async fn decide_invitation(
        &self,
        org_id: Uuid,
        id: Uuid,
        decision: InvitationDecision,
        now: Timestamp,
        effects: Effects,
    ) -> Result<InvitationOutcome> {
        let mut st = self.lock();
        let pending = st.org_invitations.get(&id).is_some_and(|i| {
            i.org_id == org_id && i.state == InvitationState::Pending && i.expires_at > now
        });
        if !pending || live(&st, org_id).is_none() {
            return Ok(InvitationOutcome::NotPending);
        }
        let state = match decision {
            InvitationDecision::Accept { user_id } => {
                st.user_mut(user_id)?;
                if st.org_members.contains_key(&(org_id, user_id)) {
                    return Ok(InvitationOutcome::AlreadyMember);
                }
                let role = st.org_invitations[&id].role;
                st.org_members.insert((org_id, user_id), (role, now));
                InvitationState::Accepted
            }
            InvitationDecision::Decline => InvitationState::Declined,
            InvitationDecision::Revoke => InvitationState::Revoked,
        };
        if let Some(invitation) = st.org_invitations.get_mut(&id) {
            invitation.state = state;
            invitation.decided_at = Some(now);
        }
        st.apply(effects);
        Ok(InvitationOutcome::Done)
    }

    async fn all_orgs(
        &self,
        query: Option<&str>,
        deleted: Option<bool>,
        page: Page,
    ) -> Result<(Vec<OrgSummary>, u64)> {
        let st = self.lock();
        let mut orgs: Vec<OrgSummary> = st
            .organizations
            .values()
            .filter(|o| matches(query, &[&o.name, &o.slug]))
            .filter(|o| deleted.is_none_or(|d| d == o.deleted_at.is_some()))
            .map(|o| summary(&st, o))
            .collect();
        orgs.sort_by_key(|s| std::cmp::Reverse((s.org.created_at, s.org.id)));
        Ok(paged(orgs, page))
    }

    async fn org_summary(&self, org_id: Uuid) -> Result<Option<OrgSummary>> {
        let st = self.lock();
        Ok(st.organizations.get(&org_id).map(|o| summary(&st, o)))
    }

    async fn switch_session_org(&self, switch: SessionOrgSwitch, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        let session_live = st
            .sessions
            .get(&switch.session_id)
            .is_some_and(|s| s.user_id == switch.user_id && s.is_active(switch.now));
        let member = switch.org_id.is_none_or(|org_id| {
            live(&st, org_id).is_some() && st.org_members.contains_key(&(org_id, switch.user_id))
        });
        if !session_live || !member {
            return Ok(false);
        }
        match switch.org_id {
            Some(org_id) => st.session_orgs.insert(switch.session_id, org_id),
            None => st.session_orgs.remove(&switch.session_id),
        };
        for token in st.refresh_tokens.values_mut() {
            if token.session_id == switch.session_id && token.rotated_at.is_none() {
                token.rotated_at = Some(switch.now);
            }
        }
        st.refresh_tokens.insert(
            switch.next_refresh.as_str().to_owned(),
            StoredRefresh {
                session_id: switch.session_id,
                expires_at: switch.expires_at,
                rotated_at: None,
            },
        );
        if let Some(s) = st.sessions.get_mut(&switch.session_id) {
            s.expires_at = switch.expires_at;
            s.last_activity_at = switch.now;
        }
        st.apply(effects);
        Ok(true)
    }

    async fn rotate_refresh_token_in_org(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: time::Duration,
    ) -> Result<(RefreshRotation, Option<SessionInOrg>)> {
        let rotation =
            SessionStore::rotate_refresh_token(self, presented, next, now, expires_at, grace)
                .await?;
        with_session_read(self, rotation).await
    }

    async fn session_in_org(&self, session_id: Uuid) -> Result<Option<SessionInOrg>> {
        let st = self.lock();
        let Some(session) = st.sessions.get(&session_id) else {
            return Ok(None);
        };
        let Some(user) = st.users.get(&session.user_id) else {
            return Ok(None);
        };
        let active_org = st.session_orgs.get(&session_id).and_then(|org_id| {
            live(&st, *org_id)?;
            let (role, _) = st.org_members.get(&(*org_id, session.user_id))?;
            Some((*org_id, *role))
        });
        Ok(Some(SessionInOrg {
            session: session.clone(),
            user: user.clone(),
            active_org,
        }))
    }

    async fn purge_deleted_orgs(&self, cutoff: Timestamp, limit: u64) -> Result<Vec<Uuid>> {
        let mut st = self.lock();
        let mut due: Vec<(Timestamp, Uuid)> = st
            .organizations
            .values()
            .filter_map(|o| o.deleted_at.filter(|at| *at < cutoff).map(|at| (at, o.id)))
            .collect();
        due.sort();
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let ids: Vec<Uuid> = due.into_iter().map(|(_, id)| id).collect();
        for id in &ids {
            st.organizations.remove(id);
            st.org_members.retain(|(org, _), _| org != id);
            st.org_invitations.retain(|_, i| i.org_id != *id);
            st.session_orgs.retain(|_, org| org != id);
            st.api_keys.retain(|_, k| k.org_id != Some(*id));
        }
        Ok(ids)
    }
}
