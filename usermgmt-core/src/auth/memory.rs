//! [`IdentityStore`], [`LockoutStore`] in process memory: the [`MemoryStore`]'s state, under its
//! one lock (`store/memory.rs`).

use crate::error::{ConflictKind, Error, Result};
use crate::secret::TokenDigest;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord> {
        let mut st = self.lock();
        let record = insert_user(&mut st, user)?;
        st.apply(effects);
        Ok(record)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.email == email)
            .cloned())
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    async fn issue_one_time_token(&self, token: NewOneTimeToken, effects: Effects) -> Result<()> {
        let mut st = self.lock();
        if !st.users.contains_key(&token.user_id) {
            return Err(Error::NotFound("user"));
        }
        for t in st.one_time_tokens.values_mut() {
            if t.user_id == token.user_id && t.purpose == token.purpose && t.used_at.is_none() {
                t.used_at = Some(token.created_at);
            }
        }
        st.one_time_tokens.insert(
            token.digest.as_str().to_owned(),
            StoredToken {
                user_id: token.user_id,
                purpose: token.purpose,
                expires_at: token.expires_at,
                used_at: None,
                attempts: 0,
            },
        );
        st.apply(effects);
        Ok(())
    }

    async fn one_time_token(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeTokenRecord>> {
        Ok(self
            .lock()
            .one_time_tokens
            .get(digest.as_str())
            .filter(|t| t.purpose == purpose)
            .map(|t| OneTimeTokenRecord {
                user_id: t.user_id,
                expires_at: t.expires_at,
                used_at: t.used_at,
            }))
    }

    async fn use_one_time_token(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<Uuid> {
        let mut st = self.lock();
        let token = st
            .one_time_tokens
            .get_mut(digest.as_str())
            .filter(|t| t.purpose == purpose && t.used_at.is_none() && t.expires_at > now)
            .ok_or(Error::InvalidOneTimeToken)?;
        token.used_at = Some(now);
        Ok(token.user_id)
    }

    async fn verify_email(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<UserRecord> {
        let mut st = self.lock();
        let token = st
            .one_time_tokens
            .get_mut(digest.as_str())
            .filter(|t| {
                t.purpose == TokenPurpose::EmailVerification
                    && t.used_at.is_none()
                    && t.expires_at > now
            })
            .ok_or(Error::InvalidOneTimeToken)?;
        token.used_at = Some(now);
        let user_id = token.user_id;
        let user = st.user_mut(user_id)?;
        user.email_verified = true;
        user.updated_at = now;
        let user = user.clone();
        st.apply(effects);
        Ok(user)
    }

    async fn reset_password(
        &self,
        digest: &TokenDigest,
        change: PasswordChange,
        effects: Effects,
    ) -> Result<UserRecord> {
        let mut st = self.lock();
        let now = change.now;
        let token = st
            .one_time_tokens
            .get_mut(digest.as_str())
            .filter(|t| {
                t.purpose == TokenPurpose::PasswordReset
                    && t.used_at.is_none()
                    && t.expires_at > now
            })
            .ok_or(Error::InvalidOneTimeToken)?;
        token.used_at = Some(now);
        let user_id = token.user_id;
        st.record_password(user_id, &change)?;
        st.revoke_sessions(user_id, change.keep_session, now);
        st.expire_password_tokens(user_id, now);
        let user = st.user_mut(user_id)?;
        user.failed_login_attempts = 0;
        user.locked_until = None;
        let user = user.clone();
        st.apply(effects);
        Ok(user)
    }

    async fn password_history(&self, user_id: Uuid, limit: usize) -> Result<Vec<String>> {
        Ok(self
            .lock()
            .password_history
            .iter()
            .rev()
            .filter(|(uid, _, _)| *uid == user_id)
            .take(limit)
            .map(|(_, hash, _)| hash.clone())
            .collect())
    }

    async fn change_password(
        &self,
        user_id: Uuid,
        change: PasswordChange,
        effects: Effects,
    ) -> Result<u64> {
        let mut st = self.lock();
        st.record_password(user_id, &change)?;
        let revoked = st.revoke_sessions(user_id, change.keep_session, change.now);
        st.expire_password_tokens(user_id, change.now);
        st.apply(effects);
        Ok(revoked)
    }
}

#[async_trait]
impl LockoutStore for MemoryStore {
    async fn take_check_turn(
        &self,
        user_id: Uuid,
        now: Timestamp,
        rule: LockoutRule,
        refused: Effects,
    ) -> Result<CheckTurn> {
        let mut st = self.lock();
        let started = st.failure_windows.get(&user_id).copied();
        let window_over = started.is_none_or(|started| started <= now - rule.lock_for);
        let user = st.user_mut(user_id)?;
        let mut new_window = false;
        let turn = match user.locked_until {
            Some(until) if until > now => CheckTurn::Refused { until },
            expired => {
                if expired.is_some() || window_over {
                    user.failed_login_attempts = 1;
                    new_window = true;
                } else {
                    user.failed_login_attempts += 1;
                }
                let slot = user.failed_login_attempts;
                if slot >= rule.max_failures {
                    user.locked_until = Some(now + rule.lock_for);
                } else {
                    user.locked_until = None;
                }
                match user.locked_until {
                    Some(until) if slot > rule.max_failures => CheckTurn::Refused { until },
                    _ => CheckTurn::Granted { slot },
                }
            }
        };
        if new_window {
            st.failure_windows.insert(user_id, now);
        }
        if let CheckTurn::Refused { .. } = turn {
            st.apply(refused);
        }
        Ok(turn)
    }

    async fn record_check_failure(
        &self,
        user_id: Uuid,
        slot: u32,
        now: Timestamp,
        rule: LockoutRule,
        effects: Effects,
        lock_effects: Effects,
    ) -> Result<LoginFailure> {
        let mut st = self.lock();
        let locked_until = st.user_mut(user_id)?.locked_until.filter(|u| *u > now);
        let newly_locked = slot >= rule.max_failures && locked_until.is_some();
        st.apply(effects);
        if newly_locked {
            st.apply(lock_effects);
        }
        Ok(LoginFailure {
            attempts: slot,
            locked_until,
            newly_locked,
        })
    }

    async fn release_check_turn(&self, user_id: Uuid, slot: u32, rule: LockoutRule) -> Result<()> {
        let mut st = self.lock();
        let user = st.user_mut(user_id)?;
        user.failed_login_attempts = user.failed_login_attempts.saturating_sub(1);
        if slot >= rule.max_failures {
            user.locked_until = None;
        }
        Ok(())
    }

    async fn claim_challenge_attempt(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Uuid>> {
        let mut st = self.lock();
        Ok(st
            .one_time_tokens
            .get_mut(digest.as_str())
            .filter(|t| {
                t.purpose == purpose
                    && t.used_at.is_none()
                    && t.expires_at > now
                    && t.attempts < max_attempts
            })
            .map(|t| {
                t.attempts += 1;
                t.user_id
            }))
    }
}

/// Inserts a new user (row, profile, password history, verification token) under the lock,
/// without its effects: [`IdentityStore::create_user`], and the social sign-in's user created
/// with its identity (`oauth/memory.rs`), in one turn of the lock.
pub(crate) fn insert_user(st: &mut Locked<'_>, user: NewUser) -> Result<UserRecord> {
    if st.users.values().any(|u| u.email == user.email) {
        return Err(Error::Conflict(ConflictKind::Email));
    }
    if st.users.values().any(|u| u.username == user.username) {
        return Err(Error::Conflict(ConflictKind::Username));
    }
    if let Some(missing) = user.roles.iter().find(|r| st.role_named(r).is_none()) {
        return Err(Error::internal(format!("role {missing} does not exist")));
    }
    let mut roles = user.roles.clone();
    roles.sort();
    roles.dedup();
    let record = UserRecord {
        id: user.id,
        email: user.email.clone(),
        username: user.username.clone(),
        password_hash: user.password_hash.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        avatar: None,
        email_verified: user.email_verified,
        is_active: true,
        is_suspended: false,
        two_factor_enabled: false,
        failed_login_attempts: 0,
        locked_until: None,
        deleted_at: None,
        created_at: user.created_at,
        updated_at: user.created_at,
        last_login_at: None,
        roles,
    };
    st.users.insert(user.id, record.clone());
    st.profiles.insert(
        user.id,
        ProfileRecord {
            preferences: serde_json::json!({}),
            ..ProfileRecord::default()
        },
    );
    st.password_history
        .push((user.id, user.password_hash, user.created_at));
    if let Some(token) = user.verification {
        st.one_time_tokens.insert(
            token.digest.as_str().to_owned(),
            StoredToken {
                user_id: token.user_id,
                purpose: token.purpose,
                expires_at: token.expires_at,
                used_at: None,
                attempts: 0,
            },
        );
    }
    Ok(record)
}
