//! [`AdminStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl AdminStore for MemoryStore {
    async fn search_users(
        &self,
        search: &UserSearch,
        count_up_to: Option<u64>,
    ) -> Result<(Vec<UserRecord>, u64)> {
        let st = self.lock();
        let needle = search.query.as_ref().map(|q| q.to_lowercase());
        let mut found: Vec<&UserRecord> = st
            .users
            .values()
            .filter(|u| match search.status {
                None => u.deleted_at.is_none(),
                Some(UserStatus::Active) => {
                    u.deleted_at.is_none() && u.is_active && !u.is_suspended
                }
                Some(UserStatus::Inactive) => u.deleted_at.is_none() && !u.is_active,
                Some(UserStatus::Suspended) => u.deleted_at.is_none() && u.is_suspended,
                Some(UserStatus::Deleted) => u.deleted_at.is_some(),
            })
            .filter(|u| search.verified.is_none_or(|v| u.email_verified == v))
            .filter(|u| search.role.as_ref().is_none_or(|r| u.roles.contains(r)))
            .filter(|u| {
                // The same text the SQL stores match: email, username and names, space-separated.
                needle.as_deref().is_none_or(|n| {
                    format!(
                        "{} {} {} {}",
                        u.email,
                        u.username,
                        u.first_name.as_deref().unwrap_or_default(),
                        u.last_name.as_deref().unwrap_or_default()
                    )
                    .to_lowercase()
                    .contains(n)
                })
            })
            .collect();
        // The SQL stores sort NULLs as the largest value (PostgreSQL's default); do the same.
        found.sort_by(|a, b| {
            let ordering = match search.sort_by {
                UserSortField::CreatedAt => a.created_at.cmp(&b.created_at),
                UserSortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
                UserSortField::LastLoginAt => nulls_last(&a.last_login_at, &b.last_login_at),
                UserSortField::Email => a.email.cmp(&b.email),
                UserSortField::Username => a.username.cmp(&b.username),
                UserSortField::FirstName => nulls_last(&a.first_name, &b.first_name),
                UserSortField::LastName => nulls_last(&a.last_name, &b.last_name),
            }
            .then(a.id.cmp(&b.id));
            if search.descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
        let total = (found.len() as u64).min(count_up_to.unwrap_or(u64::MAX));
        let page = found
            .into_iter()
            .skip(usize::try_from(search.page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(search.page.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok((page, total))
    }

    async fn dashboard_counts(
        &self,
        now: Timestamp,
        new_since: Timestamp,
    ) -> Result<DashboardCounts> {
        let st = self.lock();
        let live: Vec<_> = st
            .users
            .values()
            .filter(|u| u.deleted_at.is_none())
            .collect();
        let count = |f: &dyn Fn(&UserRecord) -> bool| live.iter().filter(|u| f(u)).count() as u64;
        Ok(DashboardCounts {
            users_total: live.len() as u64,
            users_active: count(&|u| u.is_active && !u.is_suspended),
            users_verified: count(&|u| u.email_verified),
            users_with_two_factor: count(&|u| u.two_factor_enabled),
            users_new: count(&|u| u.created_at >= new_since),
            active_sessions: st.sessions.values().filter(|s| s.is_active(now)).count() as u64,
        })
    }

    async fn daily_activity(&self, first_day: Timestamp, days: u32) -> Result<Vec<DailyActivity>> {
        let st = self.lock();
        Ok(day_bounds(first_day, days)
            .map(|(start, end)| {
                let within = |t: Timestamp| start <= t && t < end;
                let actions = |action: crate::domain::AuditAction| {
                    st.audit
                        .iter()
                        .filter(|e| e.action == action.as_str() && within(e.created_at))
                        .count() as u64
                };
                DailyActivity {
                    day: start.date(),
                    sign_ups: st.users.values().filter(|u| within(u.created_at)).count() as u64,
                    sign_ins: actions(crate::domain::AuditAction::UserLogin),
                    failed_sign_ins: actions(crate::domain::AuditAction::LoginFailed),
                    lockouts: actions(crate::domain::AuditAction::AccountLocked),
                }
            })
            .collect())
    }

    async fn change_account(
        &self,
        user_id: Uuid,
        change: AccountChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<UserRecord>> {
        let mut st = self.lock();
        let user = st.user_mut(user_id)?;
        let live = user.deleted_at.is_none();
        let applies = match change {
            AccountChange::Deactivate => live && user.is_active,
            AccountChange::Reactivate => live && !user.is_active,
            AccountChange::Suspend => live && !user.is_suspended,
            AccountChange::Unsuspend => live && (user.is_suspended || !user.is_active),
            AccountChange::SoftDelete => live,
            AccountChange::Recover { deleted_after } => {
                user.deleted_at.is_some_and(|at| at > deleted_after)
            }
            AccountChange::VerifyEmail => live && !user.email_verified,
            AccountChange::Unlock => live,
        };
        if !applies {
            return Ok(None);
        }
        let mut end_sessions = false;
        match change {
            AccountChange::Deactivate => {
                user.is_active = false;
                end_sessions = true;
            }
            AccountChange::Reactivate => user.is_active = true,
            AccountChange::Suspend => {
                user.is_suspended = true;
                end_sessions = true;
            }
            AccountChange::Unsuspend => {
                user.is_suspended = false;
                user.is_active = true;
            }
            AccountChange::SoftDelete => {
                user.deleted_at = Some(now);
                end_sessions = true;
            }
            AccountChange::Recover { .. } => user.deleted_at = None,
            AccountChange::VerifyEmail => user.email_verified = true,
            AccountChange::Unlock => {
                user.failed_login_attempts = 0;
                user.locked_until = None;
            }
        }
        user.updated_at = now;
        let record = user.clone();
        if end_sessions {
            st.revoke_sessions(user_id, None, now);
            st.expire_password_tokens(user_id, now);
        }
        st.apply(effects);
        Ok(Some(record))
    }
}
