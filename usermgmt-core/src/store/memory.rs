//! In-memory store: one mutex over plain maps, so every method is trivially atomic. For tests,
//! prototypes and single-process demos; it forgets everything on restart.

use super::*;
use crate::error::{ConflictKind, Error};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

#[derive(Debug, Clone)]
struct StoredToken {
    user_id: Uuid,
    purpose: TokenPurpose,
    expires_at: Timestamp,
    used_at: Option<Timestamp>,
    /// Codes checked against it (login challenges).
    attempts: u32,
}

#[derive(Debug, Clone)]
struct StoredRefresh {
    session_id: Uuid,
    expires_at: Timestamp,
    rotated_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct StoredMail {
    message: OutboxMessage,
    status: MailStatus,
    locked_until: Option<Timestamp>,
    /// When it was delivered or parked.
    finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MailStatus {
    Pending,
    Sent,
    Failed,
}

#[derive(Debug, Clone)]
struct StoredRole {
    id: Uuid,
    name: String,
    description: Option<String>,
    is_system: bool,
    permissions: BTreeSet<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<Uuid, UserRecord>,
    profiles: HashMap<Uuid, ProfileRecord>,
    /// Sorted by name. Users hold role names, renamed along with the role.
    roles: Vec<StoredRole>,
    /// (user, hash, time), appended in order.
    password_history: Vec<(Uuid, String, Timestamp)>,
    one_time_tokens: HashMap<String, StoredToken>,
    sessions: HashMap<Uuid, SessionRecord>,
    refresh_tokens: HashMap<String, StoredRefresh>,
    audit: Vec<AuditEvent>,
    outbox: Vec<StoredMail>,
    two_factor: HashMap<Uuid, TwoFactorRecord>,
    /// Start of each user's lockout window (`users.failures_started_at` of the SQL stores).
    failure_windows: HashMap<Uuid, Timestamp>,
    notifications: Vec<NotificationRecord>,
    /// Backup code digest -> (owner, used at).
    backup_codes: HashMap<String, (Uuid, Option<Timestamp>)>,
}

/// The state under the store's lock: the memory store's transaction. Its [`Locked::apply`] is
/// the one way effects are written, and publishes their audit rows on the store's bus (the
/// change is in place by then: nothing rolls back in memory).
struct Locked<'a> {
    state: std::sync::MutexGuard<'a, State>,
    events: &'a EventBus,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Locked<'_> {
    /// Writes the effects of a change and publishes its audit rows.
    fn apply(&mut self, effects: Effects) {
        self.apply_publishing(effects, |_| {});
    }

    /// [`Locked::apply`], with `published` applied to the published copy of each audit row.
    fn apply_publishing(&mut self, effects: Effects, published: impl Fn(&mut AuditEvent)) {
        let mut events = effects.audit.clone();
        self.state.audit.extend(effects.audit);
        self.state.notifications.extend(effects.notifications);
        self.state
            .outbox
            .extend(effects.mail.into_iter().map(|message| StoredMail {
                message,
                status: MailStatus::Pending,
                locked_until: None,
                finished_at: None,
            }));
        events.iter_mut().for_each(published);
        self.events.publish(events);
    }
}

impl State {
    fn user_mut(&mut self, id: Uuid) -> Result<&mut UserRecord> {
        self.users.get_mut(&id).ok_or(Error::NotFound("user"))
    }

    fn record_password(&mut self, user_id: Uuid, change: &PasswordChange) -> Result<()> {
        let user = self.user_mut(user_id)?;
        user.password_hash = change.new_hash.clone();
        user.updated_at = change.now;
        self.password_history
            .push((user_id, change.new_hash.clone(), change.now));
        let mut kept = 0;
        let limit = change.history_limit.max(1);
        // Keep only the newest `limit` entries of this user.
        let mut keep = vec![true; self.password_history.len()];
        for (i, (uid, _, _)) in self.password_history.iter().enumerate().rev() {
            if *uid == user_id {
                kept += 1;
                if kept > limit {
                    keep[i] = false;
                }
            }
        }
        let mut flags = keep.into_iter();
        self.password_history
            .retain(|_| flags.next().unwrap_or(true));
        Ok(())
    }

    fn role_record(&self, role: &StoredRole) -> RoleRecord {
        RoleRecord {
            id: role.id,
            name: role.name.clone(),
            description: role.description.clone(),
            is_system: role.is_system,
            permissions: role.permissions.iter().cloned().collect(),
            user_count: self
                .users
                .values()
                .filter(|u| u.roles.contains(&role.name))
                .count() as u64,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }

    fn role_named(&self, name: &str) -> Option<&StoredRole> {
        self.roles.iter().find(|r| r.name == name)
    }

    fn backup_codes_remaining(&self, user_id: Uuid) -> u32 {
        let unused = self
            .backup_codes
            .values()
            .filter(|(owner, used)| *owner == user_id && used.is_none())
            .count();
        u32::try_from(unused).unwrap_or(u32::MAX)
    }

    fn store_backup_codes(&mut self, user_id: Uuid, codes: Vec<TokenDigest>) {
        self.backup_codes.retain(|_, (owner, _)| *owner != user_id);
        for code in codes {
            self.backup_codes
                .insert(code.as_str().to_owned(), (user_id, None));
        }
    }

    fn revoke_sessions(&mut self, user_id: Uuid, except: Option<Uuid>, now: Timestamp) -> u64 {
        let mut count = 0;
        for s in self.sessions.values_mut() {
            if s.user_id == user_id && Some(s.id) != except && s.is_active(now) {
                s.revoked_at = Some(now);
                count += 1;
            }
        }
        count
    }

    /// Deletes a finished message whose recipient no account holds any longer (as the SQL
    /// store's `delete_mail_to_nobody`).
    fn delete_mail_to_nobody(&mut self, id: Uuid) {
        let Some(recipient) = self
            .outbox
            .iter()
            .find(|m| m.message.id == id && m.status != MailStatus::Pending)
            .map(|m| m.message.recipient.clone())
        else {
            return;
        };
        if !self.users.values().any(|u| u.email == recipient) {
            self.outbox.retain(|m| m.message.id != id);
        }
    }

    /// Ends the user's outstanding password-reset links and login challenges (as the SQL
    /// store's `expire_password_tokens`).
    fn expire_password_tokens(&mut self, user_id: Uuid, now: Timestamp) {
        for t in self.one_time_tokens.values_mut() {
            if t.user_id == user_id
                && t.used_at.is_none()
                && matches!(
                    t.purpose,
                    TokenPurpose::PasswordReset | TokenPurpose::LoginChallenge
                )
            {
                t.used_at = Some(now);
            }
        }
    }
}

/// Orders `None` after every value, as PostgreSQL does in ascending order.
fn nulls_last<T: Ord>(a: &Option<T>, b: &Option<T>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
    }
}

/// A [`Store`] in process memory.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    events: EventBus,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with the seeded system roles.
    pub fn new() -> Self {
        let seeded = |id, name: &str, description: &str, permissions: &[&str]| StoredRole {
            id,
            name: name.to_owned(),
            description: Some(description.to_owned()),
            is_system: true,
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        let state = State {
            roles: vec![
                seeded(
                    ADMIN_ROLE_ID,
                    ADMIN_ROLE,
                    "Every permission",
                    crate::rbac::PERMISSIONS,
                ),
                seeded(
                    MODERATOR_ROLE_ID,
                    "moderator",
                    "Reads users, roles and the audit trail",
                    crate::rbac::MODERATOR_PERMISSIONS,
                ),
                seeded(
                    USER_ROLE_ID,
                    DEFAULT_ROLE,
                    "Authenticated self-service",
                    &[],
                ),
            ],
            ..State::default()
        };
        Self {
            state: Mutex::new(state),
            events: EventBus::new(),
        }
    }

    fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock leaves maps that are still internally consistent for
        // our purposes; keep serving rather than poisoning every later request.
        Locked {
            state: self.state.lock().unwrap_or_else(|p| p.into_inner()),
            events: &self.events,
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn events(&self) -> &EventBus {
        &self.events
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn record_effects(&self, effects: Effects) -> Result<()> {
        self.lock().apply(effects);
        Ok(())
    }

    async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord> {
        let mut st = self.lock();
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
        st.apply(effects);
        Ok(record)
    }

    async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>> {
        let st = self.lock();
        let Some(user) = st.users.get(&user_id) else {
            return Ok(Vec::new());
        };
        let mut permissions = BTreeSet::new();
        for role in &user.roles {
            if let Some(role) = st.role_named(role) {
                permissions.extend(role.permissions.iter().cloned());
            }
        }
        Ok(permissions.into_iter().collect())
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

    async fn two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>> {
        let st = self.lock();
        Ok(st.two_factor.get(&user_id).map(|record| TwoFactorRecord {
            backup_codes_remaining: st.backup_codes_remaining(user_id),
            ..record.clone()
        }))
    }

    async fn begin_two_factor_setup(
        &self,
        user_id: Uuid,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(user_id)?;
        if st.two_factor.get(&user_id).is_some_and(|r| r.enabled) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.two_factor.insert(
            user_id,
            TwoFactorRecord {
                sealed_secret,
                enabled: false,
                last_used_step: None,
                created_at: now,
                enabled_at: None,
                backup_codes_remaining: 0,
            },
        );
        Ok(())
    }

    async fn enable_two_factor(
        &self,
        user_id: Uuid,
        step: i64,
        backup_codes: Vec<TokenDigest>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let record = st
            .two_factor
            .get_mut(&user_id)
            .ok_or(Error::NotFound("two-factor setup"))?;
        if record.enabled {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        record.enabled = true;
        record.enabled_at = Some(now);
        record.last_used_step = Some(step);
        st.store_backup_codes(user_id, backup_codes);
        let user = st.user_mut(user_id)?;
        user.two_factor_enabled = true;
        user.updated_at = now;
        st.apply(effects);
        Ok(())
    }

    async fn disable_two_factor(
        &self,
        user_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        if st.two_factor.remove(&user_id).is_none() {
            return Ok(false);
        }
        st.backup_codes.retain(|_, (owner, _)| *owner != user_id);
        let user = st.user_mut(user_id)?;
        user.two_factor_enabled = false;
        user.updated_at = now;
        st.apply(effects);
        Ok(true)
    }

    async fn reseal_two_factor_secret(
        &self,
        user_id: Uuid,
        current: &[u8],
        resealed: Vec<u8>,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.two_factor.get_mut(&user_id) {
            Some(record) if record.sealed_secret == current => {
                record.sealed_secret = resealed;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool> {
        let mut st = self.lock();
        let Some(record) = st.two_factor.get_mut(&user_id) else {
            return Ok(false);
        };
        if record.last_used_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        record.last_used_step = Some(step);
        Ok(true)
    }

    async fn use_backup_code(
        &self,
        user_id: Uuid,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.backup_codes.get_mut(digest.as_str()) {
            Some((owner, used @ None)) if *owner == user_id => {
                *used = Some(now);
            }
            _ => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }

    async fn replace_backup_codes(
        &self,
        user_id: Uuid,
        backup_codes: Vec<TokenDigest>,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(user_id)?;
        st.store_backup_codes(user_id, backup_codes);
        st.apply(effects);
        Ok(())
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

    async fn start_session(
        &self,
        session: NewSession,
        rehash: Option<String>,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let user = st.user_mut(session.user_id)?;
        user.last_login_at = Some(session.created_at);
        if let Some(hash) = rehash {
            user.password_hash = hash;
        }
        st.refresh_tokens.insert(
            session.refresh_digest.as_str().to_owned(),
            StoredRefresh {
                session_id: session.id,
                expires_at: session.expires_at,
                rotated_at: None,
            },
        );
        st.sessions.insert(
            session.id,
            SessionRecord {
                id: session.id,
                user_id: session.user_id,
                device_info: session.device_info,
                ip_address: session.ip_address,
                user_agent: session.user_agent,
                created_at: session.created_at,
                last_activity_at: session.created_at,
                expires_at: session.expires_at,
                revoked_at: None,
            },
        );
        st.apply(effects);
        Ok(())
    }

    async fn client_seen_before(
        &self,
        user_id: Uuid,
        ip_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<bool>> {
        let st = self.lock();
        let mut sessions = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .peekable();
        if sessions.peek().is_none() {
            return Ok(None);
        }
        Ok(Some(sessions.any(|s| {
            s.ip_address.as_deref() == ip_address && s.user_agent.as_deref() == user_agent
        })))
    }

    async fn session_with_user(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        let st = self.lock();
        Ok(st
            .sessions
            .get(&session_id)
            .and_then(|s| st.users.get(&s.user_id).map(|u| (s.clone(), u.clone()))))
    }

    async fn touch_session(&self, session_id: Uuid, now: Timestamp) -> Result<()> {
        if let Some(s) = self.lock().sessions.get_mut(&session_id) {
            s.last_activity_at = now;
        }
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: Duration,
    ) -> Result<RefreshRotation> {
        let mut st = self.lock();
        let Some(token) = st.refresh_tokens.get(presented.as_str()).cloned() else {
            return Ok(RefreshRotation::Invalid);
        };
        let Some(session) = st.sessions.get(&token.session_id).cloned() else {
            return Ok(RefreshRotation::Invalid);
        };
        if !session.is_active(now) || token.expires_at <= now {
            return Ok(RefreshRotation::Invalid);
        }
        let (session_id, user_id) = (session.id, session.user_id);
        match token.rotated_at {
            Some(rotated) if now - rotated > grace => {
                return Ok(RefreshRotation::Reused {
                    session_id,
                    user_id,
                });
            }
            Some(_) => {}
            None => {
                if let Some(t) = st.refresh_tokens.get_mut(presented.as_str()) {
                    t.rotated_at = Some(now);
                }
            }
        }
        st.refresh_tokens.insert(
            next.as_str().to_owned(),
            StoredRefresh {
                session_id,
                expires_at,
                rotated_at: None,
            },
        );
        if let Some(s) = st.sessions.get_mut(&session_id) {
            s.expires_at = expires_at;
            s.last_activity_at = now;
        }
        Ok(RefreshRotation::Rotated {
            session_id,
            user_id,
        })
    }

    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(s) = st
            .sessions
            .get_mut(&session_id)
            .filter(|s| s.user_id == user_id && s.is_active(now))
        else {
            return Ok(false);
        };
        s.revoked_at = Some(now);
        st.apply(effects);
        Ok(true)
    }

    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<u64> {
        let mut st = self.lock();
        let count = st.revoke_sessions(user_id, except, now);
        st.apply(effects);
        Ok(count)
    }

    async fn list_sessions(&self, user_id: Uuid, now: Timestamp) -> Result<Vec<SessionRecord>> {
        let st = self.lock();
        let mut sessions: Vec<_> = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.is_active(now))
            .cloned()
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    async fn profile(&self, user_id: Uuid) -> Result<Option<ProfileRecord>> {
        Ok(self.lock().profiles.get(&user_id).cloned())
    }

    async fn update_profile(
        &self,
        user_id: Uuid,
        update: ProfileUpdate,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, ProfileRecord)> {
        let mut st = self.lock();
        let user = st.user_mut(user_id)?;
        if let Some(first) = &update.first_name {
            user.first_name = first.clone();
        }
        if let Some(last) = &update.last_name {
            user.last_name = last.clone();
        }
        user.updated_at = now;
        let user = user.clone();
        let profile = st.profiles.entry(user_id).or_default();
        update.apply_to_profile(profile);
        let profile = profile.clone();
        st.apply(effects);
        Ok((user, profile))
    }

    async fn merge_preferences(
        &self,
        user_id: Uuid,
        patch: serde_json::Map<String, serde_json::Value>,
        max_bytes: usize,
        now: Timestamp,
        effects: Effects,
    ) -> Result<serde_json::Value> {
        let mut st = self.lock();
        st.user_mut(user_id)?;
        let current = st
            .profiles
            .get(&user_id)
            .map(|p| p.preferences.clone())
            .unwrap_or_default();
        // Validate before touching anything: a refused merge changes nothing.
        let merged = merge_preferences_value(&current, patch, max_bytes)?;
        st.user_mut(user_id)?.updated_at = now;
        st.profiles.entry(user_id).or_default().preferences = merged.clone();
        st.apply(effects);
        Ok(merged)
    }

    async fn notifications(
        &self,
        user_id: Uuid,
        unread_only: bool,
        offset: u64,
        limit: u64,
    ) -> Result<NotificationPage> {
        let st = self.lock();
        let mut mine: Vec<_> = st
            .notifications
            .iter()
            .filter(|n| n.user_id == user_id)
            .collect();
        let unread = mine.iter().filter(|n| n.read_at.is_none()).count() as u64;
        if unread_only {
            mine.retain(|n| n.read_at.is_none());
        }
        mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = mine.len() as u64;
        let items = mine
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(NotificationPage {
            items,
            total,
            unread,
        })
    }

    async fn mark_notification_read(
        &self,
        user_id: Uuid,
        id: Uuid,
        now: Timestamp,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(n) = st
            .notifications
            .iter_mut()
            .find(|n| n.id == id && n.user_id == user_id)
        else {
            return Ok(false);
        };
        if n.read_at.is_none() {
            n.read_at = Some(now);
        }
        Ok(true)
    }

    async fn mark_all_notifications_read(&self, user_id: Uuid, now: Timestamp) -> Result<u64> {
        let mut st = self.lock();
        let mut count = 0;
        for n in st
            .notifications
            .iter_mut()
            .filter(|n| n.user_id == user_id && n.read_at.is_none())
        {
            n.read_at = Some(now);
            count += 1;
        }
        Ok(count)
    }

    async fn delete_notification(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        let before = st.notifications.len();
        st.notifications
            .retain(|n| !(n.id == id && n.user_id == user_id));
        let deleted = st.notifications.len() < before;
        if deleted {
            st.apply(effects);
        }
        Ok(deleted)
    }

    async fn delete_all_notifications(&self, user_id: Uuid, audit: AuditEvent) -> Result<u64> {
        let mut st = self.lock();
        let before = st.notifications.len();
        st.notifications.retain(|n| n.user_id != user_id);
        let deleted = (before - st.notifications.len()) as u64;
        if deleted > 0 {
            st.apply(Effects::audit(super::counted(audit, deleted)));
        }
        Ok(deleted)
    }

    async fn permission_catalog(&self) -> Result<Vec<(String, String)>> {
        Ok(crate::rbac::PERMISSION_CATALOG
            .iter()
            .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
            .collect())
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
        let st = self.lock();
        let mut roles: Vec<_> = st.roles.iter().map(|r| st.role_record(r)).collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>> {
        let st = self.lock();
        Ok(st
            .roles
            .iter()
            .find(|r| r.id == id)
            .map(|r| st.role_record(r)))
    }

    async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord> {
        let mut st = self.lock();
        if st.role_named(&role.name).is_some() {
            return Err(Error::Conflict(ConflictKind::RoleName));
        }
        let stored = StoredRole {
            id: role.id,
            name: role.name,
            description: role.description,
            is_system: false,
            permissions: role.permissions.into_iter().collect(),
            created_at: role.created_at,
            updated_at: role.created_at,
        };
        let record = st.role_record(&stored);
        st.roles.push(stored);
        st.apply(effects);
        Ok(record)
    }

    async fn update_role(
        &self,
        id: Uuid,
        change: RoleChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<RoleRecord> {
        let mut st = self.lock();
        let Some(index) = st.roles.iter().position(|r| r.id == id) else {
            return Err(Error::NotFound("role"));
        };
        let held: Vec<String> = st.roles[index].permissions.iter().cloned().collect();
        if !super::admin::permissions_unchanged(&held, change.checked_permissions.as_deref()) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        let old_name = st.roles[index].name.clone();
        if let Some(name) = change.name.as_ref().filter(|n| **n != old_name) {
            if st.roles[index].is_system {
                return Err(Error::SystemRole);
            }
            if st.role_named(name).is_some() {
                return Err(Error::Conflict(ConflictKind::RoleName));
            }
            for user in st.users.values_mut() {
                if let Some(held) = user.roles.iter_mut().find(|r| **r == old_name) {
                    name.clone_into(held);
                    user.roles.sort();
                }
            }
        }
        let role = &mut st.roles[index];
        if let Some(name) = change.name {
            role.name = name;
        }
        if let Some(description) = change.description {
            role.description = description;
        }
        if let Some(permissions) = change.permissions {
            role.permissions = permissions.into_iter().collect();
        }
        role.updated_at = now;
        let role = role.clone();
        st.apply(effects);
        Ok(st.role_record(&role))
    }

    async fn delete_role(
        &self,
        id: Uuid,
        checked_permissions: Option<&[String]>,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let Some(role) = st.roles.iter().find(|r| r.id == id).cloned() else {
            return Err(Error::NotFound("role"));
        };
        if role.is_system {
            return Err(Error::SystemRole);
        }
        let held: Vec<String> = role.permissions.iter().cloned().collect();
        if !super::admin::permissions_unchanged(&held, checked_permissions) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        if st.users.values().any(|u| u.roles.contains(&role.name)) {
            return Err(Error::RoleInUse);
        }
        st.roles.retain(|r| r.id != id);
        st.apply(effects);
        Ok(())
    }

    async fn assign_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let name = st
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .map(|r| r.name.clone())
            .ok_or(Error::NotFound("role"))?;
        let user = st.user_mut(user_id)?;
        if user.roles.contains(&name) {
            return Ok(false);
        }
        user.roles.push(name);
        user.roles.sort();
        user.updated_at = now;
        st.apply(effects);
        Ok(true)
    }

    async fn remove_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let name = st
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .map(|r| r.name.clone());
        let user = st.user_mut(user_id)?;
        let Some(index) = name.and_then(|n| user.roles.iter().position(|r| *r == n)) else {
            return Err(Error::NotFound("role assignment"));
        };
        if user.roles.len() == 1 {
            return Err(Error::LastRole);
        }
        user.roles.remove(index);
        user.updated_at = now;
        st.apply(effects);
        Ok(())
    }

    async fn search_users(&self, search: &UserSearch) -> Result<(Vec<UserRecord>, u64)> {
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
        let total = found.len() as u64;
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

    async fn set_avatar(
        &self,
        user_id: Uuid,
        avatar: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, Option<String>)> {
        let mut st = self.lock();
        let user = st.user_mut(user_id)?;
        if user.avatar == avatar {
            return Ok((user.clone(), avatar));
        }
        let previous = std::mem::replace(&mut user.avatar, avatar);
        user.updated_at = now;
        let record = user.clone();
        st.apply(effects);
        Ok((record, previous))
    }

    async fn user_data_export(&self, user_id: Uuid) -> Result<UserDataExport> {
        let st = self.lock();
        let mut sessions: Vec<_> = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .cloned()
            .collect();
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let mut audit: Vec<_> = st
            .audit
            .iter()
            .filter(|e| e.user_id == Some(user_id) || e.actor_id == Some(user_id))
            .cloned()
            .collect();
        audit.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let mut notifications: Vec<_> = st
            .notifications
            .iter()
            .filter(|n| n.user_id == user_id)
            .cloned()
            .collect();
        notifications.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let password_changes = st
            .password_history
            .iter()
            .filter(|(uid, _, _)| *uid == user_id)
            .map(|(_, _, at)| *at)
            .collect();
        Ok(UserDataExport {
            sessions,
            audit,
            notifications,
            password_changes,
        })
    }

    async fn users_deleted_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Uuid>> {
        let st = self.lock();
        let mut due: Vec<_> = st
            .users
            .values()
            .filter_map(|u| u.deleted_at.filter(|at| *at < cutoff).map(|at| (at, u.id)))
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
    }

    async fn delete_user_permanently(
        &self,
        user_id: Uuid,
        deleted_before: Option<Timestamp>,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(user) = st.users.get(&user_id) else {
            return Ok(false);
        };
        if let Some(cutoff) = deleted_before
            && user.deleted_at.is_none_or(|at| at >= cutoff)
        {
            return Ok(false);
        }
        let email = user.email.clone();
        st.users.remove(&user_id);
        st.outbox
            .retain(|m| m.message.recipient != email || m.status == MailStatus::Pending);
        st.profiles.remove(&user_id);
        st.password_history.retain(|(uid, _, _)| *uid != user_id);
        st.one_time_tokens.retain(|_, t| t.user_id != user_id);
        let sessions: BTreeSet<Uuid> = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .map(|s| s.id)
            .collect();
        st.sessions.retain(|id, _| !sessions.contains(id));
        st.refresh_tokens
            .retain(|_, r| !sessions.contains(&r.session_id));
        st.two_factor.remove(&user_id);
        st.backup_codes.retain(|_, (owner, _)| *owner != user_id);
        st.notifications.retain(|n| n.user_id != user_id);
        for event in &mut st.audit {
            if event.user_id == Some(user_id) || event.actor_id == Some(user_id) {
                anonymise(event, user_id);
            }
        }
        // The stored row names no one; the published copy names whom to forget.
        st.apply_publishing(effects, |event| event.user_id = Some(user_id));
        Ok(true)
    }

    async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>> {
        let st = self.lock();
        let mut events: Vec<_> = st
            .audit
            .iter()
            .filter(|e| user_id.is_none() || e.user_id == user_id || e.actor_id == user_id)
            .cloned()
            .collect();
        events.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        events.truncate(limit);
        Ok(events)
    }

    async fn search_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let st = self.lock();
        let mut found: Vec<_> = st
            .audit
            .iter()
            .filter(|e| {
                filter
                    .user_id
                    .is_none_or(|u| e.user_id == Some(u) || e.actor_id == Some(u))
                    && filter.action.as_ref().is_none_or(|a| e.action == *a)
                    && filter.resource.as_ref().is_none_or(|r| e.resource == *r)
                    && filter.from.is_none_or(|t| e.created_at >= t)
                    && filter.until.is_none_or(|t| e.created_at < t)
            })
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = found.len() as u64;
        let items = found
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok((items, total))
    }

    async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats> {
        let st = self.lock();
        let recent: Vec<_> = st.audit.iter().filter(|e| e.created_at >= since).collect();
        let rank = |key: &dyn Fn(&AuditEvent) -> &str| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for e in &recent {
                *counts.entry(key(e).to_owned()).or_default() += 1;
            }
            let mut ranked: Vec<_> = counts.into_iter().collect();
            // Most frequent first; ties by name, as the SQL stores order them.
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(top);
            ranked
        };
        Ok(AuditStats {
            total: recent.len() as u64,
            top_actions: rank(&|e| e.action.as_str()),
            top_resources: rank(&|e| e.resource.as_str()),
        })
    }

    async fn activity_counts(&self, now: Timestamp) -> Result<ActivityCounts> {
        let st = self.lock();
        let live: Vec<_> = st
            .users
            .values()
            .filter(|u| u.deleted_at.is_none())
            .collect();
        let active_since = |days: i64| {
            live.iter()
                .filter(|u| {
                    u.last_login_at
                        .is_some_and(|t| t >= now - Duration::days(days))
                })
                .count() as u64
        };
        let month = now - Duration::days(30);
        let actions = |action: &str| {
            st.audit
                .iter()
                .filter(|e| e.action == action && e.created_at >= month)
                .count() as u64
        };
        Ok(ActivityCounts {
            users_total: live.len() as u64,
            users_verified: live.iter().filter(|u| u.email_verified).count() as u64,
            active_day: active_since(1),
            active_week: active_since(7),
            active_month: active_since(30),
            new_users: live.iter().filter(|u| u.created_at >= month).count() as u64,
            logins: actions("USER_LOGIN"),
            failed_logins: actions("LOGIN_FAILED"),
        })
    }

    async fn delete_audit_before(&self, cutoff: Timestamp, effects: Effects) -> Result<u64> {
        let mut st = self.lock();
        let before = st.audit.len();
        st.audit.retain(|e| e.created_at >= cutoff);
        let deleted = (before - st.audit.len()) as u64;
        st.apply(effects);
        Ok(deleted)
    }

    async fn claim_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>> {
        let mut st = self.lock();
        let mut claimed = Vec::new();
        for m in st.outbox.iter_mut() {
            if claimed.len() >= limit {
                break;
            }
            let free = m.locked_until.is_none_or(|until| until <= now);
            if m.status == MailStatus::Pending && m.message.next_attempt_at <= now && free {
                m.locked_until = Some(now + lease);
                claimed.push(m.message.clone());
            }
        }
        Ok(claimed)
    }

    async fn mark_mail_sent(&self, id: Uuid, now: Timestamp) -> Result<()> {
        let mut st = self.lock();
        if let Some(m) = st.outbox.iter_mut().find(|m| m.message.id == id) {
            m.status = MailStatus::Sent;
            m.locked_until = None;
            m.finished_at = Some(now);
            m.message.sealed_payload.clear();
            m.message.attempts += 1;
        }
        st.delete_mail_to_nobody(id);
        Ok(())
    }

    async fn delete_finished_mail(&self, before: Timestamp, limit: usize) -> Result<u64> {
        let mut st = self.lock();
        let mut deleted = 0;
        st.outbox.retain(|m| {
            let expired = m.status != MailStatus::Pending
                && m.finished_at.unwrap_or(m.message.created_at) < before
                && deleted < limit;
            if expired {
                deleted += 1;
            }
            !expired
        });
        Ok(deleted as u64)
    }

    async fn mark_mail_failed(
        &self,
        id: Uuid,
        _error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let mut st = self.lock();
        if let Some(m) = st.outbox.iter_mut().find(|m| m.message.id == id) {
            m.message.attempts += 1;
            m.locked_until = None;
            match retry_at {
                Some(at) => m.message.next_attempt_at = at,
                None => {
                    m.status = MailStatus::Failed;
                    m.finished_at = Some(now);
                }
            }
        }
        if retry_at.is_none() {
            st.delete_mail_to_nobody(id);
        }
        Ok(())
    }

    async fn mail_rows_to(&self, recipient: &str) -> Result<u64> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| m.message.recipient == recipient)
            .count() as u64)
    }

    async fn mail_backlog(&self) -> Result<u64> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| m.status == MailStatus::Pending)
            .count() as u64)
    }
}
