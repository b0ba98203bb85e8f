//! In-memory store: one mutex over plain maps, so every method is trivially atomic. For tests,
//! prototypes and single-process demos; it forgets everything on restart.
//!
//! This file holds the state and [`BaseStore`]; each area's methods are in its capability
//! folder's `memory.rs` (`sessions/memory.rs`, `roles/memory.rs`, ...), on the same state.

use super::*;
use crate::error::{Error, Result};
use crate::secret::TokenDigest;
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub(crate) struct StoredToken {
    pub(crate) user_id: Uuid,
    pub(crate) purpose: TokenPurpose,
    pub(crate) expires_at: Timestamp,
    pub(crate) used_at: Option<Timestamp>,
    /// Codes checked against it (login challenges).
    pub(crate) attempts: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredRefresh {
    pub(crate) session_id: Uuid,
    pub(crate) expires_at: Timestamp,
    pub(crate) rotated_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredMail {
    pub(crate) message: OutboxMessage,
    pub(crate) status: MailStatus,
    pub(crate) locked_until: Option<Timestamp>,
    /// When it was delivered or parked.
    pub(crate) finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MailStatus {
    Pending,
    Sent,
    Failed,
}

/// A webhook delivery with its claim (`webhooks/memory.rs`).
#[derive(Debug, Clone)]
pub(crate) struct StoredDelivery {
    pub(crate) record: WebhookDeliveryRecord,
    pub(crate) locked_until: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredRole {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) is_system: bool,
    pub(crate) permissions: BTreeSet<String>,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: HashMap<Uuid, UserRecord>,
    pub(crate) profiles: HashMap<Uuid, ProfileRecord>,
    /// Sorted by name. Users hold role names, renamed along with the role.
    pub(crate) roles: Vec<StoredRole>,
    /// (user, hash, time), appended in order.
    pub(crate) password_history: Vec<(Uuid, String, Timestamp)>,
    pub(crate) one_time_tokens: HashMap<String, StoredToken>,
    pub(crate) sessions: HashMap<Uuid, SessionRecord>,
    pub(crate) refresh_tokens: HashMap<String, StoredRefresh>,
    pub(crate) audit: Vec<AuditEvent>,
    pub(crate) outbox: Vec<StoredMail>,
    pub(crate) two_factor: HashMap<Uuid, TwoFactorRecord>,
    /// Start of each user's lockout window (`users.failures_started_at` of the SQL stores).
    pub(crate) failure_windows: HashMap<Uuid, Timestamp>,
    pub(crate) notifications: Vec<NotificationRecord>,
    /// Backup code digest -> (owner, used at).
    pub(crate) backup_codes: HashMap<String, (Uuid, Option<Timestamp>)>,
    /// Passkeys by their id (`passkeys/memory.rs`).
    pub(crate) passkeys: HashMap<Uuid, crate::passkeys::store::PasskeyRecord>,
    /// Started passkey ceremonies by their id.
    pub(crate) passkey_ceremonies: HashMap<Uuid, crate::passkeys::store::CeremonyRecord>,
    /// Webhook endpoints, oldest first (`webhooks/memory.rs`).
    pub(crate) webhooks: Vec<WebhookEndpointRecord>,
    /// Webhook deliveries, in the order they were written.
    pub(crate) webhook_deliveries: Vec<StoredDelivery>,
    /// API keys by their id (`api_keys/memory.rs`).
    pub(crate) api_keys: HashMap<Uuid, crate::api_keys::store::ApiKeyRecord>,
    /// Organizations by their id (`organizations/memory.rs`).
    pub(crate) organizations: HashMap<Uuid, crate::organizations::store::OrgRecord>,
    /// Memberships: (organization, user) -> (role, joined at).
    pub(crate) org_members:
        std::collections::BTreeMap<(Uuid, Uuid), (crate::organizations::store::OrgRole, Timestamp)>,
    /// Organization invitations by their id.
    pub(crate) org_invitations: HashMap<Uuid, crate::organizations::store::InvitationRecord>,
    /// The active organization of a session (`session_orgs`).
    pub(crate) session_orgs: HashMap<Uuid, Uuid>,
    /// Linked social sign-in identities by their id (`oauth/memory.rs`).
    pub(crate) oauth_identities: HashMap<Uuid, crate::oauth::store::IdentityRecord>,
    /// Started social sign-in authorizations by their state digest.
    pub(crate) oauth_attempts: HashMap<String, crate::oauth::store::AttemptRecord>,
    /// Social sign-in exchange codes by their digest.
    pub(crate) oauth_exchange_codes: HashMap<String, crate::oauth::store::ExchangeCodeRecord>,
}

/// The state under the store's lock: the memory store's transaction. Its [`Locked::apply`] is
/// the one way effects are written, and publishes their audit rows on the store's bus (the
/// change is in place by then: nothing rolls back in memory).
pub(crate) struct Locked<'a> {
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
    pub(crate) fn apply(&mut self, effects: Effects) {
        self.apply_publishing(effects, |_| {});
    }

    /// [`Locked::apply`], with `published` applied to the published copy of each audit row.
    pub(crate) fn apply_publishing(
        &mut self,
        effects: Effects,
        published: impl Fn(&mut AuditEvent),
    ) {
        let mut events = effects.audit.clone();
        let deliveries = fan_out(&effects.audit, &self.state.webhooks);
        self.state
            .webhook_deliveries
            .extend(deliveries.into_iter().map(|record| StoredDelivery {
                record,
                locked_until: None,
            }));
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
    pub(crate) fn user_mut(&mut self, id: Uuid) -> Result<&mut UserRecord> {
        self.users.get_mut(&id).ok_or(Error::NotFound("user"))
    }

    pub(crate) fn record_password(&mut self, user_id: Uuid, change: &PasswordChange) -> Result<()> {
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

    pub(crate) fn role_record(&self, role: &StoredRole) -> RoleRecord {
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

    pub(crate) fn role_named(&self, name: &str) -> Option<&StoredRole> {
        self.roles.iter().find(|r| r.name == name)
    }

    pub(crate) fn backup_codes_remaining(&self, user_id: Uuid) -> u32 {
        let unused = self
            .backup_codes
            .values()
            .filter(|(owner, used)| *owner == user_id && used.is_none())
            .count();
        u32::try_from(unused).unwrap_or(u32::MAX)
    }

    pub(crate) fn store_backup_codes(&mut self, user_id: Uuid, codes: Vec<TokenDigest>) {
        self.backup_codes.retain(|_, (owner, _)| *owner != user_id);
        for code in codes {
            self.backup_codes
                .insert(code.as_str().to_owned(), (user_id, None));
        }
    }

    pub(crate) fn revoke_sessions(
        &mut self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: Timestamp,
    ) -> u64 {
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
    pub(crate) fn delete_mail_to_nobody(&mut self, id: Uuid) {
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
    pub(crate) fn expire_password_tokens(&mut self, user_id: Uuid, now: Timestamp) {
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
pub(crate) fn nulls_last<T: Ord>(a: &Option<T>, b: &Option<T>) -> std::cmp::Ordering {
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
                    super::seed::PERMISSIONS,
                ),
                seeded(
                    MODERATOR_ROLE_ID,
                    "moderator",
                    "Reads users, roles and the audit trail",
                    super::seed::MODERATOR_PERMISSIONS,
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

    pub(crate) fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock leaves maps that are still internally consistent for
        // our purposes; keep serving rather than poisoning every later request.
        Locked {
            state: self.state.lock().unwrap_or_else(|p| p.into_inner()),
            events: &self.events,
        }
    }
}

#[async_trait]
impl BaseStore for MemoryStore {
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
}
