//! The storage of this capability: [`PasskeyStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL), and its records.

use crate::error::Result;
use crate::store::records::{Effects, Timestamp};
use async_trait::async_trait;
use uuid::Uuid;

/// A registered passkey (WebAuthn credential) of a user.
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// Our id of the passkey (what the API names it by).
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The authenticator's credential id, base64url without padding; unique.
    pub credential_id: String,
    /// The verified credential as `webauthn-rs` serialises its `Passkey` (public key, algorithm,
    /// signature counter, flags). A public key: no secret, but never shown to clients.
    pub credential: String,
    /// The owner's name for it.
    pub name: String,
    /// The last signature counter the authenticator reported (0: it keeps none).
    pub sign_count: i64,
    /// Whether the credential is backed up (synced across devices).
    pub backed_up: bool,
    /// How the authenticator can be reached (`internal`, `usb`, `hybrid`, …), as it said.
    pub transports: Vec<String>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed a user in.
    pub last_used_at: Option<Timestamp>,
}

impl std::fmt::Debug for PasskeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("credential_id", &self.credential_id)
            .field("name", &self.name)
            .field("sign_count", &self.sign_count)
            .field("backed_up", &self.backed_up)
            .field("transports", &self.transports)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// What a ceremony was started for: its state is only accepted by the step it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a passkey for a signed-in user.
    Registration,
    /// Usernameless sign-in (a discoverable credential names its user).
    SignIn,
    /// The second step of a password login (the user is known from its challenge).
    SecondFactor,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::SignIn => "sign_in",
            CeremonyKind::SecondFactor => "second_factor",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Registration, Self::SignIn, Self::SecondFactor]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A started WebAuthn ceremony: the server half of its challenge, sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    /// The ceremony id the client sends back.
    pub id: Uuid,
    /// The step it was started for.
    pub kind: CeremonyKind,
    /// The user it belongs to (registration, second factor); none for a usernameless sign-in.
    pub user_id: Option<Uuid>,
    /// `webauthn-rs`'s ceremony state (challenge, allowed credentials, policy), sealed with the
    /// key ring that seals TOTP secrets (label `passkey-ceremony`).
    pub sealed_state: Vec<u8>,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for CeremonyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeremonyRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Passkeys and their ceremonies. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// The user's passkeys, oldest first.
    async fn passkeys(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>>;
    /// The passkey with this credential id, whoever owns it.
    async fn passkey_by_credential_id(&self, credential_id: &str) -> Result<Option<PasskeyRecord>>;
    /// Stores a new passkey. `Conflict(Other)` when its credential id is registered already;
    /// `NotFound` for an unknown user.
    async fn add_passkey(&self, passkey: PasskeyRecord, effects: Effects) -> Result<()>;
    /// Renames a passkey of the user; false when the user has no such passkey.
    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<bool>;
    /// Removes a passkey of the user; false when the user has no such passkey.
    /// `LastSignInMethod` when it is the only passkey of a user without a password: decided
    /// under the user's row lock, so two removals racing for a user's last two passkeys cannot
    /// both succeed.
    async fn remove_passkey(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool>;
    /// Records a sign-in with the passkey: the new credential state, counter, backup flag and
    /// time, only if its counter is still `seen_count` (compare-and-set, so two racing
    /// sign-ins cannot both move it). False when it changed meanwhile or the passkey is gone.
    async fn record_passkey_use(
        &self,
        passkey: &PasskeyRecord,
        seen_count: i64,
        effects: Effects,
    ) -> Result<bool>;
    /// Stores a started ceremony, dropping expired ones (`now`).
    async fn start_ceremony(&self, ceremony: CeremonyRecord, now: Timestamp) -> Result<()>;
    /// Takes a ceremony out, once: the first caller gets it, every later one (and a racing one)
    /// `None`. An expired ceremony or one of another kind is consumed and `None`.
    async fn take_ceremony(
        &self,
        id: Uuid,
        kind: CeremonyKind,
        now: Timestamp,
    ) -> Result<Option<CeremonyRecord>>;
}
