//! A [`Store`] that tells subscribers of every audit event once its transaction committed:
//! the hook through which a host app reacts to user events (registered, logged in, deleted,
//! role changed, ...) without polling the audit table. [`crate::UserManager`] wraps its store
//! in one; subscribe with [`crate::UserManager::subscribe`].
//!
//! Every method delegates; those that write effects publish the audit rows they wrote, after the
//! store returned (so after commit), and only when the store says it wrote them (`true`,
//! `Some`). The delegation below follows the trait one method at a time.

use super::*;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it misses some (it is told how
/// many with `RecvError::Lagged`).
pub const EVENT_BUFFER: usize = 1024;

/// The publishing wrapper.
pub(crate) struct PublishingStore {
    inner: Arc<dyn Store>,
    events: broadcast::Sender<Arc<AuditEvent>>,
}

impl PublishingStore {
    pub(crate) fn new(inner: Arc<dyn Store>, events: broadcast::Sender<Arc<AuditEvent>>) -> Self {
        Self { inner, events }
    }

    fn publish(&self, events: Vec<AuditEvent>) {
        for event in events {
            // No subscriber is not an error: the events are in the audit table anyway.
            let _ = self.events.send(Arc::new(event));
        }
    }
}

#[async_trait]
impl Store for PublishingStore {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn record_effects(&self, effects: Effects) -> Result<()> {
        let events = effects.audit.clone();
        let done = self.inner.record_effects(effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord> {
        let events = effects.audit.clone();
        let done = self.inner.create_user(user, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>> {
        self.inner.user_permissions(user_id).await
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>> {
        self.inner.user_by_id(id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        self.inner.user_by_email(email).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        self.inner.user_by_username(username).await
    }

    async fn issue_one_time_token(&self, token: NewOneTimeToken, effects: Effects) -> Result<()> {
        let events = effects.audit.clone();
        let done = self.inner.issue_one_time_token(token, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn one_time_token(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeTokenRecord>> {
        self.inner.one_time_token(digest, purpose).await
    }

    async fn verify_email(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<UserRecord> {
        let events = effects.audit.clone();
        let done = self.inner.verify_email(digest, now, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn reset_password(
        &self,
        digest: &TokenDigest,
        change: PasswordChange,
        effects: Effects,
    ) -> Result<UserRecord> {
        let events = effects.audit.clone();
        let done = self.inner.reset_password(digest, change, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn use_one_time_token(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<Uuid> {
        self.inner.use_one_time_token(digest, purpose, now).await
    }

    async fn two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>> {
        self.inner.two_factor(user_id).await
    }

    async fn begin_two_factor_setup(
        &self,
        user_id: Uuid,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<()> {
        self.inner
            .begin_two_factor_setup(user_id, sealed_secret, now)
            .await
    }

    async fn enable_two_factor(
        &self,
        user_id: Uuid,
        step: i64,
        backup_codes: Vec<TokenDigest>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .enable_two_factor(user_id, step, backup_codes, now, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn disable_two_factor(
        &self,
        user_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let events = effects.audit.clone();
        let done = self.inner.disable_two_factor(user_id, now, effects).await?;
        if done {
            self.publish(events);
        }
        Ok(done)
    }

    async fn reseal_two_factor_secret(
        &self,
        user_id: Uuid,
        current: &[u8],
        resealed: Vec<u8>,
    ) -> Result<bool> {
        self.inner
            .reseal_two_factor_secret(user_id, current, resealed)
            .await
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool> {
        self.inner.use_totp_step(user_id, step).await
    }

    async fn use_backup_code(
        &self,
        user_id: Uuid,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .use_backup_code(user_id, digest, now, effects)
            .await?;
        if done {
            self.publish(events);
        }
        Ok(done)
    }

    async fn replace_backup_codes(
        &self,
        user_id: Uuid,
        backup_codes: Vec<TokenDigest>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .replace_backup_codes(user_id, backup_codes, now, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn password_history(&self, user_id: Uuid, limit: usize) -> Result<Vec<String>> {
        self.inner.password_history(user_id, limit).await
    }

    async fn change_password(
        &self,
        user_id: Uuid,
        change: PasswordChange,
        effects: Effects,
    ) -> Result<u64> {
        let events = effects.audit.clone();
        let done = self.inner.change_password(user_id, change, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn take_check_turn(
        &self,
        user_id: Uuid,
        now: Timestamp,
        rule: LockoutRule,
        refused: Effects,
    ) -> Result<CheckTurn> {
        let events = refused.audit.clone();
        let turn = self
            .inner
            .take_check_turn(user_id, now, rule, refused)
            .await?;
        if let CheckTurn::Refused { .. } = turn {
            self.publish(events);
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
        let events = effects.audit.clone();
        let lock_events = lock_effects.audit.clone();
        let outcome = self
            .inner
            .record_check_failure(user_id, slot, now, rule, effects, lock_effects)
            .await?;
        self.publish(events);
        if outcome.newly_locked {
            self.publish(lock_events);
        }
        Ok(outcome)
    }

    async fn release_check_turn(&self, user_id: Uuid, slot: u32, rule: LockoutRule) -> Result<()> {
        self.inner.release_check_turn(user_id, slot, rule).await
    }

    async fn claim_challenge_attempt(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Uuid>> {
        self.inner
            .claim_challenge_attempt(digest, purpose, now, max_attempts)
            .await
    }

    async fn start_session(
        &self,
        session: NewSession,
        rehash: Option<String>,
        effects: Effects,
    ) -> Result<()> {
        let events = effects.audit.clone();
        let done = self.inner.start_session(session, rehash, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn client_seen_before(
        &self,
        user_id: Uuid,
        ip_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<bool>> {
        self.inner
            .client_seen_before(user_id, ip_address, user_agent)
            .await
    }

    async fn session_with_user(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        self.inner.session_with_user(session_id).await
    }

    async fn session_with_user_and_profile(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord, ProfileRecord)>> {
        self.inner.session_with_user_and_profile(session_id).await
    }

    async fn touch_session(&self, session_id: Uuid, now: Timestamp) -> Result<()> {
        self.inner.touch_session(session_id, now).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: Duration,
    ) -> Result<RefreshRotation> {
        self.inner
            .rotate_refresh_token(presented, next, now, expires_at, grace)
            .await
    }

    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .revoke_session(user_id, session_id, now, effects)
            .await?;
        if done {
            self.publish(events);
        }
        Ok(done)
    }

    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<u64> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .revoke_sessions(user_id, except, now, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn list_sessions(&self, user_id: Uuid, now: Timestamp) -> Result<Vec<SessionRecord>> {
        self.inner.list_sessions(user_id, now).await
    }

    async fn profile(&self, user_id: Uuid) -> Result<Option<ProfileRecord>> {
        self.inner.profile(user_id).await
    }

    async fn update_profile(
        &self,
        user_id: Uuid,
        update: ProfileUpdate,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, ProfileRecord)> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .update_profile(user_id, update, now, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn merge_preferences(
        &self,
        user_id: Uuid,
        patch: serde_json::Map<String, serde_json::Value>,
        max_bytes: usize,
        now: Timestamp,
        effects: Effects,
    ) -> Result<serde_json::Value> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .merge_preferences(user_id, patch, max_bytes, now, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn notifications(
        &self,
        user_id: Uuid,
        unread_only: bool,
        offset: u64,
        limit: u64,
    ) -> Result<NotificationPage> {
        self.inner
            .notifications(user_id, unread_only, offset, limit)
            .await
    }

    async fn mark_notification_read(
        &self,
        user_id: Uuid,
        id: Uuid,
        now: Timestamp,
    ) -> Result<bool> {
        self.inner.mark_notification_read(user_id, id, now).await
    }

    async fn mark_all_notifications_read(&self, user_id: Uuid, now: Timestamp) -> Result<u64> {
        self.inner.mark_all_notifications_read(user_id, now).await
    }

    async fn delete_notification(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool> {
        let events = effects.audit.clone();
        let done = self.inner.delete_notification(user_id, id, effects).await?;
        if done {
            self.publish(events);
        }
        Ok(done)
    }

    async fn delete_all_notifications(&self, user_id: Uuid, audit: AuditEvent) -> Result<u64> {
        let event = audit.clone();
        let deleted = self.inner.delete_all_notifications(user_id, audit).await?;
        if deleted > 0 {
            self.publish(vec![counted(event, deleted)]);
        }
        Ok(deleted)
    }

    async fn permission_catalog(&self) -> Result<Vec<(String, String)>> {
        self.inner.permission_catalog().await
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
        self.inner.list_roles().await
    }

    async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>> {
        self.inner.role_by_id(id).await
    }

    async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord> {
        let events = effects.audit.clone();
        let done = self.inner.create_role(role, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn update_role(
        &self,
        id: Uuid,
        change: RoleChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<RoleRecord> {
        let events = effects.audit.clone();
        let done = self.inner.update_role(id, change, now, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn delete_role(
        &self,
        id: Uuid,
        checked_permissions: Option<&[String]>,
        effects: Effects,
    ) -> Result<()> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .delete_role(id, checked_permissions, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn assign_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .assign_role(user_id, role_id, now, effects)
            .await?;
        if done {
            self.publish(events);
        }
        Ok(done)
    }

    async fn remove_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .remove_role(user_id, role_id, now, effects)
            .await?;
        self.publish(events);
        Ok(done)
    }

    async fn search_users(&self, search: &UserSearch) -> Result<(Vec<UserRecord>, u64)> {
        self.inner.search_users(search).await
    }

    async fn dashboard_counts(
        &self,
        now: Timestamp,
        new_since: Timestamp,
    ) -> Result<DashboardCounts> {
        self.inner.dashboard_counts(now, new_since).await
    }

    async fn change_account(
        &self,
        user_id: Uuid,
        change: AccountChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<UserRecord>> {
        let events = effects.audit.clone();
        let done = self
            .inner
            .change_account(user_id, change, now, effects)
            .await?;
        if done.is_some() {
            self.publish(events);
        }
        Ok(done)
    }

    async fn set_avatar(
        &self,
        user_id: Uuid,
        avatar: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, Option<String>)> {
        // Nothing is written when the URL was the one stored already.
        let requested = avatar.clone();
        let events = effects.audit.clone();
        let done = self.inner.set_avatar(user_id, avatar, now, effects).await?;
        if done.1 != requested {
            self.publish(events);
        }
        Ok(done)
    }

    async fn user_data_export(&self, user_id: Uuid) -> Result<UserDataExport> {
        self.inner.user_data_export(user_id).await
    }

    async fn users_deleted_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Uuid>> {
        self.inner.users_deleted_before(cutoff, limit).await
    }

    async fn delete_user_permanently(
        &self,
        user_id: Uuid,
        deleted_before: Option<Timestamp>,
        effects: Effects,
    ) -> Result<bool> {
        // The stored row names no one; the host app still has to learn whose data to drop, so
        // the published copy carries the id (it never reaches the table).
        let events = effects
            .audit
            .iter()
            .cloned()
            .map(|mut e| {
                e.user_id = Some(user_id);
                e
            })
            .collect();
        let done = self
            .inner
            .delete_user_permanently(user_id, deleted_before, effects)
            .await?;
        if done {
            self.publish(events);
        }
        Ok(done)
    }

    async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>> {
        self.inner.audit_events(user_id, limit).await
    }

    async fn search_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        self.inner.search_audit(filter, page).await
    }

    async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats> {
        self.inner.audit_stats(since, top).await
    }

    async fn activity_counts(&self, now: Timestamp) -> Result<ActivityCounts> {
        self.inner.activity_counts(now).await
    }

    async fn delete_audit_before(&self, cutoff: Timestamp, effects: Effects) -> Result<u64> {
        let events = effects.audit.clone();
        let done = self.inner.delete_audit_before(cutoff, effects).await?;
        self.publish(events);
        Ok(done)
    }

    async fn claim_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>> {
        self.inner.claim_due_mail(now, limit, lease).await
    }

    async fn mark_mail_sent(&self, id: Uuid, now: Timestamp) -> Result<()> {
        self.inner.mark_mail_sent(id, now).await
    }

    async fn delete_finished_mail(&self, before: Timestamp, limit: usize) -> Result<u64> {
        self.inner.delete_finished_mail(before, limit).await
    }

    async fn mark_mail_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        self.inner.mark_mail_failed(id, error, retry_at, now).await
    }

    async fn mail_rows_to(&self, recipient: &str) -> Result<u64> {
        self.inner.mail_rows_to(recipient).await
    }

    async fn mail_backlog(&self) -> Result<u64> {
        self.inner.mail_backlog().await
    }
}
